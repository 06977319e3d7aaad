//! The claim on one user: one writer per user, within this instance and across the Function
//! App's instances. [`Claims`] is what the runbook asks: it owns the instance's per-user locks
//! and write serial ([`UserLocks`]) and the leases' bounded acquisition ([`Claims::lease`]).
//! A [`Hold`] keeps the user's lease around one change, and each write attempt must start in
//! the [`WriteWindow`] the lease gives (the Graph client's writes take it). The runbook asks
//! in its own order of reads; the
//! lease itself is the storage adapter's ([`crate::storage::leases`], where the proof that a
//! read may stand is written out).
//!
//! It never reads or writes the tenant and never words a result: what a lease that could not
//! be had means to the caller is the runbook's to say.

mod hold;
mod locks;
mod window;

use std::time::Duration;

pub use self::hold::{Hold, write_window};
pub use self::locks::UserGuard;
use self::locks::UserLocks;
pub use self::window::WriteWindow;
pub use crate::storage::leases::{LeaseError, Moment, UserLease, UserLeases};
use crate::user::UserRef;

/// The claims this instance can make on users: its own locks, and the leases across
/// instances when the Function App has a storage account.
pub struct Claims {
    locks: UserLocks,
    leases: Option<UserLeases>,
    /// How long a claim waits for a lease another instance holds (`MFA_LEASE_WAIT_SECONDS`).
    lease_wait: Duration,
}

impl Claims {
    /// Claims with fresh locks; `leases` is `None` without a storage account, and then one
    /// user's work is serialised on this instance only.
    pub fn new(leases: Option<UserLeases>, lease_wait: Duration) -> Claims {
        Claims {
            locks: UserLocks::default(),
            leases,
            lease_wait,
        }
    }

    /// Waits for and takes this instance's lock of the user `key` names.
    pub async fn lock(&self, key: &str) -> UserGuard {
        self.locks.lock(key).await
    }

    /// The serial of the last write this instance noted; see [`UserLocks::written_since`].
    pub fn write_serial(&self) -> u64 {
        self.locks.write_serial()
    }

    /// Notes that a write was sent for the user `key` names.
    pub fn note_write(&self, key: &str) {
        self.locks.note_write(key);
    }

    /// Whether a write for the user `key` names was noted after `serial`.
    pub fn written_since(&self, key: &str, serial: u64) -> bool {
        self.locks.written_since(key, serial)
    }

    /// The lease of the user `object_id`, waiting for another instance's until the lease wait
    /// has passed or `deadline` comes, whichever is first; `None` when there are no leases.
    pub async fn lease(
        &self,
        object_id: &UserRef,
        deadline: tokio::time::Instant,
    ) -> Option<Result<UserLease, LeaseError>> {
        hold::acquire_lease(self.leases.as_ref(), self.lease_wait, object_id, deadline).await
    }
}
