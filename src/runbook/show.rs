//! `show`: the user, their phone methods and other methods, and what the policy lets them
//! use, read in one round trip (two for a guest named by UPN), with nothing written.

use std::time::Duration;

use super::picture::Picture;
use super::wording::describe_current;
use super::{Services, acquire_permit, fail_graph, read};
use crate::outcome::Outcome;
use crate::phone::redact_numbers;
use crate::plan::find;
use crate::report::{Action, ErrorCode, Failure};
use crate::request::ShowRequest;

/// Shows the user's methods and what the policy lets them use, writing nothing: one round
/// trip (two for a guest named by UPN), no lock, no protection check.
pub async fn show(
    services: &Services,
    request: &ShowRequest,
    budget: Duration,
    outcome: &mut Outcome,
) {
    outcome.note(format!(
        "Show the authentication methods of {}{}",
        request.user,
        request
            .caller_name
            .as_deref()
            .map(|caller| format!(" (requested by {})", redact_numbers(caller)))
            .unwrap_or_default()
    ));
    let run = async {
        let Some(_permit) = acquire_permit(services, outcome).await else {
            return;
        };
        let read::FirstRead {
            user,
            methods,
            checks,
        } = read::first_read(services, &request.user, false).await;
        let Some((user, object_id)) = read::accept_user(user, &request.user, outcome) else {
            return;
        };
        let named_otherwise = object_id.lock_key() != request.user.lock_key();
        let methods =
            read::by_object_id(services, &user, &object_id, named_otherwise, false, methods).await;
        let methods = match methods {
            Ok(methods) => methods,
            Err(error) => {
                fail_graph(outcome, &error, Some(&request.user));
                return;
            }
        };
        outcome.note(describe_current(request.phone_type, &methods.phone));
        let picture = Picture {
            user: &user,
            methods: &methods,
            policy: &checks.policy,
            member_of: &checks.member_of,
            safeguards: services.safeguards,
        };
        let current = find(&methods.phone, request.phone_type).cloned();
        picture.show(request.phone_type, outcome);
        outcome.succeed(Action::None, current.as_ref());
    };
    if tokio::time::timeout(budget, run).await.is_err() && !outcome.has_failed() {
        outcome.fail(Failure::new(
            ErrorCode::GraphUnavailable,
            format!(
                "Graph did not answer within the invocation's time budget ({} s)",
                budget.as_secs()
            ),
        ));
    }
}
