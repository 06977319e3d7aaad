//! Runs one scan for the holder of a number: the driver keeps pages and batches in flight and
//! hands each answer to the [`ScanState`], which decides what it means.
//!
//! Report candidates go first; the user list fills idle capacity (the report is limited to 5
//! requests per 10 s), covers users the report does not show yet (it lags by hours), and
//! stands in for the report when the tenant has no licence or we lack AuditLog.Read.All. The
//! number of batches in flight follows Graph: it is halved when Graph throttles (and no new
//! batch starts before its `Retry-After`), and grows by one after each batch Graph serves
//! without throttling.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use super::candidates::Candidate;
use super::conflict_owner;
use super::state::{BatchResult, ScanState, Step};
use crate::graph::{CandidateList, CandidatePage, GraphClient, GraphError, ListedUser};
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber};
use crate::report::ConflictOwner;
use crate::user::UserRef;

/// The time an invocation keeps, after the search, to finish and answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(10);
/// How often the search reports progress while it runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The bounds of one scan.
pub(super) struct Limits {
    /// The search's own budget.
    pub budget: Duration,
    /// The most `$batch` requests in flight.
    pub max_in_flight: usize,
    /// When the whole invocation must be done.
    pub invocation_deadline: Instant,
}

type PageFuture<'a> = Pin<Box<dyn Future<Output = Result<CandidatePage, GraphError>> + Send + 'a>>;
type BatchFuture<'a> = Pin<Box<dyn Future<Output = (Vec<Candidate>, BatchResult)> + Send + 'a>>;

/// Scans for the holder of `number`; returns them if found, and every number learned held for
/// SMS sign-in.
pub(super) async fn scan(
    graph: &GraphClient,
    number: &PhoneNumber,
    target: &UserRef,
    limits: Limits,
    outcome: &mut Outcome,
) -> (Option<ConflictOwner>, Vec<(String, ConflictOwner)>) {
    let started = Instant::now();
    // The scan leaves the invocation time to read the holder's account and answer.
    let deadline = (started + limits.budget).min(
        limits
            .invocation_deadline
            .checked_sub(ANSWER_MARGIN)
            .unwrap_or(started),
    );
    let budget = deadline.saturating_duration_since(started);
    let mut state = ScanState::new(
        target,
        limits.max_in_flight,
        graph.registration_report_url(),
        graph.users_url(),
    );
    let shortened = if budget < limits.budget {
        format!(
            ", shortened from {} s so that the caller is answered within the invocation's time \
             budget",
            limits.budget.as_secs()
        )
    } else {
        String::new()
    };
    outcome.note(format!(
        "Owner search: looking for the user who holds {number} for SMS sign-in (budget {} \
         s{shortened})",
        budget.as_secs()
    ));
    let clock = Clock {
        started,
        deadline,
        budget,
    };
    let found = search(graph, number, &mut state, clock, outcome).await;
    outcome.note(state.summary_line(started.elapsed()));
    let owner = match found {
        Some((user, method)) => {
            let account_enabled = graph
                .user(&UserRef::ObjectId(user.id.clone()))
                .await
                .ok()
                .and_then(|directory_user| directory_user.account_enabled);
            let owner = conflict_owner(&user, &method, account_enabled);
            state.learn(number.digits(), owner.clone());
            Some(owner)
        }
        None => {
            state.conclude_not_found();
            None
        }
    };
    let findings = state.into_findings();
    for (code, message) in findings.warnings {
        outcome.warn(code, message);
    }
    (owner, findings.learned)
}

/// When a scan started, when it must stop, and the budget that leaves.
#[derive(Clone, Copy)]
struct Clock {
    started: Instant,
    deadline: Instant,
    budget: Duration,
}

/// The requests a scan keeps in flight: one page of each list, and `$batch` reads.
struct InFlight<'a> {
    report_page: Option<PageFuture<'a>>,
    directory_page: Option<PageFuture<'a>>,
    batches: FuturesUnordered<BatchFuture<'a>>,
}

impl<'a> InFlight<'a> {
    /// Starts whatever `state` has ready: the next page of a list with none in flight, and
    /// the chunks of candidates it lets go.
    fn fill(&mut self, graph: &'a GraphClient, state: &mut ScanState) {
        if self.report_page.is_none()
            && let Some(url) = state.take_report_next()
        {
            self.report_page = Some(Box::pin(
                graph.candidate_page(CandidateList::RegistrationReport, url),
            ));
        }
        if self.directory_page.is_none()
            && let Some(url) = state.take_directory_next()
        {
            self.directory_page = Some(Box::pin(graph.candidate_page(CandidateList::Users, url)));
        }
        while let Some(chunk) = state.next_chunk(self.batches.len(), Instant::now()) {
            let users: Vec<UserRef> = chunk
                .iter()
                .map(|candidate| UserRef::ObjectId(candidate.user.id.clone()))
                .collect();
            self.batches.push(Box::pin(async move {
                (chunk, graph.batch_phone_methods(&users).await)
            }));
        }
    }

    fn is_empty(&self) -> bool {
        self.report_page.is_none() && self.directory_page.is_none() && self.batches.is_empty()
    }
}

/// Keeps requests in flight and hands each answer to `state` until the holder is found, the
/// candidates run out, or the time does.
async fn search(
    graph: &GraphClient,
    number: &PhoneNumber,
    state: &mut ScanState,
    clock: Clock,
    outcome: &mut Outcome,
) -> Option<(ListedUser, PhoneMethod)> {
    let mut in_flight = InFlight {
        report_page: None,
        directory_page: None,
        batches: FuturesUnordered::new(),
    };
    let mut next_progress = clock.started + PROGRESS_EVERY;
    loop {
        in_flight.fill(graph, state);
        if in_flight.is_empty() && state.exhausted() {
            return None;
        }
        let batches = &mut in_flight.batches;
        let wake_at = state.wake_at(batches.len(), Instant::now());
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(clock.deadline) => {
                state.out_of_time(clock.budget);
                return None;
            }
            Some((chunk, answer)) = batches.next(), if !batches.is_empty() => {
                match state.absorb(number, chunk, answer, Instant::now()) {
                    Step::Continue => {}
                    Step::Found(user, method) => return Some((user, method)),
                    Step::Stop => return None,
                }
            }
            page = poll_page(&mut in_flight.report_page), if in_flight.report_page.is_some() => {
                in_flight.report_page = None;
                state.absorb_report_page(page);
            }
            page = poll_page(&mut in_flight.directory_page),
                if in_flight.directory_page.is_some() => {
                in_flight.directory_page = None;
                state.absorb_directory_page(page);
            }
            () = sleep_until_option(wake_at), if wake_at.is_some() => {
                state.woke(Instant::now());
            }
            () = tokio::time::sleep_until(next_progress) => {
                next_progress += PROGRESS_EVERY;
                outcome.note(state.progress_line(clock.started.elapsed()));
            }
        }
    }
}

async fn poll_page(page: &mut Option<PageFuture<'_>>) -> Result<CandidatePage, GraphError> {
    match page {
        Some(page) => page.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_option(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}
