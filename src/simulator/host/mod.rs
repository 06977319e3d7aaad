//! A miniature Functions host, for the demo, the end-to-end tests and the benchmarks: it plays
//! the part of the Azure Functions host in front of a running handler.
//!
//! HTTP ([`http`]): `POST /api/SetOrRemoveMobilePhoneMfa` is wrapped into the invocation
//! envelope the real host sends and POSTed to the handler; the handler's `Outputs.res` becomes
//! the HTTP answer, and a non-2xx from the handler a 500, as with the real host.
//!
//! Queue: the trigger is configured from the app's own host.json and function.json
//! ([`config`]). With a storage account (Azurite) the host runs the storage queues extension's
//! listener against the real queues ([`listener`]); without one, an in-memory queue with the
//! same delivery rules stands in ([`memory`]), as the demo does when Azurite is not installed.
//! `POST /queue/mfa-phone-requests` puts a message on the queue; `GET /queue/mfa-phone-results`
//! (`?min=N` waits for N results) and `GET /queue/mfa-phone-requests-poison` show the outcome.

mod config;
mod http;
mod listener;
mod memory;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use self::config::QueueTrigger;
use super::lock;
use crate::storage::StorageAccount;
use crate::storage::queue::Queue;

/// How the miniature host is set up.
#[derive(Clone)]
pub struct HostOptions {
    /// The queue trigger, as the app's files configure it ([`HostOptions::default`] reads this
    /// repository's).
    pub trigger: QueueTrigger,
    /// The storage account of the queues; `None` for an in-memory queue.
    pub(crate) storage: Option<StorageAccount>,
    /// A simulator whose `/_sim/…` inspection pages the host passes through (for the demo).
    pub(crate) simulator: Option<String>,
    /// The HTTP trigger's function key (`authLevel: function`): a request without it is
    /// answered 401 by the host, before the handler sees it. With `None` any request passes.
    pub(crate) function_key: Option<String>,
    /// More queue functions, run against the storage account's queues only (the readiness
    /// scan's, as deployed).
    pub(crate) more_triggers: Vec<QueueTrigger>,
}

impl Default for HostOptions {
    /// Uses this repository's host.json and queue function, with an in-memory queue.
    fn default() -> HostOptions {
        HostOptions {
            trigger: deployed_trigger(),
            storage: None,
            simulator: None,
            function_key: None,
            more_triggers: vec![readiness_trigger()],
        }
    }
}

impl HostOptions {
    /// With `storage`'s queues.
    pub fn with_storage(self, storage: StorageAccount) -> HostOptions {
        HostOptions {
            storage: Some(storage),
            ..self
        }
    }

    /// With the HTTP trigger's function key required, as the deployed `authLevel: function`.
    pub fn with_function_key(self, key: &str) -> HostOptions {
        HostOptions {
            function_key: Some(key.to_owned()),
            ..self
        }
    }

    /// With a failed message visible again after `after` and an empty queue polled at least
    /// that often (the deployed 60 s and 10 s would make a test of redelivery take minutes);
    /// everything else stays as deployed.
    pub fn redelivering_after(mut self, after: Duration) -> HostOptions {
        self.trigger.visibility_timeout = after;
        self.trigger.max_polling_interval = after.max(Duration::from_millis(100));
        self
    }

    /// With the other queue functions' empty queues polled at least every `every` (the host
    /// is not told of messages the handler puts there, as the real one is not).
    pub fn others_polled_every(mut self, every: Duration) -> HostOptions {
        for trigger in &mut self.more_triggers {
            trigger.max_polling_interval = every;
        }
        self
    }

    /// With `count` as `maxDequeueCount`.
    pub fn max_dequeue_count(mut self, count: u64) -> HostOptions {
        self.trigger.max_dequeue_count = count;
        self
    }
}

/// Reads the queue function this repository deploys from its files.
fn deployed_trigger() -> QueueTrigger {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    QueueTrigger::read(root, "SetOrRemoveMobilePhoneMfaQueue").unwrap_or_else(|error| {
        // These are the repository's own files, so a broken one is a bug the tests show at
        // once.
        panic!("the deployed queue function cannot be read: {error}")
    })
}

/// Reads the readiness scan's queue function this repository deploys.
fn readiness_trigger() -> QueueTrigger {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    QueueTrigger::read(root, crate::app::readiness::QUEUE_FUNCTION).unwrap_or_else(|error| {
        panic!("the deployed readiness queue function cannot be read: {error}")
    })
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
    ledger: Mutex<Ledger>,
    /// Told whenever a message is put on the queue or settled.
    changed: Notify,
    /// Wakes the listener when this host puts a message on the queue (the extension's
    /// `SharedQueueWatcher`).
    wake: Notify,
    memory: memory::MemoryQueue,
    stopped: watch::Receiver<bool>,
}

/// What the host has done with the queue's messages.
#[derive(Default)]
struct Ledger {
    /// Messages being delivered.
    in_flight: usize,
    /// The result messages written (in-memory), or read back from the results queue.
    results: Vec<Value>,
    /// Message texts moved to the poison queue (in-memory), or read back from it.
    poison: Vec<String>,
    /// Every delivery: message id, dequeue count, the handler's HTTP status (0 when there was
    /// no answer).
    deliveries: Vec<(String, u64, u16)>,
}

impl FunctionsHost {
    /// Starts the host on a free loopback port, in front of the handler at `handler`.
    ///
    /// # Errors
    ///
    /// When no port can be bound, or the storage account's queues cannot be made.
    pub async fn start(handler: &str, options: HostOptions) -> std::io::Result<FunctionsHost> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        FunctionsHost::start_on(listener, handler, options).await
    }

    /// Starts the host on `listener`.
    ///
    /// # Errors
    ///
    /// When the listener has no local address, or the storage account's queues cannot be made.
    pub(crate) async fn start_on(
        listener: tokio::net::TcpListener,
        handler: &str,
        options: HostOptions,
    ) -> std::io::Result<FunctionsHost> {
        crate::install_crypto_provider();
        let address = listener.local_addr()?;
        let (stop_listener, stopped) = watch::channel(false);
        let shared = Arc::new(HostShared {
            handler: handler.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            memory: memory::MemoryQueue::default(),
            options,
            ledger: Mutex::new(Ledger::default()),
            changed: Notify::new(),
            wake: Notify::new(),
            stopped,
        });
        if let Some(storage) = &shared.options.storage {
            let trigger = &shared.options.trigger;
            let queues = listener::Queues::new(storage, trigger).map_err(std::io::Error::other)?;
            queues.create().await.map_err(std::io::Error::other)?;
            tokio::spawn(listener::listen(
                shared.clone(),
                queues,
                trigger.clone(),
                true,
            ));
            for trigger in &shared.options.more_triggers {
                let queues =
                    listener::Queues::new(storage, trigger).map_err(std::io::Error::other)?;
                queues.create().await.map_err(std::io::Error::other)?;
                tokio::spawn(listener::listen(
                    shared.clone(),
                    queues,
                    trigger.clone(),
                    false,
                ));
            }
        } else {
            tokio::spawn(memory::deliver(shared.clone()));
        }
        let router = Router::new()
            .route("/api/SetOrRemoveMobilePhoneMfa", post(http::http_function))
            .route("/api/openapi.json", get(http::openapi))
            .route(
                "/api/readiness",
                get(http::readiness_function).post(http::readiness_function),
            )
            .route("/queue/mfa-phone-requests", post(enqueue))
            .route("/queue/mfa-phone-results", get(results))
            .route("/queue/mfa-phone-requests-poison", get(poison))
            .route("/_sim/{*rest}", get(http::inspect))
            .with_state(shared.clone());
        let (stop, stop_server) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop_server.await;
                })
                .await;
            let _ = stop_listener.send(true);
        });
        Ok(FunctionsHost {
            address,
            shared,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Puts a message on the request queue and returns its id.
    ///
    /// # Errors
    ///
    /// When the storage queue does not take it.
    pub async fn enqueue(&self, text: &str) -> Result<String, String> {
        put(&self.shared, text).await
    }

    /// Waits until no message is waiting (visible or not) or being delivered by this host. A
    /// storage queue other hosts also consume is looked at again at the polling interval too,
    /// as the listener looks: their work tells this host nothing.
    pub async fn drained(&self) {
        let interval = self.shared.options.trigger.max_polling_interval;
        loop {
            let changed = self.shared.changed.notified();
            if lock(&self.shared.ledger).in_flight == 0 && self.queue_is_empty().await {
                return;
            }
            match self.shared.options.storage {
                None => changed.await,
                Some(_) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep(interval) => {}
                    }
                }
            }
        }
    }

    /// Waits until `count` deliveries have been settled (deleted, released or poisoned).
    pub async fn settled(&self, count: usize) {
        loop {
            let changed = self.shared.changed.notified();
            if lock(&self.shared.ledger).deliveries.len() >= count {
                return;
            }
            changed.await;
        }
    }

    /// Returns the result messages written to the results queue so far (read from it, and so
    /// taken off it, when the queue is a storage queue).
    pub async fn results(&self) -> Vec<Value> {
        collect(&self.shared).await;
        lock(&self.shared.ledger).results.clone()
    }

    /// Returns the texts of messages moved to the poison queue so far.
    pub async fn poison(&self) -> Vec<String> {
        collect(&self.shared).await;
        lock(&self.shared.ledger).poison.clone()
    }

    /// Invokes the timer function `function` as the host does on its schedule (`past_due`: a
    /// run that makes up for a missed occurrence). Returns the handler's status and answer, or
    /// `None` when it gave none within the host's timeout.
    pub async fn fire_timer(&self, function: &str, past_due: bool) -> Option<(u16, Option<Value>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let binding = std::fs::read_to_string(root.join(function).join("function.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|bindings| {
                bindings["bindings"]
                    .as_array()?
                    .iter()
                    .find_map(|binding| {
                        (binding["type"] == "timerTrigger").then(|| binding["name"].as_str())?
                    })
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "timer".to_owned());
        let now = std::time::SystemTime::now();
        let iso = |at: std::time::SystemTime| {
            crate::readiness::summary::iso(
                at.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0)),
            )
        };
        // The timer's information is written as the host serialises the object (`TimerInfo`),
        // with the schedule monitor's status.
        let envelope = json!({
            "Data": {binding: {
                "Schedule": {"AdjustForDST": true},
                "ScheduleStatus": {
                    "Last": iso(now - Duration::from_secs(86_400)),
                    "Next": iso(now + Duration::from_secs(86_400)),
                    "LastUpdated": iso(now - Duration::from_secs(86_400)),
                },
                "IsPastDue": past_due,
            }},
            "Metadata": {"sys": {"MethodName": function, "UtcNow": iso(now)}},
        });
        invoke(
            &self.shared,
            function,
            &envelope,
            self.shared.options.trigger.invocation_timeout,
        )
        .await
    }

    /// Returns every delivery: message id, dequeue count, the handler's HTTP status (0 when
    /// there was none).
    pub fn deliveries(&self) -> Vec<(String, u64, u16)> {
        lock(&self.shared.ledger).deliveries.clone()
    }

    async fn queue_is_empty(&self) -> bool {
        match &self.shared.options.storage {
            None => self.shared.memory.is_empty(),
            Some(storage) => listener::is_empty(storage, &self.shared.options.trigger).await,
        }
    }
}

impl Drop for FunctionsHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Puts `text` on the request queue.
async fn put(shared: &HostShared, text: &str) -> Result<String, String> {
    let id = match &shared.options.storage {
        None => shared.memory.push(text),
        Some(storage) => Queue::new(
            storage,
            &shared.options.trigger.queue,
            shared.options.trigger.encoding,
        )
        .map_err(|error| error.to_string())?
        .send(text)
        .await
        .map_err(|error| error.to_string())?,
    };
    shared.wake.notify_one();
    shared.changed.notify_waiters();
    Ok(id)
}

/// Reads what the storage queues hold into the ledger (nothing to do in memory).
async fn collect(shared: &HostShared) {
    if let Some(storage) = &shared.options.storage {
        let (results, poison) = listener::take_outcomes(storage, &shared.options.trigger).await;
        let mut ledger = lock(&shared.ledger);
        ledger.results.extend(results);
        ledger.poison.extend(poison);
    }
}

/// Builds the invocation envelope of a queue message as the host does: the text is JSON-encoded
/// once more, the metadata's strings too, and `DequeueCount` is written as text.
fn queue_envelope(
    trigger: &QueueTrigger,
    text: &str,
    id: &str,
    pop_receipt: &str,
    dequeue_count: u64,
    times: [Option<String>; 3],
) -> Value {
    let quoted = |value: &str| Value::String(value.to_owned()).to_string();
    let [inserted, expires, visible] = times;
    json!({
        "Data": {trigger.binding.as_str(): quoted(text)},
        "Metadata": {
            "DequeueCount": dequeue_count.to_string(),
            "Id": quoted(id),
            "PopReceipt": quoted(pop_receipt),
            "InsertionTime": inserted,
            "ExpirationTime": expires,
            "NextVisibleTime": visible,
            "sys": {"MethodName": trigger.function, "UtcNow": httpdate::fmt_http_date(std::time::SystemTime::now())},
        },
    })
}

/// Splits `Outputs.<binding>` into the messages a queue output binding writes, as the host
/// writes them (`FunctionBinding.ReadAsEnumerable`, then `ToString()`): an array, or text that
/// looks like one, is one message per element; an object is written as indented JSON; a string
/// that is valid base64 is taken for bytes and written decoded.
fn output_messages(outputs: &Value, binding: &str) -> Vec<String> {
    let value = outputs
        .get("Outputs")
        .and_then(|outputs| crate::host::get(outputs.as_object()?, binding))
        .cloned()
        .unwrap_or(Value::Null);
    let decoded = |text: String| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or(text)
    };
    let text_of = |item: Value| match item {
        Value::String(text) => text,
        other => serde_json::to_string_pretty(&other).unwrap_or_default(),
    };
    match value {
        Value::Null => Vec::new(),
        // An array's elements are written each as its text; only a whole string value is
        // tried as base64 (bytes) first.
        Value::Array(items) => items.into_iter().map(text_of).collect(),
        Value::String(text) if text.trim_start().starts_with('[') => {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(items)) => items.into_iter().map(text_of).collect(),
                _ => vec![text],
            }
        }
        Value::String(text) => vec![decoded(text)],
        other => vec![text_of(other)],
    }
}

/// Records a settled delivery and tells whoever waits.
fn settle(shared: &HostShared, id: &str, dequeue_count: u64, status: u16) {
    {
        let mut ledger = lock(&shared.ledger);
        ledger.in_flight = ledger.in_flight.saturating_sub(1);
        ledger
            .deliveries
            .push((id.to_owned(), dequeue_count, status));
    }
    shared.changed.notify_waiters();
}

async fn enqueue(State(shared): State<Arc<HostShared>>, body: Bytes) -> Response {
    match put(&shared, &String::from_utf8_lossy(&body)).await {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error).into_response(),
    }
}

/// Answers with the results so far; with `?min=N`, it waits (up to 10 s) until there are at
/// least N.
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
        let changed = shared.changed.notified();
        collect(&shared).await;
        {
            let ledger = lock(&shared.ledger);
            if ledger.results.len() >= wanted || Instant::now() >= deadline {
                return axum::Json(Value::Array(ledger.results.clone())).into_response();
            }
        }
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn poison(State(shared): State<Arc<HostShared>>) -> Response {
    collect(&shared).await;
    let poison: Vec<Value> = lock(&shared.ledger)
        .poison
        .iter()
        .cloned()
        .map(Value::String)
        .collect();
    axum::Json(Value::Array(poison)).into_response()
}

/// POSTs an envelope to the handler as the host does. Returns the status and the answer's JSON,
/// or `None` when the handler did not answer within `timeout`.
async fn invoke(
    shared: &HostShared,
    function: &str,
    envelope: &Value,
    timeout: Duration,
) -> Option<(u16, Option<Value>)> {
    let response = shared
        .client
        .post(format!("{}/{function}", shared.handler))
        .header(
            "X-Azure-Functions-InvocationId",
            uuid::Uuid::new_v4().to_string(),
        )
        .header("X-Azure-Functions-HostVersion", "4.1037.0")
        .header("User-Agent", "Azure-Functions-Host/4.1037.0")
        .timeout(timeout)
        .json(envelope)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    // An answer that is not JSON is no response envelope: the invocation failed.
    let body = response.json::<Value>().await.ok();
    Some((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_written_as_the_host_writes_them() {
        let envelope = |value: Value| json!({"Outputs": {"resultMessage": value}});
        assert_eq!(
            output_messages(&envelope(json!({"a": 1})), "resultMessage"),
            ["{\n  \"a\": 1\n}"]
        );
        assert_eq!(
            output_messages(&envelope(json!([{"a": 1}, "plain text!"])), "resultMessage").len(),
            2
        );
        assert_eq!(
            output_messages(&envelope(json!("dGVzdA==")), "resultMessage"),
            ["test"],
            "a string that is valid base64 is taken for bytes"
        );
        assert_eq!(
            output_messages(&envelope(json!(["dGVzdA=="])), "resultMessage"),
            ["dGVzdA=="],
            "an array's elements are written as they are"
        );
        assert!(output_messages(&envelope(Value::Null), "resultMessage").is_empty());
        assert_eq!(output_messages(&json!({}), "resultMessage").len(), 0);
    }
}
