//! Reads settings from a lookup function: every value is checked against its bounds, and every
//! problem is collected (not only the first), each naming its variable.

use std::time::Duration;

/// A lookup that collects problems instead of stopping at the first.
pub(super) struct Env<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: std::cell::RefCell<Vec<String>>,
}

impl Env<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub(super) fn problem(&self, text: impl Into<String>) {
        self.problems.borrow_mut().push(text.into());
    }

    pub(super) fn parse_number(&self, name: &str, value: &str, min: u64, max: u64) -> u64 {
        match value.trim().parse::<u64>() {
            Ok(number) if (min..=max).contains(&number) => number,
            _ => {
                self.problem(format!("{name} must be a whole number from {min} to {max}"));
                min
            }
        }
    }

    pub(super) fn number<T: TryFrom<u64> + Copy>(
        &self,
        name: &str,
        default: T,
        min: u64,
        max: u64,
    ) -> T {
        match self.get(name) {
            None => default,
            Some(value) => {
                T::try_from(self.parse_number(name, &value, min, max)).unwrap_or(default)
            }
        }
    }

    pub(super) fn seconds(&self, name: &str, default: f64, min: f64, max: f64) -> Duration {
        let value = match self.get(name) {
            None => default,
            Some(value) => match value.trim().parse::<f64>() {
                Ok(seconds) if seconds.is_finite() && (min..=max).contains(&seconds) => seconds,
                _ => {
                    self.problem(format!(
                        "{name} must be a number of seconds from {min} to {max}"
                    ));
                    default
                }
            },
        };
        Duration::from_secs_f64(value)
    }

    /// Reads a line of text for the notification: bounded, without control characters.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        let value = self.get(name)?.trim().to_owned();
        if value.chars().count() > 256 || value.chars().any(char::is_control) {
            self.problem(format!("{name} must be one line of at most 256 characters"));
            return None;
        }
        Some(value)
    }

    /// Reads one of `allowed` (lowercase), matched without case; `default` when unset.
    pub(super) fn choice(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> &'static str {
        match self.get(name) {
            None => default,
            Some(value) => {
                let value = value.trim().to_ascii_lowercase();
                allowed
                    .iter()
                    .copied()
                    .find(|choice| *choice == value)
                    .unwrap_or_else(|| {
                        self.problem(format!("{name} must be one of: {}", allowed.join(", ")));
                        default
                    })
            }
        }
    }

    /// Reads one object id (a GUID), lowercased.
    pub(super) fn id(&self, name: &str) -> Option<String> {
        let value = self.get(name)?;
        match uuid::Uuid::parse_str(value.trim()) {
            Ok(id) => Some(id.hyphenated().to_string()),
            Err(_) => {
                self.problem(format!("{name} must be an id (a GUID)"));
                None
            }
        }
    }

    /// Reads a comma-separated list of object ids (or application ids), lowercased.
    pub(super) fn id_list(&self, name: &str) -> Vec<String> {
        let Some(value) = self.get(name) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for part in value
            .split([',', ';', ' '])
            .filter(|part| !part.trim().is_empty())
        {
            match uuid::Uuid::parse_str(part.trim()) {
                Ok(id) => ids.push(id.hyphenated().to_string()),
                Err(_) => self.problem(format!(
                    "{name} must list object ids or application ids (GUIDs) separated by commas; \
                     '{}' is not one",
                    part.trim().chars().take(64).collect::<String>()
                )),
            }
        }
        ids
    }

    pub(super) fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(value) => read_flag(&value).unwrap_or_else(|| {
                self.problem(format!("{name} must be true or false"));
                default
            }),
        }
    }
}

/// A yes-or-no setting as the handler reads it (`true`, `on`, `1`, `yes` and their opposites,
/// any case); `None` for anything else.
pub fn read_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Some(true),
        "false" | "off" | "0" | "no" => Some(false),
        _ => None,
    }
}
