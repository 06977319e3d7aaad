//! Carries out one invocation, from its parameters to its outcome: it records the deployment's
//! own warnings, checks the caller's access, parses the request, runs the runbook within the
//! invocation's budget, and turns a panic into this invocation's `internal` failure. The routes
//! in the parent module turn the outcome into the host's envelope.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use super::received::Received;
use super::{AppState, BUDGET_GRACE};
use crate::caller::{Access, Caller};
use crate::outcome::Outcome;
use crate::report::{ErrorCode, Failure, Trigger, WarningCode};
use crate::request::{Operation, Parsed, Rejected, Task};
use crate::runbook::{self, Reveal};

/// Runs [`execute`], and turns a panic inside it into this invocation's `internal` failure:
/// the other invocations on the instance carry on, and the log gets where it happened (the
/// panic hook), never the input.
pub(super) async fn guarded(
    state: &AppState,
    received: Received,
    invocation: &Invocation<'_>,
    outcome: &mut Outcome,
) {
    let finished = AssertUnwindSafe(execute(state, received, invocation, outcome))
        .catch_unwind()
        .await;
    if finished.is_err() {
        outcome.fail(Failure::new(
            ErrorCode::Internal,
            "the handler failed unexpectedly while carrying out this request (a bug; its log \
             says where); the request may be sent again",
        ));
    }
}

/// How one invocation came in: what the request may do depends on it.
pub(super) struct Invocation<'a> {
    pub(super) trigger: Trigger,
    /// The caller Microsoft Entra authenticated (HTTP only).
    pub(super) caller: Option<&'a Caller>,
    pub(super) budget: Duration,
}

/// Warns, in every result, of what is wrong with the deployment itself until it is mended.
fn deployment_warnings(state: &AppState, outcome: &mut Outcome) {
    if !state.services.protection.protects_azure_side() {
        outcome.warn(
            WarningCode::AzureSideUnprotected,
            "MFA_AZURE_CONTROL_SCOPES is not set, so the Azure side is not protected: an Owner, \
             Contributor or Website Contributor of the Function App (or above it), a blob writer \
             on its storage account, or whoever can assign roles there could have their phone \
             set; set it to the app's resource ids (DEPLOY.md)",
        );
    }
    let broader = crate::mutex::lock(&state.grants).broader.clone();
    if !broader.is_empty() {
        outcome.warn(
            WarningCode::ExcessGraphPermissions,
            format!(
                "the app's identity holds {}, broader than this app needs (phone methods only): \
                 whoever can run code as the app could use it on every method; remove it \
                 (DEPLOY.md, Removing the broad role an earlier deployment granted)",
                broader.join(", ")
            ),
        );
    }
}

/// Runs the runbook for the request received, recording what happens in `outcome`.
async fn execute(
    state: &AppState,
    received: Received,
    invocation: &Invocation<'_>,
    outcome: &mut Outcome,
) {
    deployment_warnings(state, outcome);
    let Some(Runnable { access, parsed }) = echo(received, outcome) else {
        return;
    };
    if let Err(refusal) = state.callers.permit(invocation.caller, access) {
        outcome.fail(refusal);
        return;
    }
    match parsed {
        Ok(parsed) => run_parsed(state, parsed, invocation, outcome).await,
        Err(rejected) => record_rejection(*rejected, outcome),
    }
}

/// What is left to run of a request once the result echoes it.
struct Runnable {
    /// The app role the request needs.
    access: Access,
    parsed: Result<Parsed, Box<Rejected>>,
}

/// Puts the parameters that ran into the result (a webhook's `RequestBody` or a `parameters`
/// wrapper unwrapped, whatever else came beside it) with the request id, whatever happens
/// next, so that a sender can match the answer. `None`, with the failure recorded, when there
/// is no parameters object to run.
fn echo(received: Received, outcome: &mut Outcome) -> Option<Runnable> {
    outcome.report_mut().request_id = received.request_id();
    let Received {
        echo,
        object,
        access,
        parsed,
    } = received;
    outcome.report_mut().request = Some(echo);
    match (object, parsed) {
        (Ok(_), Some(parsed)) => Some(Runnable { access, parsed }),
        (Err(failure), _) => {
            outcome.fail(failure);
            None
        }
        // `Received::read` always parses an object it has, so without a parse there is no
        // object and nothing to run.
        (Ok(_), None) => None,
    }
}

/// Runs a request that parsed: its warnings and who sent it go into the result, then its task
/// runs within the invocation's budget.
async fn run_parsed(
    state: &AppState,
    parsed: Parsed,
    invocation: &Invocation<'_>,
    outcome: &mut Outcome,
) {
    for (code, message) in parsed.warnings {
        outcome.warn(code, message);
    }
    let (caller_name, request_id) = match &parsed.task {
        Task::Change(request) => (&request.caller_name, &request.request_id),
        Task::Show(show) => (&show.caller_name, &show.request_id),
    };
    let report = outcome.report_mut();
    report.caller_name.clone_from(caller_name);
    report.request_id.clone_from(request_id);
    if let Some(refusal) = queued_removal_of_any_number(invocation.trigger, &parsed.task) {
        outcome.fail(refusal);
        return;
    }
    let budget = invocation.budget;
    // The runbook keeps to its budget; this is the backstop that answers regardless.
    let finished = tokio::time::timeout(
        budget + BUDGET_GRACE,
        run_task(state, &parsed.task, invocation, outcome),
    )
    .await
    .is_ok();
    if !finished && !outcome.has_failed() {
        outcome.report_mut().retry_after = Some(Duration::from_secs(30));
        outcome.fail(Failure::new(
            ErrorCode::GraphUnavailable,
            format!(
                "the invocation ran out of its time budget ({} s) before it finished; \
                 nothing half-done is left that a retry cannot finish, so try again",
                budget.as_secs()
            ),
        ));
    }
}

/// Refuses a queued request to remove whatever number is registered: a queue message may be
/// read long after it was sent, and by then it could delete a number set after it.
fn queued_removal_of_any_number(trigger: Trigger, task: &Task) -> Option<Failure> {
    let Task::Change(request) = task else {
        return None;
    };
    let any_number =
        request.operation == Operation::Remove(None) && request.number_fingerprint.is_none();
    (trigger == Trigger::Queue && any_number).then(|| {
        Failure::for_field(
            ErrorCode::InvalidRequest,
            "removeRegisteredNumber",
            "removeRegisteredNumber is honoured over HTTP only: a queue message may be \
             read after a new number was set, which it would then delete; name the \
             number to remove (phoneNumber)",
        )
    })
}

/// Runs the runbook for the task. A show reveals the number only over HTTP and to a caller
/// allowed to see it, because a queue result is kept where whoever may read the queue sees it.
async fn run_task(
    state: &AppState,
    task: &Task,
    invocation: &Invocation<'_>,
    outcome: &mut Outcome,
) {
    let budget = invocation.budget;
    match task {
        Task::Change(request) => {
            runbook::run(&state.services, request, budget, outcome).await;
        }
        Task::Show(show) => {
            let reveal = match invocation.trigger {
                Trigger::Queue => Reveal::Refused(
                    "over HTTP only: a queue result is kept in the results queue, \
                     where whoever may read it sees it",
                ),
                Trigger::Http => match state.callers.may_reveal(invocation.caller) {
                    Ok(()) => Reveal::Allowed,
                    Err(why) => Reveal::Refused(why),
                },
            };
            runbook::show(&state.services, show, reveal, budget, outcome).await;
        }
    }
}

/// Records a request that did not parse: its warnings, who sent it, and why it was refused.
fn record_rejection(rejected: Rejected, outcome: &mut Outcome) {
    for (code, message) in rejected.warnings {
        outcome.warn(code, message);
    }
    let report = outcome.report_mut();
    report.caller_name = rejected.caller_name;
    report.request_id = rejected.request_id;
    outcome.fail(rejected.failure);
}
