//! Makes what `readiness --json` prints: one object on stdout for a pipeline or PowerShell's
//! `ConvertFrom-Json`, in the same shape however the command ends: `command`, `exitStatus`,
//! `finished`, `mode` (a scan here, or a download of the Function App's latest), the files
//! written, why it stopped, and the scan's totals (`readiness.json`'s fields at the top level;
//! absent when no scan was made or read). It is a contract: fields are added, never renamed.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::readiness::summary::Summary;

/// The command's summary.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSummary {
    pub command: &'static str,
    pub exit_status: u8,
    pub finished: bool,
    /// `scan` or `download`.
    pub mode: &'static str,
    pub out: PathBuf,
    /// The files written, in the order written.
    pub files: Vec<PathBuf>,
    pub stopped: Option<String>,
    /// The scan's totals (the fields of `readiness.json`).
    #[serde(flatten)]
    pub totals: Map<String, Value>,
}

/// The fields the command writes itself, as they appear in the JSON.
const OWN_FIELDS: [&str; 7] = [
    "command",
    "exitStatus",
    "finished",
    "mode",
    "out",
    "files",
    "stopped",
];

/// Whether the command scanned or downloaded.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Scan,
    Download,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Scan => "scan",
            Mode::Download => "download",
        }
    }
}

impl CommandSummary {
    /// Sums up a command that ended with `files` written and the totals of `readiness.json`. A
    /// downloaded one may name anything, so the command's own fields are never taken from it.
    pub fn finished(mode: Mode, out: &Path, files: Vec<PathBuf>, totals: Value) -> CommandSummary {
        let mut totals = match totals {
            Value::Object(totals) => totals,
            _ => Map::new(),
        };
        totals.retain(|name, _| !OWN_FIELDS.contains(&name.as_str()));
        CommandSummary {
            files,
            finished: true,
            exit_status: 0,
            totals,
            ..CommandSummary::stopped(mode, out, None)
        }
    }

    /// Sums up a scan that finished with `summary`.
    pub fn scanned(out: &Path, files: Vec<PathBuf>, summary: &Summary) -> CommandSummary {
        let totals = serde_json::to_value(summary).unwrap_or(Value::Null);
        CommandSummary::finished(Mode::Scan, out, files, totals)
    }

    /// Sums up a command that could not be made (exit 2), and why (`None` when it was not
    /// said).
    pub fn stopped(mode: Mode, out: &Path, cause: Option<String>) -> CommandSummary {
        CommandSummary {
            command: "readiness",
            exit_status: 2,
            finished: false,
            mode: mode.name(),
            out: out.to_path_buf(),
            files: Vec::new(),
            stopped: cause,
            totals: Map::new(),
        }
    }

    /// Writes the object as one line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_has_the_same_fields_and_the_totals_only_when_there_are_some() {
        let out = Path::new("scan");
        let summary = Summary {
            users: 3,
            ..Summary::default()
        };
        let scanned: Value = serde_json::from_str(
            &CommandSummary::scanned(out, vec![out.join("readiness.csv")], &summary).to_line(),
        )
        .expect("JSON");
        let stopped: Value = serde_json::from_str(
            &CommandSummary::stopped(Mode::Download, out, Some("no licence".to_owned())).to_line(),
        )
        .expect("JSON");
        for field in [
            "command",
            "exitStatus",
            "finished",
            "mode",
            "out",
            "files",
            "stopped",
        ] {
            assert!(scanned.get(field).is_some(), "{field}: {scanned}");
            assert!(stopped.get(field).is_some(), "{field}: {stopped}");
        }
        assert_eq!(scanned["exitStatus"], 0);
        assert_eq!(scanned["users"], 3, "the totals at the top level");
        assert_eq!(scanned["files"][0], "scan/readiness.csv");
        assert_eq!(stopped["exitStatus"], 2);
        assert_eq!(stopped["mode"], "download");
        assert_eq!(stopped["stopped"], "no licence");
        assert!(stopped.get("users").is_none(), "no totals when nothing ran");
        let planted = serde_json::json!({"users": 5, "exitStatus": 0, "files": ["x"]});
        let line = CommandSummary::finished(Mode::Download, out, Vec::new(), planted).to_line();
        assert_eq!(
            line.matches("\"exitStatus\"").count(),
            1,
            "one exitStatus: {line}"
        );
        let downloaded: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(downloaded["users"], 5);
        assert_eq!(downloaded["files"], serde_json::json!([]), "{line}");
    }
}
