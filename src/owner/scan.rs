//! One scan for the holder of a number: the driver ([`scan`]) that keeps pages and batches in
//! flight, and the state it updates ([`ScanState`]), one step per answer, with no IO of its
//! own so that each step can be tested alone.
//!
//! Report candidates go first; the user list fills idle capacity (the report is limited to 5
//! requests per 10 s), covers users the report does not show yet (it lags by hours), and
//! stands in for the report when the tenant has no licence or we lack AuditLog.Read.All. The
//! number of batches in flight follows Graph: halved when it throttles (and no new batch
//! starts before its `Retry-After`), grown by one after each batch it serves without
//! throttling.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use url::Url;

use super::candidates::{Candidate, Candidates, Source};
use super::pacer::Pacer;
use super::{BATCH_SIZE, conflict_owner, holds};
use crate::graph::{
    CandidateList, CandidatePage, Denial, GraphClient, GraphError, GraphErrorKind, GraphOperation,
    ListedUser,
};
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber, SmsSignInState};
use crate::report::{ConflictOwner, WarningCode};
use crate::user::UserRef;

/// Batches in flight when a search starts; it grows by one per unthrottled batch.
const INITIAL_BATCHES_IN_FLIGHT: usize = 4;
/// The pause before new batches when Graph throttles without saying how long.
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);
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

/// Every phone methods read of one batch: by the candidate's index in the batch, the methods
/// or why they could not be read; or why the batch as a whole failed.
pub(super) type BatchResult =
    Result<Vec<(usize, Result<Vec<PhoneMethod>, GraphError>)>, GraphError>;

type PageFuture<'a> = Pin<Box<dyn Future<Output = Result<CandidatePage, GraphError>> + Send + 'a>>;
type BatchFuture<'a> = Pin<Box<dyn Future<Output = (Vec<Candidate>, BatchResult)> + Send + 'a>>;

/// What the scan should do after a step.
#[derive(Debug)]
pub(super) enum Step {
    Continue,
    /// The holder is found.
    Found(ListedUser, PhoneMethod),
    /// Nothing more can be learned (a refusal that applies to every candidate).
    Stop,
}

/// Counters for progress lines and the closing summary.
#[derive(Default)]
struct Progress {
    pages: u32,
    checked: usize,
    /// Candidates whose methods could not be read after every retry.
    unreadable: usize,
    batches: usize,
    throttled: usize,
}

/// Everything a scan knows between two answers.
pub(super) struct ScanState {
    candidates: Candidates,
    pacer: Pacer,
    progress: Progress,
    in_flight_limit: usize,
    max_in_flight: usize,
    /// No new batch before this (Graph's `Retry-After`).
    resume_at: Option<Instant>,
    report_next: Option<Url>,
    directory_next: Option<Url>,
    /// Every number read held for SMS sign-in, by digits, with its holder.
    learned: Vec<(String, ConflictOwner)>,
    /// Users who have the number as an MFA phone without SMS sign-in.
    mfa_only: Vec<ListedUser>,
    warnings: Vec<(WarningCode, String)>,
    /// Whether every candidate could be asked (no refusal, no lost page, no stop for time).
    complete: bool,
}

impl ScanState {
    pub(super) fn new(
        target: &UserRef,
        max_in_flight: usize,
        report: Url,
        directory: Url,
    ) -> ScanState {
        let max_in_flight = max_in_flight.max(1);
        ScanState {
            candidates: Candidates::new(target.as_str()),
            pacer: Pacer::default(),
            progress: Progress::default(),
            in_flight_limit: max_in_flight.min(INITIAL_BATCHES_IN_FLIGHT),
            max_in_flight,
            resume_at: None,
            report_next: Some(report),
            directory_next: Some(directory),
            learned: Vec::new(),
            mfa_only: Vec::new(),
            warnings: Vec::new(),
            complete: true,
        }
    }

    /// The candidates of the next batch, if one may start now with `in_flight` running.
    pub(super) fn next_chunk(&mut self, in_flight: usize, now: Instant) -> Option<Vec<Candidate>> {
        if in_flight >= self.in_flight_limit {
            return None;
        }
        if self
            .resume_at
            .max(self.pacer.next_slot())
            .is_some_and(|gate| now < gate)
        {
            return None;
        }
        let chunk = self.candidates.next_batch(BATCH_SIZE);
        if chunk.is_empty() {
            return None;
        }
        self.pacer.launched(chunk.len(), now);
        self.progress.batches += 1;
        Some(chunk)
    }

    /// When a pause or the pace lets the next batch go, if one is waiting for it.
    pub(super) fn wake_at(&self, in_flight: usize, now: Instant) -> Option<Instant> {
        self.resume_at
            .max(self.pacer.next_slot())
            .filter(|gate| *gate > now)
            .filter(|_| !self.candidates.is_empty() && in_flight < self.in_flight_limit)
    }

    /// Lifts a pause that has passed.
    pub(super) fn woke(&mut self, now: Instant) {
        if self.resume_at.is_some_and(|until| until <= now) {
            self.resume_at = None;
        }
    }

    /// Whether there is nothing left to ask or to wait for.
    pub(super) fn exhausted(&self) -> bool {
        self.candidates.is_empty() && self.report_next.is_none() && self.directory_next.is_none()
    }

    /// Takes in the answer to one batch of `chunk`.
    pub(super) fn absorb(
        &mut self,
        number: &PhoneNumber,
        chunk: Vec<Candidate>,
        answer: BatchResult,
        now: Instant,
    ) -> Step {
        let mut throttled_for: Option<Duration> = None;
        let mut throttled = false;
        let mut admitted = 0;
        let mut found = None;
        match answer {
            Ok(items) => {
                for (index, result) in items {
                    let Some(candidate) = chunk.get(index) else {
                        continue;
                    };
                    match result {
                        Ok(methods) => {
                            admitted += 1;
                            self.progress.checked += 1;
                            for method in &methods {
                                if method.sms_sign_in_state == Some(SmsSignInState::Ready) {
                                    self.learned.push((
                                        method.number.digits(),
                                        conflict_owner(&candidate.user, method, None),
                                    ));
                                }
                            }
                            if let Some(method) =
                                methods.iter().find(|method| holds(method, number))
                            {
                                found = Some((candidate.user.clone(), method.clone()));
                            } else if methods.iter().any(|method| number.matches(&method.number)) {
                                self.mfa_only.push(candidate.user.clone());
                            }
                        }
                        Err(error) if error.kind.is_throttled() => {
                            throttled = true;
                            self.progress.throttled += 1;
                            if let GraphErrorKind::Unavailable { retry_after, .. } = error.kind {
                                throttled_for = throttled_for.max(retry_after);
                            }
                            self.candidates.throttled(candidate.clone());
                        }
                        // Deleted since it was listed: nothing to check.
                        Err(GraphError {
                            kind: GraphErrorKind::NotFound { .. },
                            ..
                        }) => {
                            admitted += 1;
                            self.progress.checked += 1;
                        }
                        Err(GraphError {
                            kind: kind @ GraphErrorKind::Forbidden { .. },
                            ..
                        }) => {
                            self.complete = false;
                            self.warnings.push((
                                WarningCode::OwnerSearchIncomplete,
                                format!(
                                    "the owner search could not read phone methods ({} \
                                     refused): grant {}",
                                    kind.answer().unwrap_or_default(),
                                    GraphOperation::ReadPhoneMethods.permission()
                                ),
                            ));
                            return Step::Stop;
                        }
                        Err(_) => {
                            admitted += 1;
                            throttled = true;
                            if !self.candidates.failed(candidate.clone()) {
                                self.progress.unreadable += 1;
                            }
                        }
                    }
                }
                if let Some((user, method)) = found {
                    return Step::Found(user, method);
                }
            }
            Err(error) => match error.kind {
                GraphErrorKind::Unavailable { retry_after, .. } => {
                    self.progress.throttled += 1;
                    throttled = true;
                    throttled_for = retry_after;
                    for candidate in chunk {
                        if !self.candidates.failed(candidate) {
                            self.progress.unreadable += 1;
                        }
                    }
                }
                _ => {
                    self.warnings.push((
                        WarningCode::OwnerSearchIncomplete,
                        format!("the owner search stopped: {error}"),
                    ));
                    self.complete = false;
                    return Step::Stop;
                }
            },
        }
        self.pacer.answered(admitted, throttled, now);
        if throttled {
            // Multiplicative decrease, and no new batch before Graph's Retry-After.
            self.in_flight_limit = (self.in_flight_limit / 2).max(1);
            let until = now + throttled_for.unwrap_or(DEFAULT_THROTTLE_PAUSE);
            self.resume_at = Some(self.resume_at.map_or(until, |current| current.max(until)));
        } else {
            self.in_flight_limit = (self.in_flight_limit + 1).min(self.max_in_flight);
        }
        Step::Continue
    }

    /// Takes in a page of the registration report. On a failure the search goes on with the
    /// user list alone; the warning saying so is returned for the log at once.
    pub(super) fn absorb_report_page(&mut self, page: Result<CandidatePage, GraphError>) {
        self.candidates.open_directory();
        match page {
            Ok(page) => {
                self.progress.pages += 1;
                self.candidates.add(page.users, Source::Report);
                self.report_next = page.next;
            }
            Err(error) => {
                let message = match &error.kind {
                    GraphErrorKind::Forbidden {
                        denial: Denial::Licence,
                        ..
                    } => "the registration details report needs an Entra ID P1 or P2 licence, \
                          which the tenant lacks, so the owner search reads every user \
                          instead, which takes longer"
                        .to_owned(),
                    GraphErrorKind::Forbidden { .. } => format!(
                        "Graph refused the registration details report ({}; it needs {}), so \
                         the owner search reads every user instead, which takes longer",
                        error.kind.answer().unwrap_or_default(),
                        GraphOperation::ReadRegistrationReport.permission()
                    ),
                    _ => format!(
                        "the registration details report could not be read ({error}), so the \
                         owner search reads every user instead"
                    ),
                };
                self.warnings
                    .push((WarningCode::OwnerSearchFallback, message));
            }
        }
    }

    /// Takes in a page of the user list.
    pub(super) fn absorb_directory_page(&mut self, page: Result<CandidatePage, GraphError>) {
        match page {
            Ok(page) => {
                self.progress.pages += 1;
                self.candidates.add(page.users, Source::Directory);
                self.directory_next = page.next;
            }
            Err(error) => {
                self.complete = false;
                self.warnings.push((
                    WarningCode::OwnerSearchIncomplete,
                    format!("the owner search could not list every user: {error}"),
                ));
            }
        }
    }

    /// The search's budget is spent.
    pub(super) fn out_of_time(&mut self, budget: Duration) {
        self.complete = false;
        self.warnings.push((
            WarningCode::OwnerSearchIncomplete,
            format!(
                "the owner search stopped after its budget of {} s with {} of {} candidates \
                 checked; the holder may be among the rest",
                budget.as_secs(),
                self.progress.checked,
                self.candidates.known(),
            ),
        ));
    }

    fn progress_line(&self, elapsed: Duration) -> String {
        format!(
            "Owner search: {} s in, {} pages read, {} of {} candidates checked, {} throttled \
             answers",
            elapsed.as_secs(),
            self.progress.pages,
            self.progress.checked,
            self.candidates.known(),
            self.progress.throttled
        )
    }

    fn summary_line(&self, elapsed: Duration) -> String {
        format!(
            "Owner search: finished in {:.1} s: {} pages, {} candidates checked in {} batches, \
             {} throttled answers",
            elapsed.as_secs_f64(),
            self.progress.pages,
            self.progress.checked,
            self.progress.batches,
            self.progress.throttled
        )
    }

    /// The warnings of a search that did not find the holder, after what it has seen.
    pub(super) fn conclude_not_found(&mut self) {
        if !self.mfa_only.is_empty() {
            let names: Vec<&str> = self
                .mfa_only
                .iter()
                .take(5)
                .map(|user| user.user_principal_name.as_deref().unwrap_or(&user.id))
                .collect();
            let message = format!(
                "{} other user(s) have the number as an MFA phone without SMS sign-in ({}); \
                 none holds it for SMS sign-in",
                self.mfa_only.len(),
                names.join(", ")
            );
            self.warnings
                .push((WarningCode::ConflictOwnerNotFound, message));
        }
        if self.progress.unreadable > 0 {
            self.complete = false;
            self.warnings.push((
                WarningCode::OwnerSearchIncomplete,
                format!(
                    "the phone methods of {} candidate(s) could not be read, so the holder may \
                     be among them",
                    self.progress.unreadable
                ),
            ));
        }
        if self.complete {
            self.warnings.push((
                WarningCode::ConflictOwnerNotFound,
                "no visible user holds the number for SMS sign-in: it may be held by a deleted \
                 or soft-deleted user"
                    .to_owned(),
            ));
        }
    }
}

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
    // Leave the invocation time to read the holder's account and answer.
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
    let mut report_page: Option<PageFuture<'_>> = None;
    let mut directory_page: Option<PageFuture<'_>> = None;
    let mut batches: FuturesUnordered<BatchFuture<'_>> = FuturesUnordered::new();
    let mut next_progress = started + PROGRESS_EVERY;
    outcome.note(format!(
        "Owner search: looking for the user who holds {number} for SMS sign-in (budget {} s)",
        budget.as_secs()
    ));
    let found = loop {
        if report_page.is_none()
            && let Some(url) = state.report_next.take()
        {
            report_page = Some(Box::pin(
                graph.candidate_page(CandidateList::RegistrationReport, url),
            ));
        }
        if directory_page.is_none()
            && let Some(url) = state.directory_next.take()
        {
            directory_page = Some(Box::pin(graph.candidate_page(CandidateList::Users, url)));
        }
        while let Some(chunk) = state.next_chunk(batches.len(), Instant::now()) {
            let users: Vec<UserRef> = chunk
                .iter()
                .map(|candidate| UserRef::ObjectId(candidate.user.id.clone()))
                .collect();
            batches.push(Box::pin(async move {
                (chunk, graph.batch_phone_methods(&users).await)
            }));
        }
        if report_page.is_none()
            && directory_page.is_none()
            && batches.is_empty()
            && state.exhausted()
        {
            break None;
        }
        let wake_at = state.wake_at(batches.len(), Instant::now());
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(deadline) => {
                state.out_of_time(budget);
                break None;
            }
            Some((chunk, answer)) = batches.next(), if !batches.is_empty() => {
                match state.absorb(number, chunk, answer, Instant::now()) {
                    Step::Continue => {}
                    Step::Found(user, method) => break Some((user, method)),
                    Step::Stop => break None,
                }
            }
            page = poll_page(&mut report_page), if report_page.is_some() => {
                report_page = None;
                state.absorb_report_page(page);
            }
            page = poll_page(&mut directory_page), if directory_page.is_some() => {
                directory_page = None;
                state.absorb_directory_page(page);
            }
            () = sleep_until_option(wake_at), if wake_at.is_some() => {
                state.woke(Instant::now());
            }
            () = tokio::time::sleep_until(next_progress) => {
                next_progress += PROGRESS_EVERY;
                outcome.note(state.progress_line(started.elapsed()));
            }
        }
    };
    outcome.note(state.summary_line(started.elapsed()));
    let owner = match found {
        Some((user, method)) => {
            let account_enabled = graph
                .user(&UserRef::ObjectId(user.id.clone()))
                .await
                .ok()
                .and_then(|directory_user| directory_user.account_enabled);
            let owner = conflict_owner(&user, &method, account_enabled);
            state.learned.push((number.digits(), owner.clone()));
            Some(owner)
        }
        None => {
            state.conclude_not_found();
            None
        }
    };
    for (code, message) in state.warnings {
        outcome.warn(code, message);
    }
    (owner, state.learned)
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
