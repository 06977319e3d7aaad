//! The custom handler's HTTP server: the routes the Functions host calls, and the glue from a
//! host envelope to the runbook and back.
//!
//! Routes: `GET /` (the host's readiness and health probe), `POST /SetOrRemoveMobilePhoneMfa`
//! (the HTTP trigger) and `POST /SetOrRemoveMobilePhoneMfaQueue` (the queue trigger). Each
//! invocation gets an [`Outcome`]; this module decides the envelope and the HTTP status the
//! host sees, and nothing else. A panic while carrying out one invocation ends that invocation
//! with `internal`, never the others on the instance.

mod invocation;
pub mod readiness;
mod received;
mod sender;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use self::invocation::{Invocation, guarded};
use self::received::Received;
use crate::caller::{Caller, CallerPolicy, Identified};
use crate::host::{self, Envelope, QueueMessage};
use crate::outcome::Outcome;
use crate::phone::redact_numbers;
use crate::replay::{Key, Replays, Turn};
use crate::report::{self, ErrorCode, Failure, QueueMessageEcho, Report, Trigger};
use crate::request;
use crate::runbook::Services;

/// The HTTP-triggered function's name (its folder), which is also its route.
pub(crate) const HTTP_FUNCTION: &str = "SetOrRemoveMobilePhoneMfa";
/// The queue-triggered function's name and route.
pub(crate) const QUEUE_FUNCTION: &str = "SetOrRemoveMobilePhoneMfaQueue";
/// The function that serves the API definition (`GET /api/openapi.json`, no key).
pub(crate) const OPENAPI_FUNCTION: &str = "OpenApi";
/// Binding names, as in the function.json files.
const HTTP_TRIGGER_BINDING: &str = "req";
const HTTP_OUTPUT_BINDING: &str = "res";
const QUEUE_TRIGGER_BINDING: &str = "queueItem";
const QUEUE_OUTPUT_BINDING: &str = "resultMessage";
/// A request larger than this is not a runbook request.
pub(crate) const MAX_ENVELOPE_BYTES: usize = 256 * 1024;
/// How much of a request over the limit is read (and dropped) before the answer.
const MAX_DRAINED_BYTES: usize = 64 * 1024 * 1024;
/// How long past its budget an invocation may run before it is answered regardless.
const BUDGET_GRACE: Duration = Duration::from_secs(5);
/// The least budget worth starting a change with, after waiting for another invocation.
const MIN_BUDGET_LEFT: Duration = Duration::from_secs(20);
/// The least `Retry-After` we tell an HTTP caller when Graph gave none.
const RETRY_AFTER_FLOOR: Duration = Duration::from_secs(5);

/// Shared state of the handler process.
pub(crate) struct AppState {
    pub(crate) services: Services,
    /// The host's `maxDequeueCount`: on that delivery a transient failure becomes final.
    pub(crate) max_dequeue_count: u64,
    /// The most an HTTP-triggered invocation may take: its caller (Logic Apps abandons a call
    /// after 120 s) must get an answer.
    pub(crate) http_budget: Duration,
    /// The most a queue-triggered invocation may take.
    pub(crate) queue_budget: Duration,
    /// Who may call the HTTP trigger.
    pub(crate) callers: CallerPolicy,
    /// Who may send to the request queue, and the tenant's keys their tokens are checked with.
    pub(crate) tokens: crate::entra::TokenChecker,
    /// The answers to changes sent over HTTP with a `requestId`, kept so that the same request
    /// sent again gets the same answer.
    pub(crate) replays: Replays,
    /// How the identity's Graph token compares with what the settings need, as last read.
    pub(crate) grants: std::sync::Mutex<crate::permissions::Review>,
    /// The readiness scans' functions; `None` without a storage account.
    pub(crate) readiness: Option<readiness::Readiness>,
}

/// The handler's routes.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(health))
        .route(&format!("/{HTTP_FUNCTION}"), post(http_trigger))
        .route(&format!("/{QUEUE_FUNCTION}"), post(queue_trigger))
        .route(&format!("/{OPENAPI_FUNCTION}"), post(openapi))
        .merge(readiness::routes())
        .fallback(not_found)
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the invocations in progress.
///
/// # Errors
///
/// When the listener fails.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health() -> &'static str {
    "ok"
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": format!(
                "no such function: this handler serves POST /{HTTP_FUNCTION}, POST \
                 /{QUEUE_FUNCTION} and POST /{OPENAPI_FUNCTION}"
            )
        })),
    )
        .into_response()
}

async fn http_trigger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut outcome = Outcome::new(Trigger::Http, invocation_id(&headers));
    let mut caller = None;
    let parameters = read_envelope(body).await.and_then(|bytes| {
        let request = Envelope::parse(&bytes)
            .and_then(|envelope| envelope.http_request(HTTP_TRIGGER_BINDING))
            .map_err(|error| Failure::new(ErrorCode::InvalidRequest, error.to_string()))?;
        // Who called is settled before anything else is read from the request.
        caller = match state.callers.identify(request.principal.as_ref()) {
            Identified::Caller(caller) => Some(caller),
            Identified::Nobody => None,
            Identified::Ignored(reason) => {
                // An identity the platform vouched for that is not one of ours is refused,
                // never taken for a caller with the key alone.
                outcome.set_caller(None, state.callers.require_app_role);
                return Err(Failure::new(
                    ErrorCode::CallerNotAllowed,
                    format!("{}; nothing was read or changed", redact_numbers(&reason)),
                ));
            }
        };
        outcome.set_caller(caller.as_ref(), state.callers.require_app_role);
        state.callers.admit(caller.as_ref())?;
        request.parameters()
    });
    let invocation = Invocation {
        trigger: Trigger::Http,
        caller: caller.as_ref(),
        budget: state.http_budget,
    };
    let report = match parameters {
        Ok(parameters) => {
            let received = Received::read(parameters);
            let key = match (&received.object, received.task()) {
                (Ok(object), Some(task)) => {
                    Key::for_change(&state.callers, object, task, caller.as_ref())
                }
                _ => None,
            };
            once(&state, key, received, &invocation, outcome).await
        }
        Err(failure) => {
            outcome.fail(failure);
            (finish(outcome), None)
        }
    };
    let (report, replayed_age) = report;
    http_answer(&report, replayed_age)
}

/// The host's HTTP output for a result: its status, `Retry-After` when trying again helps, the
/// log lines, and `Age` when it is a kept answer to an earlier invocation.
fn http_answer(report: &Report, replayed_age: Option<std::time::Duration>) -> Response {
    let status = report.http_status();
    let retry_after = report
        .error_code()
        .filter(|code| code.is_transient())
        .map(|_| {
            report::retry_after_seconds(
                report
                    .retry_after
                    .unwrap_or_default()
                    .max(RETRY_AFTER_FLOOR),
            )
        });
    let mut envelope = host::http_response(
        HTTP_OUTPUT_BINDING,
        status,
        report.to_json(),
        retry_after,
        // This is another invocation's answer, and the host's log of this invocation says only
        // that, so that what was done is logged once, by the invocation that did it.
        if replayed_age.is_some() {
            report.log.first().map_or(&[][..], std::slice::from_ref)
        } else {
            &report.log
        },
    );
    if let Some(age) = replayed_age {
        // `Age` is HTTP's own header for how old a kept answer is (RFC 9111); we send it
        // besides the log line.
        envelope["Outputs"][HTTP_OUTPUT_BINDING]["headers"]["Age"] =
            Value::String(age.as_secs().to_string());
    }
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

/// The queue trigger takes one message in and puts one result message out, or answers non-2xx
/// to ask the host to deliver the message again after a transient failure.
async fn queue_trigger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut outcome = Outcome::new(Trigger::Queue, invocation_id(&headers));
    let envelope = match read_queue_envelope(body).await {
        Ok(envelope) => envelope,
        Err(failure) => {
            // This is not an envelope the host would send, so a retry could not help.
            outcome.fail(failure);
            let report = finish(outcome);
            let envelope =
                host::queue_response(QUEUE_OUTPUT_BINDING, result_message(&report), &report.log);
            return (StatusCode::OK, axum::Json(envelope)).into_response();
        }
    };
    let dequeue_count = envelope.dequeue_count();
    outcome.report_mut().queue_message = Some(QueueMessageEcho {
        id: envelope.metadata_string("Id"),
        dequeue_count,
    });
    let Sent { parameters, caller } = sent(&state, &envelope, &mut outcome).await;
    let invocation = Invocation {
        trigger: Trigger::Queue,
        caller: caller.as_ref(),
        budget: state.queue_budget,
    };
    match parameters {
        Ok(parameters) => {
            guarded(
                &state,
                Received::read(parameters),
                &invocation,
                &mut outcome,
            )
            .await;
        }
        Err(failure) => outcome.fail(failure),
    }
    queue_answer(&state, outcome, dequeue_count)
}

/// Reads the host's envelope for a queue invocation, or says why it is not one.
async fn read_queue_envelope(body: Body) -> Result<Envelope, Failure> {
    read_envelope(body).await.and_then(|bytes| {
        Envelope::parse(&bytes)
            .map_err(|error| Failure::new(ErrorCode::InvalidRequest, error.to_string()))
    })
}

/// A queue message's parameters and who sent them.
struct Sent {
    /// The parameters with the sender's token taken out, or why there are none to run.
    parameters: Result<Value, Failure>,
    caller: Option<Caller>,
}

/// Reads the queue message as JSON and settles who sent it before anything else is read from
/// it.
async fn sent(state: &AppState, envelope: &Envelope, outcome: &mut Outcome) -> Sent {
    let parameters = envelope
        .queue_message(QUEUE_TRIGGER_BINDING)
        .map_err(|error| Failure::new(ErrorCode::InvalidRequest, error.to_string()))
        .and_then(|message| match message {
            QueueMessage::Json(value) => Ok(value),
            QueueMessage::Text(_) => Err(Failure::new(
                ErrorCode::InvalidRequest,
                "the queue message is not JSON: send the parameters as a JSON object",
            )),
        });
    let mut message = match parameters {
        Ok(message) => message,
        Err(failure) => {
            return Sent {
                parameters: Err(failure),
                caller: None,
            };
        }
    };
    match sender::sender(state, envelope, &mut message, outcome).await {
        Ok(caller) => Sent {
            parameters: Ok(message),
            caller,
        },
        Err(failure) => {
            // The token is out of the message by now; the rest is echoed so that the sender
            // can match the refusal to what it sent.
            Received::read(message.clone()).echo_into(outcome);
            Sent {
                parameters: Err(failure),
                caller: None,
            }
        }
    }
}

/// The host's answer once the message has run: its result message, or a non-2xx answer that
/// has the host deliver the message again when the failure was transient and deliveries remain.
fn queue_answer(state: &AppState, mut outcome: Outcome, dequeue_count: Option<u64>) -> Response {
    let redeliver = outcome
        .report()
        .error_code()
        .is_some_and(ErrorCode::is_worth_redelivering);
    // Without a readable DequeueCount we cannot know that a retry remains; a result now is
    // better than a message that might end in the poison queue with none.
    let last_attempt = dequeue_count.is_none_or(|count| count >= state.max_dequeue_count);
    if redeliver && dequeue_count.is_none() {
        outcome.caution(
            "The host sent no readable DequeueCount: treating this delivery as the last one",
        );
    }
    if redeliver && !last_attempt {
        // On a non-2xx answer the host makes the message visible again after its visibility
        // timeout.
        outcome.caution(format!(
            "Transient failure on delivery {} of {}: asking the host to deliver the message again",
            dequeue_count.map_or_else(|| "?".to_owned(), |count| count.to_string()),
            state.max_dequeue_count
        ));
        let report = finish(outcome);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({"Logs": report.log, "error": "transient failure; retry"}),
            ),
        )
            .into_response();
    }
    if redeliver {
        outcome.caution(format!(
            "Transient failure on the last delivery ({} of {}): recording the failure as the result",
            dequeue_count.unwrap_or_default(),
            state.max_dequeue_count
        ));
    }
    let mut report = finish(outcome);
    sender::mask_echo(&mut report);
    let envelope = host::queue_response(QUEUE_OUTPUT_BINDING, result_message(&report), &report.log);
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

/// Serves the API definition with the host name the caller used (when it is a plain host name)
/// and its scheme (https, unless the caller came over plain http, as to a local `func start`).
async fn openapi(body: Body) -> Response {
    let address = read_envelope(body)
        .await
        .ok()
        .and_then(|bytes| Envelope::parse(&bytes).ok())
        .and_then(|envelope| envelope.http_request(HTTP_TRIGGER_BINDING).ok())
        .and_then(|request| request.url)
        .and_then(|url| url::Url::parse(&url).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            let plain = host.len() <= 253
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            let host = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            // Plain http only where the caller is on this machine (`func start`, the demo):
            // behind Azure's front ends the request may be forwarded as http although the
            // caller used https.
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            plain.then(|| (local && url.scheme() == "http", host))
        });
    let document = match address {
        Some((plain_http, host)) => {
            let mut document = crate::openapi::definition(&host);
            if plain_http {
                document["schemes"] = serde_json::json!(["http"]);
            }
            document
        }
        None => crate::openapi::definition(crate::openapi::PLACEHOLDER_HOST),
    };
    let envelope = host::http_response(HTTP_OUTPUT_BINDING, 200, document.to_string(), None, &[]);
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

/// Reads the host's request, keeping at most [`MAX_ENVELOPE_BYTES`] of it: the rest of a larger
/// one is read and dropped (up to [`MAX_DRAINED_BYTES`]), so that the host gets the answer
/// rather than a connection closed on it.
async fn read_envelope(body: Body) -> Result<Bytes, Failure> {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0_usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            break;
        };
        seen = seen.saturating_add(chunk.len());
        if seen <= MAX_ENVELOPE_BYTES {
            kept.extend_from_slice(&chunk);
        } else if seen > MAX_DRAINED_BYTES {
            break;
        }
    }
    if seen > MAX_ENVELOPE_BYTES {
        return Err(Failure::new(
            ErrorCode::RequestTooLarge,
            format!(
                "the request is larger than {} KiB, the most this handler accepts for one \
                 invocation: send only the runbook's parameters",
                MAX_ENVELOPE_BYTES / 1024
            ),
        ));
    }
    Ok(Bytes::from(kept))
}

/// Carries the request out, unless this instance has already answered the same request
/// (`key`) or is carrying it out: then the answer it gave, or gets, is this one's too. Returns
/// the report, and how old it is when it is another invocation's answer.
async fn once(
    state: &AppState,
    key: Option<Key>,
    received: Received,
    invocation: &Invocation<'_>,
    mut outcome: Outcome,
) -> (Report, Option<Duration>) {
    let turn = match key {
        Some(key) => {
            let id = outcome.report().invocation_id.clone();
            state.replays.turn(key, invocation.budget, id).await
        }
        None => Turn::Run(None, Duration::ZERO),
    };
    let (running, waited) = match turn {
        Turn::Again(report, age) => return (*report, Some(age)),
        Turn::Run(running, waited) => (running, waited),
        Turn::Elapsed => {
            received.echo_into(&mut outcome);
            outcome.fail(Failure::new(
                ErrorCode::UserBusy,
                "the same request (this requestId, these parameters) is still being carried \
                 out on this instance; nothing was done twice, send it again later for its \
                 answer",
            ));
            return (finish(outcome), None);
        }
    };
    // The budget shrinks by the time spent waiting for another invocation that then gave no
    // final answer, because the caller's wait does not start again.
    let budget = invocation.budget.saturating_sub(waited);
    if !waited.is_zero() && budget < MIN_BUDGET_LEFT.min(invocation.budget) {
        received.echo_into(&mut outcome);
        outcome.fail(Failure::new(
            ErrorCode::UserBusy,
            "the same request was being carried out on this instance and ended without an \
             answer that stands, too late for this invocation to carry it out in time; send it \
             again",
        ));
        return (finish(outcome), None);
    }
    let invocation = Invocation {
        trigger: invocation.trigger,
        caller: invocation.caller,
        budget,
    };
    guarded(state, received, &invocation, &mut outcome).await;
    let report = finish(outcome);
    if let Some(running) = running {
        running.finish(&report);
    }
    (report, None)
}

/// Finishes the outcome into the result, bounded to fit a queue message's size.
fn finish(outcome: Outcome) -> Report {
    let mut report = outcome.finish();
    report.bound(&request::KNOWN);
    report
}

/// Makes the result message for the queue output: the report as a JSON object.
fn result_message(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or_else(|_| Value::Object(Map::new()))
}

fn invocation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-azure-functions-invocationid")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .map(|value| value.chars().filter(|c| !c.is_control()).collect())
}
