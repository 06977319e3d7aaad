//! SMS and voice retirement readiness: which users with a phone method Microsoft's retirement
//! of the SMS and voice it provides will block, from which date, and which phones can safely
//! go. `classify` decides per user (pure); `fingerprint` keys the numbers `cleanup.csv` names
//! (pure).

pub mod classify;
pub mod fingerprint;

pub use self::classify::{Category, Verdict, classify};
pub use self::fingerprint::CleanupKey;
