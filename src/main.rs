//! The handler's entry point: `mfa-phone-handler` (or `serve`) runs the custom handler as the
//! Functions host starts it; the other commands ([`cli`](mfa_phone_handler::cli)) are tools
//! around it. Thin: it parses the command line and hands over.

use std::process::ExitCode;

use clap::Parser;
use mfa_phone_handler::bulk::options::Options;
use mfa_phone_handler::cli::{Cli, Command, DemoArgs, SimulateArgs};
use mfa_phone_handler::config::Config;
use mfa_phone_handler::startup::Application;

fn main() -> ExitCode {
    // clap prints help and --version (exit 0) and every usage error, with a suggestion for a
    // mistyped option (exit 2), before anything is read or sent. A command asked for --json
    // answers with one JSON object on stdout in that case too.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            if let Some(summary) = Cli::json_refusal(std::env::args_os(), &error) {
                println!("{summary}");
            }
            error.exit();
        }
    };
    match cli.command {
        None | Some(Command::Serve) => serve(),
        Some(Command::Bulk(arguments)) => bulk(Options::from(*arguments)),
        Some(Command::Demo(arguments)) => demo(&arguments),
        Some(Command::Simulate(arguments)) => simulate(&arguments),
        Some(Command::Openapi(arguments)) => {
            // This prints the API definition (connector/openapi.json), or the custom
            // connector's variant (connector/apiDefinition.swagger.json).
            if arguments.connector {
                print!("{}", mfa_phone_handler::openapi::connector_text());
            } else {
                print!("{}", mfa_phone_handler::openapi::committed_text());
            }
            ExitCode::SUCCESS
        }
        Some(Command::Smoke(arguments)) => {
            tool_logging();
            block_on(mfa_phone_handler::smoke::main(*arguments))
        }
        Some(Command::Readiness(mut arguments)) => {
            tool_logging();
            match arguments.endpoint.take() {
                // Download the Function App's latest scan instead of scanning.
                Some(endpoint) => block_on(mfa_phone_handler::download::main(
                    mfa_phone_handler::download::Download {
                        endpoint,
                        out: arguments.out,
                        credentials: arguments.credentials,
                        json: arguments.json,
                    },
                )),
                None => block_on(mfa_phone_handler::cli::readiness::command::main(arguments)),
            }
        }
        Some(Command::Preflight(arguments)) => {
            let options = mfa_phone_handler::preflight::Options::from(arguments);
            ExitCode::from(mfa_phone_handler::preflight::main(&options))
        }
        Some(Command::Completions(arguments)) => match Cli::print_completions(arguments.shell) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("the completion script could not be written: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn bulk(options: Options) -> ExitCode {
    tool_logging();
    block_on(mfa_phone_handler::bulk::main(options))
}

/// Logging for the tools: warnings (a results queue that cannot be read, a storage failure) on
/// stderr beside the command's own lines.
fn tool_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Runs a tool's work to its exit status (2, as for wrong options, when no runtime starts).
fn block_on(work: impl std::future::Future<Output = u8>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => ExitCode::from(runtime.block_on(work)),
        Err(error) => {
            eprintln!("could not start the async runtime: {error}");
            ExitCode::from(2)
        }
    }
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
        // The stop signals are caught before "listening" is logged, so that a stop sent as
        // soon as the handler says it listens ends it cleanly.
        let stop = mfa_phone_handler::StopSignals::listen();
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
        match application.run(shutdown_signal(stop)).await {
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
fn demo(arguments: &DemoArgs) -> ExitCode {
    mfa_phone_handler::demo::main(arguments.port)
}

#[cfg(feature = "simulator")]
fn simulate(arguments: &SimulateArgs) -> ExitCode {
    mfa_phone_handler::demo::simulate(arguments.port)
}

#[cfg(not(feature = "simulator"))]
fn demo(_arguments: &DemoArgs) -> ExitCode {
    eprintln!("this build has no demo: it was built without the simulator feature");
    ExitCode::from(2)
}

#[cfg(not(feature = "simulator"))]
fn simulate(_arguments: &SimulateArgs) -> ExitCode {
    eprintln!("this build has no simulator: it was built without the simulator feature");
    ExitCode::from(2)
}

/// Completes when the host stops the handler (SIGTERM) or on Ctrl-C, and says so.
async fn shutdown_signal(stop: mfa_phone_handler::StopSignals) {
    stop.received().await;
    tracing::info!("shutting down: finishing the invocations in progress");
}
