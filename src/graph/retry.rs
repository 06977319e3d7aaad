//! When to try a Graph request again, and how long to wait first. Pure: no clock, no IO.

use std::time::{Duration, SystemTime};

use crate::backoff::Backoff;

/// Bounds on retrying one Graph request.
#[derive(Clone, Debug)]
pub struct RetrySettings {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Total time one request may spend across attempts and waits.
    pub budget: Duration,
    /// Time one attempt may take before it is abandoned.
    pub attempt_timeout: Duration,
    /// The longest a request waits for a token from the identity endpoint.
    pub token_wait: Duration,
    /// The first backoff delay when Graph gives no `Retry-After`; doubled per attempt.
    pub backoff_base: Duration,
    /// The longest backoff delay when Graph gives no `Retry-After`.
    pub backoff_cap: Duration,
}

/// The longest `Retry-After` we believe; anything longer is treated as this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// Reads a `Retry-After` value: delta seconds (Graph sends fractions such as `2.128`) or an
/// HTTP date. `None` when absent or unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        return Some(Duration::from_secs_f64(
            seconds.min(RETRY_AFTER_CAP.as_secs_f64()),
        ));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let wait = date.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(RETRY_AFTER_CAP))
}

/// The wait before attempt `attempt + 1` (attempts count from 1): Graph's `Retry-After` when it
/// gave one, stretched by up to 10% so that throttled callers do not return in lockstep;
/// otherwise exponential backoff with full jitter. `unit` is a random number in `[0, 1)`.
pub fn wait_before_retry(
    settings: &RetrySettings,
    attempt: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let unit = unit.clamp(0.0, 1.0);
    match retry_after {
        Some(wait) => wait + wait.mul_f64(0.1 * unit),
        None => Backoff::new(settings.backoff_base, settings.backoff_cap)
            .full_jitter(attempt.saturating_sub(1), unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            max_attempts: 5,
            budget: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            token_wait: Duration::from_secs(5),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(4),
        }
    }

    #[test]
    fn retry_after_accepts_seconds_fractions_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        let in_seven = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(&in_seven, now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("99999", now), Some(RETRY_AFTER_CAP));
    }

    #[test]
    fn retry_after_is_honoured_and_only_ever_stretched() {
        let wait = Some(Duration::from_secs(2));
        assert_eq!(
            wait_before_retry(&settings(), 1, wait, 0.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            wait_before_retry(&settings(), 1, wait, 0.999_999),
            Duration::from_secs(2) + Duration::from_secs(2).mul_f64(0.099_999_9)
        );
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let ceiling = |attempt| wait_before_retry(&settings(), attempt, None, 1.0);
        assert_eq!(ceiling(1), Duration::from_millis(500));
        assert_eq!(ceiling(2), Duration::from_secs(1));
        assert_eq!(ceiling(3), Duration::from_secs(2));
        assert_eq!(ceiling(4), Duration::from_secs(4));
        assert_eq!(ceiling(40), Duration::from_secs(4));
        assert_eq!(
            wait_before_retry(&settings(), 3, None, 0.25),
            Duration::from_millis(500)
        );
    }
}
