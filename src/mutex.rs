//! One way to take a `std::sync::Mutex` that never poisons the process's state: a panic while
//! a guard was held (one invocation's bug) must not make every later invocation panic on the
//! same lock. Each mutex here guards a cache or a counter that every update leaves whole, so
//! the data a poisoned lock holds is still good to use. Nothing here is held across an await.

use std::sync::{Mutex, MutexGuard};

/// Takes `mutex`, also when a thread panicked while it held it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes out the value `mutex` held, also when a thread panicked while it held it.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
