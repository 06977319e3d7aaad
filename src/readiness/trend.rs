//! Follows the trend of `phoneOnly` across scans: one point per scan (when it started, how many
//! users were `phoneOnly`), read from earlier scans' `readiness.json` and closed with this
//! scan's. The dashboard draws it; `readiness.json` carries it (`phoneOnlyTrend`), so that the
//! next scan written to the same directory continues it. Pure: the callers read the files.

use serde::{Deserialize, Serialize};

/// The most points a trend holds: the newest are kept (a daily scan over a year and more).
pub const MOST_POINTS: usize = 400;

/// The largest earlier `readiness.json` read for its points (a summary is some kilobytes; its
/// trend adds some tens of bytes a point).
pub const MOST_SUMMARY_BYTES: u64 = 16 * 1024 * 1024;

/// One scan on the trend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    /// When the scan started (ISO 8601 UTC, as `readiness.json`'s `scannedAt`).
    pub scanned_at: String,
    /// Its `phoneOnly` users.
    pub phone_only: u64,
}

/// The parts of an earlier `readiness.json` a trend needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Earlier {
    scanned_at: String,
    categories: Categories,
    #[serde(default)]
    phone_only_trend: Vec<Point>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Categories {
    phone_only: u64,
}

/// Reads the point of the scan whose `readiness.json` is `summary`; `None` when it is not one
/// (a file cut short, another document).
pub fn point_of(summary: &[u8]) -> Option<Point> {
    let earlier: Earlier = serde_json::from_slice(summary).ok()?;
    valid(Point {
        scanned_at: earlier.scanned_at,
        phone_only: earlier.categories.phone_only,
    })
}

/// Reads the points an earlier `readiness.json` knows: its own trend (which ends with its own
/// point), or only its own point when it has none; nothing when it is not a `readiness.json`.
pub fn history_of(summary: &[u8]) -> Vec<Point> {
    let Ok(earlier) = serde_json::from_slice::<Earlier>(summary) else {
        return Vec::new();
    };
    let own = Point {
        scanned_at: earlier.scanned_at,
        phone_only: earlier.categories.phone_only,
    };
    let mut points: Vec<Point> = earlier
        .phone_only_trend
        .into_iter()
        .filter_map(valid)
        .collect();
    if points.last() != Some(&own) {
        points.extend(valid(own));
    }
    points
}

/// Builds the trend up to `current`: the `earlier` points that started before it, oldest first,
/// then `current`; at most [`MOST_POINTS`], the newest kept. Two scans that started in the same
/// second are two points.
pub fn up_to(mut earlier: Vec<Point>, current: Point) -> Vec<Point> {
    earlier.retain(|point| point.scanned_at <= current.scanned_at);
    // The sort is stable, so points of one second keep the order they were read in.
    earlier.sort_by(|a, b| a.scanned_at.cmp(&b.scanned_at));
    earlier.push(current);
    let extra = earlier.len().saturating_sub(MOST_POINTS);
    earlier.drain(..extra);
    earlier
}

/// Keeps a point only when its time is written as the scans write it (`2026-12-07T05:00:00Z`),
/// so that points sort by it as by time and the page shows it as it is.
fn valid(point: Point) -> Option<Point> {
    let bytes = point.scanned_at.as_bytes();
    let shaped = bytes.len() == 20
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    shaped.then_some(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: &str, phone_only: u64) -> Point {
        Point {
            scanned_at: at.to_owned(),
            phone_only,
        }
    }

    #[test]
    fn an_earlier_summary_gives_its_point_or_its_whole_trend() {
        let plain = br#"{"scannedAt":"2026-12-01T05:00:00Z","categories":{"phoneOnly":9}}"#;
        assert_eq!(point_of(plain), Some(point("2026-12-01T05:00:00Z", 9)));
        assert_eq!(history_of(plain), vec![point("2026-12-01T05:00:00Z", 9)]);
        let continued = br#"{"scannedAt":"2026-12-02T05:00:00Z","categories":{"phoneOnly":7},
            "phoneOnlyTrend":[{"scannedAt":"2026-12-01T05:00:00Z","phoneOnly":9},
                              {"scannedAt":"2026-12-02T05:00:00Z","phoneOnly":7}]}"#;
        assert_eq!(
            history_of(continued),
            vec![
                point("2026-12-01T05:00:00Z", 9),
                point("2026-12-02T05:00:00Z", 7)
            ]
        );
        for broken in [
            &b"{}"[..],
            b"not json",
            br#"{"scannedAt":"soon","categories":{"phoneOnly":1}}"#,
        ] {
            assert_eq!(point_of(broken), None);
            assert!(history_of(broken).is_empty());
        }
    }

    #[test]
    fn the_trend_is_ordered_bounded_and_ends_with_this_scan() {
        let earlier = vec![
            point("2026-12-03T05:00:00Z", 5),
            point("2026-12-01T05:00:00Z", 9),
            point("2026-12-09T05:00:00Z", 1),
        ];
        let trend = up_to(earlier, point("2026-12-04T05:00:00Z", 4));
        let counts: Vec<u64> = trend.iter().map(|point| point.phone_only).collect();
        assert_eq!(
            counts,
            vec![9, 5, 4],
            "a point after this scan (a clock set wrong) is left out"
        );

        let many: Vec<Point> = (0..MOST_POINTS as u64 + 10)
            .map(|minute| {
                point(
                    &format!("2027-01-01T{:02}:{:02}:00Z", minute / 60, minute % 60),
                    minute,
                )
            })
            .collect();
        let trend = up_to(many, point("2027-01-02T00:00:00Z", 0));
        assert_eq!(trend.len(), MOST_POINTS);
        assert_eq!(trend[0].phone_only, 11, "the oldest go first");
        assert_eq!(trend.last().map(|point| point.phone_only), Some(0));
    }
}
