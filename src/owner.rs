//! The owner search: who holds a number for SMS sign-in, when Graph refused to set it for our
//! user with 409 `phoneNumberNotUnique`.
//!
//! Graph has no "who has this number" query, so the search reads every candidate's phone
//! methods. Candidates come from the registration details report (users with a mobile phone
//! registered), page by page; while the next page is read, the candidates already known are
//! checked in `$batch` requests of 20, several in flight. The number of batches in flight
//! follows Graph: halved when it throttles (and no new batch starts before its `Retry-After`),
//! grown by one after each batch it serves without throttling. The search stops at the first
//! user who holds the number for SMS sign-in (that holder is unique), when its time budget is
//! spent, or when every candidate is checked. Found holders are remembered for a while, so a
//! second conflict on the same number costs one verifying read.

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
pub enum SearchOutcome {
    Found(ConflictOwner),
    /// Every candidate was checked; nobody visible holds the number for SMS sign-in.
    NotFound {
        warnings: Vec<(WarningCode, String)>,
    },
    /// The search stopped early (budget, permission, Graph unavailable).
    Incomplete {
        warnings: Vec<(WarningCode, String)>,
    },
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
/// The pause before new batches when Graph throttles without saying how long.
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);
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
    candidates: usize,
    checked: usize,
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
        journal: &mut Journal,
    ) -> SearchOutcome {
        if !self.settings.enabled {
            return SearchOutcome::NotFound {
                warnings: vec![(
                    WarningCode::OwnerSearchDisabled,
                    "the search for the user holding the number is switched off \
                     (MFA_OWNER_SEARCH=false)"
                        .to_owned(),
                )],
            };
        }
        let key = number.graph_format();
        if let Some(remembered) = self.remembered(&key) {
            journal.record(format!(
                "Owner search: checking {} first, who held {number} when last searched",
                remembered
                    .user_principal_name
                    .as_deref()
                    .unwrap_or(&remembered.id)
            ));
            let holder = UserRef::ObjectId(remembered.id.clone());
            if let Ok(methods) = graph.phone_methods(&holder).await
                && let Some(method) = methods.iter().find(|method| holds(method, number))
            {
                return SearchOutcome::Found(ConflictOwner {
                    phone_type: method.phone_type.as_str().to_owned(),
                    sms_sign_in_state: method.sms_sign_in_state.clone(),
                    ..remembered
                });
            }
            self.forget(&key);
        }
        let outcome = self.scan(graph, number, target, journal).await;
        if let SearchOutcome::Found(owner) = &outcome {
            self.remember(key, owner.clone());
        }
        outcome
    }

    async fn scan(
        &self,
        graph: &GraphClient,
        number: &PhoneNumber,
        target: &UserRef,
        journal: &mut Journal,
    ) -> SearchOutcome {
        let started = Instant::now();
        let deadline = started + self.settings.budget;
        let max_in_flight = self.settings.max_batches_in_flight.max(1);
        let mut in_flight_limit = max_in_flight.min(4);
        let mut source = GraphOperation::ReadRegistrationReport;
        let mut next_page: Option<Url> = Some(graph.registration_report_url());
        let mut page: Option<PageFuture<'_>> = None;
        let mut pending: VecDeque<Candidate> = VecDeque::new();
        let mut batches: FuturesUnordered<BatchFuture<'_>> = FuturesUnordered::new();
        let mut resume_at: Option<Instant> = None;
        let mut progress = Progress::default();
        let mut warnings: Vec<(WarningCode, String)> = Vec::new();
        let mut complete = true;
        let mut mfa_only: Vec<RegisteredUser> = Vec::new();
        let mut next_progress = started + PROGRESS_EVERY;
        journal.record(format!(
            "Owner search: looking for the user who holds {number} for SMS sign-in (budget {} s)",
            self.settings.budget.as_secs()
        ));
        let found = loop {
            if page.is_none()
                && let Some(url) = next_page.take()
            {
                page = Some(Box::pin(graph.candidate_page(source, url)));
            }
            let paused = resume_at.is_some_and(|until| Instant::now() < until);
            while !paused && batches.len() < in_flight_limit && !pending.is_empty() {
                let take = pending.len().min(BATCH_SIZE);
                let chunk: Vec<Candidate> = pending.drain(..take).collect();
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
            if page.is_none() && pending.is_empty() && batches.is_empty() {
                break None;
            }
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(deadline) => {
                    complete = false;
                    warnings.push((
                        WarningCode::OwnerSearchIncomplete,
                        format!(
                            "the owner search stopped after its budget of {} s with {} of {} \
                             candidates checked; the holder may be among the rest",
                            self.settings.budget.as_secs(),
                            progress.checked,
                            progress.candidates + pending.len().saturating_sub(0),
                        ),
                    ));
                    break None;
                }
                Some((chunk, result)) = batches.next(), if !batches.is_empty() => {
                    match result {
                        Ok(answers) => {
                            let mut throttled_for: Option<Duration> = None;
                            let mut throttled = false;
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
                                match answer.status {
                                    200..=299 => {
                                        progress.checked += 1;
                                        let Ok(methods) = graph.phone_methods_from_batch(answer.body) else {
                                            continue;
                                        };
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
                                        pending.push_front(candidate.clone());
                                    }
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
                                        pending.clear();
                                        next_page = None;
                                        page = None;
                                    }
                                    _ if candidate.retries < MAX_ITEM_RETRIES => {
                                        throttled = true;
                                        pending.push_back(Candidate {
                                            retries: candidate.retries + 1,
                                            ..candidate.clone()
                                        });
                                    }
                                    _ => progress.checked += 1,
                                }
                            }
                            if let Some(found) = found {
                                break Some(found);
                            }
                            if throttled {
                                in_flight_limit = (in_flight_limit / 2).max(1);
                                let pause = throttled_for.unwrap_or(DEFAULT_THROTTLE_PAUSE);
                                let until = Instant::now() + pause;
                                resume_at = Some(resume_at.map_or(until, |current| current.max(until)));
                            } else {
                                in_flight_limit = (in_flight_limit + 1).min(max_in_flight);
                            }
                        }
                        Err(error) => match error.kind {
                            GraphErrorKind::Unavailable { retry_after, .. } => {
                                progress.throttled += 1;
                                in_flight_limit = (in_flight_limit / 2).max(1);
                                let until = Instant::now() + retry_after.unwrap_or(DEFAULT_THROTTLE_PAUSE);
                                resume_at = Some(resume_at.map_or(until, |current| current.max(until)));
                                for candidate in chunk.into_iter().rev() {
                                    if candidate.retries < MAX_ITEM_RETRIES {
                                        pending.push_front(Candidate { retries: candidate.retries + 1, ..candidate });
                                    }
                                }
                            }
                            _ => {
                                complete = false;
                                warnings.push((
                                    WarningCode::OwnerSearchIncomplete,
                                    format!("the owner search stopped: {error}"),
                                ));
                                pending.clear();
                                next_page = None;
                                page = None;
                            }
                        },
                    }
                }
                result = async { page.as_mut().expect("guarded by the branch condition").await }, if page.is_some() => {
                    page = None;
                    match result {
                        Ok(read) => {
                            progress.pages += 1;
                            let target_id = target.as_str();
                            let fresh: Vec<Candidate> = read
                                .users
                                .into_iter()
                                .filter(|user| !user.id.eq_ignore_ascii_case(target_id))
                                .map(|user| Candidate { user, retries: 0 })
                                .collect();
                            progress.candidates += fresh.len();
                            pending.extend(fresh);
                            next_page = read.next;
                        }
                        Err(error) if source == GraphOperation::ReadRegistrationReport
                            && matches!(error.kind, GraphErrorKind::Forbidden { .. }) =>
                        {
                            let why = match &error.kind {
                                GraphErrorKind::Forbidden { code, .. }
                                    if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" =>
                                {
                                    "the tenant has no Entra ID P1 or P2 licence".to_owned()
                                }
                                GraphErrorKind::Forbidden { status, code } => format!(
                                    "Graph refused it ({status} {code}); it needs {}",
                                    GraphOperation::ReadRegistrationReport.permission()
                                ),
                                _ => String::new(),
                            };
                            let message = format!(
                                "the registration details report is unavailable ({why}), so \
                                 the owner search reads every user instead, which takes longer"
                            );
                            journal.warn(format!("Warning: {message}"));
                            warnings.push((WarningCode::OwnerSearchFallback, message));
                            source = GraphOperation::ListUsers;
                            next_page = Some(graph.users_url());
                        }
                        Err(error) => {
                            complete = false;
                            warnings.push((
                                WarningCode::OwnerSearchIncomplete,
                                format!(
                                    "the owner search could not read all candidates: {error}"
                                ),
                            ));
                        }
                    }
                }
                () = sleep_until_option(resume_at), if resume_at.is_some() => {
                    resume_at = None;
                }
                () = tokio::time::sleep_until(next_progress) => {
                    next_progress += PROGRESS_EVERY;
                    journal.record(format!(
                        "Owner search: {} s in, {} pages read, {} of {} candidates checked, \
                         {} throttled answers",
                        started.elapsed().as_secs(),
                        progress.pages,
                        progress.checked,
                        progress.candidates,
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
            return SearchOutcome::Found(ConflictOwner {
                id: user.id,
                user_principal_name: user.user_principal_name,
                display_name: user.display_name,
                phone_type: method.phone_type.as_str().to_owned(),
                sms_sign_in_state: method.sms_sign_in_state,
                account_enabled,
            });
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
        if complete {
            warnings.push((
                WarningCode::ConflictOwnerNotFound,
                "no visible user holds the number for SMS sign-in: it may be held by a deleted \
                 or soft-deleted user, or the registration report may lag behind (it can be \
                 hours old)"
                    .to_owned(),
            ));
            SearchOutcome::NotFound { warnings }
        } else {
            SearchOutcome::Incomplete { warnings }
        }
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

    fn remember(&self, key: String, owner: ConflictOwner) {
        if self.settings.remember_for.is_zero() {
            return;
        }
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        memory.retain(|_, remembered| remembered.until > now);
        memory.insert(
            key,
            Remembered {
                owner,
                until: now + self.settings.remember_for,
            },
        );
    }

    fn forget(&self, key: &str) {
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        memory.remove(key);
    }
}

/// Whether `method` holds `number` for SMS sign-in.
fn holds(method: &PhoneMethod, number: &PhoneNumber) -> bool {
    number.is(&method.number) && method.sms_sign_in_state.as_deref() == Some("ready")
}

async fn sleep_until_option(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}
