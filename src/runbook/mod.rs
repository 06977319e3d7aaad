//! The runbook's logic: read the tenant, plan, write, verify, and report.
//!
//! One invocation reads the user and their phone methods in one round trip of latency, asks
//! [`crate::plan::plan`] what to do, and carries out at most one write per plan. When a write's
//! outcome is uncertain (Graph unavailable, or a rejection that a concurrent change could
//! explain) it reads the methods again and plans again, so redelivered and concurrent requests
//! converge instead of repeating writes blindly. After a 409 `phoneNumberNotUnique` it verifies
//! and, if the number was not written, looks for its holder ([`conflict`]); it switches SMS
//! sign-in when asked ([`sms_sign_in`]). A step that cannot go on returns a [`Stop`] (worded
//! by [`failure`]); only `carry_out` (for a change) and [`show`] (for a look) put it into the
//! invocation's [`Outcome`], and [`wording`] words what happened.

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

use self::failure::Stop;
use self::picture::Picture;
use self::wording::{describe_current, describe_request};
use crate::backoff::Backoff;
use crate::claim::{Claims, UserLease, WriteWindow};
use crate::graph::GraphClient;
use crate::methods::AuthenticationMethods;
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::owner::OwnerSearch;
use crate::phone::{PhoneMethod, SmsSignInState};
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
    /// One writer per user: this instance's locks, and the leases across instances.
    pub claims: Claims,
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
    /// `MFA_CLEANUP_KEY`: checks a removal's `numberFingerprint`.
    pub cleanup_key: Option<crate::phone::CleanupKey>,
    /// A caller name whose requests panic, to test that a panic costs one invocation only
    /// (`MFA_TEST_PANIC_CALLER`; simulator builds only).
    #[cfg(feature = "simulator")]
    pub test_panic_caller: Option<String>,
}

/// Runs one request to its end within `budget`, recording what happens in `outcome`.
pub async fn run(services: &Services, request: &Request, budget: Duration, outcome: &mut Outcome) {
    outcome.set_dry_run(request.dry_run);
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
    let carried = carry_out(services, request, deadline, outcome).await;
    // A removal of whatever was registered is told with the number it named once read.
    let request = carried.named.as_ref().unwrap_or(request);
    services
        .notifier
        .notify(
            &services.graph,
            carried.user.as_ref(),
            request,
            deadline,
            outcome,
        )
        .await;
}

/// What carrying out a request leaves for the notifier, however it ended.
struct Carried {
    /// The user as the directory returned them, from the verdict on: the notifier is told of
    /// them also when a later step failed. `None` when the runbook did not get that far, or
    /// when their methods could not be read.
    user: Option<DirectoryUser>,
    /// A removal of whatever number was registered, as the removal of the number read under
    /// the user's lock (and lease).
    named: Option<Request>,
}

impl Carried {
    /// What is left when a step before the writes stopped: the stop goes into the outcome
    /// first, since nothing follows it but the notification.
    fn stopped(
        stop: Stop,
        user: Option<DirectoryUser>,
        named: Option<Request>,
        outcome: &mut Outcome,
    ) -> Carried {
        stop.record(outcome);
        Carried { user, named }
    }
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
    /// The window a write's attempts must start in, when the user's lease (if there are
    /// leases) is held with room for it.
    ///
    /// # Errors
    ///
    /// The lease was lost or has no room left: nothing more may be written.
    async fn write_window(&self) -> Result<Option<WriteWindow>, Stop> {
        let Some(held) = self.lease else {
            return Ok(None);
        };
        crate::claim::write_window(held)
            .await
            .map(Some)
            .map_err(|error| failure::lease_busy(&error))
    }
}

/// Claims the user, reads, plans, writes and verifies. Each step returns how it ended; a
/// [`Stop`] goes into the outcome here (through [`Carried::stopped`] and `record`), before
/// the work that still follows a failure (the search for a number's holder, the picture
/// after, the notification), so that the log tells things in the order they happened.
async fn carry_out(
    services: &Services,
    request: &Request,
    deadline: tokio::time::Instant,
    outcome: &mut Outcome,
) -> Carried {
    let claim::Ready {
        user,
        object_id,
        methods,
        member_of,
        checks,
        seen,
        hold,
        guards: _guards,
    } = match claim::claim_user(services, request, deadline, outcome).await {
        Ok(ready) => ready,
        Err(claim::Unready { stop, user }) => return Carried::stopped(stop, user, None, outcome),
    };
    outcome.note(describe_current(request.phone_type, &methods.phone));
    let named = match registered::name(request, seen, services.cleanup_key.as_ref(), outcome) {
        Ok(registered::Named::AsAsked) => None,
        Ok(registered::Named::Number(resolved)) => Some(resolved),
        Ok(registered::Named::NothingRegistered) => {
            outcome.succeed(Action::NotPresent, find(&methods.phone, request.phone_type));
            return Carried {
                user: Some(user),
                named: None,
            };
        }
        Err(stop) => return Carried::stopped(stop, Some(user), None, outcome),
    };
    let changing = named.as_ref().unwrap_or(request);
    let picture = Picture {
        user: &user,
        methods: &methods,
        policy: &checks.policy,
        member_of: &member_of,
        safeguards: services.safeguards,
    };
    if let Err(stop) = picture.before_writing(changing, outcome) {
        return Carried::stopped(stop, Some(user), named, outcome);
    }
    let run = Run {
        services,
        request: changing,
        object_id: &object_id,
        deadline,
        lease: hold.lease(),
    };
    let written = write_and_verify(&run, &methods, outcome).await;
    if let Err(stop) = written.ended {
        let held_elsewhere = stop.number_held_elsewhere();
        stop.record(outcome);
        if held_elsewhere {
            conflict::find_owner(&run, outcome).await;
        }
    }
    // Drawn last, so that the methods it reports hold the SMS sign-in state the switch left.
    picture.after(
        changing.phone_type,
        written.after.as_ref(),
        written.removed,
        outcome,
    );
    Carried {
        user: Some(user),
        named,
    }
}

/// What writing left: the method of the requested type now, whether the operation removed
/// it, and how it ended.
struct Written {
    after: Option<PhoneMethod>,
    removed: bool,
    ended: Result<(), Stop>,
}

/// Brings the tenant to the request and switches SMS sign-in when asked. After a failure the
/// method is the one read before (`methods`), or the one the write left when only the switch
/// failed.
async fn write_and_verify(
    run: &Run<'_>,
    methods: &AuthenticationMethods,
    outcome: &mut Outcome,
) -> Written {
    let request = run.request;
    let settled = match converge::converge(run, methods.phone.clone(), outcome).await {
        Ok(settled) => settled,
        Err(stop) => {
            return Written {
                after: find(&methods.phone, request.phone_type).cloned(),
                removed: false,
                ended: Err(stop),
            };
        }
    };
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
    let removed = outcome.report().action == Action::Removed;
    // The number removed is the request's, or the one read for it (removeRegisteredNumber, a
    // fingerprint); the result names it masked, as the log does, so that a caller who did not
    // know it learns which number went without the result holding it in full.
    if removed && let Some(number) = request.operation.number() {
        outcome.set_removed_number(number);
    }
    let mut written = Written {
        after: settled.clone(),
        removed,
        ended: Ok(()),
    };
    if let Some(method) = settled
        && request.sms_sign_in != SmsSignIn::Leave
    {
        match sms_sign_in::switch(run, &method, outcome).await {
            Ok(after) => written.after = Some(after),
            Err(stop) => written.ended = Err(stop),
        }
    }
    written
}

/// Whether the user may be changed: not a privileged or protected user, nor one whose
/// protection cannot be checked.
///
/// # Errors
///
/// The refusal, with why.
fn judge(
    services: &Services,
    checks: &read::Checks,
    member_of: &read::Membership,
    user: &DirectoryUser,
    object_id: &UserRef,
) -> Result<(), Stop> {
    match services
        .protection
        .verdict(&checks.holders, member_of, object_id.as_str())
    {
        Verdict::Clear => Ok(()),
        Verdict::Protected(reasons) => Err(failure::protected(user, &reasons)),
        Verdict::Unknown(error) => Err(failure::protection_unknown(user, &error)),
    }
}

/// A permit to work on one more user.
///
/// # Errors
///
/// The handler is shutting down.
async fn acquire_permit(services: &Services) -> Result<tokio::sync::SemaphorePermit<'_>, Stop> {
    services.concurrency.acquire().await.map_err(|_| {
        Stop::new(Failure::new(
            ErrorCode::Internal,
            "the handler is shutting down",
        ))
    })
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
