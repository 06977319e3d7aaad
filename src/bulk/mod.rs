//! `mfa-phone-handler bulk FILE` takes a spreadsheet of users and reports every row's outcome.
//! The whole file is checked before anything is sent (every problem with its line and column);
//! the operations are ordered per user ([`schedule`]), sent to the handler with every outcome
//! awaited ([`send`]), recorded as they come so that a run can be resumed ([`state`]), and
//! reported in `report.csv` and `report.html` ([`run_report`]).
//!
//! Exit status: 0 when every change succeeded, 1 when one failed (or the run was stopped), 2
//! when the file or the options are wrong and nothing was sent (an endpoint that refuses the
//! run before any row settled counts as wrong options).

mod checking;
pub(crate) mod delivery;
mod echo;
pub mod endpoint;
mod finish;
mod header;
mod input;
pub mod options;
mod pacing;
mod prepare;
mod problem;
pub(crate) mod queued;
mod resume;
mod row_outcome;
mod rows;
mod run_report;
pub mod schedule;
mod send;
mod state;
mod state_key;
pub(crate) mod summary;

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use self::checking::{Checked, check};
use self::endpoint::Endpoint;
use self::options::Options;
use self::schedule::Schedule;
use self::send::{Settings, send_all};
use self::state::State;
use self::summary::RunSummary;

/// How many problems are kept (a file that is wrong throughout costs no memory per row).
pub(crate) const PROBLEMS_KEPT: usize = 1_000;
/// How long a stop waits for requests in flight.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// The exit statuses.
pub const SUCCEEDED: u8 = 0;
pub const ROW_FAILED: u8 = 1;
pub const NOTHING_SENT: u8 = 2;

/// Runs the command as the command line gave it and returns the exit status.
pub async fn main(options: Options) -> u8 {
    let endpoint = match options.endpoint() {
        Ok(endpoint) => endpoint,
        Err(message) => {
            eprintln!("{message}");
            let mut summary = RunSummary::new(&options);
            summary.stopped = Some(message);
            return summary.end(&options, NOTHING_SENT).exit_status;
        }
    };
    run(&options, &endpoint, wait_for_ctrl_c()).await
}

/// Checks, sends and reports, and stops sending when `stop` completes. Returns the exit status
/// (with `--json`, it prints the summary on stdout too).
pub async fn run(
    options: &Options,
    endpoint: &Endpoint,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    run_summarised(options, endpoint, stop).await.exit_status
}

/// Does what [`run`] does, but returns the whole summary (what `--json` prints).
pub async fn run_summarised(
    options: &Options,
    endpoint: &Endpoint,
    stop: impl std::future::Future<Output = ()>,
) -> RunSummary {
    let mut summary = RunSummary::new(options);
    let status = run_steps(options, endpoint, stop, &mut summary).await;
    summary.end(options, status)
}

async fn run_steps(
    options: &Options,
    endpoint: &Endpoint,
    stop: impl std::future::Future<Output = ()>,
    summary: &mut RunSummary,
) -> u8 {
    let started = Instant::now();
    let prepared = match prepare::prepare(options, summary) {
        Ok(prepared) => prepared,
        Err(status) => return status,
    };
    say_what_is_sent(options, endpoint, &prepared.schedule);
    let state = match resume::open_state(
        options,
        endpoint,
        &prepared.schedule,
        &prepared.file_sha256,
        summary,
    ) {
        Ok(state) => state,
        Err(status) => return status,
    };
    let settings = settings(options, &prepared.file_sha256, state.as_ref());
    if let Some(state) = &state {
        resume::say_what_is_skipped(&prepared.schedule, &settings, &pacing::lock(state));
    }
    let sent = send_all(
        options,
        endpoint,
        &prepared.schedule,
        &settings,
        state.as_ref(),
        stop,
    )
    .await;
    endpoint.close().await;
    if let Some(status) = finish::refused_outright(&sent, summary) {
        return status;
    }
    finish::finish(options, &prepared, &sent, started, summary)
}

fn say_what_is_sent(options: &Options, endpoint: &Endpoint, schedule: &Schedule) {
    eprintln!(
        "{} {} changes for {} users{}",
        if options.dry_run {
            "Planning"
        } else {
            "Sending"
        },
        schedule.operations.len(),
        schedule.chains().count(),
        match endpoint {
            Endpoint::Http(_) => " over HTTP",
            Endpoint::Queue(_) => " through the queue",
        }
    );
}

/// Makes the settings every request of the run is sent with.
fn settings(options: &Options, file_sha256: &str, state: Option<&Mutex<State>>) -> Settings {
    // The run's random id is part of every request id: nobody outside the run can name one of
    // its requests before it is sent. A resumed run keeps the id its state names.
    let run_id = state.map_or_else(
        || state_key::hex_encode(&rand::random::<[u8; 12]>()),
        |state| pacing::lock(state).run_id.clone(),
    );
    Settings {
        dry_run: options.dry_run,
        concurrency: options.concurrency,
        caller_name: options
            .caller_name
            .clone()
            .unwrap_or_else(|| default_caller_name(options)),
        request_prefix: format!(
            "bulk-{}-{run_id}{}",
            &file_sha256[..8],
            if options.dry_run { "-dry" } else { "" }
        ),
    }
}

/// Names who ran the command, as the operating system knows them, and the file. This is the
/// `CallerName` every request declares when `--caller-name` gives none (the handler records the
/// authenticated caller besides, where there is one).
fn default_caller_name(options: &Options) -> String {
    let name = options
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let admin = ["USER", "USERNAME"]
        .iter()
        .find_map(|variable| std::env::var(variable).ok())
        .map_or_else(String::new, |user| format!("{user} "));
    crate::phone::printable(&format!("{admin}(bulk {name})"), 120)
}

async fn wait_for_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
