//! Computes exponential backoff, the one way the product spaces out its tries: Graph requests
//! without a `Retry-After`, ARM reads, the wait for a read-back, a lease another instance
//! holds, and a bulk row the endpoint could not take. Pure: the caller brings the randomness
//! and the clock.

use std::time::Duration;

/// Waits that double from `first` up to `longest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub longest: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff { first, longest }
    }

    /// Returns the wait after `failures` failed tries (0 gives the wait before the second try):
    /// `first` doubled per earlier failure, at most `longest`.
    pub fn after(&self, failures: u32) -> Duration {
        self.first
            .saturating_mul(1 << failures.min(20))
            .min(self.longest)
    }

    /// Returns [`Backoff::after`] with full jitter: a random point below it, `unit` being a
    /// random number in `[0, 1)`, so that many callers that failed together do not come back
    /// together.
    pub fn full_jitter(&self, failures: u32, unit: f64) -> Duration {
        self.after(failures).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Returns [`Backoff::after`] stretched by up to half again (`unit` in `[0, 1)`), never
    /// shorter, for a wait that must not come back early.
    pub fn half_jitter(&self, failures: u32, unit: f64) -> Duration {
        let wait = self.after(failures);
        wait + wait.mul_f64(0.5 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest_and_jitter_stays_within_its_bounds() {
        let backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
        let waits: Vec<u128> = (0..6).map(|n| backoff.after(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(
            backoff.after(u32::MAX),
            Duration::from_secs(2),
            "no overflow"
        );
        assert_eq!(backoff.full_jitter(1, 0.0), Duration::ZERO);
        assert_eq!(backoff.full_jitter(1, 0.5), Duration::from_millis(250));
        assert_eq!(
            backoff.full_jitter(1, 7.0),
            Duration::from_millis(500),
            "unit clamped"
        );
        assert_eq!(backoff.half_jitter(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff.half_jitter(1, 1.0), Duration::from_millis(750));
    }
}
