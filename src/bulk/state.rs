//! Keeps what a run has done beside the report, so that a run interrupted (Ctrl-C, a crash,
//! the network gone) can go on. The state is an append-only file of lines, one written when a
//! row's request is sent and one when its outcome arrives, each flushed as it happens. A run of
//! the same file (by its SHA-256, to the same endpoint) takes up where the last one stopped; a
//! changed file, or another endpoint, starts a new run, and the old state is kept aside.
//!
//! Each line carries a MAC (HMAC-SHA-256 with the admin's [`StateKey`], over the line before's
//! MAC and this line), so the lines form one chain from the run's first line, which names the
//! run's random id. A state this command did not write with the admin's key (planted by
//! whoever can write the output directory, edited, or written by an older version) is refused
//! as a whole: nothing is sent, and the message says what to do.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::row_outcome::RowOutcome;
use super::state_key::{StateKey, hex_decode, hex_encode};
use crate::files::no_follow;

/// The state file's name in the output directory.
pub const FILE_NAME: &str = "bulk-state.jsonl";
/// What the first line's MAC follows: the format's name, so that a state of another format
/// never verifies.
const CHAIN_START: &[u8] = b"mfa-phone-handler bulk state 2";

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Entry {
    /// The first line: which file this is the state of, sent where, and the run's random id
    /// (part of every request id of the run).
    Run {
        file_sha256: String,
        operations: usize,
        endpoint: String,
        run_id: String,
    },
    /// A request went out.
    Sent { request_id: String },
    /// Its outcome came back.
    Done {
        request_id: String,
        outcome: RowOutcome,
    },
}

/// One line of the state: the entry and its MAC.
#[derive(Serialize, Deserialize)]
struct Signed {
    #[serde(flatten)]
    entry: Entry,
    mac: String,
}

/// Why the state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The state was not written by this command with this admin's key.
    #[error(
        "{path} was not written by this command with your state key ({why}): it may have been \
         planted to make rows look done, or written by an older version. Nothing was sent. If \
         you did not expect it, find out who wrote it; otherwise move it out of the output \
         directory and run again (every row is then sent again: a change already made comes \
         back unchanged)"
    )]
    NotOurs { path: String, why: &'static str },
    /// The state file is a link.
    #[error(
        "{0} is a link: refusing to follow it (someone may have planted it to overwrite \
         another file); remove it and run again"
    )]
    Link(String),
}

/// The state of a run, open for appending.
pub struct State {
    file: File,
    path: PathBuf,
    key: StateKey,
    /// The MAC of the last line written.
    last_mac: Vec<u8>,
    /// The run's random id.
    pub run_id: String,
    /// The outcomes of an earlier run of the same file, by request id.
    pub earlier: HashMap<String, RowOutcome>,
    /// Requests an earlier run sent without learning their outcome.
    pub unanswered: HashSet<String>,
    /// Where the state of an earlier run of a different file was moved.
    pub set_aside: Option<PathBuf>,
}

/// What a state file on disk says, verified.
struct Read {
    run: Entry,
    last: HashMap<String, Option<RowOutcome>>,
    last_mac: Vec<u8>,
    ends_cut: bool,
}

impl State {
    /// Opens the state in `directory` for the file with `file_sha256`: an earlier run's when it
    /// was of this file, else a new one (an earlier state of another file is kept aside).
    ///
    /// # Errors
    ///
    /// When the directory or the file cannot be read or written, the state is a link, or it was
    /// not written by this command with `key`.
    pub fn open(
        directory: &Path,
        key: &StateKey,
        file_sha256: &str,
        endpoint: &str,
        operations: usize,
    ) -> Result<State, StateError> {
        std::fs::create_dir_all(directory)?;
        let path = directory.join(FILE_NAME);
        let read = read_unless_link(&path, key)?;
        let same_run = read
            .as_ref()
            .and_then(|read| read.run_id_if_of(file_sha256, endpoint));
        let set_aside = match (&read, &same_run) {
            (Some(_), None) => Some(put_aside(directory, &path)?),
            _ => None,
        };
        match (same_run, read) {
            (Some(run_id), Some(read)) => State::go_on(path, key, run_id, read, set_aside),
            _ => State::begin(path, key, set_aside, file_sha256, endpoint, operations),
        }
    }

    /// Opens the state of an earlier run of the same file to write on after its last line.
    fn go_on(
        path: PathBuf,
        key: &StateKey,
        run_id: String,
        read: Read,
        set_aside: Option<PathBuf>,
    ) -> Result<State, StateError> {
        let mut file = no_follow(OpenOptions::new().append(true)).open(&path)?;
        if read.ends_cut {
            // The next entry starts on a line of its own.
            file.write_all(b"\n")?;
        }
        let (earlier, unanswered) = settle(read.last);
        Ok(State {
            file,
            path,
            key: key.clone(),
            last_mac: read.last_mac,
            run_id,
            earlier,
            unanswered,
            set_aside,
        })
    }

    /// Creates the state of a new run of the file with `file_sha256` to `endpoint`, under a
    /// new random id. The file must not exist yet, so that one that appeared since it was
    /// looked at is not written over.
    fn begin(
        path: PathBuf,
        key: &StateKey,
        set_aside: Option<PathBuf>,
        file_sha256: &str,
        endpoint: &str,
        operations: usize,
    ) -> Result<State, StateError> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        let run_id = hex_encode(&rand::random::<[u8; 12]>());
        let mut state = State {
            file,
            path,
            key: key.clone(),
            last_mac: CHAIN_START.to_vec(),
            run_id: run_id.clone(),
            earlier: HashMap::new(),
            unanswered: HashSet::new(),
            set_aside,
        };
        state.append(&Entry::Run {
            file_sha256: file_sha256.to_owned(),
            operations,
            endpoint: endpoint.to_owned(),
            run_id,
        })?;
        Ok(state)
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
        let bytes = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        let mac = self.key.sign(&self.last_mac, &bytes);
        let signed = Signed {
            entry: entry.clone(),
            mac: hex_encode(&mac),
        };
        let mut line = serde_json::to_string(&signed).map_err(std::io::Error::other)?;
        line.push('\n');
        // Each line is one write, so a crash cuts at most the last line.
        self.file.write_all(line.as_bytes())?;
        self.file.flush()?;
        self.last_mac = mac;
        Ok(())
    }
}

/// Reads and verifies the state at `path` when there is one; a link there is refused, because
/// someone may have planted it to overwrite another file.
fn read_unless_link(path: &Path, key: &StateKey) -> Result<Option<Read>, StateError> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            Err(StateError::Link(path.display().to_string()))
        }
        Ok(_) => Ok(Some(read(path, key)?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Moves the state of an earlier run of another file (or to another endpoint) aside, under a
/// name of its own, so that it is kept and the new run starts a state of its own.
fn put_aside(directory: &Path, path: &Path) -> Result<PathBuf, StateError> {
    let aside = directory.join(format!(
        "bulk-state.{}.jsonl",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos())
    ));
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

impl Read {
    /// Returns the run's id, when it was a run of the file with `file_sha256` to `endpoint`.
    fn run_id_if_of(&self, file_sha256: &str, endpoint: &str) -> Option<String> {
        match &self.run {
            Entry::Run {
                file_sha256: hash,
                endpoint: used,
                run_id,
                ..
            } if hash == file_sha256 && used == endpoint => Some(run_id.clone()),
            _ => None,
        }
    }
}

/// Reads and verifies the state at `path`: every line's MAC must follow in the chain, and the
/// first line must be the run's.
fn read(path: &Path, key: &StateKey) -> Result<Read, StateError> {
    let not_ours = |why| StateError::NotOurs {
        path: path.display().to_string(),
        why,
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut no_follow(OpenOptions::new().read(true)).open(path)?,
        &mut bytes,
    )?;
    let ends_cut = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .collect();
    let mut last_mac = CHAIN_START.to_vec();
    let mut run = None;
    let mut last: HashMap<String, Option<RowOutcome>> = HashMap::new();
    for line in lines {
        // A line cut short by a crash (even inside a character) said nothing; a later run
        // writes on after it. A whole line must carry the MAC that follows the last one.
        let Ok(signed) = serde_json::from_slice::<Signed>(line) else {
            continue;
        };
        let entry_bytes = serde_json::to_vec(&signed.entry).map_err(std::io::Error::other)?;
        let tag = hex_decode(&signed.mac).unwrap_or_default();
        if !key.verify(&last_mac, &entry_bytes, &tag) {
            return Err(not_ours("a line's signature does not verify"));
        }
        last_mac = tag;
        match signed.entry {
            entry @ Entry::Run { .. } if run.is_none() => run = Some(entry),
            Entry::Run { .. } => return Err(not_ours("it names a second run")),
            _ if run.is_none() => return Err(not_ours("its first line is not a signed run")),
            Entry::Sent { request_id } => {
                last.insert(request_id, None);
            }
            Entry::Done {
                request_id,
                outcome,
            } => {
                last.insert(request_id, Some(outcome));
            }
        }
    }
    let run = run.ok_or_else(|| not_ours("it is empty"))?;
    Ok(Read {
        run,
        last,
        last_mac,
        ends_cut,
    })
}

/// Decides each request by its last entry: a request sent again after an outcome is pending.
fn settle(
    last: HashMap<String, Option<RowOutcome>>,
) -> (HashMap<String, RowOutcome>, HashSet<String>) {
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
    (earlier, unanswered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> RowOutcome {
        RowOutcome::unanswered("userBusy", "busy", true)
    }

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("bulk-state-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn the_last_entry_of_a_request_decides_and_a_cut_line_costs_nothing_else() {
        let directory = scratch();
        let key = StateKey::random();
        let mut state = State::open(&directory, &key, "abc", "http://x", 3).expect("opened");
        let run_id = state.run_id.clone();
        state.sent("a").expect("written");
        state.done("a", &outcome()).expect("written");
        state.sent("a").expect("sent again after a passing failure");
        state.sent("b").expect("written");
        drop(state);
        // A crash cuts a line in the middle, inside a character.
        let path = directory.join(FILE_NAME);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"done\":{\"requestId\":\"b\",\"outcome\":{\"message\":\"\xc3");
        std::fs::write(&path, bytes).expect("written");

        let mut state = State::open(&directory, &key, "abc", "http://x", 3).expect("resumed");
        assert_eq!(state.run_id, run_id, "the run's id is kept");
        assert!(state.earlier.is_empty(), "{:?}", state.earlier.keys());
        assert_eq!(
            state.unanswered,
            HashSet::from(["a".to_owned(), "b".to_owned()])
        );
        state
            .done("b", &outcome())
            .expect("written after the cut line");
        drop(state);
        let state = State::open(&directory, &key, "abc", "http://x", 3).expect("resumed");
        assert!(
            state.earlier.contains_key("b"),
            "the entry after the cut line counts"
        );

        let other = State::open(&directory, &key, "abc", "http://elsewhere", 3).expect("a new run");
        assert!(other.set_aside.is_some(), "another endpoint is a new run");
        assert!(other.earlier.is_empty() && other.unanswered.is_empty());
        assert_ne!(other.run_id, run_id, "a new run, a new id");
    }

    #[test]
    fn a_state_written_with_another_key_or_edited_is_refused() {
        let directory = scratch();
        let key = StateKey::random();
        let mut state = State::open(&directory, &key, "abc", "http://x", 1).expect("opened");
        state.sent("a").expect("written");
        drop(state);
        let refused = State::open(&directory, &StateKey::random(), "abc", "http://x", 1)
            .err()
            .expect("another key");
        assert!(matches!(refused, StateError::NotOurs { .. }), "{refused}");

        // Someone plants an outcome: a line that claims a row succeeded, with no valid MAC.
        let path = directory.join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str(r#"{"done":{"requestId":"a","outcome":{"succeeded":true,"action":"added","errorCode":null,"message":"","warnings":[],"conflictOwner":null,"transient":false}},"mac":"00"}"#);
        text.push('\n');
        std::fs::write(&path, text).expect("written");
        let refused = State::open(&directory, &key, "abc", "http://x", 1)
            .err()
            .expect("edited");
        assert!(
            refused.to_string().contains("not written by this command"),
            "{refused}"
        );

        // The state is in the older format, with no MACs at all.
        std::fs::write(
            &path,
            "{\"run\":{\"fileSha256\":\"abc\",\"operations\":1,\"endpoint\":\"http://x\"}}\n",
        )
        .expect("written");
        assert!(State::open(&directory, &key, "abc", "http://x", 1).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_state_file_that_is_a_link_is_refused() {
        let directory = scratch();
        std::fs::create_dir_all(&directory).expect("made");
        let target = directory.join("elsewhere");
        std::os::unix::fs::symlink(&target, directory.join(FILE_NAME)).expect("linked");
        let refused = State::open(&directory, &StateKey::random(), "abc", "http://x", 1)
            .err()
            .expect("refused");
        assert!(matches!(refused, StateError::Link(_)), "{refused}");
        assert!(!target.exists(), "nothing written through the link");
    }
}
