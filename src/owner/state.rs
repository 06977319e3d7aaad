//! Keeps what a scan knows between two answers ([`ScanState`]) and changes it with each
//! answer: one step function per kind of answer (a batch, a page of either list, the budget
//! running out). No IO and no clock: the driver in [`super::scan`] passes the instant in.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use super::candidates::{Candidate, Candidates, Source};
use super::pacer::Pacer;
use super::{BATCH_SIZE, conflict_owner, holds};
use crate::graph::{CandidatePage, Denial, GraphError, GraphErrorKind, GraphOperation, ListedUser};
use crate::phone::{PhoneMethod, PhoneNumber, SmsSignInState};
use crate::report::{ConflictOwner, WarningCode};
use crate::user::UserRef;

/// Batches in flight when a search starts; it grows by one per unthrottled batch.
const INITIAL_BATCHES_IN_FLIGHT: usize = 4;
/// The pause before new batches when Graph throttles without saying how long.
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// Every phone methods read of one batch: by the candidate's index in the batch, the methods
/// or why they could not be read; or why the batch as a whole failed.
pub(super) type BatchResult =
    Result<Vec<(usize, Result<Vec<PhoneMethod>, GraphError>)>, GraphError>;

/// What a scan found besides the holder.
pub(super) struct Findings {
    pub warnings: Vec<(WarningCode, String)>,
    /// Every number read held for SMS sign-in, by digits, with its holder.
    pub learned: Vec<(String, ConflictOwner)>,
}

/// What the scan should do after a step.
#[derive(Debug)]
pub(super) enum Step {
    Continue,
    /// The holder is found.
    Found(ListedUser, PhoneMethod),
    /// Nothing more can be learned (a refusal that applies to every candidate).
    Stop,
}

/// What one batch's answers add up to, for the pacing.
#[derive(Default)]
struct Tally {
    /// The longest `Retry-After` Graph gave.
    throttled_for: Option<Duration>,
    throttled: bool,
    /// How many reads Graph served (and counted against its limit).
    admitted: usize,
    /// The holder, when one of the answers showed them.
    found: Option<(ListedUser, PhoneMethod)>,
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

    /// Takes the candidates of the next batch, if one may start now with `in_flight` running.
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

    /// Says when a pause or the pace lets the next batch go, if one is waiting for it.
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
        let mut tally = Tally::default();
        match answer {
            Ok(items) => {
                let mut answered = vec![false; chunk.len()];
                for (index, result) in items {
                    let Some(candidate) = chunk.get(index) else {
                        continue;
                    };
                    answered[index] = true;
                    if let ControlFlow::Break(step) =
                        self.absorb_item(number, candidate, result, &mut tally)
                    {
                        return step;
                    }
                }
                if let Some((user, method)) = tally.found {
                    return Step::Found(user, method);
                }
                // A candidate Graph's answer left out was not read, so it is asked again, a few
                // times.
                for (candidate, _) in chunk.iter().zip(answered).filter(|(_, seen)| !seen) {
                    if !self.candidates.failed(candidate.clone()) {
                        self.progress.unreadable += 1;
                    }
                }
            }
            Err(error) => match error.kind {
                GraphErrorKind::Unavailable { retry_after, .. } => {
                    self.progress.throttled += 1;
                    tally.throttled = true;
                    tally.throttled_for = retry_after;
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
        self.pace(&tally, now);
        Step::Continue
    }

    /// Takes in one candidate's answer within a batch; `Break` stops the search.
    fn absorb_item(
        &mut self,
        number: &PhoneNumber,
        candidate: &Candidate,
        result: Result<Vec<PhoneMethod>, GraphError>,
        tally: &mut Tally,
    ) -> ControlFlow<Step> {
        match result {
            Ok(methods) => {
                tally.admitted += 1;
                self.progress.checked += 1;
                for method in &methods {
                    if method.sms_sign_in_state == Some(SmsSignInState::Ready) {
                        self.learned.push((
                            method.number.digits(),
                            conflict_owner(&candidate.user, method, None),
                        ));
                    }
                }
                if let Some(method) = methods.iter().find(|method| holds(method, number)) {
                    tally.found = Some((candidate.user.clone(), method.clone()));
                } else if methods.iter().any(|method| number.matches(&method.number)) {
                    self.mfa_only.push(candidate.user.clone());
                }
            }
            Err(error) if error.kind.is_throttled() => {
                tally.throttled = true;
                self.progress.throttled += 1;
                if let GraphErrorKind::Unavailable { retry_after, .. } = error.kind {
                    tally.throttled_for = tally.throttled_for.max(retry_after);
                }
                self.candidates.throttled(candidate.clone());
            }
            // The user was deleted since it was listed, so there is nothing to check.
            Err(GraphError {
                kind: GraphErrorKind::NotFound { .. },
                ..
            }) => {
                tally.admitted += 1;
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
                        "the owner search could not read phone methods ({} refused): grant {}",
                        kind.answer().unwrap_or_default(),
                        GraphOperation::ReadPhoneMethods.permission()
                    ),
                ));
                return ControlFlow::Break(Step::Stop);
            }
            Err(_) => {
                tally.admitted += 1;
                tally.throttled = true;
                if !self.candidates.failed(candidate.clone()) {
                    self.progress.unreadable += 1;
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Paces the next batches by how Graph served this one: on throttling, multiplicative
    /// decrease, and no new batch before Graph's Retry-After; otherwise one more in flight.
    fn pace(&mut self, tally: &Tally, now: Instant) {
        self.pacer.answered(tally.admitted, tally.throttled, now);
        if tally.throttled {
            self.in_flight_limit = (self.in_flight_limit / 2).max(1);
            let until = now + tally.throttled_for.unwrap_or(DEFAULT_THROTTLE_PAUSE);
            self.resume_at = Some(self.resume_at.map_or(until, |current| current.max(until)));
        } else {
            self.in_flight_limit = (self.in_flight_limit + 1).min(self.max_in_flight);
        }
    }

    /// Takes in a page of the registration report. On a failure the search goes on with the
    /// user list alone, and says so.
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

    /// Records that the search's budget is spent.
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

    pub(super) fn progress_line(&self, elapsed: Duration) -> String {
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

    pub(super) fn summary_line(&self, elapsed: Duration) -> String {
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

    /// Takes the next page of the registration report to read, if one is due.
    pub(super) fn take_report_next(&mut self) -> Option<Url> {
        self.report_next.take()
    }

    /// Takes the next page of the user list to read, if one is due.
    pub(super) fn take_directory_next(&mut self) -> Option<Url> {
        self.directory_next.take()
    }

    /// Remembers that `owner` holds the number with these digits for SMS sign-in.
    pub(super) fn learn(&mut self, digits: String, owner: ConflictOwner) {
        self.learned.push((digits, owner));
    }

    /// Returns the warnings to report, and every number learned held for SMS sign-in.
    pub(super) fn into_findings(self) -> Findings {
        Findings {
            warnings: self.warnings,
            learned: self.learned,
        }
    }

    /// Adds the warnings of a search that did not find the holder, after what it has seen.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{PhoneType, RegisteredNumber};

    const NUMBER: &str = "+49 1701234567";

    fn state() -> ScanState {
        let url = Url::parse("https://graph.example/v1.0/users").unwrap();
        let target = UserRef::ObjectId("00000000-0000-0000-0000-000000000000".to_owned());
        let mut state = ScanState::new(&target, 16, url.clone(), url);
        state.take_report_next();
        state.take_directory_next();
        state
    }

    fn page(ids: &[&str]) -> Result<CandidatePage, GraphError> {
        Ok(CandidatePage {
            users: ids
                .iter()
                .map(|id| ListedUser {
                    id: (*id).to_owned(),
                    user_principal_name: Some(format!("{id}@contoso.example")),
                    display_name: None,
                })
                .collect(),
            next: None,
        })
    }

    fn mobile(number: &str, state: SmsSignInState) -> PhoneMethod {
        PhoneMethod {
            phone_type: PhoneType::Mobile,
            number: RegisteredNumber::new(number),
            sms_sign_in_state: Some(state),
        }
    }

    fn failed(kind: GraphErrorKind) -> Result<Vec<PhoneMethod>, GraphError> {
        Err(GraphError {
            operation: GraphOperation::ReadPhoneMethods,
            kind,
        })
    }

    fn throttled(seconds: u64) -> Result<Vec<PhoneMethod>, GraphError> {
        failed(GraphErrorKind::Unavailable {
            retry_after: Some(Duration::from_secs(seconds)),
            detail: "429 TooManyRequests".to_owned(),
            throttled: true,
        })
    }

    #[test]
    fn a_batch_with_the_holder_finds_them_and_learns_every_sms_number() {
        let number = PhoneNumber::parse(NUMBER).unwrap();
        let mut state = state();
        state.absorb_report_page(page(&["a", "b", "c"]));
        let now = Instant::now();
        let chunk = state.next_chunk(0, now).unwrap();
        assert_eq!(chunk.len(), 3);
        let answer = Ok(vec![
            (0, Ok(vec![mobile("+49 1709999999", SmsSignInState::Ready)])),
            (1, Ok(vec![mobile(NUMBER, SmsSignInState::NotEnabled)])),
            (2, Ok(vec![mobile(NUMBER, SmsSignInState::Ready)])),
        ]);
        match state.absorb(&number, chunk, answer, now) {
            Step::Found(user, method) => {
                assert_eq!(user.id, "c");
                assert_eq!(method.sms_sign_in_state, Some(SmsSignInState::Ready));
            }
            other => panic!("{other:?}"),
        }
        let learned = state.into_findings().learned;
        let digits: Vec<&str> = learned.iter().map(|(digits, _)| digits.as_str()).collect();
        assert_eq!(digits, ["491709999999", "491701234567"]);
    }

    #[test]
    fn a_throttled_item_comes_back_after_graphs_retry_after_with_fewer_batches_in_flight() {
        let number = PhoneNumber::parse(NUMBER).unwrap();
        let mut state = state();
        state.absorb_report_page(page(&["a", "b"]));
        let now = Instant::now();
        let chunk = state.next_chunk(0, now).unwrap();
        let answer = Ok(vec![(0, throttled(3)), (1, Ok(Vec::new()))]);
        assert!(matches!(
            state.absorb(&number, chunk, answer, now),
            Step::Continue
        ));
        assert!(state.next_chunk(0, now).is_none(), "paused for Retry-After");
        assert_eq!(
            state.wake_at(0, now),
            Some(now + Duration::from_secs(3)),
            "woken when the pause ends"
        );
        let later = now + Duration::from_secs(3);
        state.woke(later);
        let again = state.next_chunk(0, later).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].user.id, "a");
        assert!(
            state.next_chunk(state.in_flight_limit, later).is_none(),
            "the in-flight limit was cut"
        );
        assert_eq!(state.in_flight_limit, 2);
    }

    #[test]
    fn a_refused_read_stops_the_scan_and_never_claims_nobody_holds_the_number() {
        let number = PhoneNumber::parse(NUMBER).unwrap();
        let mut state = state();
        state.absorb_report_page(page(&["a"]));
        let now = Instant::now();
        let chunk = state.next_chunk(0, now).unwrap();
        let answer = Ok(vec![(
            0,
            failed(GraphErrorKind::Forbidden {
                status: 403,
                code: "accessDenied".to_owned(),
                denial: Denial::Permission,
            }),
        )]);
        assert!(matches!(
            state.absorb(&number, chunk, answer, now),
            Step::Stop
        ));
        state.conclude_not_found();
        let warnings = state.into_findings().warnings;
        let codes: Vec<WarningCode> = warnings.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, [WarningCode::OwnerSearchIncomplete]);
        assert!(
            warnings[0].1.contains("403 accessDenied"),
            "{:?}",
            warnings[0]
        );
    }

    #[test]
    fn candidates_left_out_of_an_answer_or_unreadable_count_as_unread() {
        let number = PhoneNumber::parse(NUMBER).unwrap();
        let mut state = state();
        state.absorb_report_page(page(&["a", "b"]));
        let mut now = Instant::now();
        for _ in 0..=super::super::candidates::MAX_ITEM_RETRIES {
            // Each round starts later, past any pause the last answer asked for.
            now += Duration::from_secs(60);
            let Some(chunk) = state.next_chunk(0, now) else {
                break;
            };
            let malformed = || {
                failed(GraphErrorKind::Malformed {
                    detail: "not a collection".to_owned(),
                })
            };
            // "a" is never in the answer; "b" always answers with something unreadable.
            let items = chunk
                .iter()
                .enumerate()
                .filter(|(_, candidate)| candidate.user.id == "b")
                .map(|(index, _)| (index, malformed()))
                .collect();
            assert!(matches!(
                state.absorb(&number, chunk, Ok(items), now),
                Step::Continue
            ));
        }
        assert!(state.exhausted());
        state.conclude_not_found();
        let warnings = state.into_findings().warnings;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].0, WarningCode::OwnerSearchIncomplete);
        assert!(warnings[0].1.contains("2 candidate(s)"), "{warnings:?}");
    }

    #[test]
    fn a_report_the_tenant_is_not_licensed_for_falls_back_to_the_user_list() {
        let mut state = state();
        state.absorb_report_page(Err(GraphError {
            operation: GraphOperation::ReadRegistrationReport,
            kind: GraphErrorKind::Forbidden {
                status: 403,
                code: "(the licence code)".to_owned(),
                denial: Denial::Licence,
            },
        }));
        state.absorb_directory_page(page(&["d"]));
        let chunk = state.next_chunk(0, Instant::now()).unwrap();
        assert_eq!(
            chunk[0].user.id, "d",
            "the user list is read once the report answered"
        );
        let warnings = state.into_findings().warnings;
        assert_eq!(warnings[0].0, WarningCode::OwnerSearchFallback);
        assert!(warnings[0].1.contains("P1 or P2"), "{:?}", warnings[0]);
    }
}
