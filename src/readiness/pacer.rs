//! Keeps the reports limit on this side: at most so many requests go out in any window (Graph:
//! 5 per 10 s per app and tenant for the identity and access reports), so that the scan runs at
//! the limit instead of colliding with it. The window slides over the instants requests went
//! out. This module also backs off the `$batch` reads: Graph's identity bucket depends on the
//! tenant's size and on the other apps' use, so it is not paced ahead; once Graph throttles a
//! read, every read of the scan waits before the next `$batch`, not only the one throttled.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A sliding window of requests.
#[derive(Debug)]
pub struct Window {
    limit: usize,
    window: Duration,
    sent: VecDeque<Instant>,
    /// How long the scan has waited for the window, in all.
    pub waited: Duration,
}

/// Graph's reports limit: 5 requests per 10 s.
pub const REPORTS_LIMIT: (usize, Duration) = (5, Duration::from_secs(10));

/// The margin added to the window: requests reach Graph a little after they leave, unevenly,
/// and Graph's window counts arrivals.
const SLACK: Duration = Duration::from_millis(250);

impl Window {
    pub fn new((limit, window): (usize, Duration)) -> Window {
        Window {
            limit: limit.max(1),
            window: window + SLACK,
            sent: VecDeque::new(),
            waited: Duration::ZERO,
        }
    }

    /// When the next request may go out, if not now.
    pub fn next_at(&mut self, now: Instant) -> Option<Instant> {
        while self
            .sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            return None;
        }
        self.sent.front().map(|oldest| *oldest + self.window)
    }

    /// Waits until a request may go out, and counts it as sent.
    pub async fn wait(&mut self) {
        loop {
            let now = Instant::now();
            match self.next_at(now) {
                None => {
                    self.sent.push_back(now);
                    return;
                }
                Some(at) => {
                    self.waited += at.saturating_duration_since(now);
                    tokio::time::sleep_until(at).await;
                }
            }
        }
    }

    /// Computes the least time `requests` requests take at this limit.
    pub fn floor(&self, requests: u64) -> Duration {
        let windows = requests.saturating_sub(1) / self.limit as u64;
        self.window
            .saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
    }
}

/// The least a throttled read pauses every read for, whatever Graph names: its `Retry-After`
/// counts whole seconds, and by then a bucket of any size has refilled enough for a whole
/// `$batch`.
pub const LEAST_PAUSE: Duration = Duration::from_secs(1);

/// When the scan's `$batch` reads may go out again after Graph throttled one of them.
#[derive(Debug, Default)]
pub struct Pause {
    until: Mutex<Option<Instant>>,
}

impl Pause {
    /// Records that Graph throttled a read and asked for `wait`: no read goes out before then
    /// (at least [`LEAST_PAUSE`] from now), and a later instant already set stands.
    pub fn throttled(&self, wait: Duration) {
        let at = Instant::now() + wait.max(LEAST_PAUSE);
        let mut until = crate::mutex::lock(&self.until);
        if until.is_none_or(|until| until < at) {
            *until = Some(at);
        }
    }

    /// Waits until reads may go out.
    pub async fn wait(&self) {
        loop {
            let until = *crate::mutex::lock(&self.until);
            match until {
                Some(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn twelve_requests_at_five_per_ten_seconds_take_two_windows() {
        let mut window = Window::new(REPORTS_LIMIT);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            window.wait().await;
            times.push(start.elapsed());
        }
        let span = Duration::from_secs(10) + SLACK;
        assert!(times[..5].iter().all(|at| *at == Duration::ZERO));
        assert_eq!(times[5], span, "the sixth waits for the first to leave");
        assert_eq!(times[10], span * 2);
        assert_eq!(times[11], span * 2);
        // No ten seconds may hold more than five requests.
        for (index, at) in times.iter().enumerate().skip(5) {
            assert!(*at - times[index - 5] >= Duration::from_secs(10));
        }
        assert_eq!(window.floor(12), span * 2);
        assert_eq!(window.waited, span * 2);
    }

    /// Pages take time to read: a request waits only for the one five before it to leave the
    /// window, not for a whole window after each burst of five. At one request a second the
    /// sixth goes out as the first leaves, and the rest keep their pace behind it.
    #[tokio::test(start_paused = true)]
    async fn the_window_slides_a_request_waits_only_for_the_oldest_to_leave() {
        let mut window = Window::new(REPORTS_LIMIT);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..11 {
            window.wait().await;
            times.push(start.elapsed());
            // Reading the page takes a second.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let span = Duration::from_secs(10) + SLACK;
        let seconds = Duration::from_secs;
        assert_eq!(&times[..5], &[0, 1, 2, 3, 4].map(seconds));
        assert_eq!(times[5], span, "the sixth waits for the first to leave");
        assert_eq!(times[6], span + seconds(1), "the seventh for the second");
        assert_eq!(times[9], span + seconds(4));
        assert_eq!(times[10], span * 2, "the eleventh for the sixth");
        // There are never more than five in any ten seconds, and no more waiting than that
        // needs.
        for (index, at) in times.iter().enumerate().skip(5) {
            assert!(*at - times[index - 5] >= Duration::from_secs(10));
        }
        assert_eq!(window.waited, (span - seconds(5)) * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_go_at_once_until_graph_throttles_one() {
        let pause = Pause::default();
        let start = Instant::now();
        pause.wait().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    /// When Graph names a wait of a few milliseconds, or of seconds, every read waits at least
    /// a second, and the longest wait named stands.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_read_holds_every_read_back_for_the_longest_wait_named() {
        let pause = std::sync::Arc::new(Pause::default());
        let start = Instant::now();
        pause.throttled(Duration::from_millis(2));
        let other = std::sync::Arc::clone(&pause);
        let waiter = tokio::spawn(async move {
            other.wait().await;
            Instant::now()
        });
        pause.wait().await;
        assert_eq!(start.elapsed(), LEAST_PAUSE, "at least a second");
        assert_eq!(
            waiter.await.ok(),
            Some(start + LEAST_PAUSE),
            "every read waits"
        );

        let start = Instant::now();
        pause.throttled(Duration::from_secs(3));
        pause.throttled(Duration::from_millis(5));
        pause.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "the longer wait stands"
        );
        pause.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "and then reads go again"
        );
    }
}
