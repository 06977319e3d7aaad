//! The command line, defined once with clap: every subcommand, its options, their defaults and
//! the environment variables they fall back to. `--help`, the shell completions and the parser
//! are generated from this one definition, so they cannot disagree. Each subcommand's own
//! module turns its arguments into what it runs; `main` only dispatches. The command line is
//! on top: it names every command's module and no module names it (what the tools share, the
//! progress display and the API's credentials, lives below them in `progress` and
//! `api_credentials`).
//!
//! With no subcommand the binary serves as the custom handler: that is how the Functions host
//! starts it (host.json's `defaultExecutablePath`, with `arguments: ["serve"]`).

pub mod readiness;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// What every command's help says about the exit status of a command that only reports.
const EXIT_PLAIN: &str = "\
Exit status:
  0  done
  2  the options are wrong (nothing was done)";

/// Set, update or remove users' phone MFA methods in Microsoft Entra ID through Microsoft
/// Graph, as an Azure Functions custom handler; and the tools around it.
#[derive(Debug, Parser)]
#[command(
    name = "mfa-phone-handler",
    version,
    propagate_version = true,
    after_help = "\
With no command it serves as the Azure Functions custom handler, as the Functions host starts
it. Settings are app settings (environment variables): README.md, Configuration.

Exit status (each command's --help gives its own):
  0  done
  1  the work failed, or found what it checks for (bulk: a change failed; preflight: a check
     failed)
  2  the options are wrong, or the work could not be started (nothing was done)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as the Azure Functions custom handler (the default; what the Functions host starts)
    #[command(after_help = "\
Reads its settings from the environment (README.md, Configuration); listens on
FUNCTIONS_CUSTOMHANDLER_PORT. Stops on SIGTERM or Ctrl-C after the invocations in flight.

Exit status:
  0  stopped when asked
  1  the settings are wrong, or the server failed
  2  the options are wrong")]
    Serve,
    /// Set or remove the phones a CSV lists, through the HTTP trigger or the request queue
    Bulk(Box<crate::bulk::options::BulkArgs>),
    /// Run the handler against a simulated Graph tenant, behind a miniature Functions host
    // The release build has no simulator: the commands that need it are not offered there.
    #[cfg_attr(not(feature = "simulator"), command(hide = true))]
    Demo(DemoArgs),
    /// Run only the simulated Graph and print the settings a handler needs to use it
    #[cfg_attr(not(feature = "simulator"), command(hide = true))]
    Simulate(SimulateArgs),
    /// Print the API's OpenAPI 2.0 definition (or the Power Platform custom connector's)
    Openapi(OpenapiArgs),
    /// Check, before the first `azd up`, that the azd environment, your tools and your rights
    /// can deploy (changes nothing)
    Preflight(crate::preflight::PreflightArgs),
    /// After a deployment: check that the deployed app answers as it should (writes nothing)
    Smoke(Box<crate::smoke::SmokeArgs>),
    /// Who Microsoft's SMS and voice retirement blocks, from when, and which phones can go
    /// (reads only)
    Readiness(readiness::ReadinessArgs),
    /// Print a completion script for a shell
    #[command(after_help = "\
Install (PowerShell): let your profile load it, so it follows upgrades
  if (-not (Test-Path $PROFILE)) { New-Item -ItemType File -Force -Path $PROFILE | Out-Null }
  Add-Content $PROFILE 'mfa-phone-handler completions powershell | Out-String | Invoke-Expression'
  . $PROFILE
Install (bash):
  mfa-phone-handler completions bash > ~/.local/share/bash-completion/completions/mfa-phone-handler
Install (zsh): write it as _mfa-phone-handler into a directory of your $fpath
Install (fish):
  mfa-phone-handler completions fish > ~/.config/fish/completions/mfa-phone-handler.fish

Exit status:
  0  printed
  2  the options are wrong")]
    Completions(CompletionsArgs),
}

/// `demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
Stops on Ctrl-C or SIGTERM; the handler and the storage emulator it started end with it,
however it ends. With Azurite installed (scripts/test puts it under target/tools/azurite, or
MFA_AZURITE names its azurite.js) the demo's queue is a real storage queue; without it the
queue is simulated in memory and the demo says how to get Azurite.

Exit status:
  0  stopped when asked
  1  it could not start, or the handler it started exited
  2  the options are wrong")]
pub struct DemoArgs {
    /// The port the miniature Functions host listens on (127.0.0.1)
    #[arg(long, value_name = "N", default_value_t = 7071)]
    pub port: u16,
}

/// `simulate`.
#[derive(Debug, Args)]
#[command(after_help = "\
For `func start` with local.settings.json, or for the package check, which starts the
deployable binary against it. Stops on Ctrl-C or SIGTERM.

Exit status:
  0  stopped when asked
  1  it could not start
  2  the options are wrong")]
pub struct SimulateArgs {
    /// The port the simulated Graph listens on (127.0.0.1; 0: any free port)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
}

/// `openapi`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_PLAIN)]
pub struct OpenapiArgs {
    /// Print the custom connector's variant (connector/apiDefinition.swagger.json)
    #[arg(long)]
    pub connector: bool,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell the script is for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Cli {
    /// Makes the one JSON object a command asked for `--json` prints when its options are
    /// refused, in the shape that command's summary has (bulk's counts at zero; elsewhere
    /// `{command, exitStatus: 2, stopped}`); `None` for help, `--version`, or without `--json`.
    /// Whether `--json` was asked for is clap's own reading of the arguments, errors set aside.
    pub fn json_refusal(
        arguments: impl IntoIterator<Item = std::ffi::OsString>,
        error: &clap::Error,
    ) -> Option<String> {
        if !error.use_stderr() {
            return None;
        }
        let arguments: Vec<std::ffi::OsString> = arguments.into_iter().collect();
        let matches = Cli::command()
            .ignore_errors(true)
            .try_get_matches_from(&arguments)
            .ok()?;
        let (command, found) = matches.subcommand()?;
        // clap's reading stops at the refused argument: a `--json` after it is still asked for.
        let takes_json = found.try_get_one::<bool>("json").is_ok();
        let asked = found
            .try_get_one::<bool>("json")
            .ok()
            .flatten()
            .copied()
            .unwrap_or_default()
            || arguments
                .iter()
                .skip(2)
                .any(|argument| argument == "--json");
        if !takes_json || !asked {
            return None;
        }
        Some(refused_summary(command, found, first_paragraph(error)))
    }

    /// Prints the completion script for `shell` to stdout.
    /// A reader that stops early (`| head`) is no error: the script is written whole or as far
    /// as it is read, never with a panic.
    ///
    /// # Errors
    ///
    /// Writing to stdout failed other than by a closed pipe.
    pub fn print_completions(shell: clap_complete::Shell) -> std::io::Result<()> {
        use std::io::Write;
        let mut command = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "mfa-phone-handler", &mut script);
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(&script).and_then(|()| stdout.flush()) {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error),
            _ => Ok(()),
        }
    }
}

/// Shortens clap's message to its first paragraph on one line (the usage and the hint left
/// out).
fn first_paragraph(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let paragraph = rendered
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    paragraph.trim_start_matches("error: ").to_owned()
}

/// Makes the summary `command` prints with `--json` when its options were refused for
/// `stopped`, with what clap could read of them (`found`).
fn refused_summary(command: &str, found: &clap::ArgMatches, stopped: String) -> String {
    let path = |name: &str| {
        found
            .try_get_one::<std::path::PathBuf>(name)
            .ok()
            .flatten()
            .cloned()
            .unwrap_or_default()
    };
    match command {
        "bulk" => {
            let mut summary =
                crate::bulk::summary::RunSummary::refused(path("file"), Some(stopped));
            summary.dry_run = found
                .try_get_one::<bool>("dry_run")
                .ok()
                .flatten()
                .copied()
                .unwrap_or_default();
            serde_json::to_string(&summary).unwrap_or_else(|_| "{}".to_owned())
        }
        "readiness" => {
            let out = path("out");
            // A refused --endpoint value leaves no match behind: the words say it too.
            let mode = if found.contains_id("endpoint") || stopped.contains("--endpoint") {
                crate::readiness::command_summary::Mode::Download
            } else {
                crate::readiness::command_summary::Mode::Scan
            };
            crate::readiness::command_summary::CommandSummary::stopped(mode, &out, Some(stopped))
                .to_line()
        }
        _ => serde_json::json!({
            "command": command,
            "exitStatus": 2,
            "stopped": stopped,
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_and_the_hosts_arguments_serve() {
        assert!(
            Cli::try_parse_from(["mfa-phone-handler"])
                .expect("no arguments")
                .command
                .is_none()
        );
        assert!(matches!(
            Cli::try_parse_from(["mfa-phone-handler", "serve"])
                .expect("host.json's arguments")
                .command,
            Some(Command::Serve)
        ));
    }

    #[test]
    fn a_mistyped_option_is_an_error_with_a_suggestion() {
        let error = Cli::try_parse_from(["mfa-phone-handler", "demo", "--prot", "1"])
            .expect_err("a mistyped option");
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(error.to_string().contains("--port"), "{error}");
    }
}
