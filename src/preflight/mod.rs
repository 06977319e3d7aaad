//! `mfa-phone-handler preflight` checks, before the first `azd up`, whether this azd
//! environment, these tools and this admin can deploy, as DEPLOY.md's "What preflight checks"
//! lists it.
//! [`facts`] gathers what the admin's own `azd` and `az` say, [`checks`] judges it (pure),
//! and [`main`] prints one line per check (or one JSON object) and returns the exit status:
//! 0 when nothing failed, 1 when something failed, 2 when nothing failed but something could
//! not be checked.
//!
//! It changes nothing: no `azd env set`, no Azure or Entra write (see [`facts`]). It never
//! prints a token, nor a value of the azd environment other than the ids, region and paths a
//! check is about.

mod checks;
mod facts;
mod runner;
mod settings;
mod versions;

use std::time::Duration;

use clap::Args;

use self::checks::{Check, Verdict};
use self::facts::Environment;
use self::runner::Runner;

/// `preflight`.
#[derive(Debug, Args)]
#[command(after_help = "\
Run it from the repository root. It asks azd, az, Azure and Microsoft Entra (through your own
az and azd sign-ins) and changes nothing. One line per check: ok, FAIL (with a fix: line),
warn, skip, or ???? (could not be checked, and why). DEPLOY.md, What preflight checks, lists
every check.

Exit status:
  0  nothing failed: ready for azd up
  1  a check failed: fix it first
  2  nothing failed, but a check could not be made (no az, no sign-in, no network, an answer
     it did not understand); or the options are wrong")]
pub struct PreflightArgs {
    /// The azd environment to check (default: azd's selected environment)
    #[arg(long, short = 'e', value_name = "NAME")]
    pub(crate) environment: Option<String>,
    /// Print one JSON object (every check, the exit status) on stdout instead of the lines
    #[arg(long)]
    pub(crate) json: bool,
    /// How long one az or azd command may take, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          env = "MFA_PREFLIGHT_COMMAND_TIMEOUT_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) command_timeout: u64,
}

/// What the command line asks for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The azd environment (`--environment`); azd's default one when `None`.
    pub(crate) environment: Option<String>,
    /// Whether to print one JSON object on stdout instead of the lines.
    pub(crate) json: bool,
    /// How long one command may take.
    pub(crate) command_timeout: Duration,
}

impl From<PreflightArgs> for Options {
    fn from(arguments: PreflightArgs) -> Options {
        Options {
            environment: arguments.environment,
            json: arguments.json,
            command_timeout: Duration::from_secs(arguments.command_timeout),
        }
    }
}

/// Runs preflight and returns the exit status.
pub fn main(options: &Options) -> u8 {
    let runner = Runner::new(options.command_timeout);
    let facts = facts::gather(&runner, options.environment.as_deref());
    let checks = checks::check(&facts);
    let status = checks::exit_status(&checks);
    let environment = match &facts.environment {
        Ok(Environment::Selected { name, .. }) => Some(name.as_str()),
        _ => None,
    };
    if options.json {
        println!("{}", json(&checks, status, environment));
    } else {
        print!("{}", lines(&checks, status, environment));
    }
    status
}

/// The checks as `--json` prints them: a contract, fields are added, never renamed.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    command: &'static str,
    exit_status: u8,
    /// The azd environment checked, when there was one.
    environment: Option<&'a str>,
    checks: &'a [Check],
}

fn json(checks: &[Check], status: u8, environment: Option<&str>) -> String {
    let summary = Summary {
        command: "preflight",
        exit_status: status,
        environment,
        checks,
    };
    serde_json::to_string_pretty(&summary)
        .unwrap_or_else(|error| format!("{{\"command\":\"preflight\",\"error\":\"{error}\"}}"))
}

/// Prints one line per check (`ok`, `FAIL` with a `fix:` line, `warn`, `skip`, `????`), then a
/// line that sums them up.
fn lines(checks: &[Check], status: u8, environment: Option<&str>) -> String {
    let width = checks
        .iter()
        .map(|check| check.name.chars().count())
        .max()
        .unwrap_or_default();
    let mut text = String::new();
    if let Some(environment) = environment {
        text.push_str(&format!("preflight of the azd environment {environment}\n"));
    }
    for check in checks {
        let name = format!("{}:", check.name);
        text.push_str(&format!(
            "{:<4}  {name:<width$}  {}\n",
            check.verdict.word(),
            check.message,
            width = width + 1
        ));
        if let Some(fix) = &check.fix {
            text.push_str(&format!("      fix: {fix}\n"));
        }
    }
    let count = |verdict| {
        checks
            .iter()
            .filter(|check| check.verdict == verdict)
            .count()
    };
    let what = match status {
        0 => "ready for azd up",
        1 => "fix the FAIL lines, then run preflight again",
        _ => "nothing failed, but the ???? lines could not be checked",
    };
    text.push_str(&format!(
        "{} ok, {} FAIL, {} warn, {} skip, {} ????: {what}\n",
        count(Verdict::Ok),
        count(Verdict::Fail),
        count(Verdict::Warn),
        count(Verdict::Skip),
        count(Verdict::Unknown),
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_has_its_fix_on_the_next_line_and_the_last_line_sums_up() {
        let checks = [
            Check::ok("azd version", "azd 1.23.4"),
            Check::fail(
                "writers",
                "MFA_API_WRITER_PRINCIPAL_IDS is empty",
                "azd env set X",
            ),
            Check::unknown("region", "az is not signed in"),
        ];
        let text = lines(&checks, 1, Some("mfa-prod"));
        assert_eq!(
            text,
            "preflight of the azd environment mfa-prod\n\
             ok    azd version:  azd 1.23.4\n\
             FAIL  writers:      MFA_API_WRITER_PRINCIPAL_IDS is empty\n      \
             fix: azd env set X\n\
             ????  region:       az is not signed in\n\
             1 ok, 1 FAIL, 0 warn, 0 skip, 1 ????: fix the FAIL lines, then run preflight again\n"
        );
    }

    #[test]
    fn the_json_names_every_check_and_the_exit_status() {
        let checks = [Check::warn(
            "cloud",
            "AzureUSGovernment",
            "DEPLOY.md, National clouds",
        )];
        let value: serde_json::Value = serde_json::from_str(&json(&checks, 0, None)).expect("JSON");
        assert_eq!(value["command"], "preflight");
        assert_eq!(value["exitStatus"], 0);
        assert_eq!(value["checks"][0]["verdict"], "warn");
        assert_eq!(value["checks"][0]["fix"], "DEPLOY.md, National clouds");
    }
}
