//! Reads one operation's outcome from the handler's result as the handler words it (status,
//! action, error code and message, warnings, who holds a conflicting number), or from what the
//! transport said when no result came. Pure: no IO.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::phone::{mask, printable};
use crate::report::ErrorCode;

/// What became of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    pub succeeded: bool,
    /// The handler's action (`added`, `updated`, `removed`, `unchanged`, `notPresent`, …).
    pub action: Option<String>,
    pub error_code: Option<String>,
    pub message: String,
    /// The warnings' codes (`phoneOnlyMfa`, `smsSignInConflict`, …).
    pub warnings: Vec<String>,
    /// Who holds the number, when a conflict stopped the change.
    pub conflict_owner: Option<String>,
    /// Whether trying again later may succeed (Graph or the endpoint busy or unreachable).
    pub transient: bool,
}

impl RowOutcome {
    /// Whether the operation is settled for good: succeeded, or failed for a reason that
    /// trying again does not change. A later run of the file sends the others again.
    pub fn is_settled(&self) -> bool {
        self.succeeded || !self.transient
    }

    /// Reads the outcome a handler's result states.
    pub fn of_result(result: &Value) -> RowOutcome {
        let text = |value: &Value| value.as_str().map(|text| printable(text, 400));
        let succeeded = crate::report::Status::succeeded(result);
        let error_code = text(&result["error"]["code"]);
        let transient = error_code
            .as_deref()
            .and_then(|code| {
                serde_json::from_value::<ErrorCode>(Value::String(code.to_owned())).ok()
            })
            .is_some_and(ErrorCode::is_transient);
        let message = match text(&result["error"]["message"]) {
            Some(message) => message,
            None => result["log"]
                .as_array()
                .and_then(|lines| lines.iter().rev().find_map(Value::as_str))
                .map(|line| printable(line, 400))
                .unwrap_or_default(),
        };
        let warnings = result["warnings"]
            .as_array()
            .map(|warnings| {
                warnings
                    .iter()
                    .filter_map(|warning| text(&warning["code"]))
                    .collect()
            })
            .unwrap_or_default();
        let owner = &result["conflictOwner"];
        let conflict_owner = text(&owner["userPrincipalName"])
            .or_else(|| text(&owner["displayName"]))
            .or_else(|| text(&owner["id"]));
        RowOutcome {
            succeeded,
            action: text(&result["action"]),
            error_code,
            message,
            warnings,
            conflict_owner,
            transient,
        }
    }

    /// Makes the outcome when no result came, in the transport's or the endpoint's words.
    pub fn unanswered(code: &str, message: &str, transient: bool) -> RowOutcome {
        RowOutcome {
            succeeded: false,
            action: None,
            error_code: Some(code.to_owned()),
            message: printable(&crate::phone::redact_numbers(message), 400),
            warnings: Vec::new(),
            conflict_owner: None,
            transient,
        }
    }

    /// Names the outcome as the report does: the action, or the error code for a failure.
    pub fn label(&self) -> String {
        if self.succeeded {
            self.action
                .clone()
                .unwrap_or_else(|| "succeeded".to_owned())
        } else {
            format!(
                "failed: {}",
                self.error_code.as_deref().unwrap_or("unknown")
            )
        }
    }
}

/// Masks a number as the report shows it.
pub fn masked(number: &str) -> String {
    mask(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_is_read_as_the_handler_words_it() {
        let conflict = RowOutcome::of_result(&json!({
            "status": "failed",
            "action": "none",
            "error": {"code": "protectedUser", "message": "holds a privileged role"},
            "warnings": [{"code": "phoneOnlyMfa", "message": "…"}],
            "conflictOwner": {"id": "x", "userPrincipalName": "megan@contoso.com"},
        }));
        assert!(!conflict.succeeded);
        assert!(conflict.is_settled());
        assert_eq!(
            conflict.conflict_owner.as_deref(),
            Some("megan@contoso.com")
        );
        assert_eq!(conflict.warnings, ["phoneOnlyMfa"]);
        let busy = RowOutcome::of_result(&json!({
            "status": "failed",
            "error": {"code": "graphUnavailable", "message": "503"},
        }));
        assert!(busy.transient && !busy.is_settled(), "{busy:?}");
        let added = RowOutcome::of_result(&json!({
            "status": "succeeded", "action": "added", "log": ["a", "Added the mobile phone +49 ********67"],
        }));
        assert_eq!(added.label(), "added");
        assert!(added.message.starts_with("Added"));
    }
}
