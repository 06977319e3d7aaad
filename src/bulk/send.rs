//! Sending the operations and waiting for every outcome: one user's operations one after
//! another, different users side by side up to the concurrency, every request paced by what
//! the endpoint said (`Retry-After`, 429, 503: the whole run holds back, not only the row that
//! met it), every outcome recorded in the state as it arrives, and a stop (Ctrl-C) that sends
//! nothing more.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::endpoint::{Delivery, Endpoint};
use super::options::Options;
use super::outcome::RowOutcome;
use super::plan::Plan;
use super::rows::Operation;
use super::state::State;
use crate::cli::progress::Progress;

/// How often one operation is tried before its outcome is "still unavailable".
const ATTEMPTS: u32 = 6;
/// The longest pause between attempts when the endpoint named none.
const LONGEST_BACKOFF: Duration = Duration::from_secs(30);

/// What every operation is sent with.
pub struct Settings {
    pub dry_run: bool,
    pub concurrency: usize,
    /// The `CallerName` of rows that name none.
    pub caller_name: String,
    /// Request ids are `{prefix}-{line}-{phoneType}`.
    pub request_prefix: String,
}

/// Counts for the progress line.
#[derive(Default)]
pub struct Counts {
    pub sent: AtomicUsize,
    pub answered: AtomicUsize,
    pub failed: AtomicUsize,
    pub skipped: AtomicUsize,
    /// Deliveries the endpoint did not refuse (answered, failed, timed out, or pending): any
    /// of them may have reached the handler.
    pub reached: AtomicUsize,
    /// Waits because the endpoint or Graph asked for a pause, or for Graph's write limit.
    pub throttled: AtomicUsize,
}

/// Why a run stopped by itself.
pub struct Stopped {
    pub why: String,
    /// The endpoint refused the run (a wrong key, URL or audience, no sign-in): no retry
    /// changes it.
    pub refused: bool,
}

/// One run's sending.
pub struct Sender<'a> {
    pub endpoint: &'a Endpoint,
    pub plan: &'a Plan,
    pub settings: &'a Settings,
    pub state: Option<&'a Mutex<State>>,
    pub outcomes: &'a Mutex<Vec<Option<RowOutcome>>>,
    pub counts: &'a Counts,
    pub stopping: &'a AtomicBool,
    /// Why the run stopped by itself (the endpoint refused it, the state cannot be written).
    pub fatal: &'a Mutex<Option<Stopped>>,
    pub pacer: Pacer,
    /// Graph's write limit, kept to before Graph has to say so (`None`: a dry run writes
    /// nothing).
    pub write_limit: Option<WriteLimit>,
}

impl Sender<'_> {
    /// Sends every operation not settled by an earlier run; returns when all have an outcome or
    /// a stop was asked for.
    pub async fn run(&self) {
        futures_util::stream::iter(self.plan.chains())
            .for_each_concurrent(self.settings.concurrency.max(1), |chain| {
                self.run_chain(chain)
            })
            .await;
    }

    /// One user's operations, in order. After a failure that may pass (the user busy, Graph
    /// unavailable after every attempt), the user's later operations wait for the next run:
    /// their order matters.
    async fn run_chain(&self, chain: &[u32]) {
        for index in chain.iter().map(|index| *index as usize) {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let operation = &self.plan.operations[index];
            let request_id = self.request_id(operation);
            let earlier = self
                .state
                .and_then(|state| lock(state).earlier.get(&request_id).cloned());
            let outcome = match earlier {
                Some(outcome) if outcome.is_final() => {
                    self.counts.skipped.fetch_add(1, Ordering::Relaxed);
                    outcome
                }
                _ => self.send(operation, &request_id).await,
            };
            let go_on = outcome.is_final();
            lock(self.outcomes)[index] = Some(outcome);
            if !go_on {
                return;
            }
        }
    }

    /// Sends one operation until it has an outcome (or the attempts are spent).
    async fn send(&self, operation: &Operation, request_id: &str) -> RowOutcome {
        let body = self.request(operation, request_id);
        let sent_before = self
            .state
            .is_some_and(|state| lock(state).unanswered.contains(request_id));
        // A request an earlier run sent is waited for where the way in keeps outcomes.
        let mut awaited = if sent_before {
            self.endpoint.await_sent(request_id).await
        } else {
            None
        };
        if awaited.is_none() {
            if let Some(state) = self.state
                && let Err(error) = lock(state).sent(request_id)
            {
                // Sent unrecorded, a later run could not tell it was: send nothing more.
                self.stop(
                    format!("the state file cannot be written ({error}): nothing more was sent"),
                    false,
                );
                return RowOutcome::unanswered("stateUnwritable", &error.to_string(), true);
            }
            self.counts.sent.fetch_add(1, Ordering::Relaxed);
        }
        let mut attempt = 0;
        let mut settled = true;
        let mut ack = None;
        let outcome = loop {
            attempt += 1;
            let delivery = match awaited.take() {
                Some(delivery) => delivery,
                None => {
                    self.pacer.wait().await;
                    if let Some(limit) = &self.write_limit
                        && limit.admit().await
                    {
                        self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    self.endpoint.deliver(request_id, &body).await
                }
            };
            if !matches!(delivery, Delivery::Refused { .. }) {
                self.counts.reached.fetch_add(1, Ordering::Relaxed);
            }
            match delivery {
                Delivery::Pending { detail } => {
                    settled = false;
                    break RowOutcome::unanswered("noResultYet", &detail, true);
                }
                Delivery::Result(result) => break RowOutcome::of_result(&result),
                // Failed, and not final: a later run sends it again (the changes are
                // idempotent), and the user's later rows wait for it.
                Delivery::Unmatched { detail } => {
                    break RowOutcome::unanswered("requestIdMismatch", &detail, true);
                }
                Delivery::Queued(result, recorded) => {
                    ack = Some(recorded);
                    break RowOutcome::of_result(&result);
                }
                Delivery::Refused { code, detail } => {
                    // No row can get through: the run stops, and nothing is recorded as
                    // settled, so that the same command sends these rows once it is fixed.
                    self.stop(format!("{code}: {detail}"), true);
                    settled = false;
                    break RowOutcome::unanswered(&code, &detail, true);
                }
                Delivery::Transient {
                    retry_after,
                    code,
                    detail,
                    result,
                    pause_all,
                } => {
                    let backoff = retry_after.unwrap_or_else(|| {
                        Duration::from_secs(1 << attempt.min(5)).min(LONGEST_BACKOFF)
                    });
                    if pause_all {
                        self.pacer.hold(backoff);
                    }
                    if attempt >= ATTEMPTS || self.stopping.load(Ordering::SeqCst) {
                        break match result {
                            Some(result) => RowOutcome::of_result(&result),
                            None => RowOutcome::unanswered(&code, &detail, true),
                        };
                    }
                    self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                }
            }
        };
        self.counts.answered.fetch_add(1, Ordering::Relaxed);
        if !outcome.succeeded {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        let recorded = match self.state {
            Some(state) if settled => lock(state).done(request_id, &outcome),
            _ => Ok(()),
        };
        match recorded {
            Ok(()) => {
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
            }
            Err(error) => self.stop(
                format!("the state file cannot be written ({error}): nothing more was sent"),
                false,
            ),
        }
        outcome
    }

    pub fn request_id(&self, operation: &Operation) -> String {
        request_id(&self.settings.request_prefix, operation)
    }

    /// Stops the run: nothing more is sent, and `why` is said at the end.
    fn stop(&self, why: String, refused: bool) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut fatal = lock(self.fatal);
        if fatal.is_none() {
            *fatal = Some(Stopped { why, refused });
        }
    }

    /// The handler's parameters for one operation.
    fn request(&self, operation: &Operation, request_id: &str) -> Value {
        let options = operation.options.as_deref();
        let mut request = json!({
            "UserId": &*operation.user,
            "phoneType": operation.phone_type.as_str(),
            "phoneNumber": &*operation.number,
            "operation": if operation.remove { "remove" } else { "set" },
            "requestId": request_id,
            "CallerName": options
                .and_then(|options| options.caller_name.as_deref())
                .unwrap_or(&self.settings.caller_name),
        });
        if operation.by_fingerprint
            && let Some(fields) = request.as_object_mut()
        {
            // The readiness scan's clean-up names the number by its keyed fingerprint only.
            fields.remove("phoneNumber");
            fields.insert("numberFingerprint".to_owned(), json!(&*operation.number));
        }
        if self.settings.dry_run {
            request["dryRun"] = json!(true);
        }
        if let Some(options) = options {
            if let Some(sms) = options.sms_sign_in {
                request["smsSignIn"] = json!(sms);
            }
            if let Some(notify) = options.notify_user {
                request["NotifyUser"] = json!(notify);
            }
            if let Some(language) = options.language {
                request["LanguageOverride"] = json!(language);
            }
        }
        request
    }
}

/// The request id of `operation`: `{prefix}-{line}-{phoneType}`, one per row and type.
pub fn request_id(prefix: &str, operation: &Operation) -> String {
    format!("{prefix}-{}-{}", operation.line, operation.phone_type)
}

/// Holds every request of the run back while the endpoint asked for a pause.
#[derive(Clone, Default)]
pub struct Pacer {
    not_before: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// Waits until no pause is in force.
    async fn wait(&self) {
        loop {
            let until = *lock(&self.not_before);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// After the endpoint or Graph said it is overloaded (429, Graph unavailable): every
    /// request of the run waits `wait`, not only the one that met it.
    fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait.min(Duration::from_secs(300));
        let mut not_before = lock(&self.not_before);
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
    }
}

/// Graph's write limit for identity and access (3,000 writes per 2.5 minutes per app and
/// tenant), kept on this side: no more than `count` requests are sent in any `window` (plus a
/// margin for the handler's reads before its write), so that Graph's 429s are only those
/// another writer of the same app causes. Each operation is counted as one write.
pub struct WriteLimit {
    count: usize,
    window: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl WriteLimit {
    /// Graph's: 3,000 per 150 s.
    pub const GRAPH: (usize, Duration) = (3_000, Duration::from_secs(150));
    /// The margin for the time between the request leaving here and its write reaching Graph
    /// (the handler reads first): a hundredth of the window, between 0.1 and 1 s.
    fn margin(window: Duration) -> Duration {
        (window / 100).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    pub fn new((count, window): (usize, Duration)) -> WriteLimit {
        WriteLimit {
            count: count.max(1),
            window: window + WriteLimit::margin(window),
            sent: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Waits until one more request fits the window, and counts it; whether it had to wait.
    async fn admit(&self) -> bool {
        let mut waited = false;
        loop {
            let wait_until = {
                let mut sent = lock(&self.sent);
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|at| now.duration_since(*at) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.count {
                    sent.push_back(now);
                    return waited;
                }
                sent.front().map(|oldest| *oldest + self.window)
            };
            if let Some(until) = wait_until {
                waited = true;
                tokio::time::sleep_until(until).await;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What sending every operation came to.
pub(super) struct Sent {
    /// Each operation's outcome, by its index in the plan (`None`: not sent).
    pub(super) outcomes: Vec<Option<RowOutcome>>,
    /// Stopped by Ctrl-C.
    pub(super) interrupted: bool,
    /// Why the run stopped by itself.
    pub(super) fatal: Option<Stopped>,
    /// Deliveries that may have reached the handler.
    pub(super) reached: usize,
    /// Operations an earlier run settled (not sent again).
    pub(super) settled_earlier: usize,
}

/// Sends every operation an earlier run did not settle, with progress, until all have an
/// outcome or `stop` completes (then nothing more is sent and the answers in flight get
/// [`super::STOP_GRACE`]).
pub(super) async fn send_all(
    options: &Options,
    endpoint: &Endpoint,
    plan: &Plan,
    settings: &Settings,
    state: Option<&Mutex<State>>,
    stop: impl std::future::Future<Output = ()>,
) -> Sent {
    // What an earlier run settled shows in the report even if this run stops before it.
    let mut known = vec![None; plan.operations.len()];
    if let Some(state) = state {
        let state = lock(state);
        for (index, operation) in plan.operations.iter().enumerate() {
            let id = request_id(&settings.request_prefix, operation);
            known[index] = state.earlier.get(&id).filter(|o| o.is_final()).cloned();
        }
    }
    let outcomes = Mutex::new(known);
    let counts = Counts::default();
    let stopping = AtomicBool::new(false);
    let fatal = Mutex::new(None);
    let sender = Sender {
        endpoint,
        plan,
        settings,
        state,
        outcomes: &outcomes,
        counts: &counts,
        stopping: &stopping,
        fatal: &fatal,
        pacer: Pacer::default(),
        write_limit: (!options.dry_run).then(|| WriteLimit::new(options.write_limit)),
    };
    let display = Progress::new(Some(plan.operations.len() as u64), options.json);
    let interrupted = {
        let sending = sender.run();
        let ticking = tick(&counts, plan.operations.len(), &display);
        tokio::pin!(sending, stop);
        tokio::select! {
            () = &mut sending => false,
            () = ticking => false,
            () = &mut stop => {
                stopping.store(true, Ordering::SeqCst);
                display.say(&format!(
                    "Stopping: nothing more is sent; waiting up to {} s for the answers in flight",
                    super::STOP_GRACE.as_secs()
                ));
                let _ = tokio::time::timeout(super::STOP_GRACE, &mut sending).await;
                true
            }
        }
    };
    display.finish();
    Sent {
        outcomes: outcomes
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        interrupted,
        fatal: fatal
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        reached: counts.reached.load(Ordering::Relaxed),
        settled_earlier: counts.skipped.load(Ordering::Relaxed),
    }
}

/// Shows the sending's progress until it ends (it never completes by itself).
async fn tick(counts: &Counts, total: usize, display: &Progress) {
    loop {
        tokio::time::sleep(display.every()).await;
        let answered = counts.answered.load(Ordering::Relaxed);
        let skipped = counts.skipped.load(Ordering::Relaxed);
        let throttled = counts.throttled.load(Ordering::Relaxed);
        let line = format!(
            "sent {}, answered {answered}, failed {}{}{}",
            counts.sent.load(Ordering::Relaxed),
            counts.failed.load(Ordering::Relaxed),
            if throttled > 0 {
                format!(", {throttled} throttled waits")
            } else {
                String::new()
            },
            if skipped > 0 {
                format!(", {skipped} done in an earlier run")
            } else {
                String::new()
            },
        );
        display.show((answered + skipped) as u64, Some(total as u64), &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_goes_out_in_any_window() {
        let limit = WriteLimit::new((2, Duration::from_secs(10)));
        let started = Instant::now();
        limit.admit().await;
        limit.admit().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the first window's worth at once"
        );
        limit.admit().await;
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(10_100),
            "the third when the first leaves the window (and its margin)"
        );
    }
}
