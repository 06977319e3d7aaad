//! Holds what Graph returns for a registered method: the number as Graph wrote it (which may be
//! an older notation), the method, and its SMS sign-in state.

use std::fmt;

use super::{PhoneType, mask, national_digits, split_graph_number};

/// A number as Graph returned it for a registered method. Shown masked; the raw text is
/// only for the result a caller receives.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisteredNumber(pub(super) String);

impl RegisteredNumber {
    pub fn new(graph_text: impl Into<String>) -> RegisteredNumber {
        RegisteredNumber(graph_text.into())
    }

    /// The number exactly as Graph wrote it, for the caller's result; never for a log line.
    pub fn as_graph_text(&self) -> &str {
        &self.0
    }

    /// The number's identity, comparable with
    /// [`PhoneNumber::digits`](super::PhoneNumber::digits): country code and national number
    /// by the numbering plan (a trunk prefix left out), or, when the plan cannot read the text,
    /// its digits. No extension.
    pub fn digits(&self) -> String {
        let main = split_graph_number(&self.0).0;
        match self.notation() {
            Notation::Graph | Notation::Unreadable => digits_of(main),
            Notation::Older => read_by_plan(main).unwrap_or_else(|| digits_of(main)),
        }
    }

    /// How the number is written, which decides how it is compared.
    pub fn notation(&self) -> Notation {
        let main = split_graph_number(&self.0).0.trim();
        if is_graph_form(main) {
            Notation::Graph
        } else if read_by_plan(main).is_some() {
            Notation::Older
        } else {
            Notation::Unreadable
        }
    }
}

/// How a registered number is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// Graph's own `+{country code} {national number}`, or E.164 without the space.
    Graph,
    /// Another notation the numbering plan reads (brackets, dashes, a trunk prefix): compared
    /// by the plan.
    Older,
    /// Text the numbering plan cannot read: compared by its digits.
    Unreadable,
}

/// Whether `main` is written `+{digits}` or `+{1-3 digits} {digits not starting with 0}`: the
/// forms whose digits are the number's identity as they stand.
fn is_graph_form(main: &str) -> bool {
    let Some(rest) = main.strip_prefix('+') else {
        return false;
    };
    let all_digits = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    match rest.split_once(' ') {
        None => all_digits(rest),
        Some((code, national)) => {
            code.len() <= 3
                && all_digits(code)
                && all_digits(national)
                && !national.starts_with('0')
        }
    }
}

/// Reads the digits of a number's country code and national number from `main` by the
/// numbering plan (which drops a trunk prefix such as `(0)`); `None` when it cannot.
pub(super) fn read_by_plan(main: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, main.trim()).ok()?;
    Some(format!(
        "{}{}",
        parsed.code().value(),
        national_digits(parsed.national())
    ))
}

pub(super) fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

impl fmt::Display for RegisteredNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

impl fmt::Debug for RegisteredNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RegisteredNumber")
            .field(&mask(&self.0))
            .finish()
    }
}

/// One of a user's phone methods, as Graph reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneMethod {
    pub phone_type: PhoneType,
    pub number: RegisteredNumber,
    /// Graph's `smsSignInState`; `None` when Graph did not say.
    pub sms_sign_in_state: Option<SmsSignInState>,
}

/// Whether a phone method can be used for SMS sign-in (Graph's `smsSignInState`). The result
/// contract uses the same names as Graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsSignInState {
    /// Ready for SMS sign-in.
    Ready,
    /// The method's type does not support SMS sign-in (alternate mobile, office).
    NotSupported,
    /// The Authentication Methods Policy does not enable the user for SMS sign-in.
    NotAllowedByPolicy,
    /// Enabled by policy, but the user has more to do.
    NotConfigured,
    /// Another user holds the number for SMS sign-in.
    PhoneNumberNotUnique,
    /// SMS sign-in is switched off for the method.
    NotEnabled,
    /// A value Graph added after this was written, kept as Graph wrote it.
    Other(String),
}

impl SmsSignInState {
    /// The state's name in the result contract (Graph's name).
    pub fn as_str(&self) -> &str {
        match self {
            SmsSignInState::Ready => "ready",
            SmsSignInState::NotSupported => "notSupported",
            SmsSignInState::NotAllowedByPolicy => "notAllowedByPolicy",
            SmsSignInState::NotConfigured => "notConfigured",
            SmsSignInState::PhoneNumberNotUnique => "phoneNumberNotUnique",
            SmsSignInState::NotEnabled => "notEnabled",
            SmsSignInState::Other(text) => text,
        }
    }

    /// Whether SMS sign-in is off for the method, so disabling it has nothing to do.
    pub fn is_off(&self) -> bool {
        matches!(
            self,
            SmsSignInState::NotEnabled
                | SmsSignInState::NotAllowedByPolicy
                | SmsSignInState::NotSupported
        )
    }
}

impl fmt::Display for SmsSignInState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
