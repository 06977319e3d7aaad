//! Starts a [`TestApp`]: a fresh Graph simulator in the test process, and the real handler binary
//! as a child process started the way the Functions host starts it (port and managed identity in
//! its environment). A test calls `TestApp::spawn()`, or
//! `TestApp::builder().env(..).grant(..).prepare(..).spawn()` for a particular set-up. Tests drive
//! the handler with host-shaped envelopes and assert on its answers (read through [`Results`]), the
//! simulator's state and request log, and the handler's captured output.

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
pub const FAST: [(&str, &str); 4] = [
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

/// Reads a result (an HTTP answer's report or a queue result message) through typed accessors.
pub trait Results {
    /// Returns the result JSON.
    fn result(&self) -> &Value;

    fn status_text(&self) -> &str {
        text_of(self.result(), "status")
    }
    fn action(&self) -> &str {
        text_of(self.result(), "action")
    }
    /// Returns the error, or null on a success: the result always has the field.
    fn error(&self) -> &Value {
        field_of(self.result(), "error")
    }
    /// Returns the error's code, or "" on a success.
    fn error_code(&self) -> &str {
        match self.error() {
            Value::Null => "",
            error => text_of(error, "code"),
        }
    }
    /// Returns the error's message, or "" on a success.
    fn error_message(&self) -> &str {
        match self.error() {
            Value::Null => "",
            error => text_of(error, "message"),
        }
    }
    fn phone_method(&self) -> &Value {
        field_of(self.result(), "phoneMethod")
    }
    fn conflict_owner(&self) -> &Value {
        field_of(self.result(), "conflictOwner")
    }
    fn notification(&self) -> &Value {
        field_of(self.result(), "notification")
    }
    fn user(&self) -> &Value {
        field_of(self.result(), "user")
    }
    fn warnings(&self) -> &Value {
        field_of(self.result(), "warnings")
    }
    fn warning_codes(&self) -> Vec<String> {
        let warnings = self
            .warnings()
            .as_array()
            .unwrap_or_else(|| panic!("warnings is not an array: {}", self.result()));
        warnings
            .iter()
            .map(|warning| text_of(warning, "code").to_owned())
            .collect()
    }
    fn has_warning(&self, code: &str) -> bool {
        self.warning_codes().iter().any(|warning| warning == code)
    }
    /// Returns the message of the first warning with `code`; a test fails when there is none.
    fn warning_message(&self, code: &str) -> &str {
        self.warnings()
            .as_array()
            .and_then(|warnings| warnings.iter().find(|warning| warning["code"] == code))
            .map(|warning| text_of(warning, "message"))
            .unwrap_or_else(|| panic!("no {code} warning in {}", self.result()))
    }
    /// Returns the log lines, joined.
    fn log_text(&self) -> String {
        field_of(self.result(), "log")
            .as_array()
            .unwrap_or_else(|| panic!("log is not an array: {}", self.result()))
            .iter()
            .map(|line| line.as_str().expect("a log line is text"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Returns `value`'s field `name`, which must be there (null is a value): an assertion must not
/// pass on a field that vanished from the contract.
#[track_caller]
pub fn field_of<'a>(value: &'a Value, name: &str) -> &'a Value {
    value
        .get(name)
        .unwrap_or_else(|| panic!("no field {name} in {value}"))
}

/// Returns `value`'s field `name`, which must be text.
#[track_caller]
pub fn text_of<'a>(value: &'a Value, name: &str) -> &'a str {
    field_of(value, name)
        .as_str()
        .unwrap_or_else(|| panic!("{name} is not text in {value}"))
}

impl Results for HttpAnswer {
    fn result(&self) -> &Value {
        &self.report
    }
}

impl Results for Value {
    fn result(&self) -> &Value {
        self
    }
}

/// Makes simulator options whose identity is granted exactly `roles`.
pub fn granted(roles: &[&str]) -> SimOptions {
    SimOptions {
        granted_roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        ..SimOptions::default()
    }
}

/// How a [`TestApp`] is set up before it starts.
pub struct TestAppBuilder {
    options: SimOptions,
    environment: Vec<(String, String)>,
    prepare: Vec<Preparation>,
}

/// A change made to the simulator before the handler starts.
type Preparation = Box<dyn FnOnce(&Simulator)>;

impl TestAppBuilder {
    /// Sets the simulator's options (the default grants every permission and adds no latency).
    pub fn options(mut self, options: SimOptions) -> TestAppBuilder {
        self.options = options;
        self
    }

    /// Grants the managed identity exactly `roles`.
    pub fn grant(mut self, roles: &[&str]) -> TestAppBuilder {
        self.options.granted_roles = roles.iter().map(|role| (*role).to_owned()).collect();
        self
    }

    /// Adds an app setting for the handler.
    pub fn env(mut self, name: &str, value: &str) -> TestAppBuilder {
        self.environment.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds app settings for the handler.
    pub fn envs(mut self, settings: &[(&str, &str)]) -> TestAppBuilder {
        for (name, value) in settings {
            self = self.env(name, value);
        }
        self
    }

    /// Runs `prepare` on the simulator before the handler starts.
    pub fn prepare(mut self, prepare: impl FnOnce(&Simulator) + 'static) -> TestAppBuilder {
        self.prepare.push(Box::new(prepare));
        self
    }

    /// Starts the simulator, prepares it, and starts the handler against it.
    pub async fn spawn(self) -> TestApp {
        let sim = Simulator::start(self.options)
            .await
            .expect("simulator starts");
        for prepare in self.prepare {
            prepare(&sim);
        }
        let mut command = Command::new(HANDLER);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
            .env("RUST_LOG", "info")
            .envs(sim.handler_environment())
            .envs(FAST)
            .envs(self.environment);
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
}

/// Makes a command that runs the handler binary and ends with the test, however the test ends
/// (a timeout that drops it, a test process killed).
pub fn handler_command() -> Command {
    let mut command = Command::new(HANDLER);
    mfa_phone_handler::simulator::child::end_with_parent(&mut command);
    command
}

/// Starts the handler and waits for its "listening on" line.
pub async fn start_handler(mut command: Command) -> (Child, String, Arc<Output>) {
    // When the test process is killed (a timeout), its handlers end with it.
    mfa_phone_handler::simulator::child::end_with_parent(&mut command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    /// Starts another handler process against this app's simulator (another instance of the
    /// Function App), with the app settings `settings`, and returns its base URL.
    pub async fn another_instance(&self, settings: &[(&str, &str)]) -> (Child, String) {
        let mut command = Command::new(HANDLER);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
            .env("RUST_LOG", "info")
            .envs(self.sim.handler_environment())
            .envs(FAST)
            .envs(settings.iter().copied());
        let (child, url, _) = start_handler(command).await;
        (child, url)
    }

    /// Starts a handler against a default simulator.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// Returns a builder; the handler it starts is set up as the builder says.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            options: SimOptions::default(),
            environment: Vec::new(),
            prepare: Vec::new(),
        }
    }

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
        assert_valid_result(&report);
        HttpAnswer {
            status: output["statusCode"].as_u64().expect("statusCode") as u16,
            report,
            envelope,
        }
    }

    /// POSTs raw text to a function route, as the host would, and returns the HTTP status and
    /// the JSON answer.
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

    /// Delivers `message` to the queue-triggered function as the host would, on its
    /// `dequeue_count`-th delivery, and returns the HTTP status and the answer envelope.
    pub async fn deliver(&self, message: &Value, dequeue_count: u64) -> (u16, Value) {
        let envelope = queue_envelope(&message.to_string(), dequeue_count);
        self.post(QUEUE_FUNCTION, &envelope.to_string()).await
    }

    /// Counts the Graph requests so far that satisfy `predicate`.
    pub fn count(&self, predicate: impl Fn(&LoggedRequest) -> bool) -> usize {
        self.graph_requests()
            .iter()
            .filter(|request| predicate(request))
            .count()
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

    /// Returns the user's phone methods as (type, number, SMS sign-in state), in type order.
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

    /// Returns the requests that could have changed the tenant.
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    /// Returns the Graph requests invocations made (not token requests, and not the process's
    /// background reads), direct or in a batch.
    pub fn graph_requests(&self) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|request| request.path != "/msi/token" && !is_background_read(request))
            .collect()
    }

    /// Returns everything the handler wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Waits until the handler's output satisfies `done`.
    pub async fn wait_for_output(&self, done: impl Fn(&str) -> bool) {
        self.output.wait_for(done).await;
    }
}

/// Tells whether `request` is one of the process's background reads: who holds privileged roles,
/// who controls the app on the Azure side (ARM), who owns privileged applications, and the
/// Authentication methods policy.
pub fn is_background_read(request: &LoggedRequest) -> bool {
    request.path.starts_with("/arm/")
        || request.path.contains("/roleManagement/directory/")
        || request.path.starts_with("/servicePrincipals")
        || request.path.starts_with("/applications")
        || request
            .path
            .ends_with("/members/microsoft.graph.servicePrincipal")
        || request
            .path
            .starts_with("/policies/authenticationMethodsPolicy/")
}

/// Returns the result message a queue answer envelope carries, checked against the API definition.
pub fn result_of(envelope: &Value) -> &Value {
    let result = &envelope["Outputs"]["resultMessage"];
    assert!(
        result.is_object(),
        "the result message is a JSON object: {envelope}"
    );
    assert_valid_result(result);
    result
}

/// Fails when `result` is not what the API definition's result schema allows (a field the
/// definition lacks, a code it does not list, a type it does not say).
#[track_caller]
pub fn assert_valid_result(result: &Value) {
    let errors = result_schema_errors(result);
    assert!(
        errors.is_empty(),
        "the result does not match the API definition: {errors:#?}\n{result}"
    );
}

/// Lists what the API definition's result schema finds wrong with `result`.
pub fn result_schema_errors(result: &Value) -> Vec<String> {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let definition =
            mfa_phone_handler::openapi::definition(mfa_phone_handler::openapi::PLACEHOLDER_HOST);
        let schema = json_schema(definition["definitions"]["Result"].clone());
        jsonschema::draft4::new(&schema).expect("the result schema compiles")
    });
    validator
        .iter_errors(result)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

/// Rewrites OpenAPI 2.0's schema object as plain JSON Schema: `x-nullable` becomes a null type.
fn json_schema(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) => {
            let nullable = object.remove("x-nullable") == Some(Value::Bool(true));
            object.retain(|key, _| !key.starts_with("x-"));
            let mut object: serde_json::Map<String, Value> = object
                .into_iter()
                .map(|(key, value)| {
                    let value = match key.as_str() {
                        "properties" => match value {
                            Value::Object(properties) => Value::Object(
                                properties
                                    .into_iter()
                                    .map(|(name, schema)| (name, json_schema(schema)))
                                    .collect(),
                            ),
                            other => other,
                        },
                        "items" => json_schema(value),
                        _ => value,
                    };
                    (key, value)
                })
                .collect();
            if nullable {
                if let Some(Value::String(kind)) = object.get("type").cloned() {
                    object.insert("type".to_owned(), json!([kind, "null"]));
                }
                if let Some(Value::Array(mut values)) = object.get("enum").cloned() {
                    values.push(Value::Null);
                    object.insert("enum".to_owned(), Value::Array(values));
                }
            }
            Value::Object(object)
        }
        other => other,
    }
}

/// The queue-triggered function's route.
pub const QUEUE_FUNCTION: &str = "SetOrRemoveMobilePhoneMfaQueue";

/// Builds the envelope the host sends for an HTTP trigger; `Body` is left out when there is none.
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

/// Builds the envelope the host sends for an HTTP trigger whose caller App Service authentication
/// vouched for: the Entra identity (with `claims`) before the function-key identity, and the
/// principal headers App Service adds, as the host forwards them.
pub fn http_envelope_as(body: &Value, claims: &[(&str, &str)]) -> Value {
    let mut envelope = http_envelope(Some(&body.to_string()));
    let claims: Vec<Value> = claims
        .iter()
        .map(|(kind, value)| json!({"Type": kind, "Value": value, "Issuer": "LOCAL AUTHORITY"}))
        .collect();
    let object_id = claims
        .iter()
        .find(|claim| {
            claim["Type"]
                .as_str()
                .is_some_and(|kind| kind.ends_with("objectidentifier") || kind == "oid")
        })
        .and_then(|claim| claim["Value"].as_str())
        .unwrap_or_default()
        .to_owned();
    let request = &mut envelope["Data"]["req"];
    request["Identities"] = json!([
        {"AuthenticationType": "aad", "IsAuthenticated": true, "Claims": claims,
         "NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
         "RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"},
        {"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Claims": [
            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Function"}
        ]}
    ]);
    request["Headers"]["X-MS-CLIENT-PRINCIPAL-ID"] = json!([object_id]);
    request["Headers"]["X-MS-CLIENT-PRINCIPAL-IDP"] = json!(["aad"]);
    envelope
}

/// Builds the envelope the host sends for a queue trigger, with the message text JSON-encoded
/// twice and the metadata as the host serialises it.
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

/// Starts Azurite for the queue and lease tests (installing it first if it is not; only these
/// tests need it).
pub async fn azurite() -> mfa_phone_handler::simulator::azurite::Azurite {
    use mfa_phone_handler::simulator::azurite::Azurite;
    let script = tokio::task::spawn_blocking(Azurite::install)
        .await
        .expect("the install task runs")
        .unwrap_or_else(|error| panic!("{error}"));
    Azurite::start(&script)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Builds `AzureWebJobsStorage` for a handler that uses `azurite` (its development account's key).
pub fn connection_string(azurite: &mfa_phone_handler::simulator::azurite::Azurite) -> String {
    storage_of(azurite)
        .settings()
        .connection_string()
        .expect("Azurite's key")
}

/// Opens the storage account of `azurite`, reached as the product reaches it.
pub fn storage_of(
    azurite: &mfa_phone_handler::simulator::azurite::Azurite,
) -> mfa_phone_handler::storage::StorageAccount {
    mfa_phone_handler::install_crypto_provider();
    mfa_phone_handler::storage::StorageAccount::new(azurite.account(), reqwest::Client::new(), None)
}

/// Takes every message off the queue `name` and returns them as stored.
pub async fn take_all(
    storage: &mfa_phone_handler::storage::StorageAccount,
    name: &str,
) -> Vec<String> {
    let queue = mfa_phone_handler::storage::queue::Queue::new(
        storage,
        name,
        mfa_phone_handler::storage::queue::Encoding::None,
    )
    .expect("a client");
    let mut texts = Vec::new();
    while let Ok(batch) = queue.receive(32, Duration::from_secs(60)).await {
        if batch.is_empty() {
            break;
        }
        for message in batch {
            queue
                .delete(&message.id, &message.pop_receipt)
                .await
                .expect("deleted");
            texts.push(message.stored);
        }
    }
    texts
}

/// Awaits `future`, failing the test (saying what did not happen) if it takes longer than two
/// minutes: a queue that never drains is a failure, not a hang.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(120), future).await {
        Ok(value) => value,
        Err(_) => panic!("not within two minutes: {what}"),
    }
}

/// `report.csv` of a bulk run, read by its header (its delimiter told from the header, its
/// BOM required): a column a test asks for that the report lacks fails the test, so no
/// assertion passes on a column that vanished.
#[derive(Debug)]
pub struct ReportCsv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// One line of [`ReportCsv`].
pub struct ReportRow<'a> {
    header: &'a [String],
    cells: &'a [String],
}

impl ReportCsv {
    /// Reads `directory/report.csv`.
    pub fn read(directory: &std::path::Path) -> ReportCsv {
        let text = std::fs::read_to_string(directory.join("report.csv")).expect("report.csv");
        let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
        let delimiter = text
            .strip_prefix("\"line\"")
            .and_then(|rest| rest.bytes().next())
            .unwrap_or_else(|| panic!("a header starting with \"line\": {text}"));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .expect("a header")
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|record| {
                record
                    .expect("a record")
                    .iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        ReportCsv { header, rows }
    }

    /// Returns every line, in the report's order.
    pub fn rows(&self) -> Vec<ReportRow<'_>> {
        self.rows
            .iter()
            .map(|cells| ReportRow {
                header: &self.header,
                cells,
            })
            .collect()
    }

    /// Returns the first report line about the file's line `line` (there is one per phone
    /// type); fails when there is none.
    pub fn line(&self, line: u64) -> ReportRow<'_> {
        self.rows()
            .into_iter()
            .find(|row| row.get("line") == line.to_string())
            .unwrap_or_else(|| panic!("a report line for line {line}: {:?}", self.rows))
    }

    /// Returns one column of every line, in the report's order.
    pub fn column(&self, column: &str) -> Vec<String> {
        self.rows()
            .iter()
            .map(|row| row.get(column).to_owned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Returns the column names, in order.
    pub fn header(&self) -> &[String] {
        &self.header
    }
}

impl<'a> ReportRow<'a> {
    /// Returns every cell, in the header's order.
    pub fn cells(&self) -> &'a [String] {
        self.cells
    }

    /// Returns the cell of `column`; fails when the report has no such column.
    pub fn get(&self, column: &str) -> &'a str {
        let index = self
            .header
            .iter()
            .position(|name| name == column)
            .unwrap_or_else(|| panic!("report.csv has no column {column}: {:?}", self.header));
        self.cells
            .get(index)
            .unwrap_or_else(|| panic!("a line without its {column} cell: {:?}", self.cells))
    }
}

impl std::fmt::Debug for ReportRow<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_list().entries(self.cells).finish()
    }
}

/// Finds Chromium from Debian's packages (`scripts/test` installs it).
pub fn chromium() -> std::path::PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(move |directory| directory.join(name))
                .collect::<Vec<_>>()
        })
        .find(|path| path.is_file())
        .expect("Chromium (apt install chromium; scripts/test installs it)")
}

/// Runs headless Chromium with `arguments` to its end and returns its output. Chromium starts
/// helper processes of its own (zygote, renderer, GPU), so it runs in a process group of its own,
/// which is killed whole when the run ends or is abandoned (a test's timeout drops this future), so
/// no browser process outlives the test.
pub async fn run_browser(
    arguments: impl IntoIterator<Item = impl AsRef<std::ffi::OsStr>>,
) -> std::io::Result<std::process::Output> {
    /// Kills the browser's process group when dropped.
    struct Group(i32);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: killpg takes plain integers; a group already gone is only ESRCH.
            unsafe {
                libc::killpg(self.0, libc::SIGKILL);
            }
        }
    }
    let mut command = Command::new(chromium());
    mfa_phone_handler::simulator::child::end_with_parent(&mut command);
    command
        .args(arguments)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn()?;
    let _group = child.id().and_then(|id| i32::try_from(id).ok()).map(Group);
    child.wait_with_output().await
}

/// Returns the DOM headless Chromium builds from the page at `path` (`--dump-dom`), run as
/// [`run_browser`] runs it; the test fails when Chromium does not run or does not end well.
pub async fn dump_dom(path: &std::path::Path) -> String {
    let output = run_browser([
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--dump-dom".to_owned(),
        format!("file://{}", path.display()),
    ]);
    let output = within("Chromium renders the page", output)
        .await
        .expect("Chromium runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
