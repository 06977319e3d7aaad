//! What a run has done, kept beside the report so that a run interrupted (Ctrl-C, a crash,
//! the network gone) can go on: an append-only file of lines, one when a row's request is
//! sent and one when its outcome arrives, flushed as they happen. A run of the same file
//! (by its SHA-256, to the same endpoint) takes up where the last one stopped; a changed file,
//! or another endpoint, is a new run, and the old state is kept aside.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::outcome::RowOutcome;

/// The state file's name in the output directory.
pub const FILE_NAME: &str = "bulk-state.jsonl";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Entry {
    /// The first line: which file this is the state of, sent where.
    Run {
        file_sha256: String,
        operations: usize,
        #[serde(default)]
        endpoint: String,
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
    pub fn open(
        directory: &Path,
        file_sha256: &str,
        endpoint: &str,
        operations: usize,
    ) -> std::io::Result<State> {
        std::fs::create_dir_all(directory)?;
        let path = directory.join(FILE_NAME);
        // The last entry of each request decides: sent again after an outcome, it is pending.
        let mut last: HashMap<String, Option<RowOutcome>> = HashMap::new();
        let mut same_run = false;
        let mut set_aside = None;
        let mut ends_cut = false;
        if path.exists() {
            let bytes = std::fs::read(&path)?;
            ends_cut = !bytes.is_empty() && !bytes.ends_with(b"\n");
            for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
                // A line cut short by a crash (even inside a character) said nothing.
                let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
                    continue;
                };
                match entry {
                    Entry::Run {
                        file_sha256: hash,
                        endpoint: used,
                        ..
                    } if index == 0 => {
                        same_run = hash == file_sha256 && used == endpoint;
                        if !same_run {
                            break;
                        }
                    }
                    Entry::Sent { request_id } => {
                        last.insert(request_id, None);
                    }
                    Entry::Done {
                        request_id,
                        outcome,
                    } => {
                        last.insert(request_id, Some(outcome));
                    }
                    Entry::Run { .. } => {}
                }
            }
            if !same_run {
                let aside = directory.join(format!(
                    "bulk-state.{}.jsonl",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |elapsed| elapsed.as_nanos())
                ));
                std::fs::rename(&path, &aside)?;
                set_aside = Some(aside);
                last.clear();
                ends_cut = false;
            }
        }
        let mut earlier = HashMap::new();
        let mut unanswered = HashSet::new();
        for (request_id, outcome) in last {
            match outcome {
                Some(outcome) => {
                    earlier.insert(request_id, outcome);
                }
                None => {
                    unanswered.insert(request_id);
                }
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        if ends_cut {
            // The next entry starts on a line of its own.
            file.write_all(b"\n")?;
        }
        if !same_run {
            let entry = Entry::Run {
                file_sha256: file_sha256.to_owned(),
                operations,
                endpoint: endpoint.to_owned(),
            };
            let line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
            writeln!(file, "{line}")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> RowOutcome {
        RowOutcome::unanswered("userBusy", "busy", true)
    }

    #[test]
    fn the_last_entry_of_a_request_decides_and_a_cut_line_costs_nothing_else() {
        let directory = std::env::temp_dir().join(format!("bulk-state-{}", uuid::Uuid::new_v4()));
        let mut state = State::open(&directory, "abc", "http://x", 3).expect("opened");
        state.sent("a").expect("written");
        state.done("a", &outcome()).expect("written");
        state.sent("a").expect("sent again after a passing failure");
        state.sent("b").expect("written");
        drop(state);
        // A crash in the middle of a line, inside a character.
        let path = directory.join(FILE_NAME);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"done\":{\"requestId\":\"b\",\"outcome\":{\"message\":\"\xc3");
        std::fs::write(&path, bytes).expect("written");

        let mut state = State::open(&directory, "abc", "http://x", 3).expect("resumed");
        assert!(state.earlier.is_empty(), "{:?}", state.earlier.keys());
        assert_eq!(
            state.unanswered,
            HashSet::from(["a".to_owned(), "b".to_owned()])
        );
        state
            .done("b", &outcome())
            .expect("written after the cut line");
        drop(state);
        let state = State::open(&directory, "abc", "http://x", 3).expect("resumed");
        assert!(
            state.earlier.contains_key("b"),
            "the entry after the cut line counts"
        );

        let other = State::open(&directory, "abc", "http://elsewhere", 3).expect("a new run");
        assert!(other.set_aside.is_some(), "another endpoint is a new run");
        assert!(other.earlier.is_empty() && other.unanswered.is_empty());
    }
}
