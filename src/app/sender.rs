//! Settles who sent a queue message. The caller's access token (`CallerToken`) is taken out of
//! the message before anything else reads it, checked by `entra` as of the message's insertion
//! time, and admitted by the caller policy as an HTTP caller is. Where the deployment accepts
//! a message with no sender (`MFA_QUEUE_REQUIRE_CALLER=false`), it may come without a token.
//! This module also masks what a queue result echoes.

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

/// Removes the token from the message, wherever the message carries it: at its top (also
/// beside a wrapper), or among the parameters inside whatever wrappers they come in
/// (`parameters`, a webhook's `RequestBody` as an object or as JSON text, nested). The message
/// is unwrapped here, once, to the parameters object, so that the token is out before anything
/// reads, echoes or logs the parameters, and a token hidden in a wrapper is checked like any.
fn take_token(message: &mut Value) -> Result<Option<String>, Failure> {
    let Value::Object(object) = message else {
        return Ok(None);
    };
    let mut found = remove_named(object);
    if let Ok(mut parameters) = crate::request::parameters_object(message) {
        if let Some(inner) = remove_named(&mut parameters) {
            found.get_or_insert(inner);
        }
        *message = Value::Object(parameters);
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
/// whoever may read it, long after; `requestId` is what a sender matches its results by. Texts
/// deeper in (a message that could not be unwrapped is echoed as it came) are masked too, and
/// anything shaped like a token (a JWT) is left out, wherever it is.
pub(super) fn mask_echo(report: &mut Report) {
    if let Some(request) = &mut report.request {
        mask_value(request, None);
    }
}

fn mask_value(value: &mut Value, name: Option<&str>) {
    match value {
        Value::String(text) if looks_like_a_token(text) => {
            *text = "(a token, left out)".to_owned();
        }
        Value::String(text) => match name {
            Some(name) if name.eq_ignore_ascii_case("phoneNumber") => *text = mask(text),
            // A keyed fingerprint (the readiness scan's) says nothing of the number, and the
            // sender matches its result by it, as by the user and the request id.
            Some(name)
                if ["UserId", "requestId", "numberFingerprint"]
                    .iter()
                    .any(|kept| name.eq_ignore_ascii_case(kept)) => {}
            _ => *text = redact_numbers(text),
        },
        Value::Object(object) => {
            for (name, value) in object.iter_mut() {
                mask_value(value, Some(name));
            }
        }
        Value::Array(values) => {
            for value in values {
                mask_value(value, name);
            }
        }
        _ => {}
    }
}

/// Whether a text holds what looks like a JSON Web Token: `eyJ` (the base64url of `{"`) and
/// three base64url parts joined by dots.
fn looks_like_a_token(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .any(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            word.starts_with("eyJ") && parts.len() == 3 && parts.iter().all(|part| part.len() >= 4)
        })
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
        assert_eq!(wrapped, json!({"UserId": "a"}), "unwrapped, the token out");
        let inner = json!({"UserId": "a", "CallerToken": "t3"}).to_string();
        let mut webhook = json!({"RequestBody": inner});
        assert_eq!(take_token(&mut webhook).unwrap().as_deref(), Some("t3"));
        assert_eq!(webhook, json!({"UserId": "a"}), "a webhook's text too");
        let inner = json!({"parameters": {"UserId": "a", "CallerToken": "t4"}}).to_string();
        let mut nested = json!({"RequestBody": inner});
        assert_eq!(take_token(&mut nested).unwrap().as_deref(), Some("t4"));
        assert_eq!(nested, json!({"UserId": "a"}));
        let mut none = json!({"UserId": "a"});
        assert_eq!(take_token(&mut none).unwrap(), None);
        let mut number = json!({"UserId": "a", "CallerToken": 5});
        assert_eq!(
            take_token(&mut number).unwrap_err().code,
            ErrorCode::CallerNotAllowed
        );
        assert_eq!(number, json!({"UserId": "a"}), "not echoed either");
    }

    #[test]
    fn an_echo_leaves_out_whatever_looks_like_a_token_and_masks_numbers_at_any_depth() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let mut report = Report::new(crate::report::Trigger::Queue, None);
        report.request = Some(json!({
            "RequestBody": format!("{{\"CallerToken\": \"{jwt}\", \"x\": \"+49 170 1234567\""),
            "nested": {"phoneNumber": "+491701234567", "list": [jwt]},
        }));
        mask_echo(&mut report);
        let echoed = report
            .request
            .map(|request| request.to_string())
            .unwrap_or_default();
        assert!(!echoed.contains("c2lnbmF0dXJl"), "{echoed}");
        assert!(!echoed.contains("1234567"), "{echoed}");
    }
}
