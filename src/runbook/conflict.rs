//! After a 409 `phoneNumberNotUnique`: Graph usually wrote the MFA method and only refused
//! SMS sign-in. Read the method back promptly, then after short growing waits, until the
//! number shows up or the verification budget is spent; if it never does, find who holds it.

use super::wording::past_tense;
use super::{Run, action_of, fail_graph, poll_until};
use crate::graph::GraphError;
use crate::outcome::Outcome;
use crate::phone::PhoneMethod;
use crate::plan::{Write, find};
use crate::report::{ErrorCode, Failure, WarningCode};

/// Settles the outcome of `write` after Graph's 409; returns the method when it was written.
pub(super) async fn resolve(
    run: &Run<'_>,
    write: Write,
    before: &[PhoneMethod],
    outcome: &mut Outcome,
) -> Option<PhoneMethod> {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let phone_type = request.phone_type;
    let number = &request.phone_number;
    outcome.note(format!(
        "Graph answered 409 phoneNumberNotUnique: another user holds {number} for SMS sign-in; \
         checking whether the {phone_type} method was written anyway"
    ));
    let graph = &services.graph;
    let verified = poll_until(services.verification, || async move {
        let methods = graph.phone_methods(object_id).await?;
        Ok::<_, GraphError>(
            find(&methods, phone_type)
                .filter(|method| number.matches(&method.number))
                .cloned(),
        )
    })
    .await;
    match verified {
        Ok(Some(method)) => {
            outcome.note(past_tense(write, phone_type, number, before));
            outcome.warn(
                WarningCode::SmsSignInConflict,
                format!(
                    "MFA by call and text works with {number}; SMS sign-in is not available \
                     because another user holds this number for SMS sign-in"
                ),
            );
            outcome.succeed(action_of(write), Some(&method));
            Some(method)
        }
        Ok(None) => {
            outcome.fail(Failure::new(
                ErrorCode::PhoneNumberNotUnique,
                format!(
                    "Graph did not set {number}: another user holds it for SMS sign-in. Remove \
                     it from that user (or disable their SMS sign-in), then try again"
                ),
            ));
            find_owner(run, outcome).await;
            None
        }
        Err(error) => {
            fail_graph(outcome, &error, None);
            None
        }
    }
}

/// Looks for who holds the number, and puts the answer into the outcome.
async fn find_owner(run: &Run<'_>, outcome: &mut Outcome) {
    let Run {
        services,
        request,
        object_id,
        deadline,
    } = *run;
    let owner = services
        .owner_search
        .search(
            &services.graph,
            &request.phone_number,
            object_id,
            deadline,
            outcome,
        )
        .await;
    if let Some(owner) = owner {
        outcome.caution(format!(
            "The number is held by {} ({}), {} phone, SMS sign-in {}, account {}",
            owner.display_name.as_deref().unwrap_or("(no display name)"),
            owner.user_principal_name.as_deref().unwrap_or(&owner.id),
            owner.phone_type,
            owner.sms_sign_in_state.as_deref().unwrap_or("unknown"),
            match owner.account_enabled {
                Some(true) => "enabled",
                Some(false) => "disabled",
                None => "state unknown",
            }
        ));
        outcome.report_mut().conflict_owner = Some(owner);
    }
}
