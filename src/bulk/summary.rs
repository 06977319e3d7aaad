//! Prints the run's summary for `--json`: one object on stdout (the totals, where the files
//! went, the exit status), for a pipeline or PowerShell's `ConvertFrom-Json`. It is a contract,
//! like the report: fields are added, never renamed.

use std::path::PathBuf;
use std::time::Instant;

use super::NOTHING_SENT;
use super::options::Options;

/// The run as `--json` prints it: one object on stdout, for a pipeline or PowerShell's
/// `ConvertFrom-Json`. The counts are rows of the report (one per row and phone type).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub command: &'static str,
    pub exit_status: u8,
    pub file: PathBuf,
    pub dry_run: bool,
    /// Where the changes went (credentials left out).
    pub destination: String,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Changes the file asks for, and for how many users.
    pub changes: usize,
    pub users: usize,
    /// Rows with a problem (skipped, or the reason nothing was sent).
    pub problems: usize,
    /// Numbers the file gives to a user when another row gives them to another (a warning).
    pub shared_numbers: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub not_sent: usize,
    /// Changes an earlier run of the same file settled (not sent again).
    pub settled_earlier: usize,
    pub interrupted: bool,
    /// Why the run stopped by itself, or why nothing was sent.
    pub stopped: Option<String>,
    pub report: Option<ReportFiles>,
    /// The run's state (what a later run resumes from); none on a dry run.
    pub state: Option<PathBuf>,
    pub elapsed_seconds: f64,
    #[serde(skip)]
    started: Option<Instant>,
}

/// Where the report went.
#[derive(Debug, serde::Serialize)]
pub struct ReportFiles {
    pub csv: PathBuf,
    pub html: PathBuf,
}

impl RunSummary {
    pub(super) fn new(options: &Options) -> RunSummary {
        RunSummary {
            dry_run: options.dry_run,
            destination: options.destination(),
            started: Some(Instant::now()),
            ..RunSummary::refused(options.file.clone(), None)
        }
    }

    /// Starts the summary of a run that read nothing yet: exit 2, nothing counted (as printed
    /// when the options are refused, with why).
    pub fn refused(file: PathBuf, stopped: Option<String>) -> RunSummary {
        RunSummary {
            command: "bulk",
            exit_status: NOTHING_SENT,
            file,
            dry_run: false,
            destination: String::new(),
            rows: 0,
            changes: 0,
            users: 0,
            problems: 0,
            shared_numbers: 0,
            succeeded: 0,
            failed: 0,
            not_sent: 0,
            settled_earlier: 0,
            interrupted: false,
            stopped,
            report: None,
            state: None,
            elapsed_seconds: 0.0,
            started: None,
        }
    }

    /// Records the exit status and, with `--json`, prints the summary.
    pub(super) fn end(mut self, options: &Options, status: u8) -> RunSummary {
        self.exit_status = status;
        self.elapsed_seconds = self
            .started
            .map_or(0.0, |started| started.elapsed().as_secs_f64());
        if options.json {
            match serde_json::to_string(&self) {
                Ok(text) => println!("{text}"),
                Err(error) => eprintln!("the summary could not be written as JSON: {error}"),
            }
        }
        self
    }
}
