//! The runbook's lines for the admin: what was asked, whom it concerns, what is there, what
//! was done. Pure. Numbers appear only masked (`PhoneNumber` and `RegisteredNumber` display
//! masked); free text from callers passes through `redact_numbers`.

use crate::phone::{Notation, PhoneMethod, PhoneNumber, PhoneType, SmsSignInState, redact_numbers};
use crate::plan::{Write, find};
use crate::request::{Operation, Request};
use crate::user::DirectoryUser;

/// An SMS sign-in state for a log line; `unknown` when Graph did not say.
pub fn sms_state(state: Option<&SmsSignInState>) -> &str {
    state.map_or("unknown", SmsSignInState::as_str)
}

pub fn describe_request(request: &Request) -> String {
    // A caller name is free text: it may carry a number, so it is redacted like Graph's text.
    let by = request
        .caller_name
        .as_deref()
        .map(|caller| format!(" (requested by {})", redact_numbers(caller)))
        .unwrap_or_default();
    let dry = if request.dry_run { " [dry run]" } else { "" };
    match &request.operation {
        Operation::Set(number) => format!(
            "Set the {} phone of {} to {number}{by}{dry}",
            request.phone_type, request.user
        ),
        Operation::Remove(Some(number)) => format!(
            "Remove the {} phone {number} from {}{by}{dry}",
            request.phone_type, request.user
        ),
        Operation::Remove(None) => format!(
            "Remove the {} phone of {}, whatever number it holds (removeRegisteredNumber){by}{dry}",
            request.phone_type, request.user
        ),
    }
}

pub fn describe_user(user: &DirectoryUser) -> String {
    format!(
        "User: {} ({}), object id {}, {}",
        user.display_name.as_deref().unwrap_or("(no display name)"),
        user.user_principal_name.as_deref().unwrap_or("(no UPN)"),
        user.id,
        user.user_type.as_deref().unwrap_or("user type unknown")
    )
}

pub fn describe_current(phone_type: PhoneType, methods: &[PhoneMethod]) -> String {
    match find(methods, phone_type) {
        Some(method) => {
            let notation = match method.number.notation() {
                Notation::Graph => "",
                Notation::Older => {
                    " (written in an older notation; compared by the numbering plan)"
                }
                Notation::Unreadable => {
                    " (not readable by the numbering plan; compared by its digits)"
                }
            };
            format!(
                "Current {phone_type} phone: {}{notation} (SMS sign-in: {})",
                method.number,
                sms_state(method.sms_sign_in_state.as_ref())
            )
        }
        None => format!("No {phone_type} phone is registered"),
    }
}

pub fn describe_write(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> String {
    let (verb, _, object) = write_phrase(write, phone_type, number, methods);
    format!("{verb} {object}")
}

pub fn past_tense(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> String {
    let (_, done, object) = write_phrase(write, phone_type, number, methods);
    format!("{done} {object}")
}

/// A write in words: its verb, the verb in the past tense, and what it acts on.
fn write_phrase(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> (&'static str, &'static str, String) {
    match write {
        Write::Add => ("add", "Added", format!("the {phone_type} phone {number}")),
        Write::Update => (
            "change",
            "Changed",
            match find(methods, phone_type) {
                Some(current) => {
                    format!("the {phone_type} phone from {} to {number}", current.number)
                }
                None => format!("the {phone_type} phone to {number}"),
            },
        ),
        Write::Remove => (
            "remove",
            "Removed",
            format!("the {phone_type} phone {number}"),
        ),
    }
}
