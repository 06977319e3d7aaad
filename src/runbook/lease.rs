//! The user's lease around one change, across instances ([`crate::storage::leases`]): asked
//! for alongside the first read (the object id's: a caller's, or the one the directory
//! returned for a UPN), checked before every write, and released after the last one with the
//! instance's own lock of the user kept until then, so that the next invocation for the user
//! on this instance finds the lease free.

use super::Services;
use crate::locks::UserGuard;
use crate::storage::leases::{LeaseError, UserLease};
use crate::user::UserRef;

/// The lease held for this change, and the instance's lock of the user, released together
/// when dropped (in the background: the answer does not wait for the release).
#[derive(Default)]
pub(super) struct Hold {
    lease: Option<UserLease>,
    lock: Option<UserGuard>,
}

impl Hold {
    /// Keeps `lease` and the user's `lock` until the change is done.
    pub(super) fn keep(&mut self, lease: UserLease, lock: Option<UserGuard>) {
        self.lease = Some(lease);
        self.lock = lock;
    }

    pub(super) fn lease(&self) -> Option<&UserLease> {
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

/// The lease of the user `object_id`, waiting for another instance's until the lease wait or
/// the invocation's deadline; `None` when there are no leases (no storage account).
pub(super) async fn acquire(
    services: &Services,
    object_id: &UserRef,
    deadline: tokio::time::Instant,
) -> Option<Result<UserLease, LeaseError>> {
    let leases = services.leases.as_ref()?;
    let until = std::time::Instant::now()
        + services
            .lease_wait
            .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
    Some(leases.acquire(object_id.as_str(), until).await)
}
