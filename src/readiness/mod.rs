//! Finds out SMS and voice retirement readiness: which users with a phone method Microsoft's
//! retirement of the SMS and voice it provides will block, from which date, and which phones
//! can safely go. `classify` judges the facts of `retirement` per user (pure); `scan` reads
//! Graph (read only) at the reports limit (`pacer`) and hands `record`s to a sink; `output`
//! writes the files; `summary` adds them up; `trend` follows `phoneOnly` across scans (pure).
//! The numbers `cleanup.csv` names are keyed by `phone::CleanupKey`. The scan's callers sit
//! above it: the command line (`cli::readiness`) and the Function App (`app::readiness`).

mod batches;
pub(crate) mod classify;
pub(crate) mod command_summary;
mod dashboard;
pub(crate) mod output;
pub(crate) mod pacer;
mod record;
pub(crate) mod scan;
mod standing;
pub(crate) mod summary;
pub(crate) mod trend;

pub use self::scan::{ScanSettings, scan};
