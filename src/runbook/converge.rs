//! Plan and write until the tenant holds what was asked: at most one write per plan, the
//! methods read again when a write's outcome is uncertain, the plan made again on what they
//! show, so that redelivered and concurrent requests converge instead of repeating writes
//! blindly. Every write is sent only while the user's lease (when there are leases) is held
//! with room for it.

use std::ops::ControlFlow;
use std::time::Duration;

use super::failure::{self, Stop};
use super::wording::{describe_write, past_tense};
use super::{Run, conflict, poll_until};
use crate::claim::WriteWindow;
use crate::graph::{GraphClient, GraphError, GraphErrorKind, Rejection};
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber, PhoneType, RegisteredNumber};
use crate::plan::{Plan, Settled, Write, find, plan};
use crate::report::Action;
use crate::request::Request;
use crate::user::UserRef;

/// How many times one invocation plans and writes before it gives up on a moving target.
const MAX_WRITES: u32 = 3;
/// How long to keep re-reading after Graph refused a write the tenant's state does not explain.
const SETTLE_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// Plans and writes until the tenant holds what was asked. Returns the method of the
/// requested type after success, for the SMS sign-in step.
///
/// # Errors
///
/// A definite failure: the plan refuses, Graph refuses for good, the lease was lost, or the
/// tenant cannot be read after a write whose outcome is unknown.
pub(super) async fn converge(
    run: &Run<'_>,
    mut methods: Vec<PhoneMethod>,
    outcome: &mut Outcome,
) -> Result<Option<PhoneMethod>, Stop> {
    let request = run.request;
    let Some(number) = request.operation.number() else {
        // Only a removal of whatever is registered names no number, and the runbook names the
        // registered one before converging: none was registered, so there is nothing to remove.
        settle(request, Settled::NotPresent, None, outcome);
        return Ok(None);
    };
    let mut writes = 0;
    // The last write Graph refused outright, to tell a refusal the tenant explains (someone
    // else changed it) from one it does not.
    let mut refused: Option<(Write, GraphError)> = None;
    // The last write whose outcome we never learned: if the tenant now holds what we asked,
    // that write did it.
    let mut unconfirmed: Option<Write> = None;
    loop {
        let decision = replan(run, &mut methods, refused.take()).await?;
        let write = match decided(run, decision, &methods, unconfirmed, number, outcome) {
            ControlFlow::Break(result) => return result,
            ControlFlow::Continue(write) => write,
        };
        let window = run.write_window().await?;
        writes += 1;
        let error = match write_once(run, write, number, window, &methods, outcome).await {
            Ok(after) => return Ok(after),
            Err(error) => error,
        };
        if let ControlFlow::Break(result) =
            settle_failed_write(run, write, number, &error, writes, &methods, outcome).await
        {
            return result;
        }
        methods = read_after_failed_write(run, write, number, &error, &methods, outcome).await?;
        // An unavailable Graph may or may not have acted, so the same write may be tried again;
        // a definite refusal of the same write in the same state is final.
        match error.kind {
            GraphErrorKind::Unavailable { .. } => unconfirmed = Some(write),
            // A refusal the tenant's state explains (a stale read) says the write did not
            // happen; the one refusal known to come with the write done is 409
            // `phoneNumberNotUnique`, which the conflict path settles.
            _ => refused = Some((write, error)),
        }
    }
}

/// The plan for `methods`. When it is the write Graph just `refused`, a read that lags behind
/// a recent write can make the refusal look unexplained: the methods are read again after
/// short waits before concluding.
///
/// # Errors
///
/// The refusal stands, or the methods could not be read again.
async fn replan(
    run: &Run<'_>,
    methods: &mut Vec<PhoneMethod>,
    refused: Option<(Write, GraphError)>,
) -> Result<Plan, Stop> {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let phone_type = request.phone_type;
    let decision = plan(&request.operation, phone_type, methods);
    let Some((previous, error)) =
        refused.filter(|(previous, _)| decision == Plan::Write(*previous))
    else {
        return Ok(decision);
    };
    let settle = services.verification.min(SETTLE_AFTER_REFUSAL);
    let reread = poll_until(settle, || async {
        let methods = services.graph.phone_methods(object_id).await?;
        let changed = plan(&request.operation, phone_type, &methods) != Plan::Write(previous);
        Ok::<_, GraphError>(changed.then_some(methods))
    })
    .await;
    match reread {
        Ok(Some(fresh)) => {
            *methods = fresh;
            Ok(plan(&request.operation, phone_type, methods))
        }
        Ok(None) => Err(failure::of_refused_write(previous, phone_type, &error)),
        Err(read_error) => Err(failure::of_graph(&read_error, None)),
    }
}

/// The write a plan asks for (`Continue`), or the end of the run (`Break`, with the method of
/// the requested type, or the plan's refusal): the tenant already holds what was asked, the
/// plan refuses, or a dry run says what it would write.
fn decided(
    run: &Run<'_>,
    decision: Plan,
    methods: &[PhoneMethod],
    unconfirmed: Option<Write>,
    number: &PhoneNumber,
    outcome: &mut Outcome,
) -> ControlFlow<Result<Option<PhoneMethod>, Stop>, Write> {
    let request = run.request;
    let phone_type = request.phone_type;
    let write = match decision {
        Plan::Done(settled) => {
            let current = find(methods, phone_type).cloned();
            match unconfirmed {
                Some(write) if settled_by(write, settled) => {
                    outcome.note(format!(
                        "{} (Graph's answer was lost; reading back confirms it)",
                        past_tense(write, phone_type, number, &[])
                    ));
                    outcome.succeed(write.action(), current.as_ref());
                }
                _ => settle(request, settled, current.as_ref(), outcome),
            }
            return ControlFlow::Break(Ok(current));
        }
        Plan::Refuse(refusal) => {
            return ControlFlow::Break(Err(failure::of_refusal(phone_type, &refusal)));
        }
        Plan::Write(write) => write,
    };
    if !request.dry_run {
        return ControlFlow::Continue(write);
    }
    let predicted = match write {
        Write::Remove => None,
        Write::Add | Write::Update => Some(planned_method(phone_type, number)),
    };
    outcome.succeed(write.action(), predicted.as_ref());
    outcome.note(format!(
        "Dry run: would {} (nothing was written)",
        describe_write(write, phone_type, number, methods)
    ));
    ControlFlow::Break(Ok(predicted))
}

/// Sends `write` within `window`; on success the outcome says so and the method after it comes
/// back.
async fn write_once(
    run: &Run<'_>,
    write: Write,
    number: &PhoneNumber,
    window: Option<WriteWindow>,
    methods: &[PhoneMethod],
    outcome: &mut Outcome,
) -> Result<Option<PhoneMethod>, GraphError> {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let phone_type = request.phone_type;
    let written = execute(
        &services.graph,
        object_id,
        write,
        phone_type,
        number,
        window,
    )
    .await;
    // Whatever Graph answered, the user may have changed: readers that began before this
    // must read again.
    services.claims.note_write(&object_id.lock_key());
    let after = written?;
    outcome.note(past_tense(write, phone_type, number, methods));
    outcome.succeed(write.action(), after.as_ref());
    Ok(after)
}

/// The end of the run after a failed write (`Break`, with the method of the requested type, or
/// why it stops): a number another user holds, a refusal no read can change, or too many
/// writes. `Continue`: read again and plan again.
async fn settle_failed_write(
    run: &Run<'_>,
    write: Write,
    number: &PhoneNumber,
    error: &GraphError,
    writes: u32,
    methods: &[PhoneMethod],
    outcome: &mut Outcome,
) -> ControlFlow<Result<Option<PhoneMethod>, Stop>> {
    let phone_type = run.request.phone_type;
    match &error.kind {
        GraphErrorKind::Rejected {
            rejection: Rejection::PhoneNumberNotUnique,
            ..
        } => ControlFlow::Break(conflict::resolve(run, write, methods, outcome).await),
        GraphErrorKind::Forbidden { .. } | GraphErrorKind::Credential { .. } => {
            ControlFlow::Break(Err(failure::of_graph(error, None)))
        }
        GraphErrorKind::Rejected {
            rejection: Rejection::InvalidPhoneNumber,
            ..
        } => ControlFlow::Break(Err(failure::invalid_number(number))),
        _ if writes >= MAX_WRITES => {
            ControlFlow::Break(Err(failure::of_refused_write(write, phone_type, error)))
        }
        _ => ControlFlow::Continue(()),
    }
}

/// The methods read again after a write whose outcome is uncertain, after the pause Graph
/// asked for.
///
/// # Errors
///
/// They cannot be read: the write's failure, unless reading failed for a reason of its own.
async fn read_after_failed_write(
    run: &Run<'_>,
    write: Write,
    number: &PhoneNumber,
    error: &GraphError,
    methods: &[PhoneMethod],
    outcome: &mut Outcome,
) -> Result<Vec<PhoneMethod>, Stop> {
    let phone_type = run.request.phone_type;
    outcome.caution(format!(
        "Could not {}: {}; reading the user's phone methods again before deciding",
        describe_write(write, phone_type, number, methods),
        error.kind
    ));
    if let GraphErrorKind::Unavailable { retry_after, .. } = &error.kind {
        // Give Graph the pause it asked for (bounded) before reading again.
        let pause = retry_after.unwrap_or(Duration::from_millis(500));
        tokio::time::sleep(pause.min(Duration::from_secs(5))).await;
    }
    match run.services.graph.phone_methods(run.object_id).await {
        Ok(methods) => Ok(methods),
        Err(read_error) => {
            // The write's outcome is unknown and the tenant cannot be read: report the write's
            // failure, unless reading failed for a reason of its own.
            let error = match read_error.kind {
                GraphErrorKind::Unavailable { .. } => error,
                _ => &read_error,
            };
            Err(failure::of_graph(error, None))
        }
    }
}

/// Whether the tenant being `settled` means `write` took effect.
fn settled_by(write: Write, settled: Settled) -> bool {
    matches!(
        (write, settled),
        (Write::Add | Write::Update, Settled::Unchanged) | (Write::Remove, Settled::NotPresent)
    )
}

/// Carries out one write; returns the method of the requested type after it, as far as
/// Graph told us.
async fn execute(
    graph: &GraphClient,
    object_id: &UserRef,
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    window: Option<WriteWindow>,
) -> Result<Option<PhoneMethod>, GraphError> {
    match write {
        Write::Add => {
            let created = graph
                .add_phone_method(object_id, phone_type, number, window)
                .await?;
            Ok(Some(
                created.unwrap_or_else(|| planned_method(phone_type, number)),
            ))
        }
        Write::Update => {
            graph
                .update_phone_method(object_id, phone_type, number, window)
                .await?;
            Ok(Some(planned_method(phone_type, number)))
        }
        Write::Remove => {
            graph
                .remove_phone_method(object_id, phone_type, window)
                .await?;
            Ok(None)
        }
    }
}

fn settle(
    request: &Request,
    settled: Settled,
    current: Option<&PhoneMethod>,
    outcome: &mut Outcome,
) {
    let phone_type = request.phone_type;
    match settled {
        Settled::Unchanged => {
            outcome.note(format!(
                "The {phone_type} phone already is {}; no change needed",
                request
                    .operation
                    .number()
                    .map_or_else(String::new, ToString::to_string)
            ));
            outcome.succeed(Action::Unchanged, current);
        }
        Settled::NotPresent => {
            outcome.note(format!(
                "No {phone_type} phone is registered; nothing to remove"
            ));
            outcome.succeed(Action::NotPresent, None);
        }
    }
}

/// The method we expect after a write Graph answers without a body.
fn planned_method(phone_type: PhoneType, number: &PhoneNumber) -> PhoneMethod {
    PhoneMethod {
        phone_type,
        number: RegisteredNumber::new(number.graph_format()),
        sms_sign_in_state: None,
    }
}
