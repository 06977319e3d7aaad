//! A stateful fake of the Microsoft Graph endpoints this product uses, and of the managed
//! identity token endpoint, on loopback. Built from reference/graph.md §11.
//!
//! It keeps a tenant ([`tenant::Tenant`]) and enforces Graph's rules on it; it speaks Graph's
//! URLs, JSON, error bodies, `$batch`, paging and throttling; it issues tokens through the
//! `IDENTITY_ENDPOINT` protocol and checks them, with the app roles they carry, on every
//! request. Tests, the demo and the benchmarks drive it; they inject faults and read its request
//! log. It is compiled only with the `simulator` feature and no production code path reaches it.

pub mod azurite;
pub mod child;
pub mod host;
pub(crate) mod seed;
mod server;
pub use server::entra::{API_CLIENT_ID, CallerToken, KEY_ID, TENANT_ID};
pub mod tenant;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::Instant;

use self::tenant::Tenant;

/// How the simulated Graph behaves. Changeable while it runs ([`Simulator::configure`]).
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Added to every HTTP request (a `$batch` is one request).
    pub latency: Duration,
    /// The Graph application permissions (app roles) granted to the managed identity; a token
    /// carries the roles granted when it was issued.
    pub granted_roles: HashSet<String>,
    /// The client id of the user-assigned identity; `None` for a system-assigned one.
    pub managed_identity_client_id: Option<String>,
    /// The secret the platform puts in `IDENTITY_HEADER`.
    pub identity_header: String,
    /// The key id the tenant publishes its signing key under ([`KEY_ID`]); changing it is a
    /// key rollover as callers' token checkers see it.
    pub signing_key_id: String,
    /// How long issued tokens are valid.
    pub token_lifetime: Duration,
    /// Whether the tenant has an Entra ID P1/P2 licence (the registration report needs it).
    pub licensed: bool,
    /// Rows per page of the registration report [UNVERIFIED: Graph documents no page size].
    pub report_page_size: usize,
    /// Graph's throttling, per path class.
    pub throttle: Throttle,
    /// The origin written into `@odata.nextLink`s; `None` for the simulator's own. A test sets
    /// another host to check that the token never follows a link off the Graph endpoint.
    pub next_link_origin: Option<String>,
    /// Whether ARM answers every request with 503 (Azure Resource Manager unreachable).
    pub arm_unavailable: bool,
}

/// Throttling limits; `None` means unlimited.
#[derive(Clone, Debug, Default)]
pub struct Throttle {
    /// The identity-and-access token bucket: capacity in resource units and refill per second
    /// (a large tenant: 8,000 per 10 s, i.e. capacity 8,000 and 800 per second).
    pub identity_bucket: Option<(f64, f64)>,
    /// The reports limit: requests per window (Graph: 5 per 10 s).
    pub reports_window: Option<(usize, Duration)>,
    /// The identity-and-access write limit per app and tenant: writes per window (Graph: 3,000
    /// per 2.5 minutes), on top of the bucket. Graph does not say whether the window slides or
    /// is fixed [UNVERIFIED]; the simulator's slides, the stricter of the two for a client that
    /// paces itself (a fixed window admits a burst at its edge).
    pub write_window: Option<(usize, Duration)>,
}

impl Throttle {
    /// Graph's documented write limit for identity and access: 3,000 writes per 2.5 minutes.
    pub const GRAPH_WRITES: (usize, Duration) = (3_000, Duration::from_secs(150));
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            latency: Duration::ZERO,
            granted_roles: [
                "User.Read.All",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.Read.All",
                "AuditLog.Read.All",
                "Mail.Send",
                "Organization.Read.All",
                "RoleManagement.Read.Directory",
                "Application.Read.All",
                "GroupMember.Read.All",
                "Policy.Read.AuthenticationMethod",
                "PrivilegedEligibilitySchedule.Read.AzureADGroup",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            managed_identity_client_id: None,
            identity_header: format!("sim-identity-header-{}", uuid::Uuid::new_v4()),
            signing_key_id: KEY_ID.to_owned(),
            token_lifetime: Duration::from_secs(3600),
            licensed: true,
            report_page_size: 1000,
            throttle: Throttle::default(),
            next_link_origin: None,
            arm_unavailable: false,
        }
    }
}

/// A fault to inject: the next `times` requests that match answer with `action`.
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// `GET`, `POST`, …; `None` matches any method.
    pub(crate) method: Option<&'static str>,
    /// A substring of the decoded path (after `/v1.0`, or `/msi/token`); a trailing `$`
    /// anchors it at the end of the path; `None` matches any.
    pub(crate) path_contains: Option<String>,
    pub(crate) times: usize,
    pub(crate) action: FaultAction,
}

#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answer with this status, Graph error code and optional `Retry-After` value.
    Respond {
        status: u16,
        code: &'static str,
        retry_after: Option<String>,
    },
    /// Do the request as usual, but only after this delay.
    Delay(Duration),
    /// Do the request at once, then wait this long before answering (a slow answer to a write
    /// that already happened).
    DelayAnswer(Duration),
    /// Do the request, then answer with this status instead of the real answer (an answer
    /// lost after the write happened).
    ApplyThenRespond { status: u16, code: &'static str },
    /// Hold the request until the test opens the gate, then do it as usual.
    Hold(Gate),
    /// Leave the item out of its `$batch` answer (a batch item only).
    Omit,
    /// Answer 200 with a body that is not what the request reads.
    Malformed,
    /// Answer with this status and exactly this body (an answer Graph's documentation allows
    /// but the simulator's tenant would not give: thousands of methods, an enum value of 60 KB,
    /// an answer of many megabytes).
    Answer { status: u16, body: Value },
}

/// A gate a held request waits at; [`Gate::open`] lets every held request through.
#[derive(Clone, Debug)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Default for Gate {
    fn default() -> Gate {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }
}

impl Gate {
    /// Lets every request held at this gate, and every later one, through.
    pub fn open(&self) {
        self.0.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }

    async fn pass(&self) {
        // The semaphore is never closed; a permit is only looked at, never kept.
        let _ = self.0.acquire().await;
    }
}

impl FaultRule {
    /// Makes a rule that gives `action` to the next `times` requests with `method` (any when
    /// `None`) whose path contains `path`.
    pub fn new(
        method: Option<&'static str>,
        path: &str,
        times: usize,
        action: FaultAction,
    ) -> FaultRule {
        FaultRule {
            method,
            path_contains: Some(path.to_owned()),
            times,
            action,
        }
    }

    /// Throttle the next `times` matching requests with `Retry-After: retry_after`.
    pub fn throttle(
        method: Option<&'static str>,
        path: &str,
        times: usize,
        retry_after: &str,
    ) -> FaultRule {
        let action = FaultAction::Respond {
            status: 429,
            code: "TooManyRequests",
            retry_after: Some(retry_after.to_owned()),
        };
        FaultRule::new(method, path, times, action)
    }

    /// Answer the next `times` matching requests with `status` and Graph error `code`.
    pub fn respond(
        method: Option<&'static str>,
        path: &str,
        times: usize,
        status: u16,
        code: &'static str,
    ) -> FaultRule {
        let action = FaultAction::Respond {
            status,
            code,
            retry_after: None,
        };
        FaultRule::new(method, path, times, action)
    }
}

/// One request the simulator received.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    /// The decoded path after `/v1.0` (`/users/a#EXT#@b/authentication/phoneMethods`), or the
    /// full path for other endpoints.
    pub path: String,
    /// The raw, still-encoded path as it arrived.
    pub raw_path: String,
    pub query: Vec<(String, String)>,
    pub client_request_id: Option<String>,
    /// Whether it carried a token this simulator issued.
    pub authorized: bool,
    /// Whether it was an item of a `$batch`.
    pub in_batch: bool,
    pub status: u16,
    /// The `Retry-After` the answer carried, if any.
    pub retry_after: Option<String>,
    pub body: Option<Value>,
    /// When the request arrived.
    pub started: Instant,
    /// When it was answered.
    pub at: Instant,
}

impl LoggedRequest {
    /// Whether this request could change the tenant.
    pub fn is_write(&self) -> bool {
        // `$batch` and `checkMemberGroups` are POSTs that only read.
        self.method != "GET"
            && !self.path.ends_with("$batch")
            && !self.path.ends_with("/checkMemberGroups")
            && self.path != "/msi/token"
    }
}

/// State shared by the simulator's request handlers and its handle.
pub(crate) struct Shared {
    tenant: Mutex<Tenant>,
    options: Mutex<SimOptions>,
    tokens: Mutex<std::collections::HashMap<String, IssuedToken>>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<Vec<FaultRule>>,
    throttle: Mutex<server::ThrottleState>,
    base_url: String,
    /// Requests being served now: (serial, method, decoded path).
    in_flight: Mutex<Vec<(u64, String, String)>>,
    /// Every request that arrived, answered or not: (method, decoded path).
    arrived: Mutex<Vec<(String, String)>>,
    /// Bumped whenever a request arrives, for tests that wait for one.
    arrivals: tokio::sync::watch::Sender<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub(crate) roles: HashSet<String>,
    /// The resource it was issued for: Graph (the simulator's origin) or ARM (`/arm` below it).
    pub(crate) audience: String,
    pub(crate) expires: Instant,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Starts a simulator on a free loopback port.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(options: SimOptions) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Simulator::start_on(listener, options)
    }

    /// Starts a simulator on `listener`.
    ///
    /// # Errors
    ///
    /// When the listener has no local address.
    pub fn start_on(
        listener: tokio::net::TcpListener,
        options: SimOptions,
    ) -> std::io::Result<Simulator> {
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            tenant: Mutex::new(Tenant::default()),
            options: Mutex::new(options),
            tokens: Mutex::new(std::collections::HashMap::new()),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            throttle: Mutex::new(server::ThrottleState::default()),
            base_url: format!("http://{address}"),
            in_flight: Mutex::new(Vec::new()),
            arrived: Mutex::new(Vec::new()),
            arrivals: tokio::sync::watch::Sender::new(0),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let router = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Simulator {
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The value for `GRAPH_ENDPOINT`: `http://127.0.0.1:<port>`.
    pub fn graph_endpoint(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The value for `ARM_ENDPOINT`: ARM's root, `/arm` under the simulator's origin.
    pub fn arm_endpoint(&self) -> String {
        format!("{}/arm", self.shared.base_url)
    }

    /// The value for `IDENTITY_ENDPOINT`.
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.shared.base_url)
    }

    /// The environment a handler process needs to use this simulator as Graph, with the
    /// managed identity code path.
    pub fn handler_environment(&self) -> Vec<(String, String)> {
        let options = lock(&self.shared.options);
        let mut environment = vec![
            ("GRAPH_ENDPOINT".to_owned(), self.graph_endpoint()),
            ("IDENTITY_ENDPOINT".to_owned(), self.identity_endpoint()),
            (
                "IDENTITY_HEADER".to_owned(),
                options.identity_header.clone(),
            ),
            // Callers' tokens are checked against this simulator's keys (when MFA_TENANT_ID
            // and MFA_API_CLIENT_ID name its tenant and API: TENANT_ID, API_CLIENT_ID).
            (
                "MFA_ENTRA_AUTHORITY".to_owned(),
                self.shared.base_url.clone(),
            ),
            // The demo and the tests call with the function key alone, as a local `func start`
            // does; the tests of that refusal set it false.
            ("MFA_ALLOW_KEY_ONLY_CALLERS".to_owned(), "true".to_owned()),
            // The Azure side is protected as the Bicep sets it up: the app and its storage.
            ("ARM_ENDPOINT".to_owned(), self.arm_endpoint()),
            (
                "MFA_AZURE_CONTROL_SCOPES".to_owned(),
                serde_json::json!([tenant::azure::FUNCTION_APP, tenant::azure::STORAGE_ACCOUNT])
                    .to_string(),
            ),
        ];
        if let Some(client_id) = &options.managed_identity_client_id {
            environment.push(("AZURE_CLIENT_ID".to_owned(), client_id.clone()));
        }
        environment
    }

    /// Signs `token` with this simulator's tenant's key.
    pub fn sign(&self, token: &CallerToken) -> String {
        token.sign(&self.shared.base_url)
    }

    /// Reads or changes the tenant.
    pub fn tenant<R>(&self, change: impl FnOnce(&mut Tenant) -> R) -> R {
        change(&mut lock(&self.shared.tenant))
    }

    /// Changes how the simulator behaves.
    pub fn configure(&self, change: impl FnOnce(&mut SimOptions)) {
        change(&mut lock(&self.shared.options));
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Holds the next `times` requests with `method` whose path contains `path` until the
    /// returned gate is opened.
    pub fn hold(&self, method: Option<&'static str>, path: &str, times: usize) -> Gate {
        let gate = Gate::default();
        self.inject(FaultRule::new(
            method,
            path,
            times,
            FaultAction::Hold(gate.clone()),
        ));
        gate
    }

    /// Adds a fault rule; rules are matched in the order added.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// The requests being served at this moment, as (method, decoded path).
    pub fn in_flight(&self) -> Vec<(String, String)> {
        lock(&self.shared.in_flight)
            .iter()
            .map(|(_, method, path)| (method.clone(), path.clone()))
            .collect()
    }

    /// How many requests whose path contains `path` arrived, answered or not (a held or
    /// abandoned request is in no log of answers).
    pub fn arrived(&self, path: &str) -> usize {
        lock(&self.shared.arrived)
            .iter()
            .filter(|(_, arrived)| arrived.contains(path))
            .count()
    }

    /// Returns a receiver that changes whenever a request arrives or is answered.
    pub fn request_arrived(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.arrivals.subscribe()
    }

    /// Refills the throttling bucket and empties the reports window.
    pub fn reset_throttle(&self) {
        *lock(&self.shared.throttle) = server::ThrottleState::default();
    }

    /// Removes every fault rule not yet used up.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Locks a simulator mutex; a poisoned lock (a panicking test thread) still holds valid state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    crate::mutex::lock(mutex)
}
