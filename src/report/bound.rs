//! Keeps a result within what a queue message holds, with every field present.

use super::{Report, Warning};

/// The most a result may take as JSON text: a queue message holds 64 KiB, and the host's
/// output binding needs room of its own.
pub const MAX_RESULT_BYTES: usize = 48 * 1024;
/// Log lines kept from the start and from the end when the log is cut.
const LOG_HEAD: usize = 150;
const LOG_TAIL: usize = 40;
const MAX_LINE_CHARS: usize = 1_000;
const MAX_WARNINGS: usize = 50;
const MAX_MESSAGE_CHARS: usize = 2_000;
/// How long a parameter's text may be in the echo of a result that had to be cut.
const MAX_ECHOED_CHARS: usize = 256;
/// The most the parameters echoed may take; beyond it only the known ones are echoed.
const MAX_ECHO_BYTES: usize = 8 * 1024;
/// The most methods `methods` lists (a user can have thousands; Graph sets no limit).
const MAX_METHODS_LISTED: usize = 50;

impl Report {
    /// Keeps the result within [`MAX_RESULT_BYTES`] with every field present: cuts, in turn,
    /// the parameters echoed (to the `known` ones, each value shortened), the log, and the
    /// warnings, and marks the result `truncated` when anything was cut.
    pub fn bound(&mut self, known: &[&str]) {
        if let Some(methods) = &mut self.methods {
            for list_len in [methods.phone.len(), methods.other.len()] {
                self.truncated |= list_len > MAX_METHODS_LISTED;
            }
            methods.phone.truncate(MAX_METHODS_LISTED);
            methods.other.truncate(MAX_METHODS_LISTED);
        }
        if self.log.len() > LOG_HEAD + LOG_TAIL {
            self.cut_log(LOG_HEAD, LOG_TAIL);
        }
        for line in &mut self.log {
            self.truncated |= shorten(line, MAX_LINE_CHARS);
        }
        if self.warnings.len() > MAX_WARNINGS {
            self.cut_warnings(MAX_WARNINGS);
        }
        for warning in &mut self.warnings {
            self.truncated |= shorten(&mut warning.message, MAX_MESSAGE_CHARS);
        }
        if let Some(failure) = &mut self.error {
            self.truncated |= shorten(&mut failure.message, MAX_MESSAGE_CHARS);
        }
        let echo_len = self
            .request
            .as_ref()
            .map_or(0, |request| request.to_string().len());
        if echo_len <= MAX_ECHO_BYTES && self.json_len() <= MAX_RESULT_BYTES {
            return;
        }
        if let Some(serde_json::Value::Object(parameters)) = &self.request {
            let kept = parameters
                .iter()
                .filter(|(name, _)| known.iter().any(|known| known.eq_ignore_ascii_case(name)))
                .map(|(name, value)| {
                    let value = match value {
                        serde_json::Value::String(text) => {
                            let mut text = text.clone();
                            shorten(&mut text, MAX_ECHOED_CHARS);
                            serde_json::Value::String(text)
                        }
                        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                            serde_json::Value::String("(left out)".to_owned())
                        }
                        other => other.clone(),
                    };
                    (name.clone(), value)
                })
                .collect();
            self.request = Some(serde_json::Value::Object(kept));
        } else if self.request.is_some() {
            self.request = None;
        }
        self.truncated = true;
        if self.json_len() > MAX_RESULT_BYTES {
            self.cut_log(20, 10);
        }
        if self.json_len() > MAX_RESULT_BYTES {
            self.cut_warnings(10);
        }
        if self.json_len() > MAX_RESULT_BYTES {
            self.request = None;
        }
    }

    fn cut_log(&mut self, head: usize, tail: usize) {
        if self.log.len() <= head + tail + 1 {
            return;
        }
        let left_out = self.log.len() - head - tail;
        let end = self.log.split_off(self.log.len() - tail);
        self.log.truncate(head);
        self.log.push(format!(
            "… {left_out} log lines left out to keep the result small"
        ));
        self.log.extend(end);
        self.truncated = true;
    }

    fn cut_warnings(&mut self, keep: usize) {
        if self.warnings.len() <= keep {
            return;
        }
        let left_out = self.warnings.split_off(keep - 1);
        let code = left_out[0].code;
        self.warnings.push(Warning {
            code,
            message: format!(
                "{} more warnings left out to keep the result small",
                left_out.len()
            ),
        });
        self.truncated = true;
    }

    fn json_len(&self) -> usize {
        self.to_json().len()
    }
}

/// Cuts `text` to at most `limit` characters, marking the cut, and returns whether it cut.
fn shorten(text: &mut String, limit: usize) -> bool {
    match text.char_indices().nth(limit) {
        Some((index, _)) => {
            text.truncate(index);
            text.push('…');
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Trigger, WarningCode};

    #[test]
    fn a_result_is_kept_within_a_queue_message_with_every_field() {
        let mut report = Report::new(Trigger::Queue, Some("id".to_owned()));
        let mut parameters = serde_json::Map::new();
        parameters.insert("UserId".to_owned(), serde_json::json!("a".repeat(10_000)));
        for index in 0..3_000 {
            parameters.insert(
                format!("unknown{index}"),
                serde_json::json!("x".repeat(100)),
            );
        }
        report.request = Some(serde_json::Value::Object(parameters));
        for index in 0..500 {
            report.warn(
                WarningCode::UnknownParameter,
                format!("ignored unknown{index}"),
            );
            report
                .log
                .push(format!("line {index} {}", "y".repeat(3_000)));
        }
        report.bound(&["UserId", "phoneNumber"]);
        let json = report.to_json();
        assert!(json.len() <= MAX_RESULT_BYTES, "{}", json.len());
        assert!(report.truncated);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for field in [
            "request",
            "log",
            "warnings",
            "error",
            "user",
            "phoneMethod",
            "truncated",
        ] {
            assert!(value.get(field).is_some(), "{field} is kept");
        }
        let echoed = value["request"]["UserId"].as_str().unwrap_or_default();
        assert!(
            echoed.chars().count() <= MAX_ECHOED_CHARS + 1,
            "{}",
            echoed.len()
        );
        assert!(value["log"].as_array().unwrap().len() < 500);
    }

    #[test]
    fn a_user_with_thousands_of_methods_gets_a_result_that_fits() {
        let mut report = Report::new(Trigger::Queue, None);
        report.methods = Some(crate::report::MethodsSummary {
            phone: Vec::new(),
            other: vec!["fido2".to_owned(); 3_000],
            phishing_resistant: true,
        });
        report.bound(&[]);
        assert!(report.to_json().len() <= MAX_RESULT_BYTES);
        assert!(report.truncated);
        let listed = report
            .methods
            .as_ref()
            .map_or(0, |methods| methods.other.len());
        assert_eq!(listed, MAX_METHODS_LISTED);
    }

    #[test]
    fn a_small_result_is_left_as_it_is() {
        let mut report = Report::new(Trigger::Http, None);
        report.request = Some(serde_json::json!({"UserId": "a@b.c", "extra": [1, 2]}));
        report.log.push("one line".to_owned());
        let before = report.to_json();
        report.bound(&["UserId"]);
        assert_eq!(report.to_json(), before);
        assert!(!report.truncated);
    }
}
