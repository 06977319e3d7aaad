//! The reports limit, kept on this side: at most so many requests in any window (Graph: 5 per
//! 10 s per app and tenant for the identity and access reports), so the scan runs at the
//! limit instead of colliding with it. A sliding window over the instants requests went out.

use std::collections::VecDeque;
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

/// Added to the window: requests reach Graph a little after they leave, unevenly, and Graph's
/// window counts arrivals.
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

    /// The least time `requests` requests take at this limit.
    pub fn floor(&self, requests: u64) -> Duration {
        let windows = requests.saturating_sub(1) / self.limit as u64;
        self.window
            .saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
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
        // No ten seconds hold more than five.
        for (index, at) in times.iter().enumerate().skip(5) {
            assert!(*at - times[index - 5] >= Duration::from_secs(10));
        }
        assert_eq!(window.floor(12), span * 2);
        assert_eq!(window.waited, span * 2);
    }
}
