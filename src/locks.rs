//! Per-user serialisation: two invocations for the same user on this instance run one after
//! the other; invocations for different users run concurrently.
//!
//! Across instances nothing is serialised; the runbook's plan-then-verify loop is what keeps
//! concurrent writers from undoing each other there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// A lock per user key, created on demand and dropped when nobody holds or waits for it.
#[derive(Default)]
pub struct UserLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// A held user lock; released on drop.
pub struct UserGuard {
    _guard: OwnedMutexGuard<()>,
    /// Whether another invocation held the lock when we asked: what we read before may be
    /// stale.
    pub waited: bool,
}

impl UserLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> UserGuard {
        let lock = {
            // A poisoned map only means another thread panicked mid-update; the map itself
            // is still a valid cache of weak references.
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
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
        match lock.clone().try_lock_owned() {
            Ok(guard) => UserGuard {
                _guard: guard,
                waited: false,
            },
            Err(_) => UserGuard {
                _guard: lock.lock_owned().await,
                waited: true,
            },
        }
    }

    /// How many users currently have a lock held or awaited.
    pub fn active(&self) -> usize {
        let locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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
        assert!(!first.waited);
        let other = locks.lock("megan").await;
        assert!(!other.waited);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.lock("adele").await.waited })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        assert!(waiter.await.unwrap());
        drop(other);
        assert_eq!(locks.active(), 0);
    }
}
