//! An Azure Functions custom handler that sets, updates or removes a user's phone MFA method
//! through Microsoft Graph, with the Function App's managed identity.
//!
//! # Layout
//!
//! - [`app`] serves the host's routes and turns envelopes into runbook calls and back;
//!   `host` reads and writes the host's envelopes.
//! - `request` parses the runbook's parameters into a `request::Request`, using
//!   [`phone`] (numbers, by the numbering plan) and [`user`] (object id or UPN).
//! - `runbook` carries a request out: it reads through [`graph`], decides with the pure
//!   `plan`, writes, verifies, and on an SMS sign-in conflict asks [`owner`] who holds the
//!   number, and `notify` e-mails the user about the change when asked. [`outcome`] is
//!   what one invocation has found and done: [`report`] (the result contract) and `journal`
//!   (the admin-readable log) together. `language` picks the user's language.
//! - [`config`], [`credential`] and [`startup`] build the process; `claim` keeps one writer
//!   per user (the instance's locks, the lease across instances, the write window).
//! - [`simulator`] (feature `simulator`) is a stateful fake of Graph and of the managed
//!   identity endpoint, plus a miniature Functions host; [`demo`] runs it all locally.

mod api_credentials;
pub mod app;
mod azure_rbac;
mod backoff;
pub mod bulk;
mod caller;
mod claim;
pub mod cli;
pub mod config;
pub mod credential;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod download;
mod entra;
mod files;
pub mod graph;
mod host;
mod journal;
mod language;
mod method_policy;
mod methods;
mod mutex;
mod notify;
pub mod openapi;
pub mod outcome;
pub mod owner;
mod permissions;
pub mod phone;
mod plan;
mod policy;
pub mod preflight;
mod progress;
mod protection;
mod readiness;
mod replay;
pub mod report;
mod request;
mod retirement;
mod runbook;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod smoke;
mod spreadsheet;
pub mod startup;
pub mod storage;
pub mod user;

/// Installs rustls' ring crypto provider for the process. Every HTTP client needs it; calling
/// it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Sets up logging for a process: lines without colour (the host captures them), warnings
/// and errors to stderr (the host logs stderr as errors), the rest to stdout. `RUST_LOG`
/// overrides the default level, `info`.
pub fn init_logging() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let writer = std::io::stderr
        .with_max_level(tracing::Level::WARN)
        .or_else(std::io::stdout);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(writer)
        .try_init();
}

/// Logs a panic with where it happened and nothing else: its message may carry input data
/// (a phone number, a UPN), which must not reach the log. The invocation it happened in
/// answers `internal`; the others carry on.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map_or_else(|| "an unknown place".to_owned(), ToString::to_string);
        tracing::error!(
            "the handler panicked at {location}; the invocation it was carrying out answers \
             internal (the panic's message is not logged, it may hold input data)"
        );
    }));
}

/// The process's stop signals (Ctrl-C, SIGTERM), caught from the moment this is made. A
/// command that tells the world it is ready makes one first: a signal sent right after the
/// ready line must end it cleanly, not by the signal's default action.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts catching the signals. Needs a running tokio runtime. A signal that cannot be
    /// caught is waited for never (the process then ends by that signal's default action).
    #[must_use]
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Completes when one of the signals arrives (also one that came before this was awaited).
    pub async fn received(self) {
        #[cfg(unix)]
        {
            async fn one(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = one(self.interrupt) => {}
                () = one(self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
