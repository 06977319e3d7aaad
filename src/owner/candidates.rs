//! Keeps the owner search's candidates: every user it knows of, each checked once, report
//! candidates first. Pure bookkeeping, no IO.

use std::collections::{HashMap, VecDeque};

use crate::graph::ListedUser;

/// How often a candidate whose read failed transiently is tried again.
pub(super) const MAX_ITEM_RETRIES: u32 = 5;

/// A user whose phone methods the search will read, and how often that has failed.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub user: ListedUser,
    pub retries: u32,
}

/// Where a candidate came from: the report lists users with a mobile phone (checked first);
/// the directory lists everyone (checked when the report has nothing waiting, and after it,
/// because the report can be hours behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    Report,
    Directory,
}

/// What happened to a candidate so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progression {
    Waiting(Source),
    Taken,
}

/// The candidates known so far, each checked once: report candidates first.
pub(super) struct Candidates {
    report: VecDeque<Candidate>,
    directory: VecDeque<Candidate>,
    /// The target user, left out: their own number is not a conflict.
    target: String,
    state: HashMap<String, Progression>,
    /// Directory candidates are checked only once the report has answered (with a page or a
    /// refusal), so report candidates really go first.
    directory_open: bool,
}

impl Candidates {
    pub(super) fn new(target: &str) -> Candidates {
        Candidates {
            report: VecDeque::new(),
            directory: VecDeque::new(),
            target: target.to_lowercase(),
            state: HashMap::new(),
            directory_open: false,
        }
    }

    pub(super) fn add(&mut self, users: Vec<ListedUser>, source: Source) {
        for user in users {
            let key = user.id.to_lowercase();
            if key == self.target {
                continue;
            }
            let queue = match (self.state.get(&key), source) {
                (None, Source::Report)
                | (Some(Progression::Waiting(Source::Directory)), Source::Report) => {
                    &mut self.report
                }
                (None, Source::Directory) => &mut self.directory,
                _ => continue,
            };
            self.state.insert(key, Progression::Waiting(source));
            queue.push_back(Candidate { user, retries: 0 });
        }
    }

    /// Takes up to `size` candidates to check next, report candidates first.
    pub(super) fn next_batch(&mut self, size: usize) -> Vec<Candidate> {
        let mut batch = Vec::with_capacity(size);
        for source in [Source::Report, Source::Directory] {
            if source == Source::Directory && !self.directory_open {
                break;
            }
            while batch.len() < size {
                let queue = match source {
                    Source::Report => &mut self.report,
                    Source::Directory => &mut self.directory,
                };
                let Some(candidate) = queue.pop_front() else {
                    break;
                };
                let key = candidate.user.id.to_lowercase();
                // A directory entry promoted to the report queue is taken from there.
                if self.state.get(&key) == Some(&Progression::Waiting(source)) {
                    self.state.insert(key, Progression::Taken);
                    batch.push(candidate);
                }
            }
        }
        batch
    }

    /// Puts a candidate Graph throttled back at the front: it is asked again, however often
    /// (the search's budget bounds the whole).
    pub(super) fn throttled(&mut self, candidate: Candidate) {
        self.state.insert(
            candidate.user.id.to_lowercase(),
            Progression::Waiting(Source::Report),
        );
        self.report.push_front(candidate);
    }

    /// Puts a candidate whose read failed for another transient reason back, a few times;
    /// `false` when it has used up its retries and stays unread.
    #[must_use]
    pub(super) fn failed(&mut self, candidate: Candidate) -> bool {
        if candidate.retries >= MAX_ITEM_RETRIES {
            return false;
        }
        self.throttled(Candidate {
            retries: candidate.retries + 1,
            ..candidate
        });
        true
    }

    pub(super) fn open_directory(&mut self) {
        self.directory_open = true;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.report.is_empty() && self.directory.is_empty()
    }

    /// Counts the distinct users the search knows of.
    pub(super) fn known(&self) -> usize {
        self.state.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> ListedUser {
        ListedUser {
            id: id.to_owned(),
            user_principal_name: None,
            display_name: None,
        }
    }

    fn ids(batch: &[Candidate]) -> Vec<&str> {
        batch
            .iter()
            .map(|candidate| candidate.user.id.as_str())
            .collect()
    }

    #[test]
    fn report_candidates_go_first_and_each_candidate_is_checked_once() {
        let mut candidates = Candidates::new("TARGET");
        candidates.add(
            vec![user("d1"), user("d2"), user("target")],
            Source::Directory,
        );
        candidates.add(vec![user("r1"), user("d2")], Source::Report);
        assert_eq!(
            ids(&candidates.next_batch(10)),
            ["r1", "d2"],
            "the directory waits for the report"
        );
        candidates.open_directory();
        assert_eq!(ids(&candidates.next_batch(10)), ["d1"]);
        candidates.add(vec![user("d1"), user("r1")], Source::Report);
        assert!(candidates.next_batch(10).is_empty(), "already taken");
        assert_eq!(candidates.known(), 3);
    }

    #[test]
    fn throttled_candidates_come_back_first_and_are_never_dropped() {
        let mut candidates = Candidates::new("target");
        candidates.add(vec![user("a"), user("b")], Source::Report);
        let first = candidates.next_batch(1);
        for _ in 0..(MAX_ITEM_RETRIES * 3) {
            candidates.throttled(first[0].clone());
            assert_eq!(ids(&candidates.next_batch(1)), ["a"]);
        }
        let mut failing = candidates.next_batch(1).remove(0);
        for _ in 0..MAX_ITEM_RETRIES {
            assert!(candidates.failed(failing));
            failing = candidates.next_batch(1).remove(0);
        }
        assert!(
            !candidates.failed(failing),
            "given up: the caller counts it unread"
        );
        assert!(
            candidates.is_empty(),
            "other failures are retried a bounded number of times"
        );
    }
}
