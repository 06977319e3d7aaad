//! The handler's entry point: `mfa-phone-handler` (or `serve`) runs the custom handler as the
//! Functions host starts it; `demo` runs it against the built-in simulated tenant.

use std::process::ExitCode;

use mfa_phone_handler::config::Config;
use mfa_phone_handler::startup::Application;

const USAGE: &str = "\
usage: mfa-phone-handler [serve]     run as the Azure Functions custom handler
       mfa-phone-handler bulk FILE --endpoint URL [--dry-run] [--out DIR] […]
                                     set or remove the phones a CSV lists, through the HTTP
                                     trigger; report.csv and report.html (bulk --help)
       mfa-phone-handler demo [--port N]
                                     run the handler against a simulated Graph tenant, behind
                                     a miniature Functions host on 127.0.0.1:N (default 7071)
       mfa-phone-handler simulate [--port N]
                                     run only the simulated Graph and print the settings a
                                     handler needs to use it (for func start, or a package check)
       mfa-phone-handler openapi [--connector]
                                     print the API's OpenAPI 2.0 definition (or the Power
                                     Platform custom connector's variant)
       mfa-phone-handler --version";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        None | Some("serve") => serve(),
        Some("demo") => demo(&arguments[1..]),
        Some("bulk") => bulk(&arguments[1..]),
        Some("simulate") => simulate(&arguments[1..]),
        Some("openapi") => match arguments.get(1).map(String::as_str) {
            // The API definition (connector/openapi.json), or the custom connector's variant
            // (connector/apiDefinition.swagger.json).
            None => {
                print!("{}", mfa_phone_handler::openapi::committed_text());
                ExitCode::SUCCESS
            }
            Some("--connector") => {
                print!("{}", mfa_phone_handler::openapi::connector_text());
                ExitCode::SUCCESS
            }
            Some(other) => {
                eprintln!("unknown option '{other}'\n{USAGE}");
                ExitCode::FAILURE
            }
        },
        Some("-V" | "--version") => {
            println!("mfa-phone-handler {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command '{other}'\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn bulk(arguments: &[String]) -> ExitCode {
    if arguments
        .iter()
        .any(|argument| matches!(argument.as_str(), "-h" | "--help"))
    {
        println!("{}", mfa_phone_handler::bulk::options::USAGE);
        return ExitCode::SUCCESS;
    }
    // Warnings (a results queue that cannot be read, a storage failure) on stderr beside the
    // command's own lines.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .without_time()
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("could not start the async runtime: {error}");
            return ExitCode::from(mfa_phone_handler::bulk::NOTHING_SENT);
        }
    };
    ExitCode::from(runtime.block_on(mfa_phone_handler::bulk::main(arguments)))
}

fn serve() -> ExitCode {
    mfa_phone_handler::init_logging();
    mfa_phone_handler::install_panic_hook();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let application = match Application::build(config).await {
            Ok(application) => application,
            Err(error) => {
                tracing::error!("{}", error.with_causes());
                return ExitCode::FAILURE;
            }
        };
        match application.local_addr() {
            Ok(address) => tracing::info!("listening on {address}"),
            Err(error) => tracing::warn!("listening, address unknown: {error}"),
        }
        match application.run(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!("the server failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(feature = "simulator")]
fn demo(arguments: &[String]) -> ExitCode {
    mfa_phone_handler::demo::main(arguments)
}

#[cfg(feature = "simulator")]
fn simulate(arguments: &[String]) -> ExitCode {
    mfa_phone_handler::demo::simulate(arguments)
}

#[cfg(not(feature = "simulator"))]
fn demo(_arguments: &[String]) -> ExitCode {
    eprintln!("this build has no demo: it was built without the simulator feature");
    ExitCode::from(2)
}

#[cfg(not(feature = "simulator"))]
fn simulate(_arguments: &[String]) -> ExitCode {
    demo(_arguments)
}

/// Completes on SIGTERM (the host stopping us) or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the invocations in progress");
}
