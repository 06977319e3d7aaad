//! Converts Graph's JSON into the domain's types: users, phone methods, method kinds, sign-in
//! states. Everything Graph writes as free text loses its control characters and is bounded
//! here, once: an evolvable enum may bring a value we do not know, but never one of 60 KB.

use super::wire;
use crate::methods::MethodKind;
use crate::phone::{PhoneMethod, PhoneType, RegisteredNumber, SmsSignInState};
use crate::user::DirectoryUser;

impl From<wire::User> for DirectoryUser {
    fn from(user: wire::User) -> DirectoryUser {
        DirectoryUser {
            id: user.id,
            user_principal_name: user.user_principal_name.map(|upn| name(&upn)),
            display_name: user.display_name.map(|display| name(&display)),
            guest: user
                .user_type
                .as_deref()
                .is_some_and(|user_type| user_type.eq_ignore_ascii_case("guest")),
            user_type: user.user_type.map(|user_type| word(&user_type)),
            account_enabled: user.account_enabled,
            mail: user
                .mail
                .filter(|mail| !mail.trim().is_empty())
                .map(|mail| name(&mail)),
            usage_location: user.usage_location.map(|location| word(&location)),
        }
    }
}

/// The longest name (a display name, a UPN, an address) kept from Graph.
const MAX_NAME_CHARS: usize = 256;
/// The longest word (an enum value, a kind, a code) kept from Graph.
const MAX_WORD_CHARS: usize = 64;

/// Keeps a name as Graph gave it, without control characters and bounded. It is Graph's data,
/// kept for the result; whatever reaches a log line is masked there too.
pub(super) fn name(text: &str) -> String {
    bounded(text, MAX_NAME_CHARS)
}

/// Keeps an enum value or code Graph gave, bounded: an evolvable enum may bring a value we do
/// not know, but never one of 60 KB.
fn word(text: &str) -> String {
    bounded(text, MAX_WORD_CHARS)
}

fn bounded(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

pub(super) fn phone_method(method: wire::PhoneMethod) -> Option<PhoneMethod> {
    Some(PhoneMethod {
        phone_type: PhoneType::parse(method.phone_type.as_deref()?)?,
        // No number is longer; text beyond it is not a number either.
        number: RegisteredNumber::new(word(&method.phone_number?)),
        sms_sign_in_state: method.sms_sign_in_state.map(sms_sign_in_state),
    })
}

/// Reads a method's kind from its `@odata.type`, without the namespace.
pub(super) fn method_kind(kind: String) -> MethodKind {
    let known = [
        (
            "microsoftAuthenticatorAuthenticationMethod",
            MethodKind::MicrosoftAuthenticator,
        ),
        ("fido2AuthenticationMethod", MethodKind::Fido2),
        (
            "windowsHelloForBusinessAuthenticationMethod",
            MethodKind::WindowsHelloForBusiness,
        ),
        ("softwareOathAuthenticationMethod", MethodKind::SoftwareOath),
        ("hardwareOathAuthenticationMethod", MethodKind::HardwareOath),
        (
            "platformCredentialAuthenticationMethod",
            MethodKind::PlatformCredential,
        ),
        (
            "temporaryAccessPassAuthenticationMethod",
            MethodKind::TemporaryAccessPass,
        ),
        (
            "externalAuthenticationMethod",
            MethodKind::ExternalAuthenticationMethod,
        ),
        ("emailAuthenticationMethod", MethodKind::Email),
        ("passwordAuthenticationMethod", MethodKind::Password),
    ];
    known
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&kind))
        .map_or_else(|| MethodKind::Other(word(&kind)), |(_, method)| method)
}

/// Graph's `authenticationMethodSignInState`, an evolvable enum: values added later are kept.
fn sms_sign_in_state(text: String) -> SmsSignInState {
    match text.as_str() {
        "ready" => SmsSignInState::Ready,
        "notSupported" => SmsSignInState::NotSupported,
        "notAllowedByPolicy" => SmsSignInState::NotAllowedByPolicy,
        "notConfigured" => SmsSignInState::NotConfigured,
        "phoneNumberNotUnique" => SmsSignInState::PhoneNumberNotUnique,
        "notEnabled" => SmsSignInState::NotEnabled,
        _ => SmsSignInState::Other(word(&text)),
    }
}
