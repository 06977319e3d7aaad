//! Paces a run. A pause the endpoint asked for (429, `Retry-After`, Graph unavailable) holds
//! back every request of the run, not only the one that met it; and Graph's write limit is
//! kept on this side, so that Graph's 429s are only those another writer of the app causes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Holds every request of the run back while the endpoint asked for a pause.
#[derive(Clone, Default)]
pub struct Pacer {
    not_before: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// Waits until no pause is in force.
    pub(super) async fn wait(&self) {
        loop {
            let until = *lock(&self.not_before);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// Holds the run back after the endpoint or Graph said it is overloaded (429, Graph
    /// unavailable): every request of the run waits `wait`, not only the one that met it.
    pub(super) fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait.min(Duration::from_secs(300));
        let mut not_before = lock(&self.not_before);
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
    }
}

/// Graph's write limit for identity and access (3,000 writes per 2.5 minutes per app and
/// tenant), kept on this side: no more than `count` requests are sent in any `window` (plus a
/// margin for the handler's reads before its write), so that Graph's 429s are only those
/// another writer of the same app causes. Each operation is counted as one write.
pub struct WriteLimit {
    count: usize,
    window: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl WriteLimit {
    /// The margin for the time between the request leaving here and its write reaching Graph
    /// (the handler reads first): a hundredth of the window, kept between 0.1 and 1 s.
    fn margin(window: Duration) -> Duration {
        (window / 100).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    pub fn new((count, window): (usize, Duration)) -> WriteLimit {
        WriteLimit {
            count: count.max(1),
            window: window + WriteLimit::margin(window),
            sent: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Waits until one more request fits the window and counts it. Returns whether it had to
    /// wait.
    pub(super) async fn admit(&self) -> bool {
        let mut waited = false;
        loop {
            let wait_until = {
                let mut sent = lock(&self.sent);
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|at| now.duration_since(*at) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.count {
                    sent.push_back(now);
                    return waited;
                }
                sent.front().map(|oldest| *oldest + self.window)
            };
            if let Some(until) = wait_until {
                waited = true;
                tokio::time::sleep_until(until).await;
            }
        }
    }
}

/// Locks the run's shared state, even after a panic elsewhere held it, so that the run's counts
/// and outcomes stay readable.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    crate::mutex::lock(mutex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_goes_out_in_any_window() {
        let limit = WriteLimit::new((2, Duration::from_secs(10)));
        let started = Instant::now();
        limit.admit().await;
        limit.admit().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the first window's worth at once"
        );
        limit.admit().await;
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(10_100),
            "the third when the first leaves the window (and its margin)"
        );
    }
}
