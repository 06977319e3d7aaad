//! The claim on one user: one writer per user, within this instance and across the Function
//! App's instances. It owns the instance's per-user locks and write serial ([`UserLocks`]),
//! the user's lease around one change and its bounded acquisition ([`Hold`],
//! [`acquire_lease`]), and the window each write attempt must start in ([`WriteWindow`],
//! which the Graph client's writes take). The runbook asks it, in its own order of reads; the
//! lease itself is the storage adapter's ([`crate::storage::leases`], where the proof that a
//! read may stand is written out).
//!
//! It never reads or writes the tenant and never words a result: what a lease that could not
//! be had means to the caller is the runbook's to say.

mod hold;
mod locks;
mod window;

pub use self::hold::{Hold, acquire_lease, write_window};
pub use self::locks::{UserGuard, UserLocks};
pub use self::window::WriteWindow;
pub use crate::storage::leases::{LeaseError, Moment, UserLease, UserLeases};
