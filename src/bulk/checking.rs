//! Checks a bulk file before anything is sent: it reads every record (streamed), reads the
//! header into a [`Layout`] and checks every row into operations or problems, showing progress
//! to a person while a large file is read.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use super::PROBLEMS_KEPT;
use super::header::Layout;
use super::input::{InputError, Table};
use super::problem::Problem;
use super::rows::Operation;
use crate::progress::Progress;

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

/// Reads and checks the whole file, streamed, and returns every row's operations and every
/// problem.
///
/// # Errors
///
/// When the file cannot be read as a table; the message says why and where.
pub fn check(path: &Path, default_region: Option<&str>, quiet: bool) -> Result<Checked, String> {
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
    let mut checking = Checking::new(quiet);
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

/// Shows progress while the file is checked (a million rows take a while), in the same way as
/// progress while sending.
struct Checking {
    display: Progress,
    next: Instant,
}

impl Checking {
    fn new(quiet: bool) -> Checking {
        let display = Progress::new(None, quiet);
        Checking {
            next: Instant::now() + display.every(),
            display,
        }
    }

    fn row(&mut self, path: &Path, rows: u64, problems: usize) {
        // The clock is read every thousand rows, not every row.
        if !rows.is_multiple_of(1_024) || Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + self.display.every();
        self.display.show(
            rows,
            None,
            &format!(
                "Checking {}: {rows} rows read, {problems} problems so far",
                path.display()
            ),
        );
    }

    /// Ends the display.
    fn done(&self) {
        self.display.finish();
    }
}
