//! Sets up what the benchmarks need: a process whose managed identity points at a Graph simulator,
//! and the product's Graph client using that identity.

use mfa_phone_handler::credential::CredentialSource;
use mfa_phone_handler::graph::{self, GraphClient, GraphError, RetrySettings};
use mfa_phone_handler::phone::PhoneMethod;
use mfa_phone_handler::simulator::{SimOptions, Simulator};
use mfa_phone_handler::user::{DirectoryUser, UserRef};

/// The simulator's port, bound before the runtime starts, and the identity secret.
pub struct Prepared {
    listener: std::net::TcpListener,
    identity_header: String,
}

/// Binds the simulator's port and points `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` at it (what
/// azure_identity's managed identity credential reads, as on Azure), then builds the runtime.
/// Call first thing in `main`.
pub fn prepare() -> (tokio::runtime::Runtime, Prepared) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    let identity_header = format!("bench-{}", uuid::Uuid::new_v4());
    // SAFETY: no other thread exists yet; the runtime is built after this.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("http://{address}/msi/token"));
        std::env::set_var("IDENTITY_HEADER", &identity_header);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    (
        runtime,
        Prepared {
            listener,
            identity_header,
        },
    )
}

impl Prepared {
    /// Starts the simulator on the prepared port; call inside the runtime.
    pub fn start_simulator(self, options: SimOptions) -> Simulator {
        mfa_phone_handler::install_crypto_provider();
        self.listener.set_nonblocking(true).expect("non-blocking");
        Simulator::start_on(
            tokio::net::TcpListener::from_std(self.listener).expect("a tokio listener"),
            SimOptions {
                identity_header: self.identity_header,
                ..options
            },
        )
        .expect("the simulator starts")
    }
}

/// Builds the product's Graph client against `simulator`, with the managed identity credential.
#[allow(
    dead_code,
    reason = "each benchmark compiles this module; the queue benchmark goes through the handler"
)]
pub fn graph_client(simulator: &Simulator, retry: RetrySettings) -> GraphClient {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let endpoint = url::Url::parse(&simulator.graph_endpoint()).expect("a URL");
    let credential = mfa_phone_handler::credential::build(
        &CredentialSource::ManagedIdentity { client_id: None },
        &endpoint,
        http.clone(),
    )
    .expect("the managed identity credential");
    GraphClient::new(http, &endpoint, credential, retry).expect("the Graph client")
}

/// Reads the user and their phone methods as one `$batch` of two GETs: the read strategy the
/// handler benchmark compares with the two concurrent GETs the product uses.
#[allow(
    dead_code,
    reason = "each benchmark compiles this module; only one reads this way"
)]
pub async fn user_and_phone_methods_batched(
    graph: &GraphClient,
    user: &UserRef,
) -> (
    Result<DirectoryUser, GraphError>,
    Result<Vec<PhoneMethod>, GraphError>,
) {
    let items = vec![
        ("user".to_owned(), graph.user_read_url(user)),
        ("methods".to_owned(), graph.phone_methods_url(user)),
    ];
    let mut answers = match graph.batch_get(items).await {
        Ok(answers) => answers,
        Err(error) => panic!("the batch failed: {error}"),
    };
    let mut take = |id: &str| {
        let position = answers.iter().position(|answer| answer.id == id);
        answers.swap_remove(position.unwrap_or_else(|| panic!("no answer for {id}")))
    };
    let user = graph::user_of(take("user"));
    let methods = graph::phone_methods_of(take("methods"));
    (user, methods)
}

/// Starts a handler process against `simulator` with `settings`, on a free port, and returns its
/// URL once it is ready.
#[allow(
    dead_code,
    reason = "each benchmark compiles this module; not every one starts handlers"
)]
pub async fn spawn_handler(
    handler: &str,
    simulator: &Simulator,
    settings: &[(&str, String)],
) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a port")
        .port();
    let child = tokio::process::Command::new(handler)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .envs(simulator.handler_environment())
        .envs(settings.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the handler starts");
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    while client.get(format!("{url}/")).send().await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    (child, url)
}
