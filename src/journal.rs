//! The per-invocation log: the lines an admin reads in the result's `log` and in the host's
//! `Logs`, each also written to the process log with the invocation id.
//!
//! Lines are built from masked values (`PhoneNumber` and `RegisteredNumber` display masked),
//! and every line passes one last guard on its way: control characters become spaces (a name
//! from Graph cannot start a forged line) and anything that still looks like a phone number is
//! masked (object ids stay readable), so no line carries a full number whatever went into it.

use crate::phone::printable;

/// The lines one invocation has produced so far.
pub struct Journal {
    invocation_id: String,
    /// The authenticated caller's object id, on every process log line once known.
    caller: String,
    lines: Vec<String>,
}

impl Journal {
    pub fn new(invocation_id: Option<&str>) -> Journal {
        Journal {
            invocation_id: invocation_id.unwrap_or("-").to_owned(),
            caller: "-".to_owned(),
            lines: Vec::new(),
        }
    }

    /// Names the authenticated caller on every later process log line.
    pub fn set_caller(&mut self, caller: &str) {
        caller.clone_into(&mut self.caller);
    }

    /// Records a line of progress.
    pub fn record(&mut self, line: impl Into<String>) {
        let line = guard(&line.into());
        tracing::info!(invocation_id = %self.invocation_id, caller = %self.caller, "{line}");
        self.lines.push(line);
    }

    /// Records a line about something that went wrong or needs the admin's attention.
    pub fn warn(&mut self, line: impl Into<String>) {
        let line = guard(&line.into());
        tracing::warn!(invocation_id = %self.invocation_id, caller = %self.caller, "{line}");
        self.lines.push(line);
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}
/// The longest line kept; the result keeps less ([`crate::report::Report::bound`]).
const MAX_LINE_CHARS: usize = 4_000;

/// Makes a line fit for the log: one line, bounded, numbers masked.
fn guard(line: &str) -> String {
    printable(line, MAX_LINE_CHARS)
}
