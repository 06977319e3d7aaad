//! The user's lease around one change, across instances ([`crate::storage::leases`]): asked
//! for alongside the first read (the object id's: a caller's, or the one the directory
//! returned for a UPN) with a bounded wait, renewed into a [`WriteWindow`] before every write,
//! and released after the last one with the instance's own lock of the user kept until then,
//! so that the next invocation for the user on this instance finds the lease free.

use std::time::Duration;

use super::WriteWindow;
use super::locks::UserGuard;
use crate::storage::leases::{LeaseError, UserLease, UserLeases};
use crate::user::UserRef;

/// The lease held for this change, and the instance's lock of the user, released together
/// when dropped (in the background: the answer does not wait for the release).
#[derive(Default)]
pub struct Hold {
    lease: Option<UserLease>,
    lock: Option<UserGuard>,
}

impl Hold {
    /// Keeps the lease `asked` gave, with the user's lock taken out of `lock`, until the change
    /// is done; when there are no leases nothing changes, and a lease that could not be had is
    /// returned.
    pub fn keep_asked(
        &mut self,
        asked: Option<Result<UserLease, LeaseError>>,
        lock: &mut Option<UserGuard>,
    ) -> Option<LeaseError> {
        match asked {
            Some(Ok(lease)) => {
                self.lease = Some(lease);
                self.lock = lock.take();
                None
            }
            Some(Err(error)) => Some(error),
            None => None,
        }
    }

    /// The lease held, when there are leases and it was had.
    pub fn lease(&self) -> Option<&UserLease> {
        self.lease.as_ref()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let lock = self.lock.take();
            tokio::spawn(async move {
                lease.release().await;
                drop(lock);
            });
        }
    }
}

/// The lease of the user `object_id`, waiting for another instance's until `wait`
/// (`MFA_LEASE_WAIT_SECONDS`) has passed or the invocation's `deadline` comes, whichever is
/// first; `None` when there are no leases (no storage account).
pub(super) async fn acquire_lease(
    leases: Option<&UserLeases>,
    wait: Duration,
    object_id: &UserRef,
    deadline: tokio::time::Instant,
) -> Option<Result<UserLease, LeaseError>> {
    let leases = leases?;
    let until = std::time::Instant::now()
        + wait.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
    Some(leases.acquire(object_id.as_str(), until).await)
}

/// The window a write may be attempted in now: `lease` is renewed first, every time.
///
/// # Errors
///
/// [`LeaseError::Unavailable`] when the lease cannot be renewed: it may be lost, and nothing
/// may be written.
pub async fn write_window(lease: &UserLease) -> Result<WriteWindow, LeaseError> {
    lease.ready_to_write().await.map(WriteWindow::after)
}
