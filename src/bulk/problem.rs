//! A problem with a bulk file: where it is (line, column) and why, as a person fixing the
//! file reads it.

use std::fmt;

use super::input::column_letter;

/// A problem with the file, where it is and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    /// The user the row names, as written, when it names one (for the report).
    pub user: Option<String>,
    /// The key of the user the row names (as [`super::rows::Operation::user_key`]), when it
    /// names one that can be told; that user's other rows are held back with this one.
    pub user_key: Option<String>,
    /// The column's index and its name in the header.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}", self.line)?;
        match &self.column {
            Some((index, name)) if name.is_empty() => {
                write!(formatter, ", column {}", column_letter(*index))?;
            }
            Some((index, name)) => {
                write!(formatter, ", column {} ({name})", column_letter(*index))?;
            }
            None => {}
        }
        write!(formatter, ": {}", self.message)
    }
}
