//! Keeps the answers to changes this instance has carried out, by `requestId`: the same change
//! sent again over HTTP (a bulk run resumed after its connection was lost, a Logic App's retry)
//! by the same caller gets the first answer again instead of being carried out a second time,
//! and one still being carried out is waited for, not run beside itself.
//!
//! Only successes are kept: after a refusal or a failure the next sending runs. The key is the
//! caller and the request's parameters as a whole, `requestId` among them, so a request that
//! differs in anything, or comes from another caller, is a new request. Answers are kept in
//! memory, per instance, for [`KEPT_FOR`] and within [`KEPT_BYTES`]: a sending that reaches
//! another instance, or this one after a restart, is carried out again (it then converges on
//! what the first did, and says so).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
// This module uses Tokio's clock, so that a test with paused time can let an hour pass.
use tokio::time::Instant;

use crate::caller::{Access, Caller, CallerPolicy};
use crate::report::Report;
use crate::request::Task;

/// How long an answer is kept.
pub const KEPT_FOR: Duration = Duration::from_secs(60 * 60);
/// The most answers are kept in all (their JSON's bytes); the oldest go first.
pub const KEPT_BYTES: usize = 16 * 1024 * 1024;

/// A request as the caller sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// Makes the key of `parameters` sent by the caller with object id `caller` (`None` when
    /// Entra vouched for no caller and the function key alone was used).
    pub fn of(caller: Option<&str>, parameters: &Map<String, Value>) -> Key {
        let mut hash = Sha256::new();
        hash.update(caller.unwrap_or_default().as_bytes());
        hash.update([0]);
        // serde_json's map keeps its keys sorted, so one set of parameters makes one text.
        hash.update(Value::Object(parameters.clone()).to_string().as_bytes());
        Key(hash.finalize().into())
    }
}

impl Key {
    /// Makes the key under which a change sent over HTTP is kept: a change (not a dry run) with
    /// a `requestId`, from a caller Microsoft Entra authenticated whom `callers` lets change, of
    /// the request as parsed (`task`) from `parameters`. Anything else is carried out every
    /// time (`None`), and refused, when it is, as if nothing were kept.
    pub fn for_change(
        callers: &CallerPolicy,
        parameters: &Map<String, Value>,
        task: &Task,
        caller: Option<&Caller>,
    ) -> Option<Key> {
        // With the function key alone nobody is known to have sent the first one: a kept
        // answer would tell whoever holds the key what another key holder changed.
        let caller = caller?;
        callers.permit(Some(caller), Access::ReadWrite).ok()?;
        match task {
            Task::Change(change) if change.request_id.is_some() && !change.dry_run => {
                Some(Key::of(Some(caller.id.as_str()), parameters))
            }
            _ => None,
        }
    }
}

/// A kept answer.
#[derive(Debug)]
pub struct Answered {
    pub report: Report,
    pub at: Instant,
    bytes: usize,
}

/// What to do with a request.
pub enum Begin<'a> {
    /// Carry it out, and [`Running::finish`] with its answer.
    First(Running<'a>),
    /// The same request is being carried out: wait for its answer.
    Waiting(watch::Receiver<Option<Arc<Answered>>>),
    /// It was answered: answer the same.
    Answered(Arc<Answered>),
}

/// The request this invocation carries out; waiters get its answer when it finishes, and are
/// let go (to carry it out themselves) when it ends without one.
pub struct Running<'a> {
    replays: &'a Replays,
    key: Key,
    sender: watch::Sender<Option<Arc<Answered>>>,
}

enum Entry {
    Running(watch::Receiver<Option<Arc<Answered>>>),
    Answered(Arc<Answered>),
}

#[derive(Default)]
struct Kept {
    entries: HashMap<Key, Entry>,
    /// Answered keys, oldest first.
    order: VecDeque<Key>,
    bytes: usize,
}

/// The answers this instance keeps.
#[derive(Default)]
pub struct Replays {
    kept: Mutex<Kept>,
}

impl Replays {
    /// Starts `key`, or says it is under way or answered.
    pub fn begin(&self, key: Key) -> Begin<'_> {
        let mut kept = self.lock();
        kept.forget_expired();
        match kept.entries.get(&key) {
            Some(Entry::Answered(answered)) => Begin::Answered(answered.clone()),
            Some(Entry::Running(receiver)) => Begin::Waiting(receiver.clone()),
            None => {
                let (sender, receiver) = watch::channel(None);
                kept.entries.insert(key, Entry::Running(receiver));
                Begin::First(Running {
                    replays: self,
                    key,
                    sender,
                })
            }
        }
    }

    /// Counts the answers kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Nothing panics while holding it; a poisoned map is still a consistent map.
        crate::mutex::lock(&self.kept)
    }
}

/// Whether `report` is kept for the same request sent again: a success (what was done must
/// not be done twice). A refusal is not: the same request may succeed once someone fixed its
/// cause (a permission granted, a user created), and running it again costs a read.
pub fn is_final(report: &Report) -> bool {
    report.error_code().is_none()
}

impl Running<'_> {
    /// Keeps `report` for the same request when it is final, and hands it to those waiting.
    pub fn finish(self, report: &Report) {
        if !is_final(report) {
            // Returning drops `self`, which lets the waiters go to carry the request out
            // themselves.
            return;
        }
        let answered = Arc::new(Answered {
            report: report.clone(),
            at: Instant::now(),
            bytes: report.to_json().len(),
        });
        {
            let mut kept = self.replays.lock();
            kept.entries
                .insert(self.key, Entry::Answered(answered.clone()));
            kept.order.push_back(self.key);
            kept.bytes += answered.bytes;
            kept.forget_expired();
        }
        self.sender.send_replace(Some(answered));
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut kept = self.replays.lock();
        if matches!(kept.entries.get(&self.key), Some(Entry::Running(_))) {
            kept.entries.remove(&self.key);
        }
    }
}

impl Kept {
    /// Lets go of the oldest answers while they are older than [`KEPT_FOR`] or more than
    /// [`KEPT_BYTES`] are kept.
    fn forget_expired(&mut self) {
        while let Some(oldest) = self.order.front().copied() {
            let Some(Entry::Answered(answered)) = self.entries.get(&oldest) else {
                self.order.pop_front();
                continue;
            };
            if self.bytes <= KEPT_BYTES && answered.at.elapsed() < KEPT_FOR {
                break;
            }
            self.bytes = self.bytes.saturating_sub(answered.bytes);
            self.entries.remove(&oldest);
            self.order.pop_front();
        }
    }
}

/// This invocation's turn with a request.
pub enum Turn<'a> {
    /// Carry it out, and [`Running::finish`] with its answer (`None` for a request that is not
    /// kept). The duration is how long this invocation waited for another that gave no answer
    /// to keep (zero when it did not wait).
    Run(Option<Running<'a>>, Duration),
    /// The answer an earlier invocation gave, told as such in its log, and how old it is.
    Again(Box<Report>, Duration),
    /// Another invocation is still carrying it out, past this one's wait.
    Elapsed,
}

impl Replays {
    /// Whether this invocation (`invocation_id`) carries out the request `key`, or answers with
    /// another's answer to it, waiting up to `wait` for one under way.
    pub async fn turn(&self, key: Key, wait: Duration, invocation_id: Option<String>) -> Turn<'_> {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        loop {
            let answered = match self.begin(key) {
                Begin::First(running) => return Turn::Run(Some(running), waited),
                Begin::Answered(answered) => answered,
                Begin::Waiting(receiver) => {
                    match wait_for(receiver, wait.saturating_sub(started.elapsed())).await {
                        Ok(Some(answered)) => answered,
                        // That invocation ended without a final answer: this one carries the
                        // request out, in what is left of its budget.
                        Ok(None) => {
                            waited = started.elapsed();
                            continue;
                        }
                        Err(Elapsed) => return Turn::Elapsed,
                    }
                }
            };
            return Turn::Again(
                Box::new(answered.again(invocation_id)),
                answered.at.elapsed(),
            );
        }
    }
}

impl Answered {
    /// The kept answer as invocation `invocation_id` gives it: the same, with a line that says
    /// whose it is.
    fn again(&self, invocation_id: Option<String>) -> Report {
        let mut report = self.report.clone();
        let note = format!(
            "The same request (this requestId, these parameters, this caller) was answered on \
             this instance {} s ago by invocation {}: this is that answer again; nothing was \
             read or written this time",
            self.at.elapsed().as_secs(),
            report.invocation_id.as_deref().unwrap_or("(no id)")
        );
        tracing::info!("{note}");
        report.invocation_id = invocation_id;
        // The note goes first, not last, so that a reader that takes the last line for what
        // happened (bulk's report) still reads what the first invocation did.
        report.log.insert(0, note);
        report
    }
}

/// Waits for the answer `receiver` will get: `None` when the invocation carrying the request
/// out ended without a final one (the request is then this one's to carry out), or when
/// `wait` passed first.
pub async fn wait_for(
    mut receiver: watch::Receiver<Option<Arc<Answered>>>,
    wait: Duration,
) -> Result<Option<Arc<Answered>>, Elapsed> {
    match tokio::time::timeout(wait, receiver.wait_for(Option::is_some)).await {
        Ok(Ok(answered)) => Ok(answered.clone()),
        Ok(Err(_closed)) => Ok(None),
        Err(_) => Err(Elapsed),
    }
}

/// The wait for another invocation's answer ran out.
#[derive(Debug)]
pub struct Elapsed;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ErrorCode, Failure, Trigger};

    fn parameters(request_id: &str) -> Map<String, Value> {
        let Value::Object(map) = serde_json::json!({
            "UserId": "adele@contoso.com",
            "phoneNumber": "+49 1701234567",
            "requestId": request_id,
        }) else {
            unreachable!("an object")
        };
        map
    }

    fn report(error: Option<ErrorCode>) -> Report {
        let mut report = Report::new(Trigger::Http, None);
        report.error = error.map(|code| Failure::new(code, "why"));
        report
    }

    /// A first sending of `key` under way, and a second one waiting for it.
    fn first_and_waiting(
        replays: &Replays,
        key: Key,
    ) -> (Running<'_>, watch::Receiver<Option<Arc<Answered>>>) {
        let Begin::First(running) = replays.begin(key) else {
            panic!("the first sending runs")
        };
        let Begin::Waiting(receiver) = replays.begin(key) else {
            panic!("the second waits")
        };
        (running, receiver)
    }

    #[test]
    fn the_same_parameters_from_the_same_caller_are_one_request() {
        let key = Key::of(Some("a"), &parameters("r-1"));
        assert_eq!(key, Key::of(Some("a"), &parameters("r-1")));
        assert_ne!(key, Key::of(Some("b"), &parameters("r-1")));
        assert_ne!(key, Key::of(None, &parameters("r-1")));
        assert_ne!(key, Key::of(Some("a"), &parameters("r-2")));
    }

    #[tokio::test]
    async fn a_final_answer_is_kept_and_handed_to_those_waiting() {
        let replays = Replays::default();
        let key = Key::of(None, &parameters("r-1"));
        let (running, receiver) = first_and_waiting(&replays, key);
        running.finish(&report(None));
        let answered = wait_for(receiver, Duration::from_secs(5))
            .await
            .expect("answered in time")
            .expect("an answer");
        assert!(answered.report.error.is_none());
        assert!(matches!(replays.begin(key), Begin::Answered(_)));
        assert_eq!(replays.len(), 1);
    }

    #[tokio::test]
    async fn a_transient_failure_lets_the_next_sending_run() {
        let replays = Replays::default();
        let key = Key::of(None, &parameters("r-1"));
        let (running, receiver) = first_and_waiting(&replays, key);
        running.finish(&report(Some(ErrorCode::GraphUnavailable)));
        assert!(
            wait_for(receiver, Duration::from_secs(5))
                .await
                .expect("let go in time")
                .is_none()
        );
        assert!(matches!(replays.begin(key), Begin::First(_)));
        assert!(replays.is_empty());
    }

    #[test]
    fn only_successes_are_kept() {
        assert!(is_final(&report(None)));
        assert!(!is_final(&report(Some(ErrorCode::ProtectedUser))));
        assert!(!is_final(&report(Some(ErrorCode::UserBusy))));
        assert!(!is_final(&report(Some(ErrorCode::Internal))));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_forgotten_once_it_is_kept_for_longer_than_an_hour() {
        let replays = Replays::default();
        let key = Key::of(None, &parameters("r-1"));
        let Begin::First(running) = replays.begin(key) else {
            panic!("the first sending runs")
        };
        running.finish(&report(None));

        tokio::time::sleep(KEPT_FOR - Duration::from_secs(1)).await;
        assert!(matches!(replays.begin(key), Begin::Answered(_)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(matches!(replays.begin(key), Begin::First(_)));
        assert!(replays.is_empty());
    }

    #[test]
    fn the_oldest_answers_go_when_more_than_the_bound_is_kept() {
        let replays = Replays::default();
        let mut big = report(None);
        big.log.push("x".repeat(KEPT_BYTES / 3 - 4096));
        for n in 0..5 {
            let Begin::First(running) = replays.begin(Key::of(None, &parameters(&n.to_string())))
            else {
                panic!("new")
            };
            running.finish(&big);
        }
        assert_eq!(
            replays.len(),
            3,
            "three answers of a third of the bound each"
        );
        assert!(matches!(
            replays.begin(Key::of(None, &parameters("0"))),
            Begin::First(_)
        ));
    }
}
