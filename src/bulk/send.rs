//! Sends the operations and waits for every outcome. One user's operations go one after
//! another, and different users side by side up to the concurrency. Every request is paced by
//! what the endpoint said (on `Retry-After`, 429 or 503 the whole run holds back, not only the
//! row that met it), every outcome is recorded in the state as it arrives, and after a stop
//! (Ctrl-C) nothing more is sent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::endpoint::{Delivery, Endpoint};
use super::options::Options;
use super::pacing::{Pacer, WriteLimit, lock};
use super::row_outcome::RowOutcome;
use super::rows::Operation;
use super::schedule::Schedule;
use super::state::State;
use crate::backoff::Backoff;
use crate::progress::Progress;
use crate::request::parameters::{
    CALLER_NAME, DRY_RUN, LANGUAGE_OVERRIDE, NOTIFY_USER, NUMBER_FINGERPRINT, OPERATION,
    PHONE_NUMBER, PHONE_TYPE, REQUEST_ID, SMS_SIGN_IN, USER_ID,
};

/// How many times one operation is tried before its outcome is "still unavailable".
const ATTEMPTS: u32 = 6;
/// The longest pause between attempts when the endpoint named none.
const LONGEST_BACKOFF: Duration = Duration::from_secs(30);

/// What every operation is sent with.
pub struct Settings {
    pub dry_run: bool,
    pub concurrency: usize,
    /// The admin's `CallerName`, which every request declares (a row's own beside it).
    pub caller_name: String,
    /// Request ids are `{prefix}-{line}-{phoneType}`; the prefix carries the run's random part,
    /// so that nobody outside the run can name one of its requests in advance.
    pub request_prefix: String,
}

/// Counts for the progress line.
#[derive(Default)]
pub struct Counts {
    pub sent: AtomicUsize,
    pub answered: AtomicUsize,
    pub failed: AtomicUsize,
    pub skipped: AtomicUsize,
    /// Deliveries the endpoint did not refuse (answered, failed, timed out, or pending), since
    /// any of them may have reached the handler.
    pub reached: AtomicUsize,
    /// How often a request waited because the endpoint or Graph asked for a pause, or for
    /// Graph's write limit.
    pub throttled: AtomicUsize,
}

/// What the deliveries of one request came to.
struct Attempted {
    outcome: RowOutcome,
    /// Whether the outcome is the row's for this run (recorded in the state); it is not when
    /// no result came yet, or when the endpoint refused the run.
    settled: bool,
    /// A queued result's acknowledgement: it is deleted once the outcome is recorded.
    ack: Option<tokio::sync::oneshot::Sender<()>>,
}

/// What one delivery means for the row.
enum Judged {
    Answered(Attempted),
    /// The row is tried again after this pause.
    Again(Duration),
}

/// Why a run stopped by itself.
pub struct Stopped {
    pub why: String,
    /// Whether the endpoint refused the run (a wrong key, URL or audience, no sign-in), which
    /// no retry changes.
    pub refused: bool,
}

/// One run's sending.
pub struct Sender<'a> {
    pub endpoint: &'a Endpoint,
    pub schedule: &'a Schedule,
    pub settings: &'a Settings,
    pub state: Option<&'a Mutex<State>>,
    pub outcomes: &'a Mutex<Vec<Option<RowOutcome>>>,
    pub counts: &'a Counts,
    pub stopping: &'a AtomicBool,
    /// Why the run stopped by itself (the endpoint refused it, the state cannot be written).
    pub fatal: &'a Mutex<Option<Stopped>>,
    pub pacer: Pacer,
    /// Graph's write limit, kept on this side before Graph has to say so (`None` on a dry run,
    /// which writes nothing).
    pub write_limit: Option<WriteLimit>,
}

impl Sender<'_> {
    /// Sends every operation not settled by an earlier run; returns when all have an outcome or
    /// a stop was asked for.
    pub async fn run(&self) {
        futures_util::stream::iter(self.schedule.chains())
            .for_each_concurrent(self.settings.concurrency.max(1), |chain| {
                self.run_chain(chain)
            })
            .await;
    }

    /// Sends one user's operations, in order. After a failure that may pass (the user busy,
    /// Graph unavailable after every attempt), the user's later operations wait for the next
    /// run, because their order matters.
    async fn run_chain(&self, chain: &[u32]) {
        for index in chain.iter().map(|index| *index as usize) {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let operation = &self.schedule.operations[index];
            let request_id = self.request_id(operation);
            let earlier = self
                .state
                .and_then(|state| lock(state).earlier.get(&request_id).cloned());
            let outcome = match earlier {
                Some(outcome) if outcome.is_settled() => {
                    self.counts.skipped.fetch_add(1, Ordering::Relaxed);
                    outcome
                }
                _ => self.send(operation, &request_id).await,
            };
            let go_on = outcome.is_settled();
            lock(self.outcomes)[index] = Some(outcome);
            if !go_on {
                return;
            }
        }
    }

    /// Sends one operation until it has an outcome (or the attempts are spent).
    async fn send(&self, operation: &Operation, request_id: &str) -> RowOutcome {
        let body = self.request(operation, request_id);
        let awaited = match self.begin(request_id, &body).await {
            Ok(awaited) => awaited,
            Err(unrecorded) => return unrecorded,
        };
        let attempted = self.until_answered(request_id, &body, awaited).await;
        self.counts.answered.fetch_add(1, Ordering::Relaxed);
        if !attempted.outcome.succeeded {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.record(request_id, attempted)
    }

    /// Runs before the first delivery. It waits for the outcome of a request an earlier run
    /// sent, where the way in keeps outcomes (the queue); otherwise it records the sending in
    /// the state. `Err` when that cannot be recorded (then nothing more is sent).
    async fn begin(&self, request_id: &str, body: &Value) -> Result<Option<Delivery>, RowOutcome> {
        let sent_before = self
            .state
            .is_some_and(|state| lock(state).unanswered.contains(request_id));
        if sent_before && let Some(awaited) = self.endpoint.await_sent(request_id, body).await {
            return Ok(Some(awaited));
        }
        if let Some(state) = self.state
            && let Err(error) = lock(state).sent(request_id)
        {
            // Were the request sent unrecorded, a later run could not tell it was sent, so
            // nothing more is sent.
            self.stop(
                format!("the state file cannot be written ({error}): nothing more was sent"),
                false,
            );
            return Err(RowOutcome::unanswered(
                "stateUnwritable",
                &error.to_string(),
                true,
            ));
        }
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }

    /// Delivers the request (or takes the awaited answer) until something other than a pause
    /// comes back, or the attempts are spent.
    async fn until_answered(
        &self,
        request_id: &str,
        body: &Value,
        mut awaited: Option<Delivery>,
    ) -> Attempted {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let delivery = match awaited.take() {
                Some(delivery) => delivery,
                None => self.deliver(request_id, body).await,
            };
            if !matches!(delivery, Delivery::Refused { .. }) {
                self.counts.reached.fetch_add(1, Ordering::Relaxed);
            }
            match self.judge(delivery, attempt) {
                Judged::Answered(attempted) => return attempted,
                Judged::Again(backoff) => {
                    self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Delivers once, paced: after any pause the endpoint asked for, and within Graph's write
    /// limit.
    async fn deliver(&self, request_id: &str, body: &Value) -> Delivery {
        self.pacer.wait().await;
        if let Some(limit) = &self.write_limit
            && limit.admit().await
        {
            self.counts.throttled.fetch_add(1, Ordering::Relaxed);
        }
        self.endpoint.deliver(request_id, body).await
    }

    /// Judges what one delivery means for the row: its outcome, or another attempt after a
    /// pause.
    fn judge(&self, delivery: Delivery, attempt: u32) -> Judged {
        let answered = |outcome, settled, ack| {
            Judged::Answered(Attempted {
                outcome,
                settled,
                ack,
            })
        };
        match delivery {
            Delivery::Pending { detail } => answered(
                RowOutcome::unanswered("noResultYet", &detail, true),
                false,
                None,
            ),
            Delivery::Result(result) => answered(RowOutcome::of_result(&result), true, None),
            // This failed and is not settled: a later run sends it again (the changes are
            // idempotent), and the user's later rows wait for it.
            Delivery::Unmatched { detail } => answered(
                RowOutcome::unanswered("requestIdMismatch", &detail, true),
                true,
                None,
            ),
            Delivery::Queued(result, recorded) => {
                answered(RowOutcome::of_result(&result), true, Some(recorded))
            }
            Delivery::Refused { code, detail } => {
                // No row can get through: the run stops, and nothing is recorded as settled,
                // so that the same command sends these rows once it is fixed.
                self.stop(format!("{code}: {detail}"), true);
                answered(RowOutcome::unanswered(&code, &detail, true), false, None)
            }
            Delivery::Transient {
                retry_after,
                code,
                detail,
                result,
                pause_all,
            } => {
                let backoff = retry_after.unwrap_or_else(|| {
                    Backoff::new(Duration::from_secs(1), LONGEST_BACKOFF).after(attempt)
                });
                if pause_all {
                    self.pacer.hold(backoff);
                }
                if attempt < ATTEMPTS && !self.stopping.load(Ordering::SeqCst) {
                    return Judged::Again(backoff);
                }
                let outcome = match result {
                    Some(result) => RowOutcome::of_result(&result),
                    None => RowOutcome::unanswered(&code, &detail, true),
                };
                answered(outcome, true, None)
            }
        }
    }

    /// Records the outcome in the state (when it settles the row) and only then lets the
    /// queue delete the result it came in.
    fn record(&self, request_id: &str, attempted: Attempted) -> RowOutcome {
        let recorded = match self.state {
            Some(state) if attempted.settled => lock(state).done(request_id, &attempted.outcome),
            _ => Ok(()),
        };
        match recorded {
            Ok(()) => {
                if let Some(ack) = attempted.ack {
                    let _ = ack.send(());
                }
            }
            Err(error) => self.stop(
                format!("the state file cannot be written ({error}): nothing more was sent"),
                false,
            ),
        }
        attempted.outcome
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

    /// Builds the handler's parameters for one operation, named as the handler names them.
    fn request(&self, operation: &Operation, request_id: &str) -> Value {
        let options = operation.options.as_deref();
        let mut request = json!({
            USER_ID: &*operation.user,
            PHONE_TYPE: operation.phone_type.as_str(),
            PHONE_NUMBER: &*operation.number,
            OPERATION: if operation.remove { "remove" } else { "set" },
            REQUEST_ID: request_id,
            CALLER_NAME: caller_name(
                &self.settings.caller_name,
                options.and_then(|options| options.caller_name.as_deref()),
            ),
        });
        if operation.by_fingerprint
            && let Some(fields) = request.as_object_mut()
        {
            // The readiness scan's clean-up names the number by its keyed fingerprint only.
            fields.remove(PHONE_NUMBER);
            fields.insert(NUMBER_FINGERPRINT.to_owned(), json!(&*operation.number));
        }
        if self.settings.dry_run {
            request[DRY_RUN] = json!(true);
        }
        if let Some(options) = options {
            if let Some(sms) = options.sms_sign_in {
                request[SMS_SIGN_IN] = json!(sms);
            }
            if let Some(notify) = options.notify_user {
                request[NOTIFY_USER] = json!(notify);
            }
            if let Some(language) = options.language {
                request[LANGUAGE_OVERRIDE] = json!(language);
            }
        }
        request
    }
}

/// Makes the `CallerName` a request declares: the admin's, always first, and the one a row
/// names (whoever the file says asked) beside it, never instead of it, so that a file cannot
/// make the audit name someone else as the one who asked. It is bounded as the handler bounds
/// it.
pub fn caller_name(admin: &str, row: Option<&str>) -> String {
    let Some(row) = row else {
        return admin.to_owned();
    };
    let joined = format!("{admin}, for {row}");
    let limit = crate::request::MAX_TEXT_LENGTH;
    if joined.chars().count() <= limit {
        return joined;
    }
    let mut bounded: String = joined.chars().take(limit - 1).collect();
    bounded.push('…');
    bounded
}

/// Makes the request id of `operation`: `{prefix}-{line}-{phoneType}`, one per row and type.
pub fn request_id(prefix: &str, operation: &Operation) -> String {
    format!("{prefix}-{}-{}", operation.line, operation.phone_type)
}

/// What sending every operation came to.
pub(super) struct Sent {
    /// Each operation's outcome, by its index in the plan (`None` when it was not sent).
    pub(super) outcomes: Vec<Option<RowOutcome>>,
    /// Whether Ctrl-C stopped the run.
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
    schedule: &Schedule,
    settings: &Settings,
    state: Option<&Mutex<State>>,
    stop: impl std::future::Future<Output = ()>,
) -> Sent {
    // What an earlier run settled shows in the report even if this run stops before it.
    let mut known = vec![None; schedule.operations.len()];
    if let Some(state) = state {
        let state = lock(state);
        for (index, operation) in schedule.operations.iter().enumerate() {
            let id = request_id(&settings.request_prefix, operation);
            known[index] = state.earlier.get(&id).filter(|o| o.is_settled()).cloned();
        }
    }
    let outcomes = Mutex::new(known);
    let counts = Counts::default();
    let stopping = AtomicBool::new(false);
    let fatal = Mutex::new(None);
    let sender = Sender {
        endpoint,
        schedule,
        settings,
        state,
        outcomes: &outcomes,
        counts: &counts,
        stopping: &stopping,
        fatal: &fatal,
        pacer: Pacer::default(),
        write_limit: (!options.dry_run).then(|| WriteLimit::new(options.write_limit)),
    };
    let display = Progress::new(Some(schedule.operations.len() as u64), options.json);
    let interrupted = {
        let sending = sender.run();
        let ticking = tick(&counts, schedule.operations.len(), &display);
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
        outcomes: crate::mutex::into_inner(outcomes),
        interrupted,
        fatal: crate::mutex::into_inner(fatal),
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

    #[test]
    fn a_rows_caller_name_is_recorded_beside_the_admins_not_instead_of_it() {
        assert_eq!(
            caller_name("alice (bulk a.csv)", None),
            "alice (bulk a.csv)"
        );
        assert_eq!(
            caller_name("alice (bulk a.csv)", Some("Helpdesk ticket 42")),
            "alice (bulk a.csv), for Helpdesk ticket 42"
        );
        let long = caller_name("alice", Some(&"x".repeat(400)));
        assert!(long.starts_with("alice, for x"));
        assert_eq!(long.chars().count(), crate::request::MAX_TEXT_LENGTH);
    }
}
