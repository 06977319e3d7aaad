//! Per-user serialisation: two invocations for the same user on this instance run one after
//! the other; invocations for different users run concurrently.
//!
//! A caller may name a user by UPN or by object id, and learns the object id only from its
//! first read, so two callers of one user can briefly hold different locks. Each write is
//! therefore stamped with a serial number: a caller that finds a write to its user stamped
//! after its read began reads again before it decides.
//!
//! Across instances, the user's lease in the app's storage account does that
//! ([`crate::storage::leases`]); these locks keep an instance from contending with itself for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::mutex::lock;
use tokio::sync::OwnedMutexGuard;
// Tokio's clock, as every other wait of an invocation, so that paused time in a test moves it.
use tokio::time::Instant;

/// A lock per user key, created on demand and dropped when nobody holds or waits for it.
#[derive(Default)]
pub struct UserLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    /// Counts writes; the next write gets the next number.
    serial: AtomicU64,
    /// The serial of the last write to each user, and when it was made.
    last_write: Mutex<HashMap<String, (u64, Instant)>>,
}

/// How long a user's last write is remembered: longer than any invocation runs.
const WRITES_REMEMBERED_FOR: Duration = Duration::from_secs(600);

/// A held user lock; released on drop.
pub struct UserGuard {
    _guard: OwnedMutexGuard<()>,
}

impl UserLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> UserGuard {
        let lock = {
            // A poisoned map only means another thread panicked mid-update; the map itself
            // is still a valid cache of weak references.
            let mut locks = lock(&self.locks);
            locks.retain(|_, lock| lock.strong_count() > 0);
            match locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        UserGuard {
            _guard: lock.lock_owned().await,
        }
    }

    /// The serial the next write will exceed; take it before reading a user.
    pub fn write_serial(&self) -> u64 {
        self.serial.load(Ordering::SeqCst)
    }

    /// Records that the user `key` was (or may have been) written to.
    pub fn note_write(&self, key: &str) {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let now = Instant::now();
        let mut last_write = lock(&self.last_write);
        if last_write.len() > 1024 {
            last_write.retain(|_, (_, at)| now.duration_since(*at) < WRITES_REMEMBERED_FOR);
        }
        last_write.insert(key.to_owned(), (serial, now));
    }

    /// Whether the user `key` was written to after `serial` was taken.
    pub fn written_since(&self, key: &str, serial: u64) -> bool {
        let last_write = lock(&self.last_write);
        last_write
            .get(key)
            .is_some_and(|(written, _)| *written > serial)
    }

    /// How many users currently have a lock held or awaited.
    #[cfg(test)]
    fn active(&self) -> usize {
        let locks = lock(&self.locks);
        locks
            .values()
            .filter(|lock| lock.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_user_waits_and_different_users_do_not() {
        let locks = Arc::new(UserLocks::default());
        let first = locks.lock("adele").await;
        // Another user's lock is had while adele's is held.
        let other = locks.lock("megan").await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { drop(locks.lock("adele").await) })
        };
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "adele's second lock waits for the first"
        );
        drop(first);
        waiter
            .await
            .expect("the waiter gets the lock once the first is let go");
        drop(other);
        assert_eq!(locks.active(), 0);
    }

    #[test]
    fn a_write_after_a_read_began_is_seen() {
        let locks = UserLocks::default();
        let before = locks.write_serial();
        assert!(!locks.written_since("adele", before));
        locks.note_write("adele");
        assert!(locks.written_since("adele", before));
        assert!(!locks.written_since("megan", before));
        let after = locks.write_serial();
        assert!(!locks.written_since("adele", after));
    }
}
