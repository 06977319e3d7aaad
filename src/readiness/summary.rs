//! Adds up what a scan found: totals per category and per `affectedFrom`, when it ran, how old
//! the report was, what it did not cover, the method names it did not know, what became of the
//! clean-up file, and the trend of `phoneOnly` up to this scan. The summary is written as
//! `readiness.json` and printed by `--json`. Pure: the scan tells it every user and the times.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::readiness::classify::{Category, FEBRUARY, JULY};
use crate::readiness::record::UserRecord;
use crate::readiness::trend::{self, Point};

/// The summary of one scan.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `registrationReport` or `perUser`.
    pub source: &'static str,
    /// When the scan started and finished (UTC, ISO 8601).
    pub scanned_at: String,
    pub finished_at: String,
    /// The newest `lastUpdatedDateTime` of the report's rows, and its age when the scan ran.
    pub report_refreshed_at: Option<String>,
    pub report_age_minutes: Option<i64>,
    /// Users with a phone method classified.
    pub users: u64,
    pub categories: BTreeMap<&'static str, u64>,
    /// `phoneOnly` users per date they meet the blocking prompt; `notBlocked` for those whose
    /// provider is the tenant's own.
    pub affected_from: BTreeMap<&'static str, u64>,
    /// Days from the scan to each date.
    pub days_left: BTreeMap<&'static str, i64>,
    pub protected: u64,
    pub not_covered: NotCovered,
    /// Method names the scan did not know, with how many users had each.
    pub unknown_methods: BTreeMap<String, u64>,
    pub cleanup: Cleanup,
    /// The groups whose SMS or voice include target puts blocked `phoneOnly` users in scope,
    /// with how many each (`all_users` for everyone).
    pub scope_groups: BTreeMap<String, u64>,
    /// The first blocked `phoneOnly` users, for the dashboard.
    pub first_phone_only: Vec<FirstUser>,
    /// Report or user-list pages read.
    pub pages: u64,
    /// Seconds the scan waited for the reports limit.
    pub paced_seconds: f64,
    pub duration_seconds: f64,
    /// `phoneOnly` in the scans before this one that were found (the Function App's kept
    /// scans, or the earlier `readiness.json` in the command's directory) and in this one, the
    /// oldest first; empty until [`Summary::set_trend`].
    pub phone_only_trend: Vec<Point>,
}

/// A blocked `phoneOnly` user, as the dashboard lists them.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirstUser {
    pub user_principal_name: String,
    pub display_name: String,
    pub affected_from: String,
    pub protected: bool,
}

/// How many blocked users the dashboard lists.
pub const FIRST_USERS: usize = 50;

/// What the scan could not see.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotCovered {
    /// Disabled users: the report leaves them out; `--per-user` counts them.
    pub disabled_users: Option<u64>,
    pub disabled_note: String,
    /// Users whose methods could not be read (per user), or whose phones could not be read for
    /// the clean-up; by id.
    pub unreadable_methods: u64,
    pub unreadable_users: Vec<String>,
    /// The report's lag.
    pub lag_note: String,
}

/// The clean-up file.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    pub written: bool,
    pub rows: u64,
    pub users: u64,
    /// Why there is no file, or what it includes.
    pub note: String,
}

/// The most unreadable users listed by id.
const MAX_LISTED: usize = 1_000;

impl Summary {
    pub fn new(source: &'static str, scanned_at: i64) -> Summary {
        let mut summary = Summary {
            source,
            scanned_at: iso(scanned_at),
            ..Summary::default()
        };
        for category in Category::ALL {
            summary.categories.insert(category.as_str(), 0);
        }
        for date in [FEBRUARY, JULY] {
            summary.affected_from.insert(date, 0);
            summary
                .days_left
                .insert(date, days_between(scanned_at, date).unwrap_or_default());
        }
        summary.affected_from.insert("notBlocked", 0);
        summary
    }

    /// Counts one classified user.
    pub fn add(&mut self, record: &UserRecord) {
        self.users += 1;
        *self
            .categories
            .entry(record.verdict.category.as_str())
            .or_insert(0) += 1;
        if record.verdict.category == Category::PhoneOnly {
            let date = record.verdict.affected_from.unwrap_or("notBlocked");
            *self.affected_from.entry(date).or_insert(0) += 1;
            if let Some(date) = record.verdict.affected_from
                && self.first_phone_only.len() < FIRST_USERS
            {
                self.first_phone_only.push(FirstUser {
                    user_principal_name: record.user_principal_name.clone(),
                    display_name: record.display_name.clone(),
                    affected_from: date.to_owned(),
                    protected: record.protected.holds_back(),
                });
            }
        }
        if record.protected.holds_back() {
            self.protected += 1;
        }
        for name in &record.unknown_methods {
            *self.unknown_methods.entry(name.clone()).or_insert(0) += 1;
        }
    }

    /// Counts a blocked user in the scope of each of `groups`.
    pub fn in_scope_of(&mut self, groups: &[String]) {
        for group in groups {
            *self.scope_groups.entry(group.clone()).or_insert(0) += 1;
        }
    }

    /// Counts a user whose methods could not be read.
    pub fn unreadable(&mut self, id: &str) {
        self.not_covered.unreadable_methods += 1;
        if self.not_covered.unreadable_users.len() < MAX_LISTED {
            self.not_covered.unreadable_users.push(id.to_owned());
        }
    }

    /// Notes the report's refresh time of one row; the newest is kept.
    pub fn report_row_refreshed(&mut self, at: &str) {
        if parse_iso(at).is_some()
            && self
                .report_refreshed_at
                .as_deref()
                .is_none_or(|newest| newest < at)
        {
            self.report_refreshed_at = Some(at.to_owned());
        }
    }

    /// Returns this scan's point on the trend.
    pub fn point(&self) -> Point {
        Point {
            scanned_at: self.scanned_at.clone(),
            phone_only: self
                .categories
                .get(Category::PhoneOnly.as_str())
                .copied()
                .unwrap_or(0),
        }
    }

    /// Sets the trend from the `earlier` scans' points, ending with this scan's.
    pub fn set_trend(&mut self, earlier: Vec<Point>) {
        self.phone_only_trend = trend::up_to(earlier, self.point());
    }

    /// Returns the trend to draw: the one set, or this scan alone.
    pub fn trend(&self) -> Vec<Point> {
        if self.phone_only_trend.is_empty() {
            vec![self.point()]
        } else {
            self.phone_only_trend.clone()
        }
    }

    /// Closes the summary at `finished` (seconds since the epoch).
    pub fn finish(&mut self, started: i64, finished: i64, elapsed: f64) {
        self.finished_at = iso(finished);
        self.duration_seconds = (elapsed * 10.0).round() / 10.0;
        self.report_age_minutes = self
            .report_refreshed_at
            .as_deref()
            .and_then(parse_iso)
            .map(|refreshed| (started - refreshed).max(0) / 60);
    }
}

/// Writes seconds since the epoch as ISO 8601 UTC (`2026-12-07T17:05:00Z`).
pub fn iso(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Reads ISO 8601 UTC (as Graph writes it, fractions and offset `Z`) as seconds since the
/// epoch.
pub fn parse_iso(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = if text.len() >= 19 {
        (number(11..13)?, number(14..16)?, number(17..19)?)
    } else {
        (0, 0, 0)
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Counts the whole days from `seconds` to the start of `date` (`YYYY-MM-DD`).
pub fn days_between(seconds: i64, date: &str) -> Option<i64> {
    Some((parse_iso(date)? - seconds).div_euclid(86_400))
}

/// Turns days since the epoch into a date, with Howard Hinnant's civil-from-days, for dates
/// after 1970.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_write_back_and_count_days() {
        let at = parse_iso("2026-12-07T17:05:00.1234567Z").expect("a date");
        assert_eq!(iso(at), "2026-12-07T17:05:00Z");
        assert_eq!(days_between(at, "2027-02-01"), Some(55));
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_iso("2027-13-01"), None);
        assert_eq!(parse_iso("soon"), None);
    }
}
