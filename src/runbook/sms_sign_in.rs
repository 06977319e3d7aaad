//! Switching SMS sign-in on or off for the mobile phone after it is set, when the caller asked
//! (`smsSignIn: enable | disable`), and reporting the state Graph then holds.

use super::Run;
use super::failure::{self, Stop};
use super::wording::sms_state;
use crate::graph::GraphErrorKind;
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneType, SmsSignInState, redact_numbers};
use crate::plan::find;
use crate::report::{ErrorCode, Failure};
use crate::request::SmsSignIn;

/// Enables or disables SMS sign-in on the mobile method, as the caller asked; returns the
/// method with the state Graph then holds.
///
/// # Errors
///
/// The lease was lost, or Graph refused the switch.
pub(super) async fn switch(
    run: &Run<'_>,
    method: &PhoneMethod,
    outcome: &mut Outcome,
) -> Result<PhoneMethod, Stop> {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let enable = request.sms_sign_in == SmsSignIn::Enable;
    let verb = if enable { "enable" } else { "disable" };
    let state = method.sms_sign_in_state.as_ref();
    if request.dry_run {
        outcome.note(format!(
            "Dry run: would then {verb} SMS sign-in (now {})",
            sms_state(state)
        ));
        return Ok(method.clone());
    }
    let already = if enable {
        state == Some(&SmsSignInState::Ready)
    } else {
        state.is_some_and(SmsSignInState::is_off)
    };
    if already {
        outcome.note(format!(
            "SMS sign-in is already {} ({}); nothing to {verb}",
            if enable { "on" } else { "off" },
            sms_state(state)
        ));
        return Ok(method.clone());
    }
    let window = run.write_window().await?;
    let graph = &services.graph;
    let switched = graph.set_sms_sign_in(object_id, enable, window).await;
    services.claims.note_write(&object_id.lock_key());
    if let Err(error) = switched {
        return Err(match &error.kind {
            GraphErrorKind::Rejected { message, .. } => Stop::new(Failure::for_field(
                ErrorCode::SmsSignInNotAllowed,
                "smsSignIn",
                format!(
                    "the {} phone was set, but Graph refused to {verb} SMS sign-in ({}: {}); \
                         check the Authentication Methods Policy for SMS and that no other user \
                         holds the number for SMS sign-in",
                    request.phone_type,
                    error.kind.answer().unwrap_or_default(),
                    redact_numbers(message)
                ),
            )),
            _ => failure::of_graph(&error, None),
        });
    }
    outcome.note(format!("Asked Graph to {verb} SMS sign-in"));
    Ok(state_after(run, method.clone(), outcome).await)
}

/// The mobile method as Graph now holds it (the state reported rather than the one we hoped
/// for); `method` when it cannot be read back.
async fn state_after(run: &Run<'_>, method: PhoneMethod, outcome: &mut Outcome) -> PhoneMethod {
    let graph = &run.services.graph;
    // Report the state Graph now holds rather than the one we hoped for.
    match graph.phone_methods(run.object_id).await {
        Ok(methods) => {
            if let Some(after) = find(&methods, PhoneType::Mobile) {
                outcome.note(format!(
                    "SMS sign-in is now {}",
                    sms_state(after.sms_sign_in_state.as_ref())
                ));
                outcome.set_phone_method(after);
                return after.clone();
            }
            method
        }
        Err(error) => {
            outcome.caution(format!(
                "Could not read back the SMS sign-in state: {}",
                error.kind
            ));
            method
        }
    }
}
