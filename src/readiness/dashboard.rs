//! Renders `readiness.html`, one self-contained page (no script, no external style, font or
//! image) that an admin opens from the scan's directory. It shows the totals, a bar chart by
//! category and by date, the days left to each date, the trend of `phoneOnly` across the scans
//! (a column per scan with its count), the groups that put blocked users in SMS or voice scope,
//! and the first blocked users with what to tell them. Pure: it renders a [`Summary`].

use std::fmt::Write as _;

use crate::readiness::summary::Summary;
use crate::readiness::trend::Point;

/// The tallest column of the trend, in rem.
const TREND_HEIGHT_REM: u64 = 6;

/// Renders the page for `summary`.
pub fn html(summary: &Summary) -> String {
    let mut page = String::with_capacity(16 * 1024);
    head(&mut page);
    intro(&mut page, summary);
    totals(&mut page, summary);
    days_left(&mut page, summary);
    chart(&mut page, summary);
    trend(&mut page, &summary.trend());
    groups(&mut page, summary);
    first_users(&mut page, summary);
    page.push_str("</body></html>\n");
    page
}

/// The document head with its inline style, so the page needs nothing from elsewhere.
fn head(page: &mut String) {
    page.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>SMS and voice retirement readiness</title><style>\
         body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#1b1b1b}\
         .totals{display:flex;flex-wrap:wrap;gap:1rem}.totals div{border:1px solid #ccc;\
         border-radius:.4rem;padding:.6rem 1rem}.totals b{display:block;font-size:1.6rem}\
         .chart{display:grid;grid-template-columns:minmax(12rem,max-content) 1fr 4rem;\
         gap:.3rem .6rem;align-items:center}.bar{height:1.1rem;background:#2b6cb0}\
         .bar.blocked{background:#c53030}table{border-collapse:collapse;margin-top:.5rem}\
         td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}\
         .trend{display:flex;align-items:flex-end;gap:.2rem;overflow-x:auto;padding-bottom:.3rem}\
         .point{display:flex;flex-direction:column;align-items:center;min-width:2.2rem;\
         font-size:.7rem}.point .column{width:1.2rem;background:#c53030}\
         .point .count{font-weight:bold}.point .when{color:#555}\
         </style></head><body>",
    );
}

/// The heading and when and from what the scan read, so the admin can judge how fresh it is.
fn intro(page: &mut String, summary: &Summary) {
    let _ = write!(
        page,
        "<h1>SMS and voice retirement readiness</h1><p>Scanned {} from the {} ({}). {}</p>",
        escape(&summary.scanned_at),
        if summary.source == "perUser" {
            "users' methods"
        } else {
            "registration report"
        },
        summary.report_refreshed_at.as_deref().map_or_else(
            || "age unknown".to_owned(),
            |at| format!("refreshed {}", escape(at))
        ),
        escape(&summary.not_covered.disabled_note),
    );
}

/// The headline counts: users with a phone, blocked by each date, and protected.
fn totals(page: &mut String, summary: &Summary) {
    page.push_str("<section class=\"totals\">");
    let blocked_february = summary
        .affected_from
        .get("2027-02-01")
        .copied()
        .unwrap_or(0);
    let blocked_july = summary
        .affected_from
        .get("2027-07-01")
        .copied()
        .unwrap_or(0);
    for (id, label, value) in [
        ("total-users", "users with a phone", summary.users),
        (
            "total-february",
            "blocked from 2027-02-01",
            blocked_february,
        ),
        ("total-july", "blocked from 2027-07-01", blocked_july),
        ("total-protected", "protected", summary.protected),
    ] {
        let _ = write!(page, "<div><b id=\"{id}\">{value}</b>{label}</div>");
    }
    page.push_str("</section>");
}

/// The days left to each retirement date.
fn days_left(page: &mut String, summary: &Summary) {
    page.push_str("<h2>Days left</h2><ul>");
    for (date, days) in &summary.days_left {
        let _ = write!(page, "<li id=\"days-{date}\">{date}: {days} days</li>");
    }
    page.push_str("</ul>");
}

/// The bar chart by category and by date, drawn with widths alone because the page has no
/// script.
fn chart(page: &mut String, summary: &Summary) {
    page.push_str("<h2>By category and date</h2><div class=\"chart\">");
    let most = summary
        .categories
        .values()
        .chain(summary.affected_from.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = summary
        .categories
        .iter()
        .map(|(label, count)| ((*label).to_owned(), *count, false))
        .chain(
            summary
                .affected_from
                .iter()
                .map(|(date, count)| (format!("phoneOnly from {date}"), *count, true)),
        );
    for (label, count, blocked) in bars {
        let width = count * 100 / most;
        let _ = write!(
            page,
            "<span class=\"label\">{label}</span><div class=\"bar{}\" style=\"width:{width}%\" \
             data-label=\"{label}\" data-count=\"{count}\"></div><span>{count}</span>",
            if blocked { " blocked" } else { "" },
            label = escape(&label),
        );
    }
    page.push_str("</div>");
}

/// The trend of `phoneOnly`: a column per scan, its count above it and its day below, drawn
/// with heights alone (no script). With one point, the page says that there is no trend yet.
fn trend(page: &mut String, points: &[Point]) {
    page.push_str("<h2>phoneOnly across the scans</h2>");
    match (points.first(), points.last()) {
        (Some(first), Some(last)) if points.len() > 1 => {
            let previous = &points[points.len() - 2];
            let _ = write!(
                page,
                "<p id=\"trend-note\">{} scans from {} to {}: phoneOnly {} then {} ({} since the \
                 first scan, {} since the previous one).</p>",
                points.len(),
                escape(&first.scanned_at),
                escape(&last.scanned_at),
                first.phone_only,
                last.phone_only,
                change(first.phone_only, last.phone_only),
                change(previous.phone_only, last.phone_only),
            );
        }
        _ => page.push_str(
            "<p id=\"trend-note\">first scan: no trend yet. Each later scan adds a point (the \
             Function App's kept scans, or a readiness.json left in the command's directory).</p>",
        ),
    }
    let most = points
        .iter()
        .map(|point| point.phone_only)
        .max()
        .unwrap_or(0)
        .max(1);
    page.push_str("<div class=\"trend\" id=\"trend\">");
    for point in points {
        // Heights are in hundredths of a rem, so that a small count still shows a sliver.
        let height = (point.phone_only * TREND_HEIGHT_REM * 100 / most)
            .max(u64::from(point.phone_only > 0) * 10);
        let at = escape(&point.scanned_at);
        let _ = write!(
            page,
            "<div class=\"point\" title=\"{at}: {count} phoneOnly\" data-scanned-at=\"{at}\" \
             data-phone-only=\"{count}\"><span class=\"count\">{count}</span><div class=\"column\" \
             style=\"height:{}.{:02}rem\"></div><span class=\"when\">{}</span></div>",
            height / 100,
            height % 100,
            escape(point.scanned_at.get(..10).unwrap_or(&point.scanned_at)),
            count = point.phone_only,
        );
    }
    page.push_str("</div>");
}

/// Puts a change in words: `-3`, `+2`, `no change`.
fn change(from: u64, to: u64) -> String {
    match to.cmp(&from) {
        std::cmp::Ordering::Equal => "no change".to_owned(),
        std::cmp::Ordering::Greater => format!("+{}", to - from),
        std::cmp::Ordering::Less => format!("-{}", from - to),
    }
}

/// The groups that put blocked users in SMS or voice scope, so the admin knows where to act.
fn groups(page: &mut String, summary: &Summary) {
    page.push_str("<h2>Groups that put blocked users in SMS or voice scope</h2>");
    page.push_str("<table id=\"groups\"><tr><th>Include target</th><th>Blocked users</th></tr>");
    for (group, count) in &summary.scope_groups {
        let name = if group == crate::method_policy::ALL_USERS {
            "All users".to_owned()
        } else {
            escape(group)
        };
        let _ = write!(page, "<tr><td>{name}</td><td>{count}</td></tr>");
    }
    page.push_str("</table>");
}

/// The first blocked users and what to tell each of them before their date.
fn first_users(page: &mut String, summary: &Summary) {
    page.push_str(
        "<h2>The first blocked users, and what to tell them</h2>\
         <table id=\"blocked\"><tr><th>User</th><th>Name</th><th>From</th><th>Tell them</th></tr>",
    );
    for user in &summary.first_phone_only {
        let tell = if user.protected {
            "a protected account: its owner registers a passkey with the admins".to_owned()
        } else {
            format!(
                "register a passkey (Microsoft Authenticator or a security key) at \
                 My Sign-Ins, Security info, before {}",
                escape(&user.affected_from)
            )
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{tell}</td></tr>",
            escape(&user.user_principal_name),
            escape(&user.display_name),
            escape(&user.affected_from),
        );
    }
    page.push_str("</table>");
}

fn escape(text: &str) -> String {
    crate::notify::message::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::summary::FirstUser;

    #[test]
    fn the_page_is_inert_and_escapes_what_the_directory_says() {
        let mut summary = Summary::new("registrationReport", 1_796_000_000);
        summary.first_phone_only.push(FirstUser {
            user_principal_name: "<script>x</script>@contoso.com".to_owned(),
            display_name: "A & B".to_owned(),
            affected_from: "2027-02-01".to_owned(),
            protected: false,
        });
        summary.scope_groups.insert("all_users".to_owned(), 1);
        let page = html(&summary);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("A &amp; B"));
        assert!(!page.contains("src=") && !page.contains("href="));
        assert!(page.contains("All users"));
    }

    fn point(at: &str, phone_only: u64) -> Point {
        Point {
            scanned_at: at.to_owned(),
            phone_only,
        }
    }

    /// The columns as the page draws them: (when, count, height).
    fn columns(page: &str) -> Vec<(String, u64, String)> {
        page.split("<div class=\"point\"")
            .skip(1)
            .map(|column| {
                let attribute = |name: &str| {
                    column
                        .split(&format!("{name}=\""))
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .unwrap_or_default()
                        .to_owned()
                };
                let count = column
                    .split("<span class=\"count\">")
                    .nth(1)
                    .and_then(|rest| rest.split('<').next())
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(u64::MAX);
                assert_eq!(attribute("data-phone-only"), count.to_string());
                let height = attribute("style");
                (attribute("data-scanned-at"), count, height)
            })
            .collect()
    }

    #[test]
    fn the_trend_draws_a_column_per_scan_with_its_count_and_says_what_changed() {
        // This scan starts on 2026-12-11, after the earlier scans.
        let mut summary = Summary::new("registrationReport", 1_797_000_000);
        summary.categories.insert("phoneOnly", 3);
        summary.set_trend(vec![
            point("2026-12-06T05:00:00Z", 8),
            point("2026-12-01T05:00:00Z", 12),
            point("2026-12-05T05:00:00Z", 0),
        ]);
        let page = html(&summary);
        let drawn = columns(&page);
        assert_eq!(
            drawn
                .iter()
                .map(|(at, count, _)| (at.as_str(), *count))
                .collect::<Vec<_>>(),
            vec![
                ("2026-12-01T05:00:00Z", 12),
                ("2026-12-05T05:00:00Z", 0),
                ("2026-12-06T05:00:00Z", 8),
                (summary.scanned_at.as_str(), 3),
            ]
        );
        assert_eq!(drawn[0].2, "height:6.00rem", "the most is the tallest");
        assert_eq!(drawn[1].2, "height:0.00rem", "none is flat");
        assert_eq!(drawn[3].2, "height:1.50rem", "3 of 12");
        assert!(page.contains("4 scans from 2026-12-01T05:00:00Z"), "{page}");
        assert!(
            page.contains(
                "phoneOnly 12 then 3 (-9 since the first scan, -5 since the previous one)"
            )
        );
        assert!(!page.contains("no trend yet"));
    }

    #[test]
    fn one_scan_is_one_point_and_says_there_is_no_trend_yet() {
        let mut summary = Summary::new("perUser", 1_796_000_000);
        summary.categories.insert("phoneOnly", 5);
        let page = html(&summary);
        assert_eq!(
            columns(&page),
            vec![(summary.scanned_at.clone(), 5, "height:6.00rem".to_owned())]
        );
        assert!(page.contains("first scan: no trend yet"));
    }
}
