//! `mfa-phone-handler bulk FILE`: a spreadsheet of users in, every row's outcome out. The
//! whole file is checked before anything is sent (every problem with its line and column);
//! the operations are ordered per user ([`plan`]); sent to the handler and every outcome
//! awaited ([`send`]); recorded as they come so that a run can be resumed ([`state`]); and
//! reported in `report.csv` and `report.html` ([`report`]).
//!
//! Exit status: 0 when every change succeeded, 1 when one failed (or the run was stopped), 2
//! when the file or the options are wrong and nothing was sent (an endpoint that refuses the
//! run before any row settled counts as wrong options).

pub mod endpoint;
pub mod input;
pub mod options;
pub mod outcome;
pub mod plan;
pub mod queued;
pub mod report;
pub mod rows;
pub mod send;
pub mod state;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use self::endpoint::Endpoint;
use self::input::{InputError, Table};
use self::options::Options;
use self::plan::Plan;
use self::rows::{Layout, Operation, Problem};
use self::send::{Pacer, Progress, Sender, Settings, WriteLimit};
use self::state::State;

/// How many problems are kept (a file that is wrong throughout costs no memory per row).
pub const PROBLEMS_KEPT: usize = 1_000;
/// How many problems are printed before the rest are only counted.
const PROBLEMS_SHOWN: usize = 50;
/// How long a stop waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The exit statuses.
pub const SUCCEEDED: u8 = 0;
pub const ROW_FAILED: u8 = 1;
pub const NOTHING_SENT: u8 = 2;

/// Runs the command with the arguments after `bulk`; the exit status.
pub async fn main(arguments: &[String]) -> u8 {
    let options = match Options::parse(arguments) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n\n{}", options::USAGE);
            return NOTHING_SENT;
        }
    };
    let endpoint = match options.endpoint() {
        Ok(endpoint) => endpoint,
        Err(message) => {
            eprintln!("{message}");
            return NOTHING_SENT;
        }
    };
    run(&options, &endpoint, wait_for_ctrl_c()).await
}

/// Checks, sends and reports; stops sending when `stop` completes. The exit status.
pub async fn run(
    options: &Options,
    endpoint: &Endpoint,
    stop: impl std::future::Future<Output = ()>,
) -> u8 {
    let started = Instant::now();
    let checked = match check(&options.file, options.default_region.as_deref()) {
        Ok(checked) => checked,
        Err(message) => {
            eprintln!("{message}");
            return NOTHING_SENT;
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
        problems.extend(back.into_iter().map(|operation| {
            let column = operation.column as usize;
            Problem {
                line: operation.line,
                user: Some(operation.user.to_string()),
                user_key: None,
                column: Some((column, layout.column_name(column))),
                message: format!(
                    "held back: line {} names the same user and was skipped for a problem, and \
                     one user's rows run in the file's order; correct that line and run again",
                    held.get(&operation.user_key()).copied().unwrap_or_default()
                ),
            }
        }));
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
    if problem_count > 0 && !options.skip_bad_rows {
        eprintln!(
            "Nothing was sent. Correct the file, or run again with --skip-bad-rows to send the \
             rows without problems."
        );
        return NOTHING_SENT;
    }
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
    let state = if options.dry_run {
        None
    } else {
        match State::open(
            &options.out,
            &file_sha256,
            &options.destination(),
            plan.operations.len(),
        ) {
            Ok(state) => Some(Mutex::new(state)),
            Err(error) => {
                eprintln!(
                    "Nothing was sent: the state file in {} cannot be written: {error}",
                    options.out.display()
                );
                return NOTHING_SENT;
            }
        }
    };
    if let Some(state) = &state {
        let state = lock(state);
        if let Some(aside) = &state.set_aside {
            eprintln!(
                "The file or the endpoint changed since the last run: this is a new run (the \
                 last run's state is kept in {})",
                aside.display()
            );
        } else if !state.earlier.is_empty() || !state.unanswered.is_empty() {
            eprintln!(
                "Going on with the last run of this file: {} outcomes known, {} sent without \
                 an answer ({})",
                state.earlier.len(),
                state.unanswered.len(),
                match endpoint {
                    Endpoint::Http(_) => "sent again: the handler's changes are idempotent",
                    Endpoint::Queue(_) => "their results are waited for, not sent again",
                }
            );
        }
    }
    let settings = Settings {
        dry_run: options.dry_run,
        concurrency: options.concurrency,
        caller_name: options.caller_name.clone().unwrap_or_else(|| {
            let name = options
                .file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            crate::phone::printable(&format!("bulk {name}"), 200)
        }),
        request_prefix: format!(
            "bulk-{}{}",
            &file_sha256[..12],
            if options.dry_run { "-dry" } else { "" }
        ),
    };
    // What an earlier run settled shows in the report even if this run stops before it.
    let mut known = vec![None; plan.operations.len()];
    if let Some(state) = &state {
        let state = lock(state);
        for (index, operation) in plan.operations.iter().enumerate() {
            let id = send::request_id(&settings.request_prefix, operation);
            known[index] = state.earlier.get(&id).filter(|o| o.is_final()).cloned();
        }
    }
    let outcomes = Mutex::new(known);
    let progress = Progress::default();
    let stopping = AtomicBool::new(false);
    let fatal = Mutex::new(None);
    let sender = Sender {
        endpoint,
        plan: &plan,
        settings: &settings,
        state: state.as_ref(),
        outcomes: &outcomes,
        progress: &progress,
        stopping: &stopping,
        fatal: &fatal,
        pacer: Pacer::default(),
        write_limit: (!options.dry_run).then(|| WriteLimit::new(options.write_limit)),
    };
    let interrupted = {
        let sending = sender.run();
        let ticking = tick(&progress, plan.operations.len(), started);
        tokio::pin!(sending, stop);
        tokio::select! {
            () = &mut sending => false,
            () = ticking => false,
            () = &mut stop => {
                stopping.store(true, Ordering::SeqCst);
                eprintln!("\nStopping: nothing more is sent; waiting up to {} s for the answers in flight", STOP_GRACE.as_secs());
                let _ = tokio::time::timeout(STOP_GRACE, &mut sending).await;
                true
            }
        }
    };
    endpoint.close().await;
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut lines: Vec<report::Line<'_>> = plan
        .operations
        .iter()
        .zip(&outcomes)
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
    let fatal = fatal
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Every delivery refused: nothing reached the handler, so nothing was written, and the
    // options are what is wrong (no report: it would only say that no row was sent). Once
    // anything else came back (an answer, a timeout), the report tells each row's fate.
    if let Some(fatal) = fatal.as_ref().filter(|fatal| fatal.refused)
        && progress.reached.load(Ordering::Relaxed) == 0
    {
        eprintln!(
            "\nNothing was written: {}\nCorrect the endpoint, the key or the audience, and run \
             the command again.",
            fatal.why
        );
        return NOTHING_SENT;
    }
    let summary = report::Summary {
        file_name: &options
            .file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dry_run: options.dry_run,
        interrupted,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    // A tab-separated .csv opens as one column in Excel: tab input gets a comma report.
    let report_delimiter = if delimiter == b'\t' { b',' } else { delimiter };
    let written = std::fs::create_dir_all(&options.out)
        .and_then(|()| report::write_csv(&options.out.join("report.csv"), &lines, report_delimiter))
        .and_then(|()| report::write_html(&options.out.join("report.html"), &lines, &summary));
    let succeeded = outcomes.iter().flatten().filter(|o| o.succeeded).count();
    let failed = outcomes.iter().flatten().filter(|o| !o.succeeded).count();
    let not_sent = outcomes.len() - succeeded - failed;
    eprintln!(
        "\n{succeeded} succeeded, {failed} failed, {not_sent} not sent{}, in {:.1} s",
        if problem_count > 0 {
            format!(", {problem_count} rows' problems skipped")
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    if let Some(fatal) = &fatal {
        eprintln!("The run stopped: {}", fatal.why);
    }
    let reported = match written {
        Ok(()) => {
            eprintln!(
                "Report: {} and {}",
                options.out.join("report.csv").display(),
                options.out.join("report.html").display()
            );
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
    if interrupted || not_sent > 0 || fatal.is_some() {
        eprintln!("To go on where this run stopped, run the same command again.");
    }
    if failed == 0 && not_sent == 0 && problem_count == 0 && reported {
        SUCCEEDED
    } else {
        ROW_FAILED
    }
}

/// What checking the file found.
pub struct Checked {
    pub operations: Vec<Operation>,
    /// The first [`PROBLEMS_KEPT`] problems, in file order.
    pub problems: Vec<Problem>,
    /// How many problems there are in all.
    pub problem_count: usize,
    pub file_sha256: String,
    pub layout: Layout,
    pub delimiter: u8,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// The users a row with a problem names, by key, with that row's line (the first).
    pub held: HashMap<String, u64>,
}

/// Reads and checks the whole file, streamed: every row's operations and every problem.
///
/// # Errors
///
/// The file cannot be read as a table: its message says why and where.
pub fn check(path: &Path, default_region: Option<&str>) -> Result<Checked, String> {
    let file = std::fs::File::open(path)
        .map_err(|error| format!("{} cannot be opened: {error}", path.display()))?;
    let describe = |error: InputError| format!("{}: {error}", path.display());
    let mut table =
        Table::open(std::io::BufReader::with_capacity(64 * 1024, file)).map_err(describe)?;
    let delimiter = table.format.delimiter;
    let (header_line, header) = match table.next_record().map_err(describe)? {
        Some((line, header)) => (line, header.clone()),
        None => return Err(describe(InputError::Empty)),
    };
    let layout = Layout::read(header_line, &header).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!(
            "{}: the header (line {header_line}) is not one this command reads:\n  {}",
            path.display(),
            listed.join("\n  ")
        )
    })?;
    let mut operations = Vec::new();
    let mut problems = Vec::new();
    let mut problem_count = 0;
    let mut rows = 0;
    let mut checking = Checking::new();
    let mut held = HashMap::new();
    while let Some((line, record)) = table.next_record().map_err(describe)? {
        rows += 1;
        checking.row(path, rows, problem_count);
        match layout.operations(line, record, default_region) {
            Ok(mut found) => operations.append(&mut found),
            Err(found) => {
                for problem in &found {
                    if let Some(key) = &problem.user_key {
                        held.entry(key.clone()).or_insert(problem.line);
                    }
                }
                problem_count += found.len();
                let room = PROBLEMS_KEPT.saturating_sub(problems.len());
                problems.extend(found.into_iter().take(room));
            }
        }
    }
    checking.done();
    let (file_sha256, _) = table.finish();
    Ok(Checked {
        operations,
        problems,
        problem_count,
        file_sha256,
        layout,
        delimiter,
        rows,
        held,
    })
}

/// Prints progress until the sending ends (it never completes by itself): on a terminal one
/// line rewritten every half second, otherwise a line every ten seconds.
async fn tick(progress: &Progress, total: usize, started: Instant) {
    let terminal = std::io::stderr().is_terminal();
    let every = progress_every(terminal);
    loop {
        tokio::time::sleep(every).await;
        let answered = progress.answered.load(Ordering::Relaxed);
        let skipped = progress.skipped.load(Ordering::Relaxed);
        let done = answered + skipped;
        let elapsed = started.elapsed().as_secs_f64();
        let left = if answered > 0 && done < total {
            let per_row = elapsed / answered as f64;
            format!(", about {:.0} s left", per_row * (total - done) as f64)
        } else {
            String::new()
        };
        let filled = (done * 30).checked_div(total).unwrap_or(30);
        let line = format!(
            "[{}{}] {done}/{total} done: sent {}, answered {answered}, failed {}{}{left}",
            "#".repeat(filled),
            " ".repeat(30 - filled.min(30)),
            progress.sent.load(Ordering::Relaxed),
            progress.failed.load(Ordering::Relaxed),
            if skipped > 0 {
                format!(", {skipped} done in an earlier run")
            } else {
                String::new()
            },
        );
        if terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// How often progress is shown: on a terminal a line rewritten every half second, otherwise a
/// line every ten seconds.
fn progress_every(terminal: bool) -> Duration {
    if terminal {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(10)
    }
}

/// Progress while the file is checked (a million rows take a while), shown as the sending's.
struct Checking {
    terminal: bool,
    next: Instant,
    shown: bool,
}

impl Checking {
    fn new() -> Checking {
        let terminal = std::io::stderr().is_terminal();
        Checking {
            terminal,
            next: Instant::now() + progress_every(terminal),
            shown: false,
        }
    }

    fn row(&mut self, path: &Path, rows: u64, problems: usize) {
        // The clock is read every thousand rows, not every row.
        if !rows.is_multiple_of(1_024) || Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + progress_every(self.terminal);
        let line = format!(
            "Checking {}: {rows} rows read, {problems} problems so far",
            path.display()
        );
        if self.terminal {
            eprint!("\r{line}");
            self.shown = true;
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends a line rewritten in place.
    fn done(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

async fn wait_for_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
