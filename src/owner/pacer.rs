//! Paces the owner search: once Graph throttles, batches go out at the rate Graph admits
//! items. Pure arithmetic over the instants it is told; no clock of its own.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::BATCH_SIZE;

/// Paces batch launches, once Graph has throttled, to the rate at which it admits items, so
/// the search runs at the bucket's refill rate instead of colliding with it: the rate starts
/// at what Graph admitted over the last seconds, shrinks by a tenth on every throttled batch and
/// grows by a little on every batch Graph serves in full.
#[derive(Default)]
pub(super) struct Pacer {
    /// Items per second; `None` until Graph first throttles.
    rate: Option<f64>,
    /// The earliest start of the next batch.
    slot: Option<Instant>,
    /// Items Graph admitted recently, by when.
    admitted: VecDeque<(Instant, usize)>,
    /// When the first batch went out, so an early measurement divides by the time it covers.
    first_launch: Option<Instant>,
}

/// How far back the pacer looks to measure what Graph admits.
const PACE_WINDOW: Duration = Duration::from_secs(2);
/// The slowest pace: one batch a second.
const MIN_PACE: f64 = BATCH_SIZE as f64;
/// The growth per fully served batch, and the cut per throttled one.
const PACE_GROWTH: f64 = 1.005;
const PACE_CUT: f64 = 0.9;

impl Pacer {
    pub(super) fn next_slot(&self) -> Option<Instant> {
        self.slot
    }

    pub(super) fn launched(&mut self, items: usize, now: Instant) {
        self.first_launch.get_or_insert(now);
        if let Some(rate) = self.rate {
            let start = self.slot.map_or(now, |slot| slot.max(now));
            self.slot = Some(start + Duration::from_secs_f64(items as f64 / rate));
        }
    }

    pub(super) fn answered(&mut self, admitted: usize, throttled: bool, now: Instant) {
        self.admitted.push_back((now, admitted));
        while self
            .admitted
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > PACE_WINDOW)
        {
            self.admitted.pop_front();
        }
        if throttled {
            let covered = self
                .first_launch
                .map_or(PACE_WINDOW, |first| {
                    now.duration_since(first).min(PACE_WINDOW)
                })
                .max(Duration::from_millis(50));
            let admitted: usize = self.admitted.iter().map(|(_, items)| *items).sum();
            let measured = admitted as f64 / covered.as_secs_f64();
            let rate = self
                .rate
                .map_or(measured, |rate| rate.min(measured.max(MIN_PACE)));
            self.rate = Some((rate * PACE_CUT).max(MIN_PACE));
        } else if let Some(rate) = self.rate {
            self.rate = Some(rate * PACE_GROWTH);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_settles_near_the_rate_graph_admits() {
        let start = Instant::now();
        let mut pacer = Pacer::default();
        pacer.launched(20, start);
        assert_eq!(pacer.next_slot(), None, "no pace before the first throttle");
        // Graph admitted 100 items in the first 0.5 s, then throttled.
        pacer.answered(100, false, start + Duration::from_millis(250));
        pacer.answered(0, true, start + Duration::from_millis(500));
        let rate = pacer.rate.unwrap();
        assert!((rate - 180.0).abs() < 1.0, "{rate}");
        let now = start + Duration::from_millis(500);
        pacer.launched(20, now);
        let slot = pacer.next_slot().unwrap();
        assert_eq!(
            slot.duration_since(now),
            Duration::from_secs_f64(20.0 / rate)
        );
        pacer.answered(20, false, now);
        assert!(
            pacer.rate.unwrap() > rate,
            "a fully served batch lets the pace grow"
        );
        for _ in 0..100 {
            pacer.answered(0, true, now);
        }
        assert_eq!(pacer.rate, Some(MIN_PACE));
    }
}
