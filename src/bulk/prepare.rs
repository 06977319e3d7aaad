//! Prepares a run before anything is sent: checks the file, sets bad rows (and the rows they
//! hold back) apart, schedules each user's operations, and tells the admin what was found: the
//! counts, the problems, and the warnings (a number given to several users).

use std::collections::HashMap;

use super::header::Layout;
use super::options::Options;
use super::problem::Problem;
use super::rows::Operation;
use super::schedule::{Schedule, SharedNumber};
use super::summary::RunSummary;
use super::{Checked, NOTHING_SENT, PROBLEMS_KEPT, check};

/// How many problems are printed before the rest are only counted.
const PROBLEMS_SHOWN: usize = 50;

/// The file, checked and planned.
pub(super) struct Prepared {
    pub(super) schedule: Schedule,
    /// The first [`PROBLEMS_KEPT`] problems (skipped rows), in file order.
    pub(super) problems: Vec<Problem>,
    pub(super) problem_count: usize,
    pub(super) file_sha256: String,
    pub(super) delimiter: u8,
}

/// Checks the file, sets bad rows (and the rows they hold back) apart, plans each user's
/// operations and says what it found; `Err` with the exit status when nothing may be sent.
pub(super) fn prepare(options: &Options, summary: &mut RunSummary) -> Result<Prepared, u8> {
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
    // When a bad row is skipped, the same user's other rows are held back with it: one user's
    // rows run in the file's order, and the bad row's place in it would be lost.
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
    let (schedule, conflicts) = Schedule::apart(operations, &|index| layout.column_name(index));
    if !conflicts.is_empty() {
        problem_count += conflicts.len();
        problems.extend(conflicts);
        problems.sort_by_key(|problem| problem.line);
        problems.truncate(PROBLEMS_KEPT);
    }
    summary.rows = rows;
    summary.changes = schedule.operations.len();
    summary.users = schedule.chains().count();
    summary.problems = problem_count;
    say_what_was_checked(options, &layout, &schedule, &problems, problem_count, rows);
    let shared = schedule.shared_numbers();
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
        schedule,
        problems,
        problem_count,
        file_sha256,
        delimiter,
    })
}

/// Makes the problem of an operation held back because another row of its user was skipped.
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
fn warn_of_shared_numbers(shared: &[SharedNumber]) {
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
    schedule: &Schedule,
    problems: &[Problem],
    problem_count: usize,
    rows: u64,
) {
    eprintln!(
        "Checked {rows} rows of {}: {} changes{}",
        options.file.display(),
        schedule.operations.len(),
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
