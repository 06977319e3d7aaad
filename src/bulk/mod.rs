//! `mfa-phone-handler bulk FILE`: a spreadsheet of users in, every row's outcome out. The
//! whole file is checked before anything is sent (every problem with its line and column);
//! the operations are ordered per user ([`plan`]); sent to the handler and every outcome
//! awaited ([`send`]); recorded as they come so that a run can be resumed ([`state`]); and
//! reported in `report.csv` and `report.html` ([`report`]).
//!
//! Exit status: 0 when every change succeeded, 1 when one failed (or the run was stopped), 2
//! when the file or the options are wrong and nothing was sent (an endpoint that refuses the
//! run before any row settled counts as wrong options).

pub mod checking;
pub mod delivery;
pub mod echo;
pub mod endpoint;
pub mod header;
pub mod input;
pub mod options;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod problem;
pub mod queued;
pub mod report;
pub mod rows;
pub mod send;
pub mod state;
pub mod state_key;
pub mod summary;

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::{Duration, Instant};

pub use self::checking::{Checked, check};
use self::endpoint::Endpoint;
use self::header::Layout;
use self::options::Options;
use self::plan::Plan;
use self::problem::Problem;
use self::rows::Operation;
use self::send::{Settings, send_all};
use self::state::State;
use self::summary::{ReportFiles, RunSummary};

/// How many problems are kept (a file that is wrong throughout costs no memory per row).
pub const PROBLEMS_KEPT: usize = 1_000;
/// How many problems are printed before the rest are only counted.
const PROBLEMS_SHOWN: usize = 50;
/// How long a stop waits for requests in flight.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// The exit statuses.
pub const SUCCEEDED: u8 = 0;
pub const ROW_FAILED: u8 = 1;
pub const NOTHING_SENT: u8 = 2;

/// Runs the command as the command line gave it; the exit status.
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

/// Checks, sends and reports; stops sending when `stop` completes. The exit status (with
/// `--json`, the summary printed on stdout too).
pub async fn run(
    options: &Options,
    endpoint: &Endpoint,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    run_summarised(options, endpoint, stop).await.exit_status
}

/// [`run`], answering with the whole summary (what `--json` prints).
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
    let prepared = match prepare(options, summary) {
        Ok(prepared) => prepared,
        Err(status) => return status,
    };
    let Prepared {
        plan,
        problems,
        problem_count,
        file_sha256,
        delimiter,
    } = prepared;
    eprintln!(
        "{} {} changes for {} users{}",
        if options.dry_run {
            "Planning"
        } else {
            "Sending"
        },
        plan.operations.len(),
        plan.chains().count(),
        match endpoint {
            Endpoint::Http(_) => " over HTTP",
            Endpoint::Queue(_) => " through the queue",
        }
    );
    let state = match open_state(options, endpoint, &plan, &file_sha256, summary) {
        Ok(state) => state,
        Err(status) => return status,
    };
    // The run's random id is part of every request id: nobody outside the run can name one of
    // its requests before it is sent. A resumed run keeps the id its state names.
    let run_id = state.as_ref().map_or_else(
        || state_key::hex_encode(&rand::random::<[u8; 12]>()),
        |state| send::lock(state).run_id.clone(),
    );
    let settings = Settings {
        dry_run: options.dry_run,
        concurrency: options.concurrency,
        caller_name: options.caller_name.clone().unwrap_or_else(|| {
            let name = options
                .file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Who ran it, as the operating system knows them (the handler records the
            // authenticated caller besides, where there is one).
            let admin = ["USER", "USERNAME"]
                .iter()
                .find_map(|variable| std::env::var(variable).ok())
                .map_or_else(String::new, |user| format!("{user} "));
            crate::phone::printable(&format!("{admin}(bulk {name})"), 120)
        }),
        request_prefix: format!(
            "bulk-{}-{run_id}{}",
            &file_sha256[..8],
            if options.dry_run { "-dry" } else { "" }
        ),
    };
    if let Some(state) = &state {
        say_what_is_skipped(&plan, &settings, &send::lock(state));
    }
    let sent = send_all(options, endpoint, &plan, &settings, state.as_ref(), stop).await;
    endpoint.close().await;
    // Every delivery refused: nothing reached the handler, so nothing was written, and the
    // options are what is wrong (no report: it would only say that no row was sent). Once
    // anything else came back (an answer, a timeout), the report tells each row's fate.
    if let Some(fatal) = sent.fatal.as_ref().filter(|fatal| fatal.refused)
        && sent.reached == 0
    {
        eprintln!(
            "\nNothing was written: {}\nCorrect the endpoint, the key or the audience, and run \
             the command again.",
            fatal.why
        );
        summary.stopped = Some(fatal.why.clone());
        return NOTHING_SENT;
    }
    let mut lines: Vec<report::Line<'_>> = plan
        .operations
        .iter()
        .zip(&sent.outcomes)
        .map(|(operation, outcome)| report::Line {
            subject: report::Subject::Change(operation),
            outcome: outcome.as_ref(),
        })
        .chain(problems.iter().map(|problem| report::Line {
            subject: report::Subject::Skipped(problem),
            outcome: None,
        }))
        .collect();
    lines.sort_by_key(report::Line::line);
    let report_summary = report::Summary {
        file_name: &options
            .file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dry_run: options.dry_run,
        interrupted: sent.interrupted,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    // A tab-separated .csv opens as one column in Excel: tab input gets a comma report.
    let report_delimiter = if delimiter == b'\t' { b',' } else { delimiter };
    let written = std::fs::create_dir_all(&options.out)
        .and_then(|()| report::write_csv(&options.out.join("report.csv"), &lines, report_delimiter))
        .and_then(|()| {
            report::write_html(&options.out.join("report.html"), &lines, &report_summary)
        });
    let succeeded = sent
        .outcomes
        .iter()
        .flatten()
        .filter(|o| o.succeeded)
        .count();
    let failed = sent
        .outcomes
        .iter()
        .flatten()
        .filter(|o| !o.succeeded)
        .count();
    let not_sent = sent.outcomes.len() - succeeded - failed;
    summary.succeeded = succeeded;
    summary.failed = failed;
    summary.not_sent = not_sent;
    summary.interrupted = sent.interrupted;
    summary.settled_earlier = sent.settled_earlier;
    summary.stopped = sent.fatal.as_ref().map(|fatal| fatal.why.clone());
    eprintln!(
        "\n{succeeded} succeeded, {failed} failed, {not_sent} not sent{}, in {:.1} s",
        if problem_count > 0 {
            format!(", {problem_count} rows' problems skipped")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    if let Some(fatal) = &sent.fatal {
        eprintln!("The run stopped: {}", fatal.why);
    }
    let reported = match written {
        Ok(()) => {
            eprintln!(
                "Report: {} and {}",
                options.out.join("report.csv").display(),
                options.out.join("report.html").display()
            );
            summary.report = Some(ReportFiles {
                csv: options.out.join("report.csv"),
                html: options.out.join("report.html"),
            });
            true
        }
        Err(error) => {
            eprintln!(
                "The report could not be written to {}: {error}",
                options.out.display()
            );
            false
        }
    };
    if sent.interrupted || not_sent > 0 || sent.fatal.is_some() {
        eprintln!("To go on where this run stopped, run the same command again.");
    }
    if failed == 0 && not_sent == 0 && problem_count == 0 && reported {
        SUCCEEDED
    } else {
        ROW_FAILED
    }
}

/// `Ok` when the key file `key` is not inside `out`: a key beside the state it signs would be
/// as easy to plant as the state.
fn outside(key: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
    let absolute = |path: &std::path::Path| {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_default())
    };
    let directory = key.parent().map(absolute).unwrap_or_default();
    if directory.starts_with(absolute(out)) {
        return Err(format!(
            "the state key {} is inside --out {}: keep it elsewhere (by default it is in your \
             configuration directory)",
            key.display(),
            out.display()
        ));
    }
    Ok(())
}

/// How many skipped rows resuming names one by one.
const SKIPPED_SHOWN: usize = 20;

/// Says which rows an earlier run of this file settled, which this run does not send again,
/// and why (their outcome, from the state this command wrote and verified).
fn say_what_is_skipped(plan: &Plan, settings: &Settings, state: &State) {
    let settled: Vec<(&Operation, &outcome::RowOutcome)> = plan
        .operations
        .iter()
        .filter_map(|operation| {
            let id = send::request_id(&settings.request_prefix, operation);
            state
                .earlier
                .get(&id)
                .filter(|outcome| outcome.is_final())
                .map(|outcome| (operation, outcome))
        })
        .collect();
    if settled.is_empty() {
        return;
    }
    eprintln!(
        "Not sent again: {} changes an earlier run of this file settled (its state verified \
         with your key):",
        settled.len()
    );
    for (operation, outcome) in settled.iter().take(SKIPPED_SHOWN) {
        eprintln!(
            "  line {} ({}): {} in the earlier run",
            operation.line,
            operation.phone_type,
            outcome.label()
        );
    }
    if settled.len() > SKIPPED_SHOWN {
        eprintln!("  … and {} more", settled.len() - SKIPPED_SHOWN);
    }
}

/// The file, checked and planned.
struct Prepared {
    plan: Plan,
    /// The first [`PROBLEMS_KEPT`] problems (skipped rows), in file order.
    problems: Vec<Problem>,
    problem_count: usize,
    file_sha256: String,
    delimiter: u8,
}

/// Checks the file, sets bad rows (and the rows they hold back) apart, plans each user's
/// operations and says what it found; `Err` with the exit status when nothing may be sent.
fn prepare(options: &Options, summary: &mut RunSummary) -> Result<Prepared, u8> {
    let checked = match check(
        &options.file,
        options.default_region.as_deref(),
        options.json,
    ) {
        Ok(checked) => checked,
        Err(message) => {
            eprintln!("{message}");
            summary.stopped = Some(message);
            return Err(NOTHING_SENT);
        }
    };
    let Checked {
        operations,
        mut problems,
        mut problem_count,
        file_sha256,
        layout,
        delimiter,
        rows,
        held,
    } = checked;
    // Skipping a bad row, the same user's other rows are held back with it: one user's rows
    // run in the file's order, and the bad row's place in it would be lost.
    let operations = if options.skip_bad_rows && !held.is_empty() {
        let (kept, back): (Vec<Operation>, Vec<Operation>) = operations
            .into_iter()
            .partition(|operation| !held.contains_key(&operation.user_key()));
        problem_count += back.len();
        problems.extend(
            back.into_iter()
                .map(|operation| held_back(&operation, &held, &layout)),
        );
        problems.sort_by_key(|problem| problem.line);
        problems.truncate(PROBLEMS_KEPT);
        kept
    } else {
        operations
    };
    // One user and type given two numbers is a problem only the whole file shows: those
    // operations are set apart like a bad row's.
    let (plan, conflicts) = Plan::apart(operations, &|index| layout.column_name(index));
    if !conflicts.is_empty() {
        problem_count += conflicts.len();
        problems.extend(conflicts);
        problems.sort_by_key(|problem| problem.line);
        problems.truncate(PROBLEMS_KEPT);
    }
    summary.rows = rows;
    summary.changes = plan.operations.len();
    summary.users = plan.chains().count();
    summary.problems = problem_count;
    say_what_was_checked(options, &layout, &plan, &problems, problem_count, rows);
    let shared = plan.shared_numbers();
    summary.shared_numbers = shared.len();
    warn_of_shared_numbers(&shared);
    if problem_count > 0 && !options.skip_bad_rows {
        eprintln!(
            "Nothing was sent. Correct the file, or run again with --skip-bad-rows to send the \
             rows without problems."
        );
        summary.stopped = Some(format!(
            "{problem_count} problem{} in the file",
            if problem_count == 1 { "" } else { "s" }
        ));
        return Err(NOTHING_SENT);
    }
    Ok(Prepared {
        plan,
        problems,
        problem_count,
        file_sha256,
        delimiter,
    })
}

/// The problem of an operation held back because another row of its user was skipped.
fn held_back(operation: &Operation, held: &HashMap<String, u64>, layout: &Layout) -> Problem {
    let column = operation.column as usize;
    Problem {
        line: operation.line,
        user: Some(operation.user.to_string()),
        user_key: None,
        column: Some((column, layout.column_name(column))),
        message: format!(
            "held back: line {} names the same user and was skipped for a problem, and one \
             user's rows run in the file's order; correct that line and run again",
            held.get(&operation.user_key()).copied().unwrap_or_default()
        ),
    }
}

/// Warns of numbers the file gives to several users, naming the first lines.
fn warn_of_shared_numbers(shared: &[plan::SharedNumber]) {
    if shared.is_empty() {
        return;
    }
    eprintln!(
        "Warning: {} number{} given to more than one user. Two people seldom share a phone, \
         and one number for many users is what a file written to take over their accounts looks \
         like: check where the file came from before you go on",
        shared.len(),
        if shared.len() == 1 { " is" } else { "s are" }
    );
    for one in shared.iter().take(PROBLEMS_SHOWN) {
        eprintln!("  {one}");
    }
    if shared.len() > PROBLEMS_SHOWN {
        eprintln!("  … and {} more", shared.len() - PROBLEMS_SHOWN);
    }
}

/// Prints what checking found: the counts, ignored columns, the first problems.
fn say_what_was_checked(
    options: &Options,
    layout: &Layout,
    plan: &Plan,
    problems: &[Problem],
    problem_count: usize,
    rows: u64,
) {
    eprintln!(
        "Checked {rows} rows of {}: {} changes{}",
        options.file.display(),
        plan.operations.len(),
        if problem_count == 0 {
            String::new()
        } else {
            format!(
                ", {problem_count} problem{}",
                if problem_count == 1 { "" } else { "s" }
            )
        }
    );
    if !layout.ignored.is_empty() {
        eprintln!("Columns ignored: {}", layout.ignored.join(", "));
    }
    if layout.has_forced_update {
        eprintln!("ForcedUpdate changes nothing here: a set always replaces the number");
    }
    for problem in problems.iter().take(PROBLEMS_SHOWN) {
        eprintln!("  {problem}");
    }
    if problem_count > PROBLEMS_SHOWN {
        eprintln!("  … and {} more", problem_count - PROBLEMS_SHOWN);
    }
}

/// Opens the run's state (none on a dry run) and says whether this run goes on from an earlier
/// one; `Err` with the exit status when it cannot be written (nothing may be sent unrecorded).
fn open_state(
    options: &Options,
    endpoint: &Endpoint,
    plan: &Plan,
    file_sha256: &str,
    summary: &mut RunSummary,
) -> Result<Option<Mutex<State>>, u8> {
    if options.dry_run {
        return Ok(None);
    }
    let opened = match &options.state_key {
        Some(path) => outside(path, &options.out)
            .and_then(|()| state_key::StateKey::load_or_create(path))
            .and_then(|key| {
                State::open(
                    &options.out,
                    &key,
                    file_sha256,
                    &options.destination(),
                    plan.operations.len(),
                )
                .map_err(|error| match error {
                    state::StateError::Io(error) => format!(
                        "the state file in {} cannot be written: {error}",
                        options.out.display()
                    ),
                    other => other.to_string(),
                })
            }),
        None => Err(
            "no configuration directory is known for the state key: give \
                     --state-key FILE (outside --out)"
                .to_owned(),
        ),
    };
    let state = match opened {
        Ok(state) => state,
        Err(error) => {
            let message = format!("Nothing was sent: {error}");
            eprintln!("{message}");
            summary.stopped = Some(message);
            return Err(NOTHING_SENT);
        }
    };
    summary.state = Some(state.path().to_path_buf());
    if let Some(aside) = &state.set_aside {
        eprintln!(
            "The file or the endpoint changed since the last run: this is a new run (the last \
             run's state is kept in {})",
            aside.display()
        );
    } else if !state.earlier.is_empty() || !state.unanswered.is_empty() {
        eprintln!(
            "Going on with the last run of this file: {} outcomes known, {} sent without an \
             answer ({})",
            state.earlier.len(),
            state.unanswered.len(),
            match endpoint {
                Endpoint::Http(_) => "sent again: the handler's changes are idempotent",
                Endpoint::Queue(_) => "their results are waited for, not sent again",
            }
        );
    }
    Ok(Some(Mutex::new(state)))
}

async fn wait_for_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
