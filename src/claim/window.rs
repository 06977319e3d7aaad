//! The write window: when a write under a user's lease may still start, and how long one
//! attempt may take. The claim makes it from the lease's renewal right before a write
//! ([`crate::storage::leases::Renewed`]); the Graph client keeps every attempt of the write
//! (retries included) inside it and keeps the lease's flag of a write in doubt. It does no IO:
//! it looks at the monotonic clock and at a flag shared with the lease.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use crate::storage::leases::Renewed;

/// When a write may still be attempted, and how long one attempt may take: a write under a
/// user's lease sends no attempt (a retry included) once the lease could lapse before Graph
/// has applied it. The doubt is the lease's: set when an attempt goes out, and cleared only by
/// a definite answer when no attempt before it (of this write or an earlier one) went
/// unanswered, so that an attempt abandoned, cancelled or answered 5xx leaves it set and the
/// lease lapses instead of being released. `start_by` is on the monotonic clock, not tokio's:
/// the lease lapses on the storage service's real time, which a paused clock in a test does
/// not stop.
#[derive(Clone, Debug)]
pub struct WriteWindow {
    start_by: Instant,
    attempt_timeout: Duration,
    doubt: Arc<AtomicBool>,
}

impl WriteWindow {
    /// The window a renewal of the user's lease right before a write leaves.
    pub(super) fn after(renewed: Renewed) -> WriteWindow {
        let (start_by, attempt_timeout, doubt) = renewed.into_parts();
        WriteWindow {
            start_by,
            attempt_timeout,
            doubt,
        }
    }

    /// Whether no attempt may start any more.
    pub fn passed(&self) -> bool {
        Instant::now() > self.start_by
    }

    /// The longest one attempt may take before it is abandoned.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// Whether a write under the lease has an outcome nobody knows yet.
    pub fn in_doubt(&self) -> bool {
        self.doubt.load(SeqCst)
    }

    /// An attempt goes out: until a definite answer, Graph may apply it at any time.
    pub fn attempt_sent(&self) {
        self.doubt.store(true, SeqCst);
    }

    /// A definite answer came, and no attempt before it went unanswered: every write under the
    /// lease is known.
    pub fn outcome_known(&self) {
        self.doubt.store(false, SeqCst);
    }
}
