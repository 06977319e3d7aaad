//! Users: as the caller named them ([`UserRef`], an object id or a user principal name), and
//! as the directory describes them ([`DirectoryUser`]).
//!
//! Parsing here is what keeps a caller's value from changing the Graph URL: a [`UserRef`] holds
//! either a GUID or a UPN made only of the characters Entra allows in one. Building the URL
//! (and encoding the segment) is the graph module's job.

use std::fmt;

/// A user named by object id or by user principal name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    /// A directory object id, lowercase and hyphenated.
    ObjectId(String),
    /// A user principal name, as given (Graph matches it case-insensitively).
    PrincipalName(String),
}

/// A user as the directory describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: String,
    pub(crate) user_principal_name: Option<String>,
    pub(crate) display_name: Option<String>,
    /// The directory's user type as it wrote it (`Member`, `Guest`); old objects may have none.
    pub(crate) user_type: Option<String>,
    /// Whether the user is a B2B guest.
    pub guest: bool,
    pub(crate) account_enabled: Option<bool>,
    /// The user's mail address; `None` when they have no mailbox.
    pub(crate) mail: Option<String>,
    /// Two letters (`DE`), when set.
    pub(crate) usage_location: Option<String>,
}

/// Why a `UserId` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct UserRefError {
    reason: String,
}

/// Entra caps a UPN at 113 characters; a little slack keeps us out of the business of
/// second-guessing the directory while still bounding the input.
const MAX_PRINCIPAL_NAME_LENGTH: usize = 256;

impl UserRef {
    /// Parses an object id (a GUID, with or without braces) or a user principal name.
    ///
    /// # Errors
    ///
    /// When the value is empty, too long, or is not a GUID and not a UPN: a UPN has exactly one
    /// `@` with text on both sides, and only letters, digits and `' . - _ ! # ^ ~ $ & + =`.
    /// `/`, `?`, `%`, `\`, whitespace, control characters and `..` are refused because they
    /// could change the meaning of a URL.
    pub fn parse(input: &str) -> Result<UserRef, UserRefError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(UserRefError::new("it is empty"));
        }
        if let Ok(object_id) = uuid::Uuid::parse_str(value) {
            return Ok(UserRef::ObjectId(object_id.hyphenated().to_string()));
        }
        if value.len() > MAX_PRINCIPAL_NAME_LENGTH {
            return Err(UserRefError::new(format!(
                "it is {} characters long; a user principal name has at most \
                 {MAX_PRINCIPAL_NAME_LENGTH}",
                value.len()
            )));
        }
        if let Some((position, character)) = value
            .chars()
            .enumerate()
            .find(|(_, character)| !is_principal_name_character(*character))
        {
            let shown = if character.is_control() {
                "a control character".to_owned()
            } else if character.is_whitespace() {
                "whitespace".to_owned()
            } else {
                format!("'{character}'")
            };
            return Err(UserRefError::new(format!(
                "it contains {shown} at position {}, which a user principal name cannot \
                 contain; give the user's object id or user principal name",
                position + 1
            )));
        }
        if value.contains("..") {
            return Err(UserRefError::new(
                "it contains '..', which a user principal name cannot contain",
            ));
        }
        match value.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(UserRef::PrincipalName(value.to_owned()))
            }
            _ => Err(UserRefError::new(
                "it is neither an object id (GUID) nor a user principal name \
                 (name@domain)",
            )),
        }
    }

    /// The value to put in the Graph path segment, before encoding.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            UserRef::ObjectId(id) | UserRef::PrincipalName(id) => id,
        }
    }

    /// A key under which requests for the same user are serialised; UPNs compare
    /// case-insensitively, as the directory does.
    pub(crate) fn lock_key(&self) -> String {
        match self {
            UserRef::ObjectId(id) => id.clone(),
            UserRef::PrincipalName(name) => name.to_lowercase(),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UserRefError {
    fn new(reason: impl Into<String>) -> UserRefError {
        UserRefError {
            reason: reason.into(),
        }
    }
}

fn is_principal_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric()
        || matches!(
            character,
            '\'' | '.' | '-' | '_' | '!' | '#' | '^' | '~' | '$' | '&' | '+' | '=' | '@'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_normalised() {
        assert_eq!(
            UserRef::parse(" {6E7B768E-07E2-4810-8459-485F84F8F204} "),
            Ok(UserRef::ObjectId(
                "6e7b768e-07e2-4810-8459-485f84f8f204".to_owned()
            ))
        );
    }

    #[test]
    fn principal_names_including_guests_are_accepted() {
        for upn in [
            "adele.vance@contoso.com",
            "adele_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "$admin@contoso.com",
            "o'neil@contoso.com",
        ] {
            assert_eq!(
                UserRef::parse(upn),
                Ok(UserRef::PrincipalName(upn.to_owned()))
            );
        }
    }

    #[test]
    fn values_that_could_change_the_url_are_rejected() {
        for (input, reason) in [
            ("", "empty"),
            ("adele@contoso.com/../../admin", "'/'"),
            ("adele@contoso.com?$select=x", "'?'"),
            ("adele..x@contoso.com", "'..'"),
            ("adele@con\ntoso.com", "control character"),
            ("adele\u{7}@contoso.com", "control character"),
            ("adele vance@contoso.com", "whitespace"),
            ("adele%2F@contoso.com", "'%'"),
            ("adele\\x@contoso.com", "'\\'"),
            ("adele", "neither"),
            ("a@b@c", "neither"),
            ("@contoso.com", "neither"),
        ] {
            let error = UserRef::parse(input).expect_err(input).to_string();
            assert!(error.contains(reason), "{input:?}: {error}");
        }
        let long = format!("{}@contoso.com", "a".repeat(300));
        assert!(
            UserRef::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
    }
}
