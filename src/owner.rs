//! The owner search: who holds a number for SMS sign-in, when Graph refused to set it for our
//! user with 409 `phoneNumberNotUnique`.
//!
//! Graph has no "who has this number" query, so the search reads every candidate's phone
//! methods. Candidates come from the registration details report (users with a mobile phone
//! registered) and from the user list, page by page; while the next pages are read, the
//! candidates already known are checked in `$batch` requests of 20, several in flight. Report
//! candidates go first; the user list fills idle capacity (the report is limited to 5
//! requests per 10 s), covers users the report does not show yet (it lags by hours), and
//! stands in for the report when the tenant has no licence or we lack AuditLog.Read.All. The number of batches in flight
//! follows Graph: halved when it throttles (and no new batch starts before its `Retry-After`),
//! grown by one after each batch it serves without throttling. The search stops at the first
//! user who holds the number for SMS sign-in (that holder is unique), when its time budget is
//! spent, or when every candidate is checked. Every number a search reads held for SMS sign-in
//! is remembered for a while (digits → holder), so a later conflict on any of them costs one
//! verifying read instead of a scan.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use url::Url;

use crate::config::OwnerSearchSettings;
use crate::graph::{
    BatchAnswer, GraphClient, GraphError, GraphErrorKind, GraphOperation, RegisteredUser,
    RegistrationPage,
};
use crate::journal::Journal;
use crate::phone::{PhoneMethod, PhoneNumber};
use crate::report::{ConflictOwner, WarningCode};
use crate::user::UserRef;

/// The search, with its memory of holders found before.
pub struct OwnerSearch {
    settings: OwnerSearchSettings,
    /// Digits of a number → who held it for SMS sign-in, and until when we trust that.
    memory: Mutex<HashMap<String, Remembered>>,
}

/// What the search concluded.
#[derive(Debug)]
pub struct SearchOutcome {
    /// Who holds the number for SMS sign-in, if the search found them.
    pub owner: Option<ConflictOwner>,
    /// What the admin should know about how the search went.
    pub warnings: Vec<(WarningCode, String)>,
}

#[derive(Clone, Debug)]
struct Remembered {
    owner: ConflictOwner,
    until: Instant,
}

/// Items per `$batch`: Graph's maximum.
const BATCH_SIZE: usize = 20;
/// How often a candidate whose read failed transiently is tried again.
const MAX_ITEM_RETRIES: u32 = 5;
/// Batches in flight when a search starts; it grows by one per unthrottled batch.
const INITIAL_BATCHES_IN_FLIGHT: usize = 4;
/// The pause before new batches when Graph throttles without saying how long.
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);
/// The time an invocation keeps, after the search, to finish and answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(10);
/// How often the search reports progress while it runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

type PageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RegistrationPage, GraphError>> + Send + 'a>>;
type BatchFuture<'a> = Pin<
    Box<dyn Future<Output = (Vec<Candidate>, Result<Vec<BatchAnswer>, GraphError>)> + Send + 'a>,
>;

#[derive(Clone, Debug)]
struct Candidate {
    user: RegisteredUser,
    retries: u32,
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

impl OwnerSearch {
    pub fn new(settings: OwnerSearchSettings) -> OwnerSearch {
        OwnerSearch {
            settings,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// Finds who holds `number` for SMS sign-in, leaving `target` (our own user) out.
    pub async fn search(
        &self,
        graph: &GraphClient,
        number: &PhoneNumber,
        target: &UserRef,
        deadline: Instant,
        journal: &mut Journal,
    ) -> SearchOutcome {
        if !self.settings.enabled {
            return SearchOutcome {
                owner: None,
                warnings: vec![(
                    WarningCode::OwnerSearchDisabled,
                    "the search for the user holding the number is switched off \
                     (MFA_OWNER_SEARCH=false)"
                        .to_owned(),
                )],
            };
        }
        let key = number.digits();
        if let Some(remembered) = self.remembered(&key) {
            journal.record(format!(
                "Owner search: checking {} first, who held {number} when a search last read it",
                remembered
                    .user_principal_name
                    .as_deref()
                    .unwrap_or(&remembered.id)
            ));
            let holder = UserRef::ObjectId(remembered.id.clone());
            // One round trip: the holder's methods, and their account for the report.
            if let (user, Ok(methods)) = graph.user_and_phone_methods(&holder).await
                && let Some(method) = methods.iter().find(|method| holds(method, number))
            {
                return SearchOutcome {
                    owner: Some(ConflictOwner {
                        phone_type: method.phone_type.as_str().to_owned(),
                        sms_sign_in_state: method.sms_sign_in_state.clone(),
                        account_enabled: user.ok().and_then(|user| user.account_enabled),
                        ..remembered
                    }),
                    warnings: Vec::new(),
                };
            }
            self.forget(&key);
        }
        let (outcome, learned) = self.scan(graph, number, target, deadline, journal).await;
        self.remember(learned);
        outcome
    }

    async fn scan(
        &self,
        graph: &GraphClient,
        number: &PhoneNumber,
        target: &UserRef,
        invocation_deadline: Instant,
        journal: &mut Journal,
    ) -> (SearchOutcome, Vec<(String, ConflictOwner)>) {
        let started = Instant::now();
        // Every number read held for SMS sign-in, so a later conflict on any of them costs one
        // verifying read.
        let mut learned: Vec<(String, ConflictOwner)> = Vec::new();
        // Leave the invocation time to read the holder's account and answer.
        let deadline = (started + self.settings.budget).min(
            invocation_deadline
                .checked_sub(ANSWER_MARGIN)
                .unwrap_or(started),
        );
        let budget = deadline.saturating_duration_since(started);
        let max_in_flight = self.settings.max_batches_in_flight.max(1);
        let mut in_flight_limit = max_in_flight.min(INITIAL_BATCHES_IN_FLIGHT);
        let mut report_next: Option<Url> = Some(graph.registration_report_url());
        let mut directory_next: Option<Url> = Some(graph.users_url());
        let mut report_page: Option<PageFuture<'_>> = None;
        let mut directory_page: Option<PageFuture<'_>> = None;
        let mut candidates = Candidates::new(target.as_str());
        let mut batches: FuturesUnordered<BatchFuture<'_>> = FuturesUnordered::new();
        let mut resume_at: Option<Instant> = None;
        let mut pacer = Pacer::default();
        let mut progress = Progress::default();
        let mut warnings: Vec<(WarningCode, String)> = Vec::new();
        let mut complete = true;
        let mut mfa_only: Vec<RegisteredUser> = Vec::new();
        let mut next_progress = started + PROGRESS_EVERY;
        journal.record(format!(
            "Owner search: looking for the user who holds {number} for SMS sign-in (budget {} s)",
            budget.as_secs()
        ));
        let found = loop {
            if report_page.is_none()
                && let Some(url) = report_next.take()
            {
                report_page = Some(Box::pin(
                    graph.candidate_page(GraphOperation::ReadRegistrationReport, url),
                ));
            }
            if directory_page.is_none()
                && let Some(url) = directory_next.take()
            {
                directory_page = Some(Box::pin(
                    graph.candidate_page(GraphOperation::ListUsers, url),
                ));
            }
            while batches.len() < in_flight_limit {
                let now = Instant::now();
                let gate = resume_at.max(pacer.next_slot());
                if gate.is_some_and(|gate| now < gate) {
                    break;
                }
                let chunk = candidates.next_batch(BATCH_SIZE);
                if chunk.is_empty() {
                    break;
                }
                pacer.launched(chunk.len(), now);
                let items = chunk
                    .iter()
                    .enumerate()
                    .map(|(index, candidate)| {
                        let user = UserRef::ObjectId(candidate.user.id.clone());
                        (index.to_string(), graph.phone_methods_url(&user))
                    })
                    .collect();
                progress.batches += 1;
                batches.push(Box::pin(
                    async move { (chunk, graph.batch_get(items).await) },
                ));
            }
            if report_page.is_none()
                && directory_page.is_none()
                && batches.is_empty()
                && candidates.is_empty()
            {
                break None;
            }
            // Wake when a pause or the pace lets the next batch go, if one is waiting for it.
            let wake_at = resume_at
                .max(pacer.next_slot())
                .filter(|gate| *gate > Instant::now())
                .filter(|_| !candidates.is_empty() && batches.len() < in_flight_limit);
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(deadline) => {
                    complete = false;
                    warnings.push((
                        WarningCode::OwnerSearchIncomplete,
                        format!(
                            "the owner search stopped after its budget of {} s with {} of {} \
                             candidates checked; the holder may be among the rest",
                            budget.as_secs(),
                            progress.checked,
                            candidates.known(),
                        ),
                    ));
                    break None;
                }
                Some((chunk, result)) = batches.next(), if !batches.is_empty() => {
                    let mut throttled_for: Option<Duration> = None;
                    let mut throttled = false;
                    let mut admitted = 0;
                    match result {
                        Ok(answers) => {
                            let mut found = None;
                            for answer in answers {
                                let Some(candidate) = answer
                                    .id
                                    .parse::<usize>()
                                    .ok()
                                    .and_then(|index| chunk.get(index))
                                else {
                                    continue;
                                };
                                if answer.status != 429 {
                                    admitted += 1;
                                }
                                match answer.status {
                                    200..=299 => {
                                        progress.checked += 1;
                                        let Ok(methods) = graph.phone_methods_from_batch(answer.body) else {
                                            continue;
                                        };
                                        for method in &methods {
                                            if method.sms_sign_in_state.as_deref() == Some("ready") {
                                                learned.push((
                                                    method.number.digits(),
                                                    conflict_owner(&candidate.user, method, None),
                                                ));
                                            }
                                        }
                                        if let Some(method) = methods.iter().find(|method| holds(method, number)) {
                                            found = Some((candidate.user.clone(), method.clone()));
                                        } else if methods.iter().any(|method| number.is(&method.number)) {
                                            mfa_only.push(candidate.user.clone());
                                        }
                                    }
                                    429 => {
                                        throttled = true;
                                        progress.throttled += 1;
                                        throttled_for = throttled_for.max(answer.retry_after);
                                        candidates.throttled(candidate.clone());
                                    }
                                    // Deleted since it was listed: nothing to check.
                                    404 => progress.checked += 1,
                                    401 | 403 => {
                                        complete = false;
                                        warnings.push((
                                            WarningCode::OwnerSearchIncomplete,
                                            format!(
                                                "the owner search could not read phone methods \
                                                 ({} refused): grant {}",
                                                answer.status,
                                                GraphOperation::ReadPhoneMethods.permission()
                                            ),
                                        ));
                                        break;
                                    }
                                    _ => {
                                        throttled = true;
                                        if !candidates.failed(candidate.clone()) {
                                            progress.unreadable += 1;
                                        }
                                    }
                                }
                            }
                            if let Some(found) = found {
                                break Some(found);
                            }
                            if !complete {
                                break None;
                            }
                        }
                        Err(error) => match error.kind {
                            GraphErrorKind::Unavailable { retry_after, .. } => {
                                progress.throttled += 1;
                                throttled = true;
                                throttled_for = retry_after;
                                for candidate in chunk {
                                    if !candidates.failed(candidate) {
                                        progress.unreadable += 1;
                                    }
                                }
                            }
                            _ => {
                                warnings.push((
                                    WarningCode::OwnerSearchIncomplete,
                                    format!("the owner search stopped: {error}"),
                                ));
                                complete = false;
                                break None;
                            }
                        },
                    }
                    pacer.answered(admitted, throttled, Instant::now());
                    if throttled {
                        // Multiplicative decrease, and no new batch before Graph's Retry-After.
                        in_flight_limit = (in_flight_limit / 2).max(1);
                        let until = Instant::now() + throttled_for.unwrap_or(DEFAULT_THROTTLE_PAUSE);
                        resume_at = Some(resume_at.map_or(until, |current| current.max(until)));
                    } else {
                        in_flight_limit = (in_flight_limit + 1).min(max_in_flight);
                    }
                }
                result = poll_page(&mut report_page), if report_page.is_some() => {
                    report_page = None;
                    candidates.open_directory();
                    match result {
                        Ok(read) => {
                            progress.pages += 1;
                            candidates.add(read.users, Source::Report);
                            report_next = read.next;
                        }
                        Err(error) => {
                            let message = match &error.kind {
                                GraphErrorKind::Forbidden { code, .. }
                                    if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" =>
                                {
                                    "the registration details report needs an Entra ID P1 or P2 \
                                     licence, which the tenant lacks, so the owner search reads \
                                     every user instead, which takes longer"
                                        .to_owned()
                                }
                                GraphErrorKind::Forbidden { status, code } => format!(
                                    "Graph refused the registration details report ({status} \
                                     {code}; it needs {}), so the owner search reads every user \
                                     instead, which takes longer",
                                    GraphOperation::ReadRegistrationReport.permission()
                                ),
                                _ => format!(
                                    "the registration details report could not be read ({error}), \
                                     so the owner search reads every user instead"
                                ),
                            };
                            journal.warn(format!("Warning: {message}"));
                            warnings.push((WarningCode::OwnerSearchFallback, message));
                        }
                    }
                }
                result = poll_page(&mut directory_page), if directory_page.is_some() => {
                    directory_page = None;
                    match result {
                        Ok(read) => {
                            progress.pages += 1;
                            candidates.add(read.users, Source::Directory);
                            directory_next = read.next;
                        }
                        Err(error) => {
                            complete = false;
                            warnings.push((
                                WarningCode::OwnerSearchIncomplete,
                                format!("the owner search could not list every user: {error}"),
                            ));
                        }
                    }
                }
                () = sleep_until_option(wake_at), if wake_at.is_some() => {
                    if resume_at.is_some_and(|until| until <= Instant::now()) {
                        resume_at = None;
                    }
                }
                () = tokio::time::sleep_until(next_progress) => {
                    next_progress += PROGRESS_EVERY;
                    journal.record(format!(
                        "Owner search: {} s in, {} pages read, {} of {} candidates checked, \
                         {} throttled answers",
                        started.elapsed().as_secs(),
                        progress.pages,
                        progress.checked,
                        candidates.known(),
                        progress.throttled
                    ));
                }
            }
        };
        journal.record(format!(
            "Owner search: finished in {:.1} s: {} pages, {} candidates checked in {} batches, {} \
             throttled answers",
            started.elapsed().as_secs_f64(),
            progress.pages,
            progress.checked,
            progress.batches,
            progress.throttled
        ));
        if let Some((user, method)) = found {
            let account_enabled = graph
                .user(&UserRef::ObjectId(user.id.clone()))
                .await
                .ok()
                .and_then(|directory_user| directory_user.account_enabled);
            let owner = conflict_owner(&user, &method, account_enabled);
            learned.push((number.digits(), owner.clone()));
            return (
                SearchOutcome {
                    owner: Some(owner),
                    warnings,
                },
                learned,
            );
        }
        if !mfa_only.is_empty() {
            let names: Vec<&str> = mfa_only
                .iter()
                .take(5)
                .map(|user| user.user_principal_name.as_deref().unwrap_or(&user.id))
                .collect();
            warnings.push((
                WarningCode::ConflictOwnerNotFound,
                format!(
                    "{} other user(s) have the number as an MFA phone without SMS sign-in ({}); \
                     none holds it for SMS sign-in",
                    mfa_only.len(),
                    names.join(", ")
                ),
            ));
        }
        if progress.unreadable > 0 {
            complete = false;
            warnings.push((
                WarningCode::OwnerSearchIncomplete,
                format!(
                    "the phone methods of {} candidate(s) could not be read, so the holder may be \
                     among them",
                    progress.unreadable
                ),
            ));
        }
        if complete {
            warnings.push((
                WarningCode::ConflictOwnerNotFound,
                "no visible user holds the number for SMS sign-in: it may be held by a deleted \
                 or soft-deleted user"
                    .to_owned(),
            ));
        }
        (
            SearchOutcome {
                owner: None,
                warnings,
            },
            learned,
        )
    }

    fn remembered(&self, key: &str) -> Option<ConflictOwner> {
        let memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        memory
            .get(key)
            .filter(|remembered| remembered.until > Instant::now())
            .map(|remembered| remembered.owner.clone())
    }

    fn remember(&self, learned: Vec<(String, ConflictOwner)>) {
        if self.settings.remember_for.is_zero() || learned.is_empty() {
            return;
        }
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        memory.retain(|_, remembered| remembered.until > now);
        let until = now + self.settings.remember_for;
        for (digits, owner) in learned {
            if memory.len() >= MAX_REMEMBERED && !memory.contains_key(&digits) {
                break;
            }
            memory.insert(digits, Remembered { owner, until });
        }
    }

    fn forget(&self, key: &str) {
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        memory.remove(key);
    }
}

/// How many numbers the memory holds at most (about 200 bytes each).
const MAX_REMEMBERED: usize = 200_000;

fn conflict_owner(
    user: &RegisteredUser,
    method: &PhoneMethod,
    account_enabled: Option<bool>,
) -> ConflictOwner {
    ConflictOwner {
        id: user.id.clone(),
        user_principal_name: user.user_principal_name.clone(),
        display_name: user.display_name.clone(),
        phone_type: method.phone_type.as_str().to_owned(),
        sms_sign_in_state: method.sms_sign_in_state.clone(),
        account_enabled,
    }
}

/// Whether `method` holds `number` for SMS sign-in.
fn holds(method: &PhoneMethod, number: &PhoneNumber) -> bool {
    number.is(&method.number) && method.sms_sign_in_state.as_deref() == Some("ready")
}

/// Where a candidate came from: the report lists users with a mobile phone (checked first);
/// the directory lists everyone (checked when the report has nothing waiting, and after it,
/// because the report can be hours behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Report,
    Directory,
}

/// What happened to a candidate so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progression {
    Waiting(Source),
    Taken,
}

/// The candidates known so far, each checked once: report candidates first.
struct Candidates {
    report: VecDeque<Candidate>,
    directory: VecDeque<Candidate>,
    /// The target user, left out: their own number is not a conflict.
    target: String,
    state: HashMap<String, Progression>,
    /// Directory candidates are checked only once the report has answered (with a page or a
    /// refusal), so report candidates really go first.
    directory_open: bool,
}

impl Candidates {
    fn new(target: &str) -> Candidates {
        Candidates {
            report: VecDeque::new(),
            directory: VecDeque::new(),
            target: target.to_lowercase(),
            state: HashMap::new(),
            directory_open: false,
        }
    }

    fn add(&mut self, users: Vec<RegisteredUser>, source: Source) {
        for user in users {
            let key = user.id.to_lowercase();
            if key == self.target {
                continue;
            }
            let queue = match (self.state.get(&key), source) {
                (None, Source::Report)
                | (Some(Progression::Waiting(Source::Directory)), Source::Report) => {
                    &mut self.report
                }
                (None, Source::Directory) => &mut self.directory,
                _ => continue,
            };
            self.state.insert(key, Progression::Waiting(source));
            queue.push_back(Candidate { user, retries: 0 });
        }
    }

    /// Up to `size` candidates to check next, report candidates first.
    fn next_batch(&mut self, size: usize) -> Vec<Candidate> {
        let mut batch = Vec::with_capacity(size);
        for source in [Source::Report, Source::Directory] {
            if source == Source::Directory && !self.directory_open {
                break;
            }
            while batch.len() < size {
                let queue = match source {
                    Source::Report => &mut self.report,
                    Source::Directory => &mut self.directory,
                };
                let Some(candidate) = queue.pop_front() else {
                    break;
                };
                let key = candidate.user.id.to_lowercase();
                // A directory entry promoted to the report queue is taken from there.
                if self.state.get(&key) == Some(&Progression::Waiting(source)) {
                    self.state.insert(key, Progression::Taken);
                    batch.push(candidate);
                }
            }
        }
        batch
    }

    /// Puts a candidate Graph throttled back at the front: it is asked again, however often
    /// (the search's budget bounds the whole).
    fn throttled(&mut self, candidate: Candidate) {
        self.state.insert(
            candidate.user.id.to_lowercase(),
            Progression::Waiting(Source::Report),
        );
        self.report.push_front(candidate);
    }

    /// Puts a candidate whose read failed for another transient reason back, a few times;
    /// `false` when it has used up its retries and stays unread.
    #[must_use]
    fn failed(&mut self, candidate: Candidate) -> bool {
        if candidate.retries >= MAX_ITEM_RETRIES {
            return false;
        }
        self.throttled(Candidate {
            retries: candidate.retries + 1,
            ..candidate
        });
        true
    }

    fn open_directory(&mut self) {
        self.directory_open = true;
    }

    fn is_empty(&self) -> bool {
        self.report.is_empty() && self.directory.is_empty()
    }

    /// How many distinct users the search knows of.
    fn known(&self) -> usize {
        self.state.len()
    }
}

/// Paces batch launches, once Graph has throttled, to the rate at which it admits items, so
/// the search runs at the bucket's refill rate instead of colliding with it: the rate starts
/// at what Graph admitted over the last seconds, shrinks by a tenth on every throttled batch and
/// grows by a little on every batch Graph serves in full.
#[derive(Default)]
struct Pacer {
    /// Items per second; `None` until Graph first throttles.
    rate: Option<f64>,
    /// The earliest start of the next batch.
    slot: Option<Instant>,
    /// Items Graph admitted recently, by when.
    admitted: VecDeque<(Instant, usize)>,
    /// When the first batch went out, so an early measurement divides by the time it covers.
    first_launch: Option<Instant>,
}

/// How far back the pacer looks to measure what Graph admits.
const PACE_WINDOW: Duration = Duration::from_secs(2);
/// The slowest pace: one batch a second.
const MIN_PACE: f64 = BATCH_SIZE as f64;
/// Growth per fully served batch, and the cut per throttled one.
const PACE_GROWTH: f64 = 1.005;
const PACE_CUT: f64 = 0.9;

impl Pacer {
    fn next_slot(&self) -> Option<Instant> {
        self.slot
    }

    fn launched(&mut self, items: usize, now: Instant) {
        self.first_launch.get_or_insert(now);
        if let Some(rate) = self.rate {
            let start = self.slot.map_or(now, |slot| slot.max(now));
            self.slot = Some(start + Duration::from_secs_f64(items as f64 / rate));
        }
    }

    fn answered(&mut self, admitted: usize, throttled: bool, now: Instant) {
        self.admitted.push_back((now, admitted));
        while self
            .admitted
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > PACE_WINDOW)
        {
            self.admitted.pop_front();
        }
        if throttled {
            let covered = self
                .first_launch
                .map_or(PACE_WINDOW, |first| {
                    now.duration_since(first).min(PACE_WINDOW)
                })
                .max(Duration::from_millis(50));
            let admitted: usize = self.admitted.iter().map(|(_, items)| *items).sum();
            let measured = admitted as f64 / covered.as_secs_f64();
            let rate = self
                .rate
                .map_or(measured, |rate| rate.min(measured.max(MIN_PACE)));
            self.rate = Some((rate * PACE_CUT).max(MIN_PACE));
        } else if let Some(rate) = self.rate {
            self.rate = Some(rate * PACE_GROWTH);
        }
    }
}

async fn poll_page(page: &mut Option<PageFuture<'_>>) -> Result<RegistrationPage, GraphError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> RegisteredUser {
        RegisteredUser {
            id: id.to_owned(),
            user_principal_name: None,
            display_name: None,
        }
    }

    fn ids(batch: &[Candidate]) -> Vec<&str> {
        batch
            .iter()
            .map(|candidate| candidate.user.id.as_str())
            .collect()
    }

    #[test]
    fn report_candidates_go_first_and_each_candidate_is_checked_once() {
        let mut candidates = Candidates::new("TARGET");
        candidates.add(
            vec![user("d1"), user("d2"), user("target")],
            Source::Directory,
        );
        candidates.add(vec![user("r1"), user("d2")], Source::Report);
        assert_eq!(
            ids(&candidates.next_batch(10)),
            ["r1", "d2"],
            "the directory waits for the report"
        );
        candidates.open_directory();
        assert_eq!(ids(&candidates.next_batch(10)), ["d1"]);
        candidates.add(vec![user("d1"), user("r1")], Source::Report);
        assert!(candidates.next_batch(10).is_empty(), "already taken");
        assert_eq!(candidates.known(), 3);
    }

    #[test]
    fn throttled_candidates_come_back_first_and_are_never_dropped() {
        let mut candidates = Candidates::new("target");
        candidates.add(vec![user("a"), user("b")], Source::Report);
        let first = candidates.next_batch(1);
        for _ in 0..(MAX_ITEM_RETRIES * 3) {
            candidates.throttled(first[0].clone());
            assert_eq!(ids(&candidates.next_batch(1)), ["a"]);
        }
        let mut failing = candidates.next_batch(1).remove(0);
        for _ in 0..MAX_ITEM_RETRIES {
            assert!(candidates.failed(failing));
            failing = candidates.next_batch(1).remove(0);
        }
        assert!(
            !candidates.failed(failing),
            "given up: the caller counts it unread"
        );
        assert!(
            candidates.is_empty(),
            "other failures are retried a bounded number of times"
        );
    }

    #[test]
    fn the_pacer_settles_near_the_rate_graph_admits() {
        let start = Instant::now();
        let mut pacer = Pacer::default();
        pacer.launched(20, start);
        assert_eq!(pacer.next_slot(), None, "no pace before the first throttle");
        // Graph admitted 100 items in the first 0.5 s, then throttled.
        pacer.answered(100, false, start + Duration::from_millis(250));
        pacer.answered(0, true, start + Duration::from_millis(500));
        let rate = pacer.rate.unwrap();
        assert!((rate - 180.0).abs() < 1.0, "{rate}");
        let now = start + Duration::from_millis(500);
        pacer.launched(20, now);
        let slot = pacer.next_slot().unwrap();
        assert_eq!(
            slot.duration_since(now),
            Duration::from_secs_f64(20.0 / rate)
        );
        pacer.answered(20, false, now);
        assert!(
            pacer.rate.unwrap() > rate,
            "a fully served batch lets the pace grow"
        );
        for _ in 0..100 {
            pacer.answered(0, true, now);
        }
        assert_eq!(pacer.rate, Some(MIN_PACE));
    }
}
