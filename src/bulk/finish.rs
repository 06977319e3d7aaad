//! Finishes a run after sending: writes the report (`report.csv`, `report.html`), counts the
//! totals into the summary, and says the closing words (what came of the rows, where the report
//! is, how to go on), down to the exit status.

use std::time::Instant;

use super::options::Options;
use super::prepare::Prepared;
use super::run_report::{self, Heading, Line, Subject};
use super::send::Sent;
use super::summary::{ReportFiles, RunSummary};
use super::{NOTHING_SENT, ROW_FAILED, SUCCEEDED};

/// What became of the rows, counted.
struct Totals {
    succeeded: usize,
    failed: usize,
    not_sent: usize,
}

impl Totals {
    fn of(sent: &Sent) -> Totals {
        let answered = sent.outcomes.iter().flatten();
        let succeeded = answered.clone().filter(|outcome| outcome.succeeded).count();
        let failed = answered.filter(|outcome| !outcome.succeeded).count();
        Totals {
            succeeded,
            failed,
            not_sent: sent.outcomes.len() - succeeded - failed,
        }
    }
}

/// When every delivery was refused, nothing reached the handler, so nothing was written and the
/// options are what is wrong: this returns the exit status that says so, and writes no report,
/// because it would only say that no row was sent. Once anything else came back (an answer, a
/// timeout), it returns `None`, and the report tells each row's fate.
pub(super) fn refused_outright(sent: &Sent, summary: &mut RunSummary) -> Option<u8> {
    let fatal = sent.fatal.as_ref().filter(|fatal| fatal.refused)?;
    if sent.reached > 0 {
        return None;
    }
    eprintln!(
        "\nNothing was written: {}\nCorrect the endpoint, the key or the audience, and run the \
         command again.",
        fatal.why
    );
    summary.stopped = Some(fatal.why.clone());
    Some(NOTHING_SENT)
}

/// Writes the report, records the totals in `summary`, says how the run ended, and returns the
/// exit status.
pub(super) fn finish(
    options: &Options,
    prepared: &Prepared,
    sent: &Sent,
    started: Instant,
    summary: &mut RunSummary,
) -> u8 {
    let written = write_report(options, prepared, sent, started);
    let totals = Totals::of(sent);
    summary.succeeded = totals.succeeded;
    summary.failed = totals.failed;
    summary.not_sent = totals.not_sent;
    summary.interrupted = sent.interrupted;
    summary.settled_earlier = sent.settled_earlier;
    summary.stopped = sent.fatal.as_ref().map(|fatal| fatal.why.clone());
    say_how_it_ended(&totals, prepared.problem_count, sent, started);
    let reported = say_where_the_report_is(options, written, summary);
    if sent.interrupted || totals.not_sent > 0 || sent.fatal.is_some() {
        eprintln!("To go on where this run stopped, run the same command again.");
    }
    if totals.failed == 0 && totals.not_sent == 0 && prepared.problem_count == 0 && reported {
        SUCCEEDED
    } else {
        ROW_FAILED
    }
}

/// Writes `report.csv` and `report.html`: every change with its outcome and every skipped row,
/// in the file's order.
fn write_report(
    options: &Options,
    prepared: &Prepared,
    sent: &Sent,
    started: Instant,
) -> std::io::Result<()> {
    let mut lines: Vec<Line<'_>> = prepared
        .schedule
        .operations
        .iter()
        .zip(&sent.outcomes)
        .map(|(operation, outcome)| Line {
            subject: Subject::Change(operation),
            outcome: outcome.as_ref(),
        })
        .chain(prepared.problems.iter().map(|problem| Line {
            subject: Subject::Skipped(problem),
            outcome: None,
        }))
        .collect();
    lines.sort_by_key(Line::line);
    let file_name = options
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let heading = Heading {
        file_name: &file_name,
        dry_run: options.dry_run,
        interrupted: sent.interrupted,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    // A tab-separated .csv opens as one column in Excel, so tab input gets a comma report.
    let delimiter = if prepared.delimiter == b'\t' {
        b','
    } else {
        prepared.delimiter
    };
    std::fs::create_dir_all(&options.out)?;
    run_report::write_csv(&options.out.join("report.csv"), &lines, delimiter)?;
    run_report::write_html(&options.out.join("report.html"), &lines, &heading)
}

fn say_how_it_ended(totals: &Totals, problem_count: usize, sent: &Sent, started: Instant) {
    eprintln!(
        "\n{} succeeded, {} failed, {} not sent{}, in {:.1} s",
        totals.succeeded,
        totals.failed,
        totals.not_sent,
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
}

/// Says where the report went (recorded in `summary`), or why it could not be written, and
/// returns whether it was written.
fn say_where_the_report_is(
    options: &Options,
    written: std::io::Result<()>,
    summary: &mut RunSummary,
) -> bool {
    match written {
        Ok(()) => {
            let files = ReportFiles {
                csv: options.out.join("report.csv"),
                html: options.out.join("report.html"),
            };
            eprintln!(
                "Report: {} and {}",
                files.csv.display(),
                files.html.display()
            );
            summary.report = Some(files);
            true
        }
        Err(error) => {
            eprintln!(
                "The report could not be written to {}: {error}",
                options.out.display()
            );
            false
        }
    }
}
