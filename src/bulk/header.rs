//! Reads the header of a bulk file into a [`Layout`] saying which column holds what. Column
//! names are compared without case, spaces, `_` and `-`, and the aliases the community scripts
//! use are known. Pure: no IO.

use super::input::column_letter;
use super::problem::Problem;
use crate::phone::PhoneType;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    User,
    /// A number of this type (`Mobile`, `AlternateMobile`, `OfficePhone`).
    Number(PhoneType),
    /// The runbook's `phoneNumber`, of the type in the `phoneType` column (mobile without one).
    PhoneNumber,
    PhoneType,
    Remove,
    Operation,
    SmsSignIn,
    NotifyUser,
    Language,
    CallerName,
    /// IdentityMan's `ForcedUpdate`, which changes nothing because a set always updates here.
    ForcedUpdate,
    /// The readiness scan's `numberFingerprint`: the row removes the number of the type in the
    /// `phoneType` column, but only when the registered number matches the fingerprint.
    NumberFingerprint,
}

/// The names each role is known by, compared without case, spaces, `_` and `-`.
const NAMES: [(&str, Role); 28] = [
    ("userid", Role::User),
    ("upn", Role::User),
    ("userprincipalname", Role::User),
    ("name", Role::User),
    ("objectid", Role::User),
    ("user", Role::User),
    ("mobile", Role::Number(PhoneType::Mobile)),
    ("mobilephone", Role::Number(PhoneType::Mobile)),
    ("mobilenumber", Role::Number(PhoneType::Mobile)),
    ("alternatemobile", Role::Number(PhoneType::AlternateMobile)),
    (
        "alternatemobilephone",
        Role::Number(PhoneType::AlternateMobile),
    ),
    (
        "alternatemobilenumber",
        Role::Number(PhoneType::AlternateMobile),
    ),
    ("officephone", Role::Number(PhoneType::Office)),
    ("office", Role::Number(PhoneType::Office)),
    ("officenumber", Role::Number(PhoneType::Office)),
    ("phonenumber", Role::PhoneNumber),
    ("phonetype", Role::PhoneType),
    ("remove", Role::Remove),
    ("forcedremoval", Role::Remove),
    ("operation", Role::Operation),
    ("smssignin", Role::SmsSignIn),
    ("notifyuser", Role::NotifyUser),
    ("languageoverride", Role::Language),
    ("language", Role::Language),
    ("callername", Role::CallerName),
    ("forcedupdate", Role::ForcedUpdate),
    ("forceupdate", Role::ForcedUpdate),
    ("numberfingerprint", Role::NumberFingerprint),
];

/// The header as read: which column holds what.
#[derive(Clone, Debug)]
pub struct Layout {
    pub(super) roles: Vec<Option<Role>>,
    names: Vec<String>,
    /// Columns no role is known by (a `Department` from an HR export), ignored.
    pub ignored: Vec<String>,
    /// Whether the file has IdentityMan's `ForcedUpdate` (which changes nothing here).
    pub has_forced_update: bool,
}

impl Layout {
    /// The name the header gives column `index` (empty beyond the header).
    pub fn column_name(&self, index: usize) -> String {
        self.names.get(index).cloned().unwrap_or_default()
    }

    /// Reads the header.
    ///
    /// # Errors
    ///
    /// No column names the user, none holds a number, or a role is given twice.
    pub fn read(line: u64, header: &csv::StringRecord) -> Result<Layout, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut roles = Vec::new();
        let mut names = Vec::new();
        let mut ignored = Vec::new();
        for (index, name) in header.iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}').to_owned();
            let key: String = name
                .chars()
                .filter(|c| !matches!(c, ' ' | '_' | '-'))
                .flat_map(char::to_lowercase)
                .collect();
            let role = NAMES
                .iter()
                .find(|(known, _)| *known == key)
                .map(|(_, role)| *role);
            match role {
                Some(role) if roles.contains(&Some(role)) => problems.push(Problem {
                    line,
                    user: None,
                    user_key: None,
                    column: Some((index, name.clone())),
                    message: format!(
                        "a second column for the same thing as column {}",
                        column_letter(roles.iter().position(|r| *r == Some(role)).unwrap_or(0))
                    ),
                }),
                Some(_) => {}
                None if name.is_empty() => {}
                None => ignored.push(name.clone()),
            }
            roles.push(role);
            names.push(name);
        }
        missing_columns(line, &roles, &mut problems);
        let has = |wanted: fn(&Role) -> bool| roles.iter().flatten().any(wanted);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Layout {
            has_forced_update: has(|role| *role == Role::ForcedUpdate),
            roles,
            names,
            ignored,
        })
    }
}

/// Adds a problem for each column the rows cannot do without: a row needs a user and a
/// number, and a phoneType says nothing without the phoneNumber it types.
fn missing_columns(line: u64, roles: &[Option<Role>], problems: &mut Vec<Problem>) {
    let has = |wanted: fn(&Role) -> bool| roles.iter().flatten().any(wanted);
    if !has(|role| *role == Role::User) {
        problems.push(Problem {
            line,
            user: None,
            user_key: None,
            column: None,
            message: "no column names the user: call it UserId, UPN, UserPrincipalName, \
                      Name or ObjectId"
                .to_owned(),
        });
    }
    if !has(|role| {
        matches!(
            role,
            Role::Number(_) | Role::PhoneNumber | Role::NumberFingerprint
        )
    }) {
        problems.push(Problem {
            line,
            user: None,
            user_key: None,
            column: None,
            message: "no column holds a number: call it Mobile, AlternateMobile, OfficePhone \
                      or phoneNumber (with a phoneType column)"
                .to_owned(),
        });
    }
    if has(|role| *role == Role::PhoneType)
        && !has(|role| matches!(role, Role::PhoneNumber | Role::NumberFingerprint))
    {
        problems.push(Problem {
            line,
            user: None,
            user_key: None,
            column: None,
            message: "a phoneType column needs a phoneNumber column beside it".to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_header_without_a_user_or_a_number_is_refused() {
        let problems = Layout::read(1, &record(&["Mail", "Department"])).expect_err("refused");
        assert_eq!(problems.len(), 2);
        let twice =
            Layout::read(1, &record(&["UPN", "Mobile", "Mobile Phone"])).expect_err("refused");
        assert!(twice[0].to_string().contains("column C"), "{twice:?}");
    }
}
