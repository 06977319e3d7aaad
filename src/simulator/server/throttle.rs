//! Plays Graph's throttling: the identity-and-access token bucket (resource units) and the
//! reports window (requests per 10 s).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::json::query_value;
use crate::simulator::{Shared, lock};

/// The token-bucket and window state of Graph's throttling.
#[derive(Debug, Default)]
pub struct ThrottleState {
    /// Resource units left in the identity bucket, and when it was last refilled.
    bucket: Option<(f64, Instant)>,
    /// When the recent report requests were admitted.
    report_times: VecDeque<Instant>,
    /// When the recent writes were admitted.
    write_times: VecDeque<Instant>,
}

/// Admits a request to a sliding window of `requests` per `window`, or returns the wait to ask
/// for when the window is full.
fn admit(
    times: &mut VecDeque<Instant>,
    (requests, window): (usize, Duration),
    now: Instant,
) -> Option<Duration> {
    if requests == 0 {
        return Some(window);
    }
    while times
        .front()
        .is_some_and(|admitted| now.duration_since(*admitted) >= window)
    {
        times.pop_front();
    }
    if times.len() >= requests {
        let oldest = *times.front()?;
        return Some(window.saturating_sub(now.duration_since(oldest)));
    }
    times.push_back(now);
    None
}

/// Decides whether Graph's throttling refuses this request, and the wait it asks for if so.
pub(super) fn throttled(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
) -> Option<Duration> {
    let limits = lock(&shared.options).throttle.clone();
    let mut state = lock(&shared.throttle);
    let now = Instant::now();
    if path.ends_with("/sendMail") {
        // Outlook's limits (per mailbox, per 10 minutes) are not the identity bucket's.
        return None;
    }
    if path.starts_with("/reports/") {
        return admit(&mut state.report_times, limits.reports_window?, now);
    }
    // `$batch` and `checkMemberGroups` are POSTs that only read.
    let write = method != "GET"
        && !path.ends_with("$batch")
        && !path.ends_with("/checkMemberGroups")
        && !path.starts_with("/msi/");
    let counted = match (write, limits.write_window) {
        (true, Some(limit)) => match admit(&mut state.write_times, limit, now) {
            Some(wait) => return Some(wait),
            None => true,
        },
        _ => false,
    };
    let (capacity, per_second) = limits.identity_bucket?;
    let cost = resource_units(method, path, query);
    let (tokens, last) = state.bucket.unwrap_or((capacity, now));
    let tokens = (tokens + now.duration_since(last).as_secs_f64() * per_second).min(capacity);
    if tokens >= cost {
        state.bucket = Some((tokens - cost, now));
        None
    } else {
        state.bucket = Some((tokens, now));
        if counted {
            // The request was refused after all, so it does not count against the write window.
            state.write_times.pop_back();
        }
        Some(Duration::from_secs_f64((cost - tokens) / per_second))
    }
}

/// Graph's documented resource-unit costs for identity-and-access requests.
fn resource_units(method: &str, path: &str, query: &[(String, String)]) -> f64 {
    if method != "GET" {
        return 1.0;
    }
    let base: f64 = if path.trim_end_matches('/') == "/users" {
        2.0
    } else {
        1.0
    };
    let select = if query_value(query, "$select").is_some() {
        1.0
    } else {
        0.0
    };
    (base - select).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_window_admits_its_count_and_says_when_the_next_fits() {
        let mut times = VecDeque::new();
        let start = Instant::now();
        let limit = (2, Duration::from_secs(10));
        assert_eq!(admit(&mut times, limit, start), None);
        assert_eq!(
            admit(&mut times, limit, start + Duration::from_secs(4)),
            None
        );
        assert_eq!(
            admit(&mut times, limit, start + Duration::from_secs(6)),
            Some(Duration::from_secs(4)),
            "full until the first leaves the window"
        );
        assert_eq!(
            admit(&mut times, limit, start + Duration::from_secs(10)),
            None
        );
        assert_eq!(
            admit(&mut VecDeque::new(), (0, Duration::from_secs(10)), start),
            Some(Duration::from_secs(10)),
            "a limit of nothing admits nothing"
        );
    }
}
