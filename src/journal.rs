//! The per-invocation log: the lines an admin reads in the result's `log` and in the host's
//! `Logs`, each also written to the process log with the invocation id.
//!
//! Lines are built from masked values only (`PhoneNumber` and `RegisteredNumber` display
//! masked); this module does not mask for its callers, it only gives every line one path.

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
        let line = line.into();
        tracing::info!(invocation_id = %self.invocation_id, caller = %self.caller, "{line}");
        self.lines.push(line);
    }

    /// Records a line about something that went wrong or needs the admin's attention.
    pub fn warn(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::warn!(invocation_id = %self.invocation_id, caller = %self.caller, "{line}");
        self.lines.push(line);
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}
