//! What a run has done, kept beside the report so that a run interrupted (Ctrl-C, a crash,
//! the network gone) can go on: an append-only file of lines, one when a row's request is
//! sent and one when its outcome arrives, flushed as they happen. A run of the same file
//! (by its SHA-256) takes up where the last one stopped; a changed file is a new run, and
//! the old state is kept aside.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::outcome::RowOutcome;

/// The state file's name in the output directory.
pub const FILE_NAME: &str = "bulk-state.jsonl";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Entry {
    /// The first line: which file this is the state of.
    Run {
        file_sha256: String,
        operations: usize,
    },
    /// A request went out.
    Sent { request_id: String },
    /// Its outcome came back.
    Done {
        request_id: String,
        outcome: RowOutcome,
    },
}

/// The state of a run, open for appending.
pub struct State {
    file: File,
    path: PathBuf,
    /// The outcomes of an earlier run of the same file, by request id.
    pub earlier: HashMap<String, RowOutcome>,
    /// Requests an earlier run sent without learning their outcome.
    pub unanswered: HashSet<String>,
    /// Where the state of an earlier run of a different file was moved.
    pub set_aside: Option<PathBuf>,
}

impl State {
    /// Opens the state in `directory` for the file with `file_sha256`: an earlier run's, when
    /// it was of this file, else a new one (an earlier state of another file is kept aside).
    ///
    /// # Errors
    ///
    /// The directory or the file cannot be read or written.
    pub fn open(directory: &Path, file_sha256: &str, operations: usize) -> std::io::Result<State> {
        std::fs::create_dir_all(directory)?;
        let path = directory.join(FILE_NAME);
        let mut earlier = HashMap::new();
        let mut sent = Vec::new();
        let mut same_file = false;
        let mut set_aside = None;
        if path.exists() {
            let reader = BufReader::new(File::open(&path)?);
            for (index, line) in reader.lines().enumerate() {
                // A line cut short by a crash is the last one: what it said did not happen.
                let Ok(entry) = serde_json::from_str::<Entry>(&line?) else {
                    continue;
                };
                match entry {
                    Entry::Run {
                        file_sha256: hash, ..
                    } if index == 0 => {
                        same_file = hash == file_sha256;
                        if !same_file {
                            break;
                        }
                    }
                    Entry::Sent { request_id } => sent.push(request_id),
                    Entry::Done {
                        request_id,
                        outcome,
                    } => {
                        earlier.insert(request_id, outcome);
                    }
                    Entry::Run { .. } => {}
                }
            }
            if !same_file {
                let aside = directory.join(format!(
                    "bulk-state.{}.jsonl",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |elapsed| elapsed.as_secs())
                ));
                std::fs::rename(&path, &aside)?;
                set_aside = Some(aside);
                earlier.clear();
                sent.clear();
            }
        }
        let unanswered = sent
            .into_iter()
            .filter(|request_id| !earlier.contains_key(request_id))
            .collect();
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        if !same_file {
            let entry = Entry::Run {
                file_sha256: file_sha256.to_owned(),
                operations,
            };
            writeln!(
                file,
                "{}",
                serde_json::to_string(&entry).unwrap_or_default()
            )?;
        }
        Ok(State {
            file,
            path,
            earlier,
            unanswered,
            set_aside,
        })
    }

    /// Records that `request_id` was sent.
    ///
    /// # Errors
    ///
    /// The state file cannot be written.
    pub fn sent(&mut self, request_id: &str) -> std::io::Result<()> {
        self.append(&Entry::Sent {
            request_id: request_id.to_owned(),
        })
    }

    /// Records the outcome of `request_id`.
    ///
    /// # Errors
    ///
    /// The state file cannot be written.
    pub fn done(&mut self, request_id: &str, outcome: &RowOutcome) -> std::io::Result<()> {
        self.append(&Entry::Done {
            request_id: request_id.to_owned(),
            outcome: outcome.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        // One write per line: a crash cuts at most the last line.
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}
