//! A miniature Functions host, for the demo and the end-to-end tests: it plays the part of the
//! Azure Functions host in front of a running handler.
//!
//! HTTP: `POST /api/SetOrRemoveMobilePhoneMfa` is wrapped into the invocation envelope the real
//! host sends (strings JSON-encoded as the host does) and POSTed to the handler; the handler's
//! `Outputs.res` becomes the HTTP answer, and a non-2xx from the handler becomes a 500, as with
//! the real host. Queue: `POST /queue/mfa-phone-requests` enqueues a message; a worker delivers
//! it with a growing `DequeueCount`, deletes it on 2xx (keeping `Outputs.resultMessage` as a
//! result), makes it visible again after the visibility timeout on non-2xx, and moves it to the
//! poison list after `maxDequeueCount` deliveries. `GET /queue/mfa-phone-results` (`?min=N` waits for N results) and
//! `GET /queue/mfa-phone-requests-poison` show the outcome.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::lock;

/// How the miniature host treats queue messages (the `extensions.queues` of host.json).
#[derive(Clone, Debug)]
pub struct HostOptions {
    pub max_dequeue_count: u64,
    pub visibility_timeout: Duration,
    /// A simulator whose `/_sim/…` inspection pages the host passes through (for the demo).
    pub simulator: Option<String>,
}

impl Default for HostOptions {
    fn default() -> HostOptions {
        HostOptions {
            max_dequeue_count: 5,
            visibility_timeout: Duration::from_millis(200),
            simulator: None,
        }
    }
}

/// A running miniature host.
pub struct FunctionsHost {
    address: SocketAddr,
    shared: Arc<HostShared>,
    stop: Option<oneshot::Sender<()>>,
}

struct HostShared {
    handler: String,
    client: reqwest::Client,
    options: HostOptions,
    queue: Mutex<QueueState>,
    changed: Notify,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<Message>,
    in_flight: usize,
    results: Vec<Value>,
    poison: Vec<String>,
    /// Every delivery's HTTP status from the handler, in order.
    deliveries: Vec<(String, u64, u16)>,
}

#[derive(Clone)]
struct Message {
    id: String,
    text: String,
    dequeue_count: u64,
    visible_at: Instant,
}

impl FunctionsHost {
    /// Starts the host on a free loopback port, in front of the handler at `handler`.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(handler: &str, options: HostOptions) -> std::io::Result<FunctionsHost> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        FunctionsHost::start_on(listener, handler, options)
    }

    /// Starts the host on `listener`.
    ///
    /// # Errors
    ///
    /// When the listener has no local address.
    pub fn start_on(
        listener: tokio::net::TcpListener,
        handler: &str,
        options: HostOptions,
    ) -> std::io::Result<FunctionsHost> {
        crate::install_crypto_provider();
        let address = listener.local_addr()?;
        let shared = Arc::new(HostShared {
            handler: handler.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            options,
            queue: Mutex::new(QueueState::default()),
            changed: Notify::new(),
        });
        let router = Router::new()
            .route("/api/SetOrRemoveMobilePhoneMfa", post(http_function))
            .route("/api/openapi.json", get(openapi))
            .route("/queue/mfa-phone-requests", post(enqueue))
            .route("/queue/mfa-phone-results", get(results))
            .route("/queue/mfa-phone-requests-poison", get(poison))
            .route("/_sim/{*rest}", get(inspect))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        tokio::spawn(deliver(shared.clone()));
        Ok(FunctionsHost {
            address,
            shared,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Puts a message on `mfa-phone-requests`; returns its id.
    pub fn enqueue(&self, text: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.shared.queue).waiting.push_back(Message {
            id: id.clone(),
            text: text.to_owned(),
            dequeue_count: 0,
            visible_at: Instant::now(),
        });
        self.shared.changed.notify_waiters();
        id
    }

    /// Waits until no message is waiting or being delivered.
    pub async fn drained(&self) {
        loop {
            let notified = self.shared.changed.notified();
            {
                let queue = lock(&self.shared.queue);
                if queue.waiting.is_empty() && queue.in_flight == 0 {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The result messages written to `mfa-phone-results`.
    pub fn results(&self) -> Vec<Value> {
        lock(&self.shared.queue).results.clone()
    }

    /// The texts of messages moved to `mfa-phone-requests-poison`.
    pub fn poison(&self) -> Vec<String> {
        lock(&self.shared.queue).poison.clone()
    }

    /// Every delivery: message id, dequeue count, the handler's HTTP status.
    pub fn deliveries(&self) -> Vec<(String, u64, u16)> {
        lock(&self.shared.queue).deliveries.clone()
    }
}

impl Drop for FunctionsHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `GET /api/openapi.json`: the anonymous function that serves the API definition.
async fn openapi(State(shared): State<Arc<HostShared>>, headers: HeaderMap) -> Response {
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let envelope = json!({
        "Data": {"req": {
            "Url": format!("http://{host}/api/openapi.json"),
            "Method": "GET",
            "Query": {},
            "Headers": {},
            "Params": {},
            "Identities": [],
        }},
        "Metadata": {"sys": {"MethodName": "OpenApi"}},
    });
    let answer = shared
        .client
        .post(format!("{}/OpenApi", shared.handler))
        .json(&envelope)
        .send()
        .await;
    let body = match answer {
        Ok(answer) if answer.status().is_success() => answer.json::<Value>().await.ok(),
        _ => None,
    };
    match body
        .as_ref()
        .and_then(|body| body["Outputs"]["res"]["body"].as_str())
    {
        Some(document) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            document.to_owned(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The identity the host builds from App Service authentication's principal header:
/// `{auth_typ, claims: [{typ, val}]}` in base64.
fn entra_identity(header: &str) -> Option<Value> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .ok()?;
    let principal: Value = serde_json::from_slice(&bytes).ok()?;
    let claims: Vec<Value> = principal["claims"]
        .as_array()?
        .iter()
        .map(|claim| json!({"Type": claim["typ"], "Value": claim["val"], "Issuer": "LOCAL AUTHORITY"}))
        .collect();
    Some(json!({
        "AuthenticationType": principal["auth_typ"].as_str().unwrap_or("aad"),
        "IsAuthenticated": true,
        "Claims": claims,
    }))
}

async fn http_function(
    State(shared): State<Arc<HostShared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut header_map = Map::new();
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            header_map.insert(name.as_str().to_owned(), json!([value]));
        }
    }
    let query: Map<String, Value> = uri
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    // The miniature host plays App Service authentication as switched on: an
    // `X-MS-CLIENT-PRINCIPAL` (base64 JSON, as App Service writes it) becomes the Entra
    // identity ahead of the function-key identity, as the real host builds `Identities`.
    let mut identities = Vec::new();
    if let Some(principal) = headers
        .get("x-ms-client-principal")
        .and_then(|value| value.to_str().ok())
        .and_then(entra_identity)
    {
        identities.push(principal);
    }
    identities.push(json!({"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true}));
    let mut request = json!({
        "Url": format!("http://localhost{uri}"),
        "Method": "POST",
        "Query": query,
        "Headers": header_map,
        "Params": {},
        "Identities": identities,
    });
    // The host leaves Body out when the request had no content.
    if !body.is_empty() {
        request["Body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
    }
    let envelope = json!({
        "Data": {"req": request},
        "Metadata": {"sys": {"MethodName": "SetOrRemoveMobilePhoneMfa", "UtcNow": httpdate::fmt_http_date(std::time::SystemTime::now())}},
    });
    let answer = invoke(&shared, "SetOrRemoveMobilePhoneMfa", &envelope).await;
    let Some((200..=299, envelope)) = answer else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the function failed").into_response();
    };
    let output = envelope
        .get("Outputs")
        .and_then(|outputs| outputs.get("res"))
        .cloned()
        .unwrap_or(Value::Null);
    let status = output
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::builder().status(status);
    if let Some(Value::Object(headers)) = output.get("headers") {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                response = response.header(name.as_str(), value);
            }
        }
    }
    let body = output
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    response
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn enqueue(State(shared): State<Arc<HostShared>>, body: Bytes) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    lock(&shared.queue).waiting.push_back(Message {
        id: id.clone(),
        text: String::from_utf8_lossy(&body).into_owned(),
        dequeue_count: 0,
        visible_at: Instant::now(),
    });
    shared.changed.notify_waiters();
    (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
}

/// The results so far; with `?min=N`, waits (up to 10 s) until there are at least N.
async fn results(State(shared): State<Arc<HostShared>>, uri: Uri) -> Response {
    let wanted = uri
        .query()
        .and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "min")
                .and_then(|(_, value)| value.parse::<usize>().ok())
        })
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notified = shared.changed.notified();
        {
            let queue = lock(&shared.queue);
            if queue.results.len() >= wanted || Instant::now() >= deadline {
                return axum::Json(Value::Array(queue.results.clone())).into_response();
            }
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn poison(State(shared): State<Arc<HostShared>>) -> Response {
    let poison: Vec<Value> = lock(&shared.queue)
        .poison
        .iter()
        .cloned()
        .map(Value::String)
        .collect();
    axum::Json(Value::Array(poison)).into_response()
}

async fn inspect(State(shared): State<Arc<HostShared>>, uri: Uri) -> Response {
    let Some(simulator) = &shared.options.simulator else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = shared
        .client
        .get(format!("{simulator}{}", uri.path()))
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::OK);
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// The queue worker: delivers visible messages one by one, as the host's queue listener does.
async fn deliver(shared: Arc<HostShared>) {
    loop {
        let notified = shared.changed.notified();
        let next = {
            let mut queue = lock(&shared.queue);
            let now = Instant::now();
            let position = queue
                .waiting
                .iter()
                .position(|message| message.visible_at <= now);
            let earliest = queue.waiting.iter().map(|message| message.visible_at).min();
            match position {
                Some(position) => {
                    let message = queue.waiting.remove(position);
                    if message.is_some() {
                        queue.in_flight += 1;
                    }
                    Ok(message)
                }
                None => Err(earliest),
            }
        };
        let mut message = match next {
            Ok(Some(message)) => message,
            Ok(None) => continue,
            Err(Some(earliest)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(earliest) => {}
                    () = notified => {}
                }
                continue;
            }
            Err(None) => {
                notified.await;
                continue;
            }
        };
        message.dequeue_count += 1;
        let envelope = json!({
            // The host JSON-encodes the message text once more (see functions-host.md §1.2).
            "Data": {"queueItem": Value::String(message.text.clone()).to_string()},
            "Metadata": {
                "DequeueCount": message.dequeue_count.to_string(),
                "Id": Value::String(message.id.clone()).to_string(),
                "PopReceipt": Value::String(uuid::Uuid::new_v4().to_string()).to_string(),
                "InsertionTime": httpdate::fmt_http_date(std::time::SystemTime::now()),
                "sys": {"MethodName": "SetOrRemoveMobilePhoneMfaQueue"},
            },
        });
        let answer = invoke(&shared, "SetOrRemoveMobilePhoneMfaQueue", &envelope).await;
        let status = answer.as_ref().map_or(0, |(status, _)| *status);
        {
            let mut queue = lock(&shared.queue);
            queue.in_flight -= 1;
            queue
                .deliveries
                .push((message.id.clone(), message.dequeue_count, status));
            match answer {
                Some((200..=299, envelope)) => {
                    if let Some(result) = envelope
                        .get("Outputs")
                        .and_then(|outputs| outputs.get("resultMessage"))
                    {
                        queue.results.push(result.clone());
                    }
                }
                _ if message.dequeue_count >= shared.options.max_dequeue_count => {
                    queue.poison.push(message.text.clone());
                }
                _ => {
                    message.visible_at = Instant::now() + shared.options.visibility_timeout;
                    queue.waiting.push_back(message);
                }
            }
        }
        shared.changed.notify_waiters();
    }
}

/// POSTs an envelope to the handler as the host does; the status and the answer's JSON.
async fn invoke(shared: &HostShared, function: &str, envelope: &Value) -> Option<(u16, Value)> {
    let response = shared
        .client
        .post(format!("{}/{function}", shared.handler))
        .header(
            "X-Azure-Functions-InvocationId",
            uuid::Uuid::new_v4().to_string(),
        )
        .header("X-Azure-Functions-HostVersion", "4.1037.0")
        .header("User-Agent", "Azure-Functions-Host/4.1037.0")
        .json(envelope)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Some((status, body))
}
