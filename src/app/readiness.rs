//! The readiness scan in the Function App: three functions on one set of files in the app's
//! storage account ([`crate::storage::scans`]).
//!
//! - `MfaReadinessTimer` (timer trigger, schedule `%MFA_READINESS_SCHEDULE%`) runs a scan with
//!   the managed identity and keeps its files.
//! - `MfaReadiness` (HTTP, route `readiness`): GET serves the latest scan to a caller with
//!   `MfaPhone.Read` (the dashboard to a browser; `?format=csv|json|cleanup|html`, or Accept),
//!   a kept scan's files with `?folder=`, and a run's status with `?scan=`; POST (with
//!   `MfaPhone.ReadWrite`) asks for a scan now: the run is recorded as queued, a message goes
//!   to the queue `mfa-phone-readiness`, and the answer is 202 with the status URL to follow.
//!   Nothing is left running after an answer.
//! - `MfaReadinessQueue` (queue trigger) runs the scan a POST asked for.
//!
//! One scan runs at a time across the app (a blob lease); a run that finds another under way
//! is recorded as skipped, naming it.

mod run;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use self::run::{Ended, RunStatus, is_folder, now_seconds, record};
use super::{AppState, invocation_id, read_envelope};
use crate::caller::{Access, Identified};
use crate::host::{self, Envelope, HttpTriggerRequest, QueueMessage};
use crate::phone::CleanupKey;
use crate::readiness::output::{CLEANUP_CSV, READINESS_CSV, READINESS_HTML, READINESS_JSON};
use crate::readiness::summary::iso;
use crate::report::{ErrorCode, Failure};
use crate::storage::queue::{Encoding, Queue};
use crate::storage::scans::ScanStore;
use crate::storage::{AccountSettings, StorageAccount};

/// The functions' names (their folders), which are also their routes on the handler.
pub(crate) const HTTP_FUNCTION: &str = "MfaReadiness";
pub(crate) const TIMER_FUNCTION: &str = "MfaReadinessTimer";
pub(crate) const QUEUE_FUNCTION: &str = "MfaReadinessQueue";
/// The queue a POST puts its run on (the queue function's `queueName`).
pub const QUEUE: &str = "mfa-phone-readiness";
/// Binding names, as in the function.json files.
const TIMER_BINDING: &str = "timer";
const QUEUE_BINDING: &str = "scanRequest";
const HTTP_BINDING: &str = "req";
const HTTP_OUTPUT: &str = "res";
/// How long a caller following a run is told to wait between looks.
const RETRY_AFTER_SECONDS: u64 = 30;

/// The readiness settings (app settings `MFA_READINESS_*`; the schedule is the host's).
#[derive(Clone, Debug)]
pub(crate) struct ReadinessSettings {
    /// The app's storage account, where the scans are kept; without one there are none.
    pub(crate) storage: Option<AccountSettings>,
    /// How many days a scan's folder is kept (`MFA_READINESS_RETENTION_DAYS`).
    pub(crate) retention_days: u32,
    /// Read every user's methods instead of the registration report
    /// (`MFA_READINESS_PER_USER`: tenants without Entra ID P1/P2).
    pub(crate) per_user: bool,
    /// The most one scan may take (`MFA_READINESS_BUDGET_SECONDS`, inside `functionTimeout`).
    pub(crate) budget: Duration,
}

/// What the readiness functions need beyond the runbook's services.
pub(crate) struct Readiness {
    pub(crate) settings: ReadinessSettings,
    pub(crate) store: ScanStore,
    /// The queue a POST puts its run on.
    pub(crate) queue: Queue,
    pub(crate) cleanup_key: Option<CleanupKey>,
}

impl Readiness {
    /// The readiness functions on `account`.
    ///
    /// # Errors
    ///
    /// When the account has no queue service.
    pub(crate) fn new(
        settings: ReadinessSettings,
        account: StorageAccount,
        cleanup_key: Option<CleanupKey>,
    ) -> Result<Readiness, crate::storage::StorageError> {
        Ok(Readiness {
            queue: Queue::new(&account, QUEUE, Encoding::None)?,
            store: ScanStore::new(account),
            settings,
            cleanup_key,
        })
    }
}

/// The routes of the three functions.
pub(crate) fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route(&format!("/{TIMER_FUNCTION}"), axum::routing::post(timer))
        .route(&format!("/{QUEUE_FUNCTION}"), axum::routing::post(queued))
        .route(&format!("/{HTTP_FUNCTION}"), axum::routing::post(http))
}

/// The envelope that ends a timer or queue invocation: its log lines, no outputs.
fn logged(status: StatusCode, logs: Vec<String>) -> Response {
    (
        status,
        axum::Json(json!({"Outputs": {}, "Logs": logs, "ReturnValue": null})),
    )
        .into_response()
}

fn configured(state: &AppState) -> Result<&Readiness, String> {
    state.readiness.as_ref().ok_or_else(|| {
        "readiness scans need the app's storage account (AzureWebJobsStorage with blob and queue \
         endpoints), which is not configured"
            .to_owned()
    })
}

/// The timer runs a scan now. A failure answers 500 so that the invocation is recorded as
/// failed.
async fn timer(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let mut logs = Vec::new();
    let timer = read_envelope(body)
        .await
        .map_err(|failure| failure.message)
        .and_then(|bytes| Envelope::parse(&bytes).map_err(|error| error.to_string()))
        .and_then(|envelope| {
            envelope
                .timer(TIMER_BINDING)
                .map_err(|error| error.to_string())
        });
    match &timer {
        Ok(timer) if timer.is_past_due => logs.push(format!(
            "Readiness scan on schedule, making up for a missed occurrence (last {})",
            timer.last.as_deref().unwrap_or("unknown")
        )),
        Ok(_) => logs.push("Readiness scan on schedule".to_owned()),
        Err(error) => logs.push(format!("Readiness scan on schedule ({error})")),
    }
    let readiness = match configured(&state) {
        Ok(readiness) => readiness,
        Err(reason) => {
            tracing::error!("{reason}");
            logs.push(reason);
            return logged(StatusCode::INTERNAL_SERVER_ERROR, logs);
        }
    };
    let holder = format!("timer-{}", uuid::Uuid::new_v4());
    let (status, line) = say(run::run(&state.services, readiness, &holder).await);
    logs.push(line);
    logged(status, logs)
}

/// How a run ended, for the log; a failure is logged as an error too (the host keeps no
/// outputs of a failed invocation).
fn say(ended: Ended) -> (StatusCode, String) {
    match ended {
        Ended::Done {
            folder,
            summary,
            pruned,
        } => (
            StatusCode::OK,
            format!(
                "Readiness scan done: {} users with a phone method, {} phoneOnly; kept as latest \
                 and in scans/{folder}/{}",
                summary.users,
                summary.categories.get("phoneOnly").copied().unwrap_or(0),
                if pruned.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; deleted {} older than the retention period",
                        pruned.join(", ")
                    )
                }
            ),
        ),
        Ended::Busy(running) => (
            StatusCode::OK,
            format!("Readiness scan skipped: another scan is running ({running})"),
        ),
        Ended::Failed(reason) => {
            tracing::error!("the readiness scan failed: {reason}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Readiness scan failed: {reason}"),
            )
        }
    }
}

/// The queue trigger runs the scan a POST asked for. It always answers 2xx, because a failed
/// scan is not repeated by redelivery: its caller sees the failure in the run's status and may
/// ask again.
async fn queued(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let id = read_envelope(body)
        .await
        .ok()
        .and_then(|bytes| Envelope::parse(&bytes).ok())
        .and_then(|envelope| envelope.queue_message(QUEUE_BINDING).ok())
        .and_then(|message| match message {
            QueueMessage::Json(value) => value["scan"].as_str().map(str::to_owned),
            QueueMessage::Text(_) => None,
        })
        .filter(|id| is_run_id(id));
    let Some(id) = id else {
        return logged(
            StatusCode::OK,
            vec![
                "The readiness queue message names no scan ({\"scan\": \"<id>\"}); ignored"
                    .to_owned(),
            ],
        );
    };
    let readiness = match configured(&state) {
        Ok(readiness) => readiness,
        Err(reason) => return logged(StatusCode::OK, vec![reason]),
    };
    // Only a scan a POST recorded as queued runs: whoever may send to the queue (a right also
    // inherited from the resource group) cannot make the app scan again and again, spending
    // the tenant's reports quota, nor run one twice.
    let recorded = match readiness.store.run(&id).await {
        Ok(Some(recorded)) => serde_json::from_slice::<Value>(&recorded).ok(),
        _ => None,
    };
    let Some(requested_at) = recorded
        .as_ref()
        .filter(|recorded| recorded["status"] == "queued")
        .and_then(|recorded| recorded["requestedAt"].as_str().map(str::to_owned))
    else {
        return logged(
            StatusCode::OK,
            vec![format!(
                "The readiness queue message names scan {id}, which no POST queued (or which \
                 ran already); ignored"
            )],
        );
    };
    let mut status = RunStatus {
        requested_at,
        ..RunStatus::default()
    };
    status.scan = id.clone();
    status.status = "running";
    status.started_at = Some(iso(now_seconds()));
    record(readiness, &status).await;
    let ended = run::run(&state.services, readiness, &id).await;
    status.finished_at = Some(iso(now_seconds()));
    match &ended {
        Ended::Done {
            folder, summary, ..
        } => {
            status.status = "done";
            status.folder = Some(folder.clone());
            status.users = Some(summary.users);
            status.phone_only = summary.categories.get("phoneOnly").copied();
        }
        Ended::Busy(running) => {
            status.status = "skipped";
            status.reason = Some(
                "another scan was running; its files become the latest when it finishes".to_owned(),
            );
            status.running_scan = Some(running.clone());
        }
        Ended::Failed(reason) => {
            status.status = "failed";
            status.reason = Some(reason.clone());
        }
    }
    record(readiness, &status).await;
    let (_, line) = say(ended);
    logged(StatusCode::OK, vec![line])
}

/// A run id: a UUID as this module makes them (a caller names one in `?scan=`).
fn is_run_id(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The HTTP function.
async fn http(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let request = match read_envelope(body).await.and_then(|bytes| {
        Envelope::parse(&bytes)
            .and_then(|envelope| envelope.http_request(HTTP_BINDING))
            .map_err(|error| Failure::new(ErrorCode::InvalidRequest, error.to_string()))
    }) {
        Ok(request) => request,
        Err(failure) => return refused(&failure),
    };
    let post = request.method.as_deref() == Some("POST");
    let access = if post {
        Access::ReadWrite
    } else {
        Access::Read
    };
    if let Err(failure) = admit(&state, &request, access) {
        return refused(&failure);
    }
    let readiness = match configured(&state) {
        Ok(readiness) => readiness,
        Err(reason) => return refused(&Failure::new(ErrorCode::Internal, reason)),
    };
    let invocation = invocation_id(&headers).unwrap_or_default();
    if post {
        return start(readiness, &request, &invocation).await;
    }
    let query = |name: &str| request.query.get(name).and_then(Value::as_str);
    if let Some(id) = query("scan") {
        return follow(readiness, &request, id).await;
    }
    let format = match query("format") {
        Some(format) => format.to_ascii_lowercase(),
        None => negotiated(request.accept.as_deref()).to_owned(),
    };
    let (name, content_type) = match format.as_str() {
        "html" => (READINESS_HTML, "text/html; charset=utf-8"),
        "csv" => (READINESS_CSV, "text/csv; charset=utf-8"),
        "json" => (READINESS_JSON, "application/json"),
        "cleanup" => (CLEANUP_CSV, "text/csv; charset=utf-8"),
        _ => {
            return refused(&Failure::new(
                ErrorCode::InvalidRequest,
                "format must be html, csv, json or cleanup",
            ));
        }
    };
    let file = match query("folder") {
        Some(folder) if !is_folder(folder) => {
            return refused(&Failure::new(
                ErrorCode::InvalidRequest,
                "folder must name a kept scan as its status gives it (e.g. 2026-12-07T050000Z)",
            ));
        }
        Some(folder) => readiness.store.file(folder, name).await,
        None => readiness.store.latest(name).await,
    };
    match file {
        Ok(Some(content)) => kept(name, content_type, &content),
        Ok(None) => answer(
            404,
            &json!({
                "error": "notFound",
                "message": format!(
                    "no {name} is kept{}: the timer makes one on its schedule, a POST (with \
                     MfaPhone.ReadWrite) makes one now; cleanup.csv is made only with \
                     MFA_CLEANUP_KEY",
                    query("folder").map(|folder| format!(" for the scan {folder}")).unwrap_or_default()
                ),
            }),
            &[],
        ),
        Err(error) => refused(&Failure::new(ErrorCode::Internal, error.to_string())),
    }
}

/// Answers with a kept file, with headers so that a browser neither sniffs nor runs it.
fn kept(name: &str, content_type: &str, content: &[u8]) -> Response {
    let mut headers = vec![
        ("Content-Type", content_type.to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    if name == READINESS_HTML {
        // The page is self-contained: nothing outside it may load.
        headers.push((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned(),
        ));
    } else if name != READINESS_JSON {
        let disposition = format!("attachment; filename=\"{name}\"");
        headers.push(("Content-Disposition", disposition));
    }
    let body = String::from_utf8_lossy(content).into_owned();
    let envelope = host::http_content_response(HTTP_OUTPUT, 200, &headers, body, &[]);
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

/// The format an `Accept` header asks for: the dashboard unless it names CSV or JSON first.
fn negotiated(accept: Option<&str>) -> &'static str {
    for kind in accept.unwrap_or_default().split(',') {
        let kind = kind.split(';').next().unwrap_or_default().trim();
        match kind.to_ascii_lowercase().as_str() {
            "text/html" => return "html",
            "text/csv" => return "csv",
            "application/json" => return "json",
            _ => {}
        }
    }
    "html"
}

/// Whether the caller may do `access`, decided as for the phone functions: by the platform's
/// principal, the lists and the app role.
fn admit(state: &AppState, request: &HttpTriggerRequest, access: Access) -> Result<(), Failure> {
    let caller = match state.callers.identify(request.principal.as_ref()) {
        Identified::Caller(caller) => Some(caller),
        Identified::Nobody => None,
        Identified::Ignored(reason) => {
            return Err(Failure::new(
                ErrorCode::CallerNotAllowed,
                format!("{reason}; nothing was read"),
            ));
        }
    };
    state.callers.admit(caller.as_ref())?;
    state.callers.permit(caller.as_ref(), access).map_err(|_| {
        let (role, what) = match access {
            Access::Read => (
                "MfaPhone.Read or MfaPhone.ReadWrite",
                "reading the readiness scans",
            ),
            Access::ReadWrite => ("MfaPhone.ReadWrite", "starting a readiness scan"),
        };
        Failure::new(
            ErrorCode::CallerNotAllowed,
            format!(
                "{what} needs this API's app role {role}, which the caller does not hold; nothing \
                 was read or started"
            ),
        )
    })
}

/// Handles a POST: it queues a scan now, unless one is under way, in which case it answers with
/// that scan's status URL for the caller to follow.
async fn start(readiness: &Readiness, request: &HttpTriggerRequest, invocation: &str) -> Response {
    match readiness.store.running().await {
        Ok(Some(running)) if is_run_id(&running) => {
            let location = status_url(request, &running);
            return answer(
                202,
                &json!({"scan": running, "status": "running", "location": location,
                        "message": "a scan was already running: follow it"}),
                &[
                    ("Location", location.clone()),
                    ("Retry-After", RETRY_AFTER_SECONDS.to_string()),
                ],
            );
        }
        Ok(_) => {}
        Err(error) => return refused(&Failure::new(ErrorCode::Internal, error.to_string())),
    }
    let id = uuid::Uuid::new_v4().to_string();
    let status = RunStatus {
        scan: id.clone(),
        status: "queued",
        requested_at: iso(now_seconds()),
        ..RunStatus::default()
    };
    record(readiness, &status).await;
    let message = json!({"scan": id, "invocationId": invocation}).to_string();
    let sent = match readiness.queue.send(&message).await {
        Err(error) if error.0.contains("QueueNotFound") => {
            match readiness.queue.create_if_missing().await {
                Ok(()) => readiness.queue.send(&message).await,
                Err(error) => Err(error),
            }
        }
        sent => sent,
    };
    if let Err(error) = sent {
        return refused(&Failure::new(
            ErrorCode::Internal,
            format!("the scan could not be queued: {error}"),
        ));
    }
    let location = status_url(request, &id);
    answer(
        202,
        &json!({"scan": id, "status": "queued", "location": location}),
        &[
            ("Location", location.clone()),
            ("Retry-After", RETRY_AFTER_SECONDS.to_string()),
        ],
    )
}

/// Answers `?scan=ID` with what the run is doing: 202 while it is queued or running (the
/// Functions async pattern: Logic Apps polls until it gets another status), 200 once it ended.
async fn follow(readiness: &Readiness, request: &HttpTriggerRequest, id: &str) -> Response {
    if !is_run_id(id) {
        return refused(&Failure::new(
            ErrorCode::InvalidRequest,
            "scan must be the id a POST answered with",
        ));
    }
    match readiness.store.run(id).await {
        Ok(Some(recorded)) => {
            let status: Value = serde_json::from_slice(&recorded).unwrap_or(Value::Null);
            let location = status_url(request, id);
            if matches!(status["status"].as_str(), Some("queued" | "running")) {
                answer(
                    202,
                    &status,
                    &[
                        ("Location", location),
                        ("Retry-After", RETRY_AFTER_SECONDS.to_string()),
                    ],
                )
            } else {
                answer(200, &status, &[])
            }
        }
        Ok(None) => answer(
            404,
            &json!({"error": "notFound", "message": format!(
                "no scan {id} is recorded (runs are kept for the retention period)"
            )}),
            &[],
        ),
        Err(error) => refused(&Failure::new(ErrorCode::Internal, error.to_string())),
    }
}

/// The URL of a run's status, from the URL the caller used (its query dropped).
fn status_url(request: &HttpTriggerRequest, id: &str) -> String {
    match request
        .url
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
    {
        Some(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            url.query_pairs_mut().append_pair("scan", id);
            url.to_string()
        }
        None => format!("/api/readiness?scan={id}"),
    }
}

fn refused(failure: &Failure) -> Response {
    answer(
        failure.code.http_status(),
        &json!({"error": failure.code, "message": failure.message}),
        &[],
    )
}

fn answer(status: u16, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    headers.extend(extra.iter().cloned());
    let envelope =
        host::http_content_response(HTTP_OUTPUT, status, &headers, body.to_string(), &[]);
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_accept_with_the_dashboard_by_default() {
        assert_eq!(negotiated(None), "html");
        assert_eq!(negotiated(Some("text/csv")), "csv");
        assert_eq!(negotiated(Some("application/json;q=0.9, */*")), "json");
        assert_eq!(
            negotiated(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            "html"
        );
        assert_eq!(negotiated(Some("*/*")), "html");
    }

    #[test]
    fn folders_and_runs_are_named_only_as_this_module_names_them() {
        assert!(is_run_id(&uuid::Uuid::new_v4().to_string()));
        assert!(!is_run_id("../../latest/readiness.csv"));
        assert!(is_folder(&run::folder_of("2026-12-07T05:00:00Z")));
    }
}
