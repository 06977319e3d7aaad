//! Who sent a queue message: the caller's access token (`CallerToken`) taken out of the
//! message before anything else reads it, checked by `entra` as of the message's insertion
//! time, and admitted by the caller policy as an HTTP caller is; or no one, where the
//! deployment accepts that (`MFA_QUEUE_REQUIRE_CALLER=false`). Also the masking of what a
//! queue result echoes.

use std::time::SystemTime;

use serde_json::Value;

use super::AppState;
use crate::caller::{Caller, Identified};
use crate::entra::{TOKEN_FIELD, TokenFailure};
use crate::host::Envelope;
use crate::outcome::Outcome;
use crate::phone::{mask, redact_numbers};
use crate::report::{ErrorCode, Failure, Report};

/// The caller a queue message proves, or `None` where a message may come without one.
///
/// # Errors
///
/// `callerNotAllowed` for a message without a valid token where one is required, and for any
/// token that does not check out; `identityUnavailable` (worth another delivery) when the
/// tenant's keys cannot be read.
pub(super) async fn sender(
    state: &AppState,
    envelope: &Envelope,
    message: &mut Value,
    outcome: &mut Outcome,
) -> Result<Option<Caller>, Failure> {
    let settings = state.tokens.settings();
    let Some(token) = take_token(message)? else {
        if settings.require_caller {
            return Err(Failure::new(
                ErrorCode::CallerNotAllowed,
                format!(
                    "the message carries no {TOKEN_FIELD} (the sender's Microsoft Entra access \
                     token for the API), and this deployment carries out queue messages only \
                     for a caller it can check (MFA_QUEUE_REQUIRE_CALLER=true); nothing was \
                     read or changed"
                ),
            ));
        }
        outcome.note(format!(
            "Called through the queue without a {TOKEN_FIELD}: the message carries no caller; \
             who may send to the request queue decides"
        ));
        return Ok(None);
    };
    let inserted = envelope.insertion_time().unwrap_or_else(|| {
        outcome.caution(
            "The host sent no readable InsertionTime: the caller's token is checked as of now",
        );
        SystemTime::now()
    });
    let principal =
        state
            .tokens
            .check(&token, inserted)
            .await
            .map_err(|failure| match failure {
                TokenFailure::KeysUnavailable(_) => Failure::new(
                    ErrorCode::IdentityUnavailable,
                    format!("{failure}; the message is delivered again"),
                ),
                TokenFailure::Refused(_) | TokenFailure::NotConfigured => Failure::new(
                    ErrorCode::CallerNotAllowed,
                    format!("{failure}; nothing was read or changed"),
                ),
            })?;
    let caller = match state.callers.identify(Some(&principal)) {
        Identified::Caller(caller) => caller,
        Identified::Nobody => {
            return Err(Failure::new(
                ErrorCode::CallerNotAllowed,
                "the CallerToken names no caller; nothing was read or changed",
            ));
        }
        Identified::Ignored(reason) => {
            return Err(Failure::new(
                ErrorCode::CallerNotAllowed,
                format!("{}; nothing was read or changed", redact_numbers(&reason)),
            ));
        }
    };
    outcome.set_caller(Some(&caller), state.callers.require_app_role);
    state.callers.admit(Some(&caller))?;
    Ok(Some(caller))
}

/// Removes the token from the message (at its top, or beside the parameters in a
/// `parameters` wrapper), so that it is never echoed, logged or read as a parameter.
fn take_token(message: &mut Value) -> Result<Option<String>, Failure> {
    let Value::Object(object) = message else {
        return Ok(None);
    };
    let mut found = remove_named(object);
    for wrapper in ["parameters", "RequestBody"] {
        if let Some((_, Value::Object(inner))) = object
            .iter_mut()
            .find(|(name, _)| name.eq_ignore_ascii_case(wrapper))
            && let Some(inner_token) = remove_named(inner)
        {
            found.get_or_insert(inner_token);
        }
    }
    match found {
        None => Ok(None),
        Some(Value::String(token)) if !token.trim().is_empty() => Ok(Some(token)),
        Some(_) => Err(Failure::for_field(
            ErrorCode::CallerNotAllowed,
            TOKEN_FIELD,
            format!(
                "{TOKEN_FIELD} must be the caller's access token as text; nothing was read or \
                 changed"
            ),
        )),
    }
}

fn remove_named(object: &mut serde_json::Map<String, Value>) -> Option<Value> {
    let names: Vec<String> = object
        .keys()
        .filter(|name| name.eq_ignore_ascii_case(TOKEN_FIELD))
        .cloned()
        .collect();
    names
        .iter()
        .filter_map(|name| object.remove(name))
        .next_back()
}

/// The request a queue result echoes, with the number masked: the result queue is read by
/// whoever may read it, long after; `requestId` is what a sender matches its results by.
pub(super) fn mask_echo(report: &mut Report) {
    let Some(Value::Object(request)) = &mut report.request else {
        return;
    };
    for (name, value) in request.iter_mut() {
        if let Value::String(text) = value {
            if name.eq_ignore_ascii_case("phoneNumber") {
                *text = mask(text);
            } else if !name.eq_ignore_ascii_case("UserId")
                && !name.eq_ignore_ascii_case("requestId")
            {
                *text = redact_numbers(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_token_is_taken_out_wherever_the_message_carries_it() {
        let mut top = json!({"UserId": "a", "CallerToken": "t1"});
        assert_eq!(take_token(&mut top).unwrap().as_deref(), Some("t1"));
        assert_eq!(top, json!({"UserId": "a"}));
        let mut wrapped = json!({"parameters": {"UserId": "a", "callertoken": "t2"}});
        assert_eq!(take_token(&mut wrapped).unwrap().as_deref(), Some("t2"));
        assert_eq!(wrapped, json!({"parameters": {"UserId": "a"}}));
        let mut none = json!({"UserId": "a"});
        assert_eq!(take_token(&mut none).unwrap(), None);
        let mut number = json!({"UserId": "a", "CallerToken": 5});
        assert_eq!(
            take_token(&mut number).unwrap_err().code,
            ErrorCode::CallerNotAllowed
        );
        assert_eq!(number, json!({"UserId": "a"}), "not echoed either");
    }
}
