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

mod claim;
mod conflict;
mod converge;
mod failure;
mod picture;
mod read;
mod registered;
mod show;
mod sms_sign_in;
mod wording;

use std::time::Duration;

use tokio::sync::Semaphore;

use self::picture::Picture;
use self::wording::{describe_current, describe_request};
use crate::backoff::Backoff;
use crate::claim::{UserLease, UserLeases, UserLocks, WriteWindow};
use crate::graph::{GraphClient, GraphError};
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::owner::OwnerSearch;
use crate::phone::SmsSignInState;
use crate::plan::find;
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
    /// Per-user leases across instances; `None` without a storage account (then one user's
    /// work is serialised on this instance only).
    pub leases: Option<UserLeases>,
    /// How long an invocation waits for a user's lease another instance holds.
    pub lease_wait: Duration,
    /// `MFA_CLEANUP_KEY`: checks a removal's `numberFingerprint`.
    pub cleanup_key: Option<crate::phone::CleanupKey>,
    /// A caller name whose requests panic, to test that a panic costs one invocation only
    /// (`MFA_TEST_PANIC_CALLER`; simulator builds only).
    #[cfg(feature = "simulator")]
    pub test_panic_caller: Option<String>,
}

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
    let mut named = None;
    let user = carry_out(services, request, deadline, &mut named, outcome).await;
    // A removal of whatever was registered is told with the number it named once read.
    let request = named.as_ref().unwrap_or(request);
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
    /// The user's lease across instances, when there are leases.
    lease: Option<&'a UserLease>,
}

impl Run<'_> {
    /// Whether a write may be sent now, and the window its attempts must start in: the user's
    /// lease (when there are leases) is held with room for it. Otherwise the outcome fails and
    /// nothing more is written.
    async fn write_window(&self, outcome: &mut Outcome) -> Result<Option<WriteWindow>, NotNow> {
        let Some(held) = self.lease else {
            return Ok(None);
        };
        match crate::claim::write_window(held).await {
            Ok(window) => Ok(Some(window)),
            Err(error) => {
                let (failure, retry_after) = failure::of_lease(&error);
                fail_with(outcome, failure, Some(retry_after));
                Err(NotNow)
            }
        }
    }
}

/// No write may be sent: the outcome says why.
struct NotNow;

/// Reads, plans, writes and verifies; returns the user when they could be read. A removal of
/// whatever number is registered is carried out as the removal of the number read under the
/// user's lock (and lease), which `named` receives.
async fn carry_out(
    services: &Services,
    request: &Request,
    deadline: tokio::time::Instant,
    named: &mut Option<Request>,
    outcome: &mut Outcome,
) -> Option<DirectoryUser> {
    let started = claim::start(services, request, deadline, outcome).await?;
    let claimed = claim::claim_object_id(services, request, deadline, started, outcome).await?;
    let claim::Ready {
        user,
        object_id,
        methods,
        member_of,
        checks,
        seen,
        hold,
        guards: _guards,
    } = match claim::ready(services, request, claimed, outcome).await {
        Ok(ready) => ready,
        Err(user) => return user,
    };
    outcome.note(describe_current(request.phone_type, &methods.phone));
    match registered::name(request, seen, services.cleanup_key.as_ref(), outcome) {
        Ok(registered::Named::AsAsked) => {}
        Ok(registered::Named::Number(resolved)) => *named = Some(resolved),
        Ok(registered::Named::NothingRegistered) => {
            outcome.succeed(Action::NotPresent, find(&methods.phone, request.phone_type));
            return Some(user);
        }
        Err(failure) => {
            outcome.fail(failure);
            return Some(user);
        }
    }
    let request = named.as_ref().unwrap_or(request);
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
        lease: hold.lease(),
    };
    write_and_verify(&run, &picture, outcome).await;
    Some(user)
}

/// Brings the tenant to the request, switches SMS sign-in when asked, and draws the picture
/// after.
async fn write_and_verify(run: &Run<'_>, picture: &Picture<'_>, outcome: &mut Outcome) {
    let request = run.request;
    let methods = picture.methods;
    let settled = converge::converge(run, methods.phone.clone(), outcome).await;
    // Graph says so in the method's state, also when this request changed nothing (a
    // redelivery after the write, or a number set earlier).
    if let Some(method) = &settled
        && let Some(number) = request.operation.number()
        && method.sms_sign_in_state == Some(SmsSignInState::PhoneNumberNotUnique)
        && !outcome.has_warning(WarningCode::SmsSignInConflict)
    {
        outcome.warn(
            WarningCode::SmsSignInConflict,
            conflict::conflict_warning(number),
        );
    }
    let removed = !outcome.has_failed() && outcome.report().action == Action::Removed;
    // The number removed is the request's, or the one read for it (removeRegisteredNumber, a
    // fingerprint); the result names it masked, as the log does, so that a caller who did not
    // know it learns which number went without the result holding it in full.
    if removed && let Some(number) = request.operation.number() {
        outcome.report_mut().removed_number = Some(number.masked());
    }
    let mut after = if outcome.has_failed() {
        find(&methods.phone, request.phone_type).cloned()
    } else {
        settled.clone()
    };
    if let Some(method) = settled
        && request.sms_sign_in != SmsSignIn::Leave
        && !outcome.has_failed()
    {
        after = Some(sms_sign_in::switch(run, method, outcome).await);
    }
    // Drawn last, so that the methods it reports hold the SMS sign-in state the switch left.
    picture.after(request.phone_type, after.as_ref(), removed, outcome);
}

/// Refuses (the outcome failed) a privileged or protected user, or one whose protection
/// cannot be checked.
fn judge(
    services: &Services,
    checks: &read::Checks,
    member_of: &read::Membership,
    user: &DirectoryUser,
    object_id: &UserRef,
    outcome: &mut Outcome,
) -> Result<(), NotNow> {
    match services
        .protection
        .verdict(&checks.holders, member_of, object_id.as_str())
    {
        Verdict::Clear => Ok(()),
        Verdict::Protected(reasons) => {
            outcome.fail(failure::protected(user, &reasons));
            Err(NotNow)
        }
        Verdict::Unknown(error) => {
            let (failure, retry_after) = failure::protection_unknown(user, &error);
            fail_with(outcome, failure, retry_after);
            Err(NotNow)
        }
    }
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

/// Re-runs `read` promptly and then after growing waits until it yields something or
/// `budget` is spent. Waits are 0.25 s, 0.5 s, 1 s, … capped at 2 s; the final read happens
/// at the end of the budget.
pub async fn poll_until<T, E, F, Fut>(budget: Duration, mut read: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut failures = 0;
    loop {
        if let Some(found) = read().await? {
            return Ok(Some(found));
        }
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok(None);
        }
        tokio::time::sleep(backoff.after(failures).min(budget - elapsed)).await;
        failures += 1;
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
