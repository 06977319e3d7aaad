//! Reads what a row says, by the header's [`Layout`]: it checks every cell (the user's shape,
//! the number by the numbering plan, what Excel does to numbers) and turns the row into one
//! operation per phone type it names. Every problem names its line and column. Pure: no IO.

use super::header::{Layout, Role};
use super::problem::Problem;
use crate::phone::CleanupKey;
use crate::phone::{PhoneNumber, PhoneType};
use crate::user::UserRef;

/// The longest `CallerName` the handler takes.
const MAX_CALLER_NAME: usize = crate::request::MAX_TEXT_LENGTH;

/// What the options of one row say, when it says anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowOptions {
    pub sms_sign_in: Option<&'static str>,
    pub notify_user: Option<bool>,
    pub language: Option<&'static str>,
    pub caller_name: Option<String>,
}

/// One change for one user and phone type, from one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub line: u64,
    /// The user as the row names them (an object id or a UPN).
    pub user: Box<str>,
    pub phone_type: PhoneType,
    pub remove: bool,
    /// The number as Graph is given it (`+49 1701234567`).
    pub number: Box<str>,
    /// The index of the number's column.
    pub column: u32,
    pub options: Option<Box<RowOptions>>,
    /// `number` is the readiness scan's keyed fingerprint of the number, not the number.
    pub by_fingerprint: bool,
}

impl Operation {
    /// The key one user's operations share (a UPN compared without case).
    pub fn user_key(&self) -> String {
        // An object id in any of its spellings (braces, no hyphens) names one user.
        UserRef::parse(&self.user).map_or_else(|_| self.user.to_lowercase(), |user| user.lock_key())
    }
}

impl Layout {
    /// The operations a row asks for, in the order Graph needs within the row; or its problems.
    /// A row with every cell empty asks for nothing.
    ///
    /// # Errors
    ///
    /// Every problem of the row, each naming its column.
    pub fn operations(
        &self,
        line: u64,
        record: &csv::StringRecord,
        default_region: Option<&str>,
    ) -> Result<Vec<Operation>, Vec<Problem>> {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            return Ok(Vec::new());
        }
        let row = Row {
            layout: self,
            line,
            record,
        };
        let mut problems = Vec::new();
        row.extra_cells(&mut problems);
        let user = row.user(&mut problems);
        let remove = row.remove(&mut problems);
        let problem = |index: usize, message: String| row.problem(index, message);
        let options = self.options(record, &mut problems, &problem);
        let numbers = row.numbers(default_region, remove, &mut problems);
        if numbers.is_empty() && problems.is_empty() {
            problems.push(row.whole_row_problem(if remove {
                "a removal needs the number to remove (only a phone with that number is \
                 removed)"
            } else {
                "no number to set"
            }));
        }
        match user {
            Some(user) if problems.is_empty() => {
                Ok(row.into_operations(user, remove, numbers, options))
            }
            _ => Err(row.naming_the_user(problems)),
        }
    }

    fn options(
        &self,
        record: &csv::StringRecord,
        problems: &mut Vec<Problem>,
        problem: &dyn Fn(usize, String) -> Problem,
    ) -> RowOptions {
        let mut options = RowOptions::default();
        for (index, role) in self.roles.iter().enumerate() {
            let text = record.get(index).unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            let read = match role {
                Some(Role::SmsSignIn) => one_of(text, &["leave", "enable", "disable"])
                    .map(|value| options.sms_sign_in = Some(value)),
                Some(Role::NotifyUser) => {
                    boolean(text).map(|value| options.notify_user = Some(value))
                }
                Some(Role::Language) => {
                    one_of(text, &["en", "de"]).map(|value| options.language = Some(value))
                }
                Some(Role::CallerName) => {
                    if text.chars().count() > MAX_CALLER_NAME || text.chars().any(char::is_control)
                    {
                        Err(format!(
                            "a caller name is one line of at most {MAX_CALLER_NAME} characters"
                        ))
                    } else {
                        options.caller_name = Some(text.to_owned());
                        Ok(())
                    }
                }
                _ => Ok(()),
            };
            if let Err(message) = read {
                problems.push(problem(index, message));
            }
        }
        options
    }
}

/// One row being read, for the steps of [`Layout::operations`].
struct Row<'a> {
    layout: &'a Layout,
    line: u64,
    record: &'a csv::StringRecord,
}

/// A number found in a row: its type, Graph's form, its column.
type Found = (PhoneType, String, usize);

impl<'a> Row<'a> {
    fn problem(&self, index: usize, message: String) -> Problem {
        Problem {
            line: self.line,
            user: None,
            user_key: None,
            column: Some((index, self.layout.column_name(index))),
            message,
        }
    }

    fn whole_row_problem(&self, message: &str) -> Problem {
        Problem {
            line: self.line,
            user: None,
            user_key: None,
            column: None,
            message: message.to_owned(),
        }
    }

    /// The column that holds `wanted`, and its cell (trimmed).
    fn cell(&self, wanted: Role) -> Option<(usize, &'a str)> {
        self.layout
            .roles
            .iter()
            .position(|role| *role == Some(wanted))
            .map(|index| (index, self.record.get(index).unwrap_or("").trim()))
    }

    /// Adds a problem when the row has more cells than the header names, with something in
    /// them.
    fn extra_cells(&self, problems: &mut Vec<Problem>) {
        let columns = self.layout.roles.len();
        if self.record.len() > columns
            && self
                .record
                .iter()
                .skip(columns)
                .any(|cell| !cell.trim().is_empty())
        {
            problems.push(self.whole_row_problem(&format!(
                "{} cells where the header names {columns} columns (a delimiter inside a cell \
                 that is not quoted?)",
                self.record.len()
            )));
        }
    }

    /// The user as the row names them, when that is a user's shape.
    fn user(&self, problems: &mut Vec<Problem>) -> Option<&'a str> {
        match self.cell(Role::User) {
            Some((_, "")) | None => {
                problems.push(Problem {
                    column: self
                        .cell(Role::User)
                        .map(|(index, _)| (index, self.layout.column_name(index))),
                    ..self.whole_row_problem("the user is missing")
                });
                None
            }
            Some((index, text)) => match UserRef::parse(text) {
                Ok(_) => Some(text),
                Err(error) => {
                    problems.push(self.problem(index, error.to_string()));
                    None
                }
            },
        }
    }

    /// Whether the row removes (`Remove`/`ForcedRemoval`, or `operation`).
    fn remove(&self, problems: &mut Vec<Problem>) -> bool {
        let mut remove = match self.cell(Role::Remove) {
            Some((index, text)) => boolean(text).unwrap_or_else(|message| {
                problems.push(self.problem(index, message));
                false
            }),
            None => false,
        };
        if let Some((index, text)) = self.cell(Role::Operation) {
            match text.to_ascii_lowercase().as_str() {
                "" | "set" | "add" | "update" => {}
                "remove" | "delete" => remove = true,
                "show" => problems.push(
                    self.problem(
                        index,
                        "show changes nothing: a bulk run sets or removes (show one user with \
                     operation show)"
                            .to_owned(),
                    ),
                ),
                _ => problems
                    .push(self.problem(index, format!("'{}' is not set or remove", echo(text)))),
            }
        }
        remove
    }

    /// The phone type of a `phoneNumber` column: the `phoneType` cell's, mobile without one.
    fn phone_number_type(&self, problems: &mut Vec<Problem>) -> Option<PhoneType> {
        match self.cell(Role::PhoneType) {
            Some((_, "")) | None => Some(PhoneType::Mobile),
            Some((index, text)) => PhoneType::parse(text).or_else(|| {
                problems.push(self.problem(
                    index,
                    format!("'{}' is not mobile, alternateMobile or office", echo(text)),
                ));
                None
            }),
        }
    }

    /// Every number the row gives, checked, at most one per phone type.
    fn numbers(
        &self,
        default_region: Option<&str>,
        remove: bool,
        problems: &mut Vec<Problem>,
    ) -> Vec<Found> {
        let mut numbers: Vec<Found> = Vec::new();
        for (index, role) in self.layout.roles.iter().enumerate() {
            let phone_type = match role {
                Some(Role::Number(phone_type)) => *phone_type,
                Some(Role::PhoneNumber | Role::NumberFingerprint) => {
                    match self.phone_number_type(problems) {
                        Some(phone_type) => phone_type,
                        None => continue,
                    }
                }
                _ => continue,
            };
            let text = self.record.get(index).unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            if numbers.iter().any(|(earlier, _, _)| *earlier == phone_type) {
                problems.push(self.problem(
                    index,
                    format!("a second {phone_type} number in the row: give one per phone type"),
                ));
                continue;
            }
            if *role == Some(Role::NumberFingerprint) {
                match fingerprint(text, remove) {
                    Ok(()) => numbers.push((phone_type, text.to_owned(), index)),
                    Err(message) => problems.push(self.problem(index, message.to_owned())),
                }
                continue;
            }
            match number(text, phone_type, default_region) {
                Ok(number) => numbers.push((phone_type, number, index)),
                Err(message) => problems.push(self.problem(index, message)),
            }
        }
        numbers
    }

    /// The problems, each naming whose row it was (as written, masked and bounded like every
    /// cell a problem echoes: a number typed into the user's column stays masked) and the
    /// user's key, so that their other rows are held back.
    fn naming_the_user(&self, mut problems: Vec<Problem>) -> Vec<Problem> {
        let named = self
            .cell(Role::User)
            .map(|(_, text)| text)
            .filter(|text| !text.is_empty());
        let key = named
            .and_then(|text| UserRef::parse(text).ok())
            .map(|user| user.lock_key());
        for problem in &mut problems {
            problem.user = named.map(echo);
            problem.user_key.clone_from(&key);
        }
        problems
    }

    /// One operation per number, in the order Graph needs within the row: a mobile is set
    /// before the alternate mobile, and an alternate mobile removed before the mobile (Graph
    /// refuses an alternate mobile without a mobile).
    fn into_operations(
        self,
        user: &str,
        remove: bool,
        mut numbers: Vec<Found>,
        options: RowOptions,
    ) -> Vec<Operation> {
        let options = (options != RowOptions::default()).then(|| Box::new(options));
        numbers.sort_by_key(|(phone_type, _, _)| graph_order(*phone_type, remove));
        numbers
            .into_iter()
            .map(|(phone_type, number, index)| Operation {
                line: self.line,
                user: user.into(),
                phone_type,
                remove,
                number: number.into(),
                column: u32::try_from(index).unwrap_or(u32::MAX),
                options: options.clone(),
                by_fingerprint: self.layout.roles.get(index)
                    == Some(&Some(Role::NumberFingerprint)),
            })
            .collect()
    }
}

/// Checks a cell of cleanup.csv's `numberFingerprint` column: the row must remove, and the cell
/// must be the readiness scan's keyed fingerprint.
fn fingerprint(text: &str, remove: bool) -> Result<(), &'static str> {
    if !remove {
        Err("a numberFingerprint only removes: set operation to remove")
    } else if !CleanupKey::well_formed(text) {
        Err("not a fingerprint of the readiness scan (hs256: and 64 hex digits)")
    } else {
        Ok(())
    }
}

/// Ranks a phone type among a row's changes, in the order Graph needs.
pub fn graph_order(phone_type: PhoneType, remove: bool) -> u8 {
    match (phone_type, remove) {
        (PhoneType::Mobile, false) | (PhoneType::AlternateMobile, true) => 0,
        (PhoneType::Office, _) => 1,
        (PhoneType::AlternateMobile, false) | (PhoneType::Mobile, true) => 2,
    }
}

/// Checks a number cell: what Excel does to numbers first, then the numbering plan.
fn number(text: &str, phone_type: PhoneType, region: Option<&str>) -> Result<String, String> {
    let text = text.trim_start_matches('\'');
    if looks_scientific(text) {
        return Err(format!(
            "Excel turned the number into '{}' and dropped digits: format the column as \
             Text before typing or pasting numbers (or export it as text), and write them as \
             +49 170 1234567",
            echo(text)
        ));
    }
    let parsed = match region {
        Some(region) => PhoneNumber::parse_in_region(text, region),
        None if !text.starts_with('+') && text.chars().any(|c| c.is_ascii_digit()) => {
            let hint = if text.chars().all(|c| c.is_ascii_digit()) && text.len() >= 10 {
                " (if it starts with the country code, Excel may have dropped the +: keep the \
                 column as Text)"
            } else {
                ""
            };
            return Err(format!(
                "the number has no country code: write it as +49 170 1234567, or give \
                 --default-region for national numbers{hint}"
            ));
        }
        None => PhoneNumber::parse(text),
    };
    let number = parsed.map_err(|error| error.to_string())?;
    if number.has_extension() && phone_type != PhoneType::Office {
        return Err(format!(
            "only an office phone may have an extension, not a {phone_type} phone"
        ));
    }
    Ok(number.graph_format())
}

/// Shortens a cell's text as a problem repeats it: one short printable line with numbers
/// masked, because a shifted row puts a number where a word was expected.
fn echo(text: &str) -> String {
    crate::phone::printable(&crate::phone::redact_numbers(text), 40)
}

/// Whether the text is a number Excel showed in scientific notation and saved so
/// (`4.91701E+11`, `4,91701E+11`).
fn looks_scientific(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let Some((mantissa, exponent)) = upper.split_once('E') else {
        return false;
    };
    let exponent = exponent.trim_start_matches('+');
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// Reads a yes or no, as people and Excel in several languages write it.
fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_lowercase().as_str() {
        "" | "false" | "no" | "n" | "0" | "falsch" | "nein" | "faux" | "non" | "onwaar" => {
            Ok(false)
        }
        "true" | "yes" | "y" | "1" | "x" | "wahr" | "ja" | "vrai" | "oui" | "waar" => Ok(true),
        _ => Err(format!("'{}' is not true or false", echo(text))),
    }
}

fn one_of(text: &str, allowed: &[&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .find(|value| value.eq_ignore_ascii_case(text))
        .copied()
        .ok_or_else(|| format!("'{}' is not one of {}", echo(text), allowed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_bad_rows_user_is_named_masked_and_bounded() {
        let layout = Layout::read(1, &record(&["UPN", "Mobile"])).expect("a layout");
        // The columns are swapped: the number is in the user's column, the user in the
        // number's.
        let problems = layout
            .operations(2, &record(&["+49 170 1234567", "adele@contoso.com"]), None)
            .expect_err("problems");
        let user = problems[0]
            .user
            .as_deref()
            .expect("the user cell, as written");
        assert!(!user.contains("1234567"), "{user}");
        assert!(user.contains("+49"), "{user}");
    }

    #[test]
    fn the_community_scripts_headers_are_understood() {
        let identityman = Layout::read(
            1,
            &record(&[
                "UPN",
                "Mobile",
                "OfficePhone",
                "AlternateMobile",
                "ForcedUpdate",
                "ForcedRemoval",
            ]),
        )
        .expect("a layout");
        assert!(identityman.has_forced_update);
        let operations = identityman
            .operations(
                2,
                &record(&["a@contoso.com", "", "", "+49 170 7654321", "TRUE", "FALSE"]),
                None,
            )
            .expect("a row");
        assert_eq!(operations.len(), 1);
        assert_eq!(operations[0].phone_type, PhoneType::AlternateMobile);
        assert_eq!(&*operations[0].number, "+49 1707654321");

        let runbook = Layout::read(
            1,
            &record(&["userId", "phone_type", "PHONENUMBER", "Department"]),
        )
        .expect("a layout");
        assert_eq!(runbook.ignored, ["Department"]);
        let office = runbook
            .operations(
                2,
                &record(&["a@contoso.com", "office", "+49 89 1234567 x12", "HR"]),
                None,
            )
            .expect("a row");
        assert_eq!(office[0].phone_type, PhoneType::Office);
    }

    #[test]
    fn a_row_naming_several_types_runs_them_in_graphs_order() {
        let layout = Layout::read(1, &record(&["UPN", "AlternateMobile", "Mobile", "Remove"]))
            .expect("a layout");
        let set = layout
            .operations(
                2,
                &record(&["a@b.c", "+49 170 7654321", "+49 170 1234567", "no"]),
                None,
            )
            .expect("a row");
        assert_eq!(
            set.iter().map(|op| op.phone_type).collect::<Vec<_>>(),
            [PhoneType::Mobile, PhoneType::AlternateMobile]
        );
        let removal = layout
            .operations(
                2,
                &record(&["a@b.c", "+49 170 7654321", "+49 170 1234567", "WAHR"]),
                None,
            )
            .expect("a row");
        assert_eq!(
            removal.iter().map(|op| op.phone_type).collect::<Vec<_>>(),
            [PhoneType::AlternateMobile, PhoneType::Mobile]
        );
    }

    #[test]
    fn every_problem_names_its_line_and_column() {
        let layout = Layout::read(1, &record(&["UPN", "Mobile", "NotifyUser"])).expect("a layout");
        let problems = |cells: &[&str]| {
            layout
                .operations(7, &record(cells), None)
                .expect_err("problems")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        let excel = problems(&["a@b.c", "4.91701E+11", ""]);
        assert!(
            excel[0].starts_with("line 7, column B (Mobile): Excel turned"),
            "{excel:?}"
        );
        let national = problems(&["a@b.c", "0170 1234567", ""]);
        assert!(national[0].contains("--default-region"), "{national:?}");
        let dropped_plus = problems(&["a@b.c", "491701234567", ""]);
        assert!(
            dropped_plus[0].contains("dropped the +"),
            "{dropped_plus:?}"
        );
        let both = problems(&["not a user", "+49 170", "perhaps"]);
        assert_eq!(both.len(), 3, "{both:?}");
        assert!(both[0].starts_with("line 7, column A (UPN)"));
        assert!(
            both[1].starts_with("line 7, column C (NotifyUser)"),
            "{both:?}"
        );
        assert!(both[2].starts_with("line 7, column B (Mobile)"), "{both:?}");
        assert!(
            layout
                .operations(8, &record(&["", "", ""]), None)
                .expect("empty")
                .is_empty()
        );
        let with_region = layout
            .operations(9, &record(&["a@b.c", "0170 1234567", ""]), Some("DE"))
            .expect("with a region");
        assert_eq!(&*with_region[0].number, "+49 1701234567");
    }
}
