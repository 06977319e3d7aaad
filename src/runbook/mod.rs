//! The runbook's logic: read the tenant, plan, write, verify, and report.
//!
//! One invocation reads the user and their phone methods in one round trip of latency, asks
//! [`crate::plan::plan`] what to do, and carries out at most one write per plan. When a write's
//! outcome is uncertain (Graph unavailable, or a rejection that a concurrent change could
//! explain) it reads the methods again and plans again, so redelivered and concurrent requests
//! converge instead of repeating writes blindly. After a 409 `phoneNumberNotUnique` it verifies
//! and, if the number was not written, looks for its holder ([`conflict`]); it switches SMS
//! sign-in when asked ([`sms_sign_in`]). Everything goes into the invocation's [`Outcome`]:
//! [`failure`] words what went wrong, [`wording`] what happened.

mod conflict;
mod failure;
mod picture;
mod read;
mod show;
mod sms_sign_in;
mod wording;

use std::time::Duration;

use tokio::sync::Semaphore;

use self::picture::Picture;
use self::wording::{describe_current, describe_request, describe_write, past_tense};
use crate::graph::{GraphClient, GraphError, GraphErrorKind, Rejection};
use crate::locks::UserLocks;
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::owner::OwnerSearch;
use crate::phone::{PhoneMethod, PhoneNumber, PhoneType, RegisteredNumber, SmsSignInState};
use crate::plan::{Plan, Settled, Write, find, plan};
use crate::policy::Policies;
use crate::protection::{Protection, Verdict};
use crate::report::{Action, ErrorCode, Failure, WarningCode};
use crate::request::{Request, SmsSignIn};
use crate::user::{DirectoryUser, UserRef};

pub use self::picture::Safeguards;
pub use self::show::{Reveal, show};

/// What the runbook needs from the process: shared, built once.
pub struct Services {
    pub graph: GraphClient,
    pub locks: UserLocks,
    /// Bounds how many users are worked on at once.
    pub concurrency: Semaphore,
    /// How long to keep re-reading a write's outcome before deciding (after a 409
    /// `phoneNumberNotUnique`, or a refusal the tenant's state does not explain).
    pub verification: Duration,
    pub owner_search: OwnerSearch,
    pub notifier: Notifier,
    pub protection: Protection,
    pub policies: Policies,
    pub safeguards: Safeguards,
    /// A caller name whose requests panic, to test that a panic costs one invocation only
    /// (`MFA_TEST_PANIC_CALLER`; simulator builds only).
    #[cfg(feature = "simulator")]
    pub test_panic_caller: Option<String>,
}

/// How many times one invocation plans and writes before it gives up on a moving target.
const MAX_WRITES: u32 = 3;
/// How long to keep re-reading after Graph refused a write the tenant's state does not explain.
const SETTLE_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// Runs one request to its end within `budget`, recording what happens in `outcome`.
pub async fn run(services: &Services, request: &Request, budget: Duration, outcome: &mut Outcome) {
    outcome.report_mut().dry_run = request.dry_run;
    outcome.note(describe_request(request));
    #[cfg(feature = "simulator")]
    if services.test_panic_caller.is_some() && services.test_panic_caller == request.caller_name {
        panic!("the test-only panic trigger (MFA_TEST_PANIC_CALLER)");
    }
    if request.notify_user && !services.notifier.is_configured() {
        // Refused before anything is read or written, as the runbook does without EmailFrom:
        // the caller expects the user to hear of the change.
        outcome.fail(Failure::for_field(
            ErrorCode::InvalidRequest,
            "NotifyUser",
            "NotifyUser asks for an e-mail to the user, but this deployment has no sender \
             mailbox (app setting MFA_NOTIFY_SENDER); nothing was changed",
        ));
        return;
    }
    let deadline = tokio::time::Instant::now() + budget;
    let user = carry_out(services, request, deadline, outcome).await;
    services
        .notifier
        .notify(&services.graph, user.as_ref(), request, deadline, outcome)
        .await;
}

/// One run of the runbook for one user: what every step works with.
#[derive(Clone, Copy)]
struct Run<'a> {
    services: &'a Services,
    request: &'a Request,
    /// The user's object id, resolved once; every later call uses it.
    object_id: &'a UserRef,
    /// When the invocation must be done.
    deadline: tokio::time::Instant,
}

/// Reads, plans, writes and verifies; returns the user when they could be read.
async fn carry_out(
    services: &Services,
    request: &Request,
    deadline: tokio::time::Instant,
    outcome: &mut Outcome,
) -> Option<DirectoryUser> {
    // The user's lock first, then a permit: invocations queued behind one busy user must not
    // hold permits that other users could use. No one waits for a lock while holding a
    // permit, so lock holders can always get one.
    let _caller_lock = services.locks.lock(&request.user.lock_key()).await;
    let permit = acquire_permit(services, outcome).await?;
    let writes_before = services.locks.write_serial();
    let (first, ()) = tokio::join!(
        read::first_read(services, &request.user, true),
        services.notifier.prepare(&services.graph, request)
    );
    let read::FirstRead {
        user,
        methods,
        mut checks,
    } = first;
    let (user, object_id) = read::accept_user(user, &request.user, outcome)?;
    let named_otherwise = object_id.lock_key() != request.user.lock_key();
    // A caller who named the user by UPN is serialised with callers who used the object id.
    let (_id_lock, _permit) = if named_otherwise {
        drop(permit);
        let id_lock = services.locks.lock(&object_id.lock_key()).await;
        let permit = acquire_permit(services, outcome).await?;
        (Some(id_lock), permit)
    } else {
        (None, permit)
    };
    let written_since = services
        .locks
        .written_since(&object_id.lock_key(), writes_before);
    // Under the object id's lock: the membership for the user who will be changed (a user
    // named by UPN is checked only now, by object id), and a guest's methods by object id.
    let (methods, member_of) = tokio::join!(
        read::by_object_id(
            services,
            &user,
            &object_id,
            named_otherwise,
            written_since,
            methods,
        ),
        read::membership_of(services, &mut checks, &object_id, named_otherwise)
    );
    // Before anything is planned, let alone written (a dry run is refused the same way).
    match services
        .protection
        .verdict(&checks.holders, &member_of, object_id.as_str())
    {
        Verdict::Clear => {}
        Verdict::Protected(reasons) => {
            outcome.fail(failure::protected(&user, &reasons));
            return Some(user);
        }
        Verdict::Unknown(error) => {
            let (failure, retry_after) = failure::protection_unknown(&user, &error);
            fail_with(outcome, failure, retry_after);
            return Some(user);
        }
    }
    let methods = match methods {
        Ok(methods) => methods,
        Err(error) => {
            fail_graph(outcome, &error, Some(&request.user));
            return None;
        }
    };
    outcome.note(describe_current(request.phone_type, &methods.phone));
    let picture = Picture {
        user: &user,
        methods: &methods,
        policy: &checks.policy,
        member_of: &member_of,
        safeguards: services.safeguards,
    };
    if let Err(refusal) = picture.before_writing(request, outcome) {
        outcome.fail(refusal);
        return Some(user);
    }
    let run = Run {
        services,
        request,
        object_id: &object_id,
        deadline,
    };
    let settled = converge(&run, methods.phone.clone(), outcome).await;
    // Graph says so in the method's state, also when this request changed nothing (a
    // redelivery after the write, or a number set earlier).
    if let Some(method) = &settled
        && method.sms_sign_in_state == Some(SmsSignInState::PhoneNumberNotUnique)
        && !outcome.has_warning(WarningCode::SmsSignInConflict)
    {
        outcome.warn(
            WarningCode::SmsSignInConflict,
            conflict::conflict_warning(&request.phone_number),
        );
    }
    let removed = !outcome.has_failed() && outcome.report().action == Action::Removed;
    let mut after = if outcome.has_failed() {
        find(&methods.phone, request.phone_type).cloned()
    } else {
        settled.clone()
    };
    if let Some(method) = settled
        && request.sms_sign_in != SmsSignIn::Leave
        && !outcome.has_failed()
    {
        after = Some(sms_sign_in::switch(&run, method, outcome).await);
    }
    // Drawn last, so that the methods it reports hold the SMS sign-in state the switch left.
    picture.after(request.phone_type, after.as_ref(), removed, outcome);
    Some(user)
}

/// A permit to work on one more user; `None` (and the outcome failed) when the handler is
/// shutting down.
async fn acquire_permit<'a>(
    services: &'a Services,
    outcome: &mut Outcome,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    match services.concurrency.acquire().await {
        Ok(permit) => Some(permit),
        Err(_) => {
            outcome.fail(Failure::new(
                ErrorCode::Internal,
                "the handler is shutting down",
            ));
            None
        }
    }
}

/// Plans and writes until the tenant holds what was asked, or a definite failure. Returns the
/// method of the requested type after success, for the SMS sign-in step.
async fn converge(
    run: &Run<'_>,
    mut methods: Vec<PhoneMethod>,
    outcome: &mut Outcome,
) -> Option<PhoneMethod> {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let graph = &services.graph;
    let phone_type = request.phone_type;
    let number = &request.phone_number;
    let mut writes = 0;
    // The last write Graph refused outright, to tell a refusal the tenant explains (someone
    // else changed it) from one it does not.
    let mut refused: Option<(Write, GraphError)> = None;
    // The last write whose outcome we never learned: if the tenant now holds what we asked,
    // that write did it.
    let mut unconfirmed: Option<Write> = None;
    loop {
        let mut decision = plan(request.operation, phone_type, number, &methods);
        if let Some((previous, error)) = refused.take()
            && decision == Plan::Write(previous)
        {
            // A read that lags behind a recent write can make Graph's refusal look unexplained:
            // read again after short waits before concluding.
            let settle = services.verification.min(SETTLE_AFTER_REFUSAL);
            let reread = poll_until(settle, || async {
                let methods = graph.phone_methods(object_id).await?;
                let changed =
                    plan(request.operation, phone_type, number, &methods) != Plan::Write(previous);
                Ok::<_, GraphError>(changed.then_some(methods))
            })
            .await;
            match reread {
                Ok(Some(fresh)) => {
                    methods = fresh;
                    decision = plan(request.operation, phone_type, number, &methods);
                }
                Ok(None) => {
                    let (failure, retry_after) =
                        failure::of_refused_write(previous, phone_type, &error);
                    fail_with(outcome, failure, retry_after);
                    return None;
                }
                Err(read_error) => {
                    fail_graph(outcome, &read_error, None);
                    return None;
                }
            }
        }
        let write = match decision {
            Plan::Done(settled) => {
                let current = find(&methods, phone_type).cloned();
                match unconfirmed {
                    Some(write) if settled_by(write, settled) => {
                        outcome.note(format!(
                            "{} (Graph's answer was lost; reading back confirms it)",
                            past_tense(write, phone_type, number, &[])
                        ));
                        outcome.succeed(action_of(write), current.as_ref());
                    }
                    _ => settle(request, settled, current.as_ref(), outcome),
                }
                return current;
            }
            Plan::Refuse(refusal) => {
                outcome.fail(failure::of_refusal(phone_type, &refusal));
                return None;
            }
            Plan::Write(write) => write,
        };
        if request.dry_run {
            let predicted = match write {
                Write::Remove => None,
                Write::Add | Write::Update => Some(planned_method(phone_type, number)),
            };
            outcome.succeed(action_of(write), predicted.as_ref());
            outcome.note(format!(
                "Dry run: would {} (nothing was written)",
                describe_write(write, phone_type, number, &methods)
            ));
            return predicted;
        }
        writes += 1;
        let written = execute(graph, object_id, write, phone_type, number).await;
        // Whatever Graph answered, the user may have changed: readers that began before this
        // must read again.
        services.locks.note_write(&object_id.lock_key());
        let error = match written {
            Ok(after) => {
                outcome.note(past_tense(write, phone_type, number, &methods));
                outcome.succeed(action_of(write), after.as_ref());
                return after;
            }
            Err(error) => error,
        };
        match &error.kind {
            GraphErrorKind::Rejected {
                rejection: Rejection::PhoneNumberNotUnique,
                ..
            } => return conflict::resolve(run, write, &methods, outcome).await,
            GraphErrorKind::Forbidden { .. } | GraphErrorKind::Credential { .. } => {
                fail_graph(outcome, &error, None);
                return None;
            }
            GraphErrorKind::Rejected {
                rejection: Rejection::InvalidPhoneNumber,
                ..
            } => {
                outcome.fail(failure::invalid_number(number));
                return None;
            }
            _ if writes >= MAX_WRITES => {
                let (failure, retry_after) = failure::of_refused_write(write, phone_type, &error);
                fail_with(outcome, failure, retry_after);
                return None;
            }
            _ => {}
        }
        outcome.caution(format!(
            "Could not {}: {}; reading the user's phone methods again before deciding",
            describe_write(write, phone_type, number, &methods),
            error.kind
        ));
        if let GraphErrorKind::Unavailable { retry_after, .. } = &error.kind {
            // Give Graph the pause it asked for (bounded) before reading again.
            let pause = retry_after.unwrap_or(Duration::from_millis(500));
            tokio::time::sleep(pause.min(Duration::from_secs(5))).await;
        }
        methods = match graph.phone_methods(object_id).await {
            Ok(methods) => methods,
            Err(read_error) => {
                // The write's outcome is unknown and the tenant cannot be read: report the
                // write's failure, unless reading failed for a reason of its own.
                let error = match read_error.kind {
                    GraphErrorKind::Unavailable { .. } => error,
                    _ => read_error,
                };
                fail_graph(outcome, &error, None);
                return None;
            }
        };
        // An unavailable Graph may or may not have acted, so the same write may be tried again;
        // a definite refusal of the same write in the same state is final.
        match error.kind {
            GraphErrorKind::Unavailable { .. } => unconfirmed = Some(write),
            // A refusal the tenant's state explains (a stale read) says the write did not
            // happen; the one refusal known to come with the write done is 409
            // `phoneNumberNotUnique`, which the conflict path above settles.
            _ => refused = Some((write, error)),
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
) -> Result<Option<PhoneMethod>, GraphError> {
    match write {
        Write::Add => {
            let created = graph
                .add_phone_method(object_id, phone_type, number)
                .await?;
            Ok(Some(
                created.unwrap_or_else(|| planned_method(phone_type, number)),
            ))
        }
        Write::Update => {
            graph
                .update_phone_method(object_id, phone_type, number)
                .await?;
            Ok(Some(planned_method(phone_type, number)))
        }
        Write::Remove => {
            graph.remove_phone_method(object_id, phone_type).await?;
            Ok(None)
        }
    }
}

/// Re-runs `read` promptly and then after growing waits until it yields something or
/// `budget` is spent. Waits are 0.25 s, 0.5 s, 1 s, … capped at 2 s; the final read happens
/// at the end of the budget.
pub async fn poll_until<T, E, F, Fut>(budget: Duration, mut read: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        if let Some(found) = read().await? {
            return Ok(Some(found));
        }
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok(None);
        }
        tokio::time::sleep(wait.min(budget - elapsed)).await;
        wait = (wait * 2).min(Duration::from_secs(2));
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
                request.phone_number
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

/// Records the failure for a Graph error.
fn fail_graph(outcome: &mut Outcome, error: &GraphError, user: Option<&UserRef>) {
    let (failure, retry_after) = failure::of_graph(error, user);
    fail_with(outcome, failure, retry_after);
}

fn fail_with(outcome: &mut Outcome, failure: Failure, retry_after: Option<Duration>) {
    if retry_after.is_some() {
        outcome.report_mut().retry_after = retry_after;
    }
    outcome.fail(failure);
}

/// The method we expect after a write Graph answers without a body.
fn planned_method(phone_type: PhoneType, number: &PhoneNumber) -> PhoneMethod {
    PhoneMethod {
        phone_type,
        number: RegisteredNumber::new(number.graph_format()),
        sms_sign_in_state: None,
    }
}

fn action_of(write: Write) -> Action {
    match write {
        Write::Add => Action::Added,
        Write::Update => Action::Updated,
        Write::Remove => Action::Removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polling_reads_promptly_then_after_growing_waits_within_the_budget() {
        let started = tokio::time::Instant::now();
        let mut reads = Vec::new();
        let found: Result<Option<()>, ()> = poll_until(Duration::from_secs(4), || {
            reads.push(started.elapsed());
            async { Ok(None) }
        })
        .await;
        assert_eq!(found, Ok(None));
        let millis: Vec<u128> = reads.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [0, 250, 750, 1750, 3750, 4000]);
    }

    #[tokio::test(start_paused = true)]
    async fn polling_stops_at_the_first_success() {
        let started = tokio::time::Instant::now();
        let mut count = 0;
        let found: Result<Option<u32>, ()> = poll_until(Duration::from_secs(10), || {
            count += 1;
            let value = (count == 3).then_some(count);
            async move { Ok(value) }
        })
        .await;
        assert_eq!(found, Ok(Some(3)));
        assert_eq!(started.elapsed(), Duration::from_millis(750));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_budget_reads_exactly_once() {
        let mut count = 0;
        let found: Result<Option<()>, ()> = poll_until(Duration::ZERO, || {
            count += 1;
            async { Ok(None) }
        })
        .await;
        assert_eq!(found, Ok(None));
        assert_eq!(count, 1);
    }
}
