//! Finds out SMS and voice retirement readiness: which users with a phone method Microsoft's
//! retirement of the SMS and voice it provides will block, from which date, and which phones
//! can safely go. `classify` judges the facts of `retirement` per user (pure); `scan` reads
//! Graph (read only) at the reports limit (`pacer`) and hands `record`s to a sink; `output`
//! writes the files; `summary` adds them up; `trend` follows `phoneOnly` across scans (pure).
//! The numbers `cleanup.csv` names are keyed by `phone::CleanupKey`. The scan's callers sit
//! above it: the command line (`cli::readiness`) and the Function App (`app::readiness`).

pub mod batches;
pub mod classify;
pub mod command_summary;
pub mod dashboard;
pub mod output;
pub mod pacer;
pub mod record;
pub mod scan;
pub mod standing;
pub mod summary;
pub mod trend;

pub use self::classify::{Category, Verdict, classify};
pub use self::scan::{ScanError, ScanSettings, Sink, scan};
pub use self::summary::Summary;
