//! Writes the scan's files in `--out DIR`: `readiness.csv` and `cleanup.csv` row by row as the
//! scan finds them (with a BOM so that Excel reads UTF-8, and every cell kept text), and
//! `readiness.json` and `readiness.html` at the end. Without the clean-up key no `cleanup.csv`
//! is made, and an old one is removed so that it cannot be taken for this scan's.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::files::{NewFile, write_new};
use crate::readiness::record::{CLEANUP_COLUMNS, CleanupRecord, USER_COLUMNS, UserRecord};
use crate::readiness::scan::Sink;
use crate::readiness::summary::Summary;

/// The files of one scan in a directory.
pub struct DirectorySink {
    directory: PathBuf,
    users: csv::Writer<BufWriter<NewFile>>,
    cleanup: Option<csv::Writer<BufWriter<NewFile>>>,
    /// Called with progress as the scan goes.
    progress: Box<dyn FnMut(u64, u64, Option<std::time::Duration>) + Send>,
    /// Called with more users listed and read (`--per-user`), when asked for.
    accounts: Option<Box<dyn FnMut(u64, u64) + Send>>,
}

/// The files' names.
pub const READINESS_CSV: &str = "readiness.csv";
pub const READINESS_JSON: &str = "readiness.json";
pub const CLEANUP_CSV: &str = "cleanup.csv";
pub const READINESS_HTML: &str = "readiness.html";

impl DirectorySink {
    /// Creates `directory` if needed and opens the CSV files (`cleanup.csv` only when
    /// `with_cleanup`).
    ///
    /// # Errors
    ///
    /// When the directory or a file cannot be made.
    pub fn create(
        directory: &Path,
        with_cleanup: bool,
        progress: Box<dyn FnMut(u64, u64, Option<std::time::Duration>) + Send>,
    ) -> std::io::Result<DirectorySink> {
        std::fs::create_dir_all(directory)?;
        let users = open(&directory.join(READINESS_CSV), &USER_COLUMNS)?;
        let cleanup_path = directory.join(CLEANUP_CSV);
        let cleanup = if with_cleanup {
            Some(open(&cleanup_path, &CLEANUP_COLUMNS)?)
        } else {
            match std::fs::remove_file(&cleanup_path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
                _ => None,
            }
        };
        Ok(DirectorySink {
            directory: directory.to_owned(),
            users,
            cleanup,
            progress,
            accounts: None,
        })
    }

    /// Also calls `accounts` with more users listed and read as the scan goes (`--per-user`).
    #[must_use]
    pub fn with_accounts(mut self, accounts: Box<dyn FnMut(u64, u64) + Send>) -> DirectorySink {
        self.accounts = Some(accounts);
        self
    }

    /// Flushes the CSV files and writes `readiness.json`.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn finish(self, summary: &Summary) -> std::io::Result<()> {
        keep(self.users)?;
        if let Some(cleanup) = self.cleanup {
            keep(cleanup)?;
        }
        let json = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
        write_new(&self.directory.join(READINESS_JSON), &json)?;
        write_new(
            &self.directory.join(READINESS_HTML),
            crate::readiness::dashboard::html(summary).as_bytes(),
        )
    }
}

/// Puts a CSV file in its place once all of it is written.
fn keep(writer: csv::Writer<BufWriter<NewFile>>) -> std::io::Result<()> {
    let file = writer
        .into_inner()
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    file.into_inner()
        .map_err(|error| std::io::Error::other(error.to_string()))?
        .keep()
}

/// Starts a CSV file. It is written new and never through a link (a folder others can write to
/// may hold one planted where the file goes), and put in its place when the scan ends.
fn open(path: &Path, columns: &[&str]) -> std::io::Result<csv::Writer<BufWriter<NewFile>>> {
    let mut file = BufWriter::new(NewFile::create(path)?);
    // Excel reads the file as UTF-8 only when it starts with a BOM.
    file.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::WriterBuilder::new().from_writer(file);
    writer.write_record(columns)?;
    Ok(writer)
}

impl Sink for DirectorySink {
    fn user(&mut self, record: &UserRecord) -> std::io::Result<()> {
        self.users.write_record(record.cells())?;
        Ok(())
    }

    fn cleanup(&mut self, record: &CleanupRecord) -> std::io::Result<()> {
        if let Some(cleanup) = &mut self.cleanup {
            cleanup.write_record(record.cells())?;
        }
        Ok(())
    }

    fn progress(&mut self, pages: u64, users: u64, left: Option<std::time::Duration>) {
        (self.progress)(pages, users, left);
    }

    fn accounts(&mut self, listed: u64, read: u64) {
        if let Some(accounts) = &mut self.accounts {
            accounts(listed, read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder others can write to may hold a link where a file of the scan goes: the scan
    /// refuses it by name and the link's target is left as it was.
    #[cfg(unix)]
    #[test]
    fn a_link_planted_where_a_file_goes_is_refused_and_its_target_left_alone() {
        let directory =
            std::env::temp_dir().join(format!("readiness-link-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).expect("a temporary directory");
        let target = directory.join("precious.txt");
        std::fs::write(&target, "keep me").expect("the target");
        for name in [READINESS_CSV, CLEANUP_CSV] {
            let link = directory.join(name);
            std::os::unix::fs::symlink(&target, &link).expect("a link");
            let refused = DirectorySink::create(&directory, true, Box::new(|_, _, _| {}));
            let message = refused
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(message.contains("is a link"), "{name}: {message}");
            assert_eq!(
                std::fs::read_to_string(&target).expect("the target"),
                "keep me"
            );
            std::fs::remove_file(&link).expect("the link removed");
        }
        let _ = std::fs::remove_dir_all(&directory);
    }
}
