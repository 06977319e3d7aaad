//! `spawn_app`: a fresh Graph simulator in the test process, and the real handler binary as a
//! child process started the way the Functions host starts it (port and managed identity in
//! its environment). Tests drive the handler with host-shaped envelopes and assert on its
//! answers, the simulator's state and request log, and the handler's captured output.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{LoggedRequest, SimOptions, Simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const HANDLER: &str = env!("CARGO_BIN_EXE_mfa-phone-handler");

/// Settings that keep retries fast in tests; each test can override them.
const FAST: [(&str, &str); 4] = [
    ("MFA_GRAPH_BACKOFF_SECONDS", "0.01"),
    ("MFA_GRAPH_BACKOFF_CAP_SECONDS", "0.05"),
    ("MFA_GRAPH_RETRY_BUDGET_SECONDS", "5"),
    ("MFA_VERIFY_SECONDS", "0.5"),
];

pub struct TestApp {
    pub sim: Simulator,
    pub handler: String,
    pub client: reqwest::Client,
    output: Arc<Output>,
    _child: Child,
}

/// What a handler process wrote to stdout and stderr, line by line.
#[derive(Default)]
pub struct Output {
    lines: Mutex<Vec<String>>,
    /// Bumped on every line, so a test can wait for a line without sleeping.
    changed: tokio::sync::watch::Sender<usize>,
}

impl Output {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.changed.send_modify(|count| *count += 1);
    }

    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until the output satisfies `done`.
    pub async fn wait_for(&self, done: impl Fn(&str) -> bool) {
        let mut changed = self.changed.subscribe();
        while !done(&self.text()) {
            changed.changed().await.expect("the output is kept");
        }
    }
}

/// The answer to an HTTP-triggered invocation, unpacked.
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status the caller gets (`Outputs.res.statusCode`).
    pub status: u16,
    /// The result report (`Outputs.res.body`, parsed).
    pub report: Value,
    /// The whole envelope the host reads.
    pub envelope: Value,
}

impl HttpAnswer {
    pub fn error_code(&self) -> &str {
        self.report["error"]["code"].as_str().unwrap_or("")
    }
    pub fn action(&self) -> &str {
        self.report["action"].as_str().unwrap_or("")
    }
    pub fn has_warning(&self, code: &str) -> bool {
        self.warning_codes().iter().any(|warning| warning == code)
    }
    pub fn warning_codes(&self) -> Vec<String> {
        self.report["warnings"]
            .as_array()
            .map(|warnings| {
                warnings
                    .iter()
                    .filter_map(|warning| warning["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Simulator options whose identity is granted exactly `roles`.
pub fn granted(roles: &[&str]) -> SimOptions {
    SimOptions {
        granted_roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        ..SimOptions::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SimOptions::default(), &[]).await
}

pub async fn spawn_app_with(options: SimOptions, environment: &[(&str, &str)]) -> TestApp {
    spawn_app_prepared(options, environment, |_| {}).await
}

/// Like [`spawn_app_with`], with `prepare` run on the simulator before the handler starts.
pub async fn spawn_app_prepared(
    options: SimOptions,
    environment: &[(&str, &str)],
    prepare: impl FnOnce(&Simulator),
) -> TestApp {
    let sim = Simulator::start(options).await.expect("simulator starts");
    prepare(&sim);
    let mut command = Command::new(HANDLER);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
        .env("RUST_LOG", "info")
        .envs(sim.handler_environment())
        .envs(FAST)
        .envs(environment.iter().copied());
    let (child, handler, output) = start_handler(command).await;
    mfa_phone_handler::install_crypto_provider();
    TestApp {
        sim,
        handler,
        client: reqwest::Client::new(),
        output,
        _child: child,
    }
}

/// Starts the handler and waits for its "listening on" line.
pub async fn start_handler(mut command: Command) -> (Child, String, Arc<Output>) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("handler starts");
    let output = Arc::new(Output::default());
    let (address_sender, address_receiver) = tokio::sync::oneshot::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    {
        let output = output.clone();
        tokio::spawn(async move {
            let mut address_sender = Some(address_sender);
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.split("listening on ").nth(1)
                    && let Some(sender) = address_sender.take()
                {
                    let _ = sender.send(address.trim().to_owned());
                }
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("handler | {line}");
                }
                output.push(line);
            }
        });
    }
    {
        let output = output.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("handler ! {line}");
                }
                output.push(line);
            }
        });
    }
    let address = tokio::time::timeout(Duration::from_secs(30), address_receiver)
        .await
        .map(Result::ok)
        .ok()
        .flatten();
    let Some(address) = address else {
        panic!(
            "the handler did not start listening; its output:\n{}",
            output.text()
        );
    };
    (child, format!("http://{address}"), output)
}

impl TestApp {
    /// Invokes the HTTP-triggered function with `parameters` as the request body, in the
    /// envelope the host sends.
    pub async fn call(&self, parameters: Value) -> HttpAnswer {
        self.call_envelope(http_envelope(Some(&parameters.to_string())))
            .await
    }

    /// Invokes the HTTP-triggered function with an envelope as given.
    pub async fn call_envelope(&self, envelope: Value) -> HttpAnswer {
        let (status, envelope) = self
            .post("SetOrRemoveMobilePhoneMfa", &envelope.to_string())
            .await;
        assert_eq!(
            status, 200,
            "the handler answers the host with 200: {envelope}"
        );
        let output = &envelope["Outputs"]["res"];
        let report = serde_json::from_str(output["body"].as_str().expect("body is a string"))
            .expect("body is JSON");
        HttpAnswer {
            status: output["statusCode"].as_u64().expect("statusCode") as u16,
            report,
            envelope,
        }
    }

    /// POSTs raw text to a function route, as the host would; the HTTP status and JSON answer.
    pub async fn post(&self, function: &str, body: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/{function}", self.handler))
            .header("Content-Type", "application/json; charset=utf-8")
            .header(
                "X-Azure-Functions-InvocationId",
                "11111111-2222-3333-4444-555555555555",
            )
            .body(body.to_owned())
            .send()
            .await
            .expect("the handler answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub fn add_user(&self, user: SimUser) -> String {
        self.sim.tenant(|tenant| tenant.add_user(user))
    }

    pub fn add_member(&self, upn: &str) -> String {
        self.add_user(SimUser::member(upn, "Test User"))
    }

    pub fn seed_phone(&self, user: &str, phone_type: PhoneType, number: &str) {
        self.sim
            .tenant(|tenant| tenant.seed_phone(user, phone_type, number));
    }

    /// The user's phone methods as (type, number, SMS sign-in state), in type order.
    pub fn phones(&self, user: &str) -> Vec<(PhoneType, String, String)> {
        self.sim.tenant(|tenant| {
            tenant
                .find(user)
                .map(|user| {
                    user.phones()
                        .into_iter()
                        .map(|phone| (phone.phone_type, phone.number, phone.sms_sign_in_state))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Requests that could have changed the tenant.
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    /// Graph requests (not token requests), direct or in a batch.
    pub fn graph_requests(&self) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|request| request.path != "/msi/token")
            .collect()
    }

    /// Everything the handler wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Waits until the handler's output satisfies `done`.
    pub async fn wait_for_output(&self, done: impl Fn(&str) -> bool) {
        self.output.wait_for(done).await;
    }
}

/// The envelope the host sends for an HTTP trigger; `Body` is left out when there is none.
pub fn http_envelope(body: Option<&str>) -> Value {
    let mut request = json!({
        "Url": "https://app.azurewebsites.net/api/SetOrRemoveMobilePhoneMfa",
        "Method": "POST",
        "Query": {},
        "Headers": {"Content-Type": ["application/json"], "User-Agent": ["curl/8"]},
        "Params": {},
        "Identities": [{"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true}],
    });
    if let Some(body) = body {
        request["Body"] = Value::String(body.to_owned());
    }
    json!({
        "Data": {"req": request},
        "Metadata": {"sys": {"MethodName": "SetOrRemoveMobilePhoneMfa", "UtcNow": "2026-11-22T10:00:00Z"}},
    })
}

/// The envelope the host sends for a queue trigger, with the message text JSON-encoded twice
/// and the metadata as the host serialises it.
pub fn queue_envelope(message_text: &str, dequeue_count: u64) -> Value {
    json!({
        "Data": {"queueItem": Value::String(message_text.to_owned()).to_string()},
        "Metadata": {
            "DequeueCount": dequeue_count.to_string(),
            "ExpirationTime": "2026-11-29T10:00:00+00:00",
            "Id": "\"800ae4b3-bdd2-4c08-badd-f08e5a34b865\"",
            "InsertionTime": "2026-11-22T10:00:00+00:00",
            "NextVisibleTime": "2026-11-22T10:10:00+00:00",
            "PopReceipt": "\"AgAAAAMAAAAAAAAAAgtnj8x+1QE=\"",
            "sys": {"MethodName": "SetOrRemoveMobilePhoneMfaQueue", "UtcNow": "2026-11-22T10:00:01.22Z"}
        }
    })
}
