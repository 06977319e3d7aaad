//! Runs the embedded default: the handler, started as the Functions host starts it (a child
//! process with the host's environment, managed identity included), against the simulated
//! Graph with the demo tenant, behind a miniature Functions host on a local port. It prints
//! commands to paste.

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::simulator::azurite::Azurite;
use crate::simulator::host::{FunctionsHost, HostOptions};
use crate::simulator::seed::{self, DEMO_USERS};
use crate::simulator::{SimOptions, Simulator};
use crate::storage::StorageAccount;

/// Settings that would point the child at a real tenant; the demo removes them.
const REAL_TENANT_SETTINGS: [&str; 9] = [
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "MFA_CREDENTIAL",
    "GRAPH_ENDPOINT",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
];

/// Runs the demo on `port` until Ctrl-C or SIGTERM.
pub fn main(port: u16) -> ExitCode {
    block_on(run(port))
}

/// Runs only the simulated Graph (with the demo tenant) until Ctrl-C or SIGTERM, and prints
/// the settings a handler needs to use it: for `func start` with local.settings.json, or for
/// the package check, which starts the deployable binary against it.
pub fn simulate(port: u16) -> ExitCode {
    block_on(async move {
        crate::install_crypto_provider();
        // The stop signals are caught before "simulator ready" is printed, so that a stop sent
        // right after it ends this cleanly.
        let stop = crate::StopSignals::listen();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|error| format!("could not listen on 127.0.0.1:{port}: {error}"))?;
        let simulator = Simulator::start_on(listener, SimOptions::default())
            .map_err(|error| format!("could not start the Graph simulator: {error}"))?;
        simulator.tenant(seed::demo_tenant);
        for (name, value) in simulator.handler_environment() {
            println!("{name}={value}");
        }
        println!("simulator ready");
        stop.received().await;
        Ok(())
    })
}

fn block_on(work: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the demo: the simulated Graph with the demo tenant, Azurite when it is installed, the
/// handler as a child process and the miniature host in front of it; then prints what to try
/// and waits for a stop.
async fn run(port: u16) -> Result<(), String> {
    crate::install_crypto_provider();
    // The stop signals are caught before the instructions are printed, so that a stop sent as
    // soon as the demo says it is ready ends it cleanly, its children with it.
    let stop = crate::StopSignals::listen();
    let simulator = Simulator::start(SimOptions::default())
        .await
        .map_err(|error| format!("could not start the Graph simulator: {error}"))?;
    simulator.tenant(seed::demo_tenant);
    let readiness = simulator.tenant(crate::simulator::tenant::readiness::readiness_tenant);
    // Azurite is kept to the end, because it stops when it is dropped.
    let azurite = start_azurite().await;
    let storage = azurite
        .as_ref()
        .map(|azurite| StorageAccount::new(azurite.account(), reqwest::Client::new(), None));
    let command = handler_command(&simulator, &readiness.protected_group, storage.as_ref())?;
    let Handler {
        mut child,
        address: handler,
    } = start_handler(command).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("could not listen on 127.0.0.1:{port}: {error} (try --port)"))?;
    let mut options = HostOptions {
        simulator: Some(simulator.graph_endpoint()),
        ..HostOptions::default()
    };
    if let Some(storage) = &storage {
        options = options.with_storage(storage.clone());
    }
    let host = FunctionsHost::start_on(listener, &format!("http://{handler}"), options)
        .await
        .map_err(|error| format!("could not start the miniature host: {error}"))?;
    print_examples(
        &simulator,
        &host.url(),
        &readiness.protected_group,
        storage.as_ref(),
    );
    tokio::select! {
        () = stop.received() => {}
        status = child.wait() => {
            return Err(format!("the handler exited: {status:?}"));
        }
    }
    println!("stopping the demo");
    Ok(())
}

/// Starts Azurite when it is installed, so that the demo has a real storage account: the
/// queue, and the per-user leases. Without it the queue is in memory.
async fn start_azurite() -> Option<Azurite> {
    let script = Azurite::locate()?;
    match Azurite::start(&script).await {
        Ok(azurite) => Some(azurite),
        Err(error) => {
            println!("Azurite is installed but did not start ({error}); the queue is in memory");
            None
        }
    }
}

/// Builds the command that runs this executable's handler as the Functions host would, with
/// the simulated Graph's settings in place of any that point at a real tenant.
fn handler_command(
    simulator: &Simulator,
    protected_group: &str,
    storage: Option<&StorageAccount>,
) -> Result<Command, String> {
    let executable = std::env::current_exe()
        .map_err(|error| format!("could not find the handler executable: {error}"))?;
    let mut command = Command::new(executable);
    // The handler ends with the demo however the demo ends (Ctrl-C, SIGTERM, SIGKILL).
    crate::simulator::child::end_with_parent(&mut command);
    command.arg("serve");
    for name in REAL_TENANT_SETTINGS {
        command.env_remove(name);
    }
    command
        .envs(simulator.handler_environment())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
        .env("MFA_VERIFY_SECONDS", "2")
        .env("MFA_NOTIFY_SENDER", seed::NOTIFY_SENDER)
        .env("MFA_CLEANUP_KEY", DEMO_CLEANUP_KEY)
        .env("MFA_PROTECTED_GROUP_IDS", protected_group)
        .env("MFA_NOTIFY_SERVICE_DESK_NAME", "Contoso IT Service Desk")
        .env(
            "MFA_NOTIFY_SERVICE_DESK_EMAIL",
            "servicedesk@contoso.example",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(connection) = storage.and_then(|storage| storage.settings().connection_string()) {
        command.env("AzureWebJobsStorage", connection);
    }
    Ok(command)
}

/// The handler's child process, listening.
struct Handler {
    child: Child,
    /// Where it listens (`host:port`), as its log line says.
    address: String,
}

/// Starts the handler and waits for the log line that says where it listens. Its output is
/// printed as it comes, marked as the handler's.
async fn start_handler(mut command: Command) -> Result<Handler, String> {
    let mut child = command
        .spawn()
        .map_err(|error| format!("could not start the handler: {error}"))?;
    let stdout = child.stdout.take().ok_or("the handler has no stdout")?;
    let stderr = child.stderr.take().ok_or("the handler has no stderr")?;
    let (address_sender, address_receiver) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut address_sender = Some(address_sender);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.split("listening on ").nth(1)
                && let Some(sender) = address_sender.take()
            {
                let _ = sender.send(address.trim().to_owned());
            }
            println!("  handler | {line}");
        }
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("  handler | {line}");
        }
    });
    let address = tokio::time::timeout(Duration::from_secs(30), address_receiver)
        .await
        .map_err(|_| "the handler did not start listening within 30 s".to_owned())?
        .map_err(|_| "the handler exited before it started listening".to_owned())?;
    Ok(Handler { child, address })
}

/// Prints what to try: requests to paste, the bulk and readiness examples, and where the queue
/// is.
fn print_examples(
    simulator: &Simulator,
    url: &str,
    protected_group: &str,
    storage: Option<&StorageAccount>,
) {
    println!("{}", instructions(url));
    let queue_url = storage.and_then(|storage| {
        storage.settings().queue.as_ref().map(|queue| {
            format!(
                "{}/mfa-phone-requests",
                queue.as_str().trim_end_matches('/')
            )
        })
    });
    match bulk_example(url, queue_url.as_deref()) {
        Ok(example) => println!("{example}"),
        Err(error) => println!("(no bulk example: {error})"),
    }
    println!("{}", readiness_example(simulator, url, protected_group));
    match storage {
        Some(storage) => println!(
            "The queue is a real storage queue, in Azurite ({}); per-user leases are in its blob \
             service.",
            storage.describe()
        ),
        None => println!(
            "The queue is in memory. For a real storage queue (Azurite, Microsoft's storage \
             emulator): npm install --prefix target/tools/azurite azurite@{} (Node 20 or later), \
             then run the demo again.",
            crate::simulator::azurite::VERSION
        ),
    }
}

/// The bulk example's file, as German Excel saves one: semicolons, a BOM, CRLF; a new hire, a
/// number change, a number another user holds for SMS sign-in, a protected account and a
/// number Excel turned into scientific notation.
const BULK_SAMPLE: &str = "UPN;Mobile;AlternateMobile;NotifyUser;Department\r\n\
lynne_fabrikam.example#EXT#@contoso.example;+44 7911 123456;;FALSCH;Partner (new guest)\r\n\
alex.wilber@contoso.example;+49 172 5550199;;FALSCH;IT (new number from HR)\r\n\
adele.vance@contoso.example;+49 170 1234567;;WAHR;Sales (Megan's number)\r\n\
isaiah.langer@contoso.example;+49 160 5550101;;FALSCH;Engineering (owns a privileged app)\r\n\
diego.siciliani@contoso.example;4,91765E+11;;FALSCH;Retail (Excel ate the number)\r\n";

/// Writes the bulk example's file and says how to run it.
fn bulk_example(url: &str, queue: Option<&str>) -> Result<String, String> {
    let directory = std::env::temp_dir().join("mfa-phone-demo");
    std::fs::create_dir_all(&directory).map_err(|error| error.to_string())?;
    let file = directory.join("bulk-sample.csv");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(BULK_SAMPLE.as_bytes());
    std::fs::write(&file, bytes).map_err(|error| error.to_string())?;
    let out = directory.join("report");
    let command = format!(
        "cargo run -- bulk {} --endpoint {url}/api/SetOrRemoveMobilePhoneMfa --out {}",
        file.display(),
        out.display()
    );
    let mut text = format!(
        "\nBulk: a spreadsheet of users (a new hire, a number change, a conflict, a protected \
         account, a number Excel mangled) in {}:\n\
         Check it (line 6's number is refused with its line and column; nothing is sent):\n  {command}\n\
         Plan every row without writing:\n  {command} --skip-bad-rows --dry-run\n\
         Run it, then open {}/report.html:\n  {command} --skip-bad-rows\n",
        file.display(),
        out.display()
    );
    if let Some(queue) = queue {
        text.push_str(&format!(
            "The same through the real queue:\n  cargo run -- bulk {} --queue {queue} --out {} --skip-bad-rows\n",
            file.display(),
            out.display()
        ));
    }
    Ok(text)
}

/// The demo's clean-up key: the handler and the printed readiness command share it.
const DEMO_CLEANUP_KEY: &str = "demo-cleanup-key-not-a-secret";

/// Says how to scan the demo tenant for the retirement, and to plan its clean-up with bulk.
fn readiness_example(simulator: &Simulator, url: &str, protected_group: &str) -> String {
    let directory = std::env::temp_dir()
        .join("mfa-phone-demo")
        .join("readiness");
    let mut settings: Vec<String> = simulator
        .handler_environment()
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    settings.push(format!("MFA_CLEANUP_KEY={DEMO_CLEANUP_KEY}"));
    settings.push(format!("MFA_PROTECTED_GROUP_IDS={protected_group}"));
    format!(
        "\nRetirement readiness: who Microsoft's SMS and voice retirement blocks in the demo \
         tenant, and from when (every category and date; reads only):\n  {} cargo run -- \
         readiness --out {dir}\nPlan its clean-up without writing (a number changed since the \
         scan is left):\n  cargo run -- bulk {dir}/cleanup.csv --endpoint \
         {url}/api/SetOrRemoveMobilePhoneMfa --out {dir}/report --dry-run\n",
        settings.join(" "),
        dir = directory.display()
    )
}

fn instructions(url: &str) -> String {
    let post = |body: &str| {
        format!(
            "curl -s -X POST {url}/api/SetOrRemoveMobilePhoneMfa -H 'Content-Type: application/json' -d '{body}'"
        )
    };
    let queued = format!(
        r#"{{"UserId":"{diego}","phoneNumber":"+49 1765550123","Remove":true,"requestId":"r-1"}}"#,
        diego = seed::DIEGO
    );
    let users: Vec<String> = DEMO_USERS
        .iter()
        .map(|user| format!("  {:<46} {}", user.user_principal_name, user.what_it_shows))
        .collect();
    format!(
        "\nDemo ready at {url}\n\
         The handler runs as the Functions host runs it (managed identity, host envelopes), \
         against a simulated Graph tenant:\n{users}\n\n\
         Set Adele's mobile phone:\n  {set}\n\
         Update it, and e-mail her about it (the mail: curl -s {url}/_sim/mail):\n  {update}\n\
         Her whole MFA picture, read without changing anything:\n  {show}\n\
         The simulated tenant's own record of her:\n  curl -s {url}/_sim/users/{adele}\n\
         Remove it (give the registered number):\n  {remove}\n\
         Try a dry run, the SMS sign-in conflict, and a structural rule:\n  {dry}\n  {conflict}\n  {alex}\n\
         Through the queue:\n  curl -s -X POST {url}/queue/mfa-phone-requests -d '{queued}'\n  \
         curl -s {url}/queue/mfa-phone-results\n\
         The API definition (Logic Apps' HTTP + Swagger, custom connectors):\n  \
         curl -s {url}/api/openapi.json\n\n\
         Press Ctrl-C to stop (everything the demo started stops with it).",
        users = users.join("\n"),
        set = post(&format!(
            r#"{{"UserId":"{adele}","phoneNumber":"{number}","CallerName":"demo"}}"#,
            adele = seed::ADELE,
            number = seed::ADELE_NEW_MOBILE
        )),
        show = post(&format!(
            r#"{{"UserId":"{adele}","operation":"show"}}"#,
            adele = seed::ADELE
        )),
        update = post(&format!(
            r#"{{"UserId":"{adele}","phoneNumber":"{number}","CallerName":"demo","NotifyUser":true}}"#,
            adele = seed::ADELE,
            number = seed::ADELE_OTHER_MOBILE
        )),
        remove = post(&format!(
            r#"{{"UserId":"{adele}","phoneNumber":"{number}","Remove":true,"CallerName":"demo"}}"#,
            adele = seed::ADELE,
            number = seed::ADELE_OTHER_MOBILE
        )),
        dry = post(&format!(
            r#"{{"UserId":"{adele}","phoneNumber":"{number}","dryRun":true}}"#,
            adele = seed::ADELE,
            number = seed::ADELE_NEW_MOBILE
        )),
        conflict = post(&format!(
            r#"{{"UserId":"{adele}","phoneNumber":"{number}"}}"#,
            adele = seed::ADELE,
            number = seed::MEGAN_MOBILE
        )),
        alex = post(&format!(
            r#"{{"UserId":"{alex}","phoneNumber":"+49 1725550123","Remove":true}}"#,
            alex = seed::ALEX
        )),
        adele = seed::ADELE,
    )
}
