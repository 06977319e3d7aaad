//! Writes the report a person reads. `report.csv` has one line per row and phone type and stays
//! text in Excel (the file's own delimiter, a BOM, no cell read as a formula); `report.html` is
//! one self-contained page (no scripts, styles or fonts from elsewhere) with the totals, a chart
//! of the outcomes, and first the rows that need a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::problem::Problem;
use super::row_outcome::{RowOutcome, masked};
use super::rows::Operation;
use crate::spreadsheet::as_text;

/// How many rows the page lists in full (the CSV has every one).
const PAGE_ROWS: usize = 2_000;

/// What a line of the report is about.
pub enum Subject<'a> {
    /// A change the file asked for.
    Change(&'a Operation),
    /// A row skipped for a problem (`--skip-bad-rows`).
    Skipped(&'a Problem),
}

/// One line of the report.
pub struct Line<'a> {
    pub subject: Subject<'a>,
    /// `None` when the change was not sent: the run was interrupted before it, an earlier
    /// change of the user did not settle, or the row was skipped.
    pub outcome: Option<&'a RowOutcome>,
}

impl Line<'_> {
    /// The file's line it is about.
    pub fn line(&self) -> u64 {
        match self.subject {
            Subject::Change(operation) => operation.line,
            Subject::Skipped(problem) => problem.line,
        }
    }

    fn status(&self) -> &'static str {
        match (&self.subject, self.outcome) {
            (Subject::Skipped(_), _) => "skipped",
            (_, Some(outcome)) if outcome.succeeded => "succeeded",
            (_, Some(_)) => "failed",
            (_, None) => "not sent",
        }
    }

    /// The outcome's label for the chart and the page.
    fn label(&self) -> String {
        match (&self.subject, self.outcome) {
            (Subject::Skipped(_), _) => "skipped (a problem in the file)".to_owned(),
            (_, Some(outcome)) => outcome.label(),
            (_, None) => "not sent".to_owned(),
        }
    }

    /// The message: the handler's or the problem's, with who holds a conflicting number.
    fn message(&self) -> String {
        match (&self.subject, self.outcome) {
            (Subject::Skipped(problem), _) => problem.to_string(),
            (_, Some(outcome)) => match &outcome.conflict_owner {
                Some(owner) => format!("{} (the number is held by {owner})", outcome.message),
                None => outcome.message.clone(),
            },
            (_, None) => String::new(),
        }
    }

    /// The cells describing the change: user, phone type, set or remove, masked number.
    fn change_cells(&self) -> [String; 4] {
        match self.subject {
            Subject::Change(operation) => [
                operation.user.to_string(),
                operation.phone_type.to_string(),
                (if operation.remove { "remove" } else { "set" }).to_owned(),
                masked(&operation.number),
            ],
            Subject::Skipped(problem) => [
                problem.user.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
            ],
        }
    }

    /// The `CallerName` the row names (sent beside the admin's).
    fn row_caller_name(&self) -> String {
        match self.subject {
            Subject::Change(operation) => operation
                .options
                .as_ref()
                .and_then(|options| options.caller_name.clone())
                .unwrap_or_default(),
            Subject::Skipped(_) => String::new(),
        }
    }

    /// Whether a person should look at it: failed, not sent, or succeeded with a warning.
    fn needs_a_person(&self) -> bool {
        self.outcome
            .is_none_or(|outcome| !outcome.succeeded || !outcome.warnings.is_empty())
    }
}

/// What the run was, for the page's heading.
pub struct Heading<'a> {
    pub file_name: &'a str,
    pub dry_run: bool,
    pub interrupted: bool,
    pub elapsed_seconds: f64,
}

/// Writes `report.csv`.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_csv(path: &Path, lines: &[Line<'_>], delimiter: u8) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    // Excel reads the file as UTF-8 only when it starts with a BOM.
    bytes.extend_from_slice(b"\xEF\xBB\xBF");
    // Every cell is quoted, so a delimiter or a line break in a cell never starts another cell.
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(&mut bytes);
    writer.write_record([
        "line",
        "user",
        "phoneType",
        "operation",
        "number",
        "status",
        "action",
        "errorCode",
        "message",
        "warnings",
        "conflictOwner",
        "rowCallerName",
    ])?;
    for line in lines {
        let outcome = line.outcome;
        let [user, phone_type, operation, number] = line.change_cells();
        let (error_code, message) = match line.subject {
            Subject::Skipped(problem) => ("invalidRow".to_owned(), problem.to_string()),
            Subject::Change(_) => (
                outcome
                    .and_then(|o| o.error_code.clone())
                    .unwrap_or_default(),
                outcome.map(|o| o.message.clone()).unwrap_or_default(),
            ),
        };
        let cells = [
            line.line().to_string(),
            user,
            phone_type,
            operation,
            number,
            line.status().to_owned(),
            outcome.and_then(|o| o.action.clone()).unwrap_or_default(),
            error_code,
            message,
            outcome.map(|o| o.warnings.join(" ")).unwrap_or_default(),
            outcome
                .and_then(|o| o.conflict_owner.clone())
                .unwrap_or_default(),
            line.row_caller_name(),
        ];
        writer.write_record(cells.iter().map(|cell| as_text(cell)))?;
    }
    writer.flush()?;
    drop(writer);
    crate::files::write_new(path, &bytes)
}

/// The outcome counts the chart shows, by label, in a fixed order of kinds.
fn tally(lines: &[Line<'_>]) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut outcomes = BTreeMap::new();
    let mut warnings = BTreeMap::new();
    for line in lines {
        *outcomes.entry(line.label()).or_insert(0) += 1;
        for warning in line
            .outcome
            .map(|o| o.warnings.as_slice())
            .unwrap_or_default()
        {
            *warnings.entry(warning.clone()).or_insert(0) += 1;
        }
    }
    (outcomes, warnings)
}

/// Writes `report.html`.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_html(path: &Path, lines: &[Line<'_>], heading: &Heading<'_>) -> std::io::Result<()> {
    crate::files::write_new(path, html(lines, heading).as_bytes())
}

/// Renders the page.
pub fn html(lines: &[Line<'_>], heading: &Heading<'_>) -> String {
    let (outcomes, warnings) = tally(lines);
    let succeeded = lines
        .iter()
        .filter(|line| line.status() == "succeeded")
        .count();
    let failed = lines
        .iter()
        .filter(|line| line.status() == "failed")
        .count();
    let skipped = lines
        .iter()
        .filter(|line| line.status() == "skipped")
        .count();
    let not_sent = lines.len() - succeeded - failed - skipped;
    let mut page = String::new();
    let title = format!("Phone MFA bulk run: {}", escape(heading.file_name));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let mut notes = Vec::new();
    if heading.dry_run {
        notes.push("Dry run: every row was planned by the handler; nothing was written.");
    }
    if heading.interrupted {
        notes.push("Interrupted: run the same command again to go on where it stopped.");
    }
    for note in notes {
        let _ = writeln!(page, "<p class=\"note\">{}</p>", escape(note));
    }
    let _ = writeln!(
        page,
        "<section id=\"totals\"><div class=\"total\"><b id=\"total-rows\">{}</b> changes</div>\
         <div class=\"total ok\"><b id=\"total-succeeded\">{succeeded}</b> succeeded</div>\
         <div class=\"total bad\"><b id=\"total-failed\">{failed}</b> failed</div>\
         <div class=\"total\"><b id=\"total-not-sent\">{not_sent}</b> not sent</div>\
         <div class=\"total bad\"><b id=\"total-skipped\">{skipped}</b> rows skipped</div>\
         <div class=\"total\"><b>{:.0} s</b> taken</div></section>",
        lines.len() - skipped,
        heading.elapsed_seconds
    );
    page.push_str("<h2>Outcomes</h2>\n");
    page.push_str(&chart("outcomes", &outcomes));
    if !warnings.is_empty() {
        page.push_str("<h2>Warnings</h2>\n");
        page.push_str(&chart("warnings", &warnings));
    }
    let attention: Vec<&Line<'_>> = lines.iter().filter(|line| line.needs_a_person()).collect();
    let _ = writeln!(page, "<h2>Needs a person ({})</h2>", attention.len());
    page.push_str(&table("attention", attention.iter().copied()));
    let _ = writeln!(page, "<h2>Every change ({})</h2>", lines.len());
    page.push_str(&table("all", lines.iter()));
    if lines.len() > PAGE_ROWS {
        let _ = writeln!(
            page,
            "<p>The first {PAGE_ROWS} are listed; report.csv has every one.</p>"
        );
    }
    page.push_str("</body></html>\n");
    page
}

/// Draws a horizontal bar chart in plain HTML: a grid of whole labels (they wrap and are never
/// cut), bars as wide as their share of the largest count, and the counts.
fn chart(id: &str, counts: &BTreeMap<String, usize>) -> String {
    let most = counts.values().copied().max().unwrap_or(1).max(1);
    let mut html =
        format!("<div id=\"chart-{id}\" class=\"chart\" role=\"img\" aria-label=\"{id}\">");
    for (label, count) in counts {
        let percent = (100 * count).div_ceil(most);
        let class =
            if label.starts_with("failed") || label.starts_with("skipped") || label == "not sent" {
                "bad"
            } else if id == "warnings" {
                "warn"
            } else {
                "ok"
            };
        let _ = write!(
            html,
            "<div class=\"bar\" data-label=\"{label}\" data-count=\"{count}\">\
             <span class=\"label\">{label}</span>\
             <span class=\"track\"><span class=\"fill {class}\" style=\"width:{percent}%\">\
             </span></span><span class=\"count\">{count}</span></div>",
            label = escape(label),
        );
    }
    html.push_str("</div>\n");
    html
}

fn table<'a>(id: &str, lines: impl Iterator<Item = &'a Line<'a>>) -> String {
    let mut html = format!(
        "<div class=\"table\"><table id=\"{id}\"><thead><tr><th>Line</th><th>User</th><th>Phone</th>\
         <th>Change</th><th>Number</th><th>Outcome</th><th>Message</th><th>Warnings</th>\
         </tr></thead><tbody>\n"
    );
    for line in lines.take(PAGE_ROWS) {
        let [user, phone_type, operation, number] = line.change_cells();
        let _ = writeln!(
            html,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            line.status().replace(' ', "-"),
            line.line(),
            escape(&user),
            escape(&phone_type),
            escape(&operation),
            escape(&number),
            escape(&line.label()),
            escape(&line.message()),
            escape(
                &line
                    .outcome
                    .map(|o| o.warnings.join(", "))
                    .unwrap_or_default()
            ),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;\
max-width:110rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
#totals{display:flex;gap:1rem;flex-wrap:wrap}.total{border:1px solid #ccc;border-radius:6px;\
padding:.6rem 1rem}.total b{display:block;font-size:1.6rem}.total.ok b{color:#107c10}\
.total.bad b{color:#a4262c}.note{background:#fff4ce;padding:.5rem 1rem;border-radius:4px}\
.chart{display:grid;grid-template-columns:minmax(8rem,max-content) minmax(10rem,36rem) \
max-content;gap:.35rem .6rem;font-size:.85rem;align-items:center}.bar{display:contents}\
.bar .label{overflow-wrap:anywhere}.track{display:block}\
.fill{display:block;height:1.1rem;min-width:2px}.count{white-space:nowrap}\
.fill.ok{background:#107c10}.fill.bad{background:#a4262c}.fill.warn{background:#c19c00}\
.table{max-width:100%;overflow-x:auto}table{border-collapse:collapse;font-size:.9rem;\
width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;\
vertical-align:top}th,td:nth-child(1),td:nth-child(3),td:nth-child(4),td:nth-child(5)\
{white-space:nowrap}td:nth-child(2){overflow-wrap:anywhere;min-width:12rem}\
td:nth-child(6){min-width:8rem}td:nth-child(7){min-width:18rem}\
td:nth-child(8){overflow-wrap:anywhere;min-width:7rem}tr.failed td{background:#fde7e9}\
tr.not-sent td{background:#f3f2f1}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::PhoneType;

    #[test]
    fn the_page_stays_inert() {
        let operation = Operation {
            line: 2,
            user: "<script>alert(1)</script>@contoso.com".into(),
            phone_type: PhoneType::Mobile,
            remove: false,
            number: "+49 1701234567".into(),
            column: 1,
            options: None,
            by_fingerprint: false,
        };
        let page = html(
            &[Line {
                subject: Subject::Change(&operation),
                outcome: None,
            }],
            &Heading {
                file_name: "new hires.csv",
                dry_run: false,
                interrupted: true,
                elapsed_seconds: 1.0,
            },
        );
        assert!(!page.contains("<script"), "escaped");
        assert!(!page.contains("1234567"), "numbers masked");
        assert!(page.contains("id=\"total-not-sent\">1<"));
    }

    /// Snapshots the report of a fixed run (it has no times or ids but the elapsed time, which
    /// is fixed here), so that a change to either file's shape is a visible diff.
    #[test]
    fn the_reports_of_a_fixed_run_are_a_contract() {
        use crate::bulk::row_outcome::RowOutcome;
        let change = |line, user: &str, phone_type, remove, number: &str| Operation {
            line,
            user: user.into(),
            phone_type,
            remove,
            number: number.into(),
            column: 1,
            options: None,
            by_fingerprint: false,
        };
        let added = change(
            2,
            "adele@contoso.com",
            PhoneType::Mobile,
            false,
            "+49 1701111111",
        );
        let protected = change(
            3,
            "ga@contoso.com",
            PhoneType::Mobile,
            false,
            "+49 1702222222",
        );
        let removed = change(
            5,
            "=cmd|' /C calc'!A0",
            PhoneType::Office,
            true,
            "+49 891234567",
        );
        let waiting = change(
            6,
            "bob@contoso.com",
            PhoneType::AlternateMobile,
            false,
            "+49 1703333333",
        );
        let problem = Problem {
            line: 4,
            user: Some("typo@contoso.com".to_owned()),
            user_key: None,
            column: Some((1, "Mobile".to_owned())),
            message: "Excel turned the number into '4,91701E+11' and dropped digits".to_owned(),
        };
        let outcomes = [
            RowOutcome {
                succeeded: true,
                action: Some("added".to_owned()),
                error_code: None,
                message: "Added the mobile phone +49 ********11".to_owned(),
                warnings: vec!["phoneOnlyMfa".to_owned()],
                conflict_owner: None,
                transient: false,
            },
            RowOutcome {
                succeeded: false,
                action: Some("none".to_owned()),
                error_code: Some("protectedUser".to_owned()),
                message: "holds a privileged role".to_owned(),
                warnings: Vec::new(),
                conflict_owner: None,
                transient: false,
            },
            RowOutcome {
                succeeded: true,
                action: Some("removed".to_owned()),
                error_code: None,
                message: "-removed".to_owned(),
                warnings: Vec::new(),
                conflict_owner: None,
                transient: false,
            },
        ];
        let lines = [
            Line {
                subject: Subject::Change(&added),
                outcome: Some(&outcomes[0]),
            },
            Line {
                subject: Subject::Change(&protected),
                outcome: Some(&outcomes[1]),
            },
            Line {
                subject: Subject::Skipped(&problem),
                outcome: None,
            },
            Line {
                subject: Subject::Change(&removed),
                outcome: Some(&outcomes[2]),
            },
            Line {
                subject: Subject::Change(&waiting),
                outcome: None,
            },
        ];
        let directory = std::env::temp_dir().join(format!("bulk-report-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&directory).expect("a directory");
        let path = directory.join("report.csv");
        write_csv(&path, &lines, b';').expect("written");
        let csv = std::fs::read_to_string(&path).expect("read");
        insta::assert_snapshot!("report_csv", csv);
        let page = html(
            &lines,
            &Heading {
                file_name: "new hires.csv",
                dry_run: false,
                interrupted: false,
                elapsed_seconds: 12.0,
            },
        );
        insta::assert_snapshot!("report_html", page);
    }
}
