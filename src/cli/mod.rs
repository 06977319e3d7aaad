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
    after_help = "With no command it serves as the Azure Functions custom handler, as the \
                  Functions host starts it. Settings are app settings (environment variables): \
                  README.md, Configuration."
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
  1  the settings are wrong, or the server failed")]
    Serve,
    /// Set or remove the phones a CSV lists, through the HTTP trigger or the request queue
    Bulk(Box<crate::bulk::options::BulkArgs>),
    /// Run the handler against a simulated Graph tenant, behind a miniature Functions host
    Demo(DemoArgs),
    /// Run only the simulated Graph and print the settings a handler needs to use it
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
Install (PowerShell): add the script to your profile
  mfa-phone-handler completions powershell | Out-File -Append -Encoding utf8 $PROFILE
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
however it ends.

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
    /// The one JSON object a command asked for `--json` prints when its options are refused
    /// (`{command, exitStatus: 2, stopped}`); `None` for help, `--version`, or without `--json`.
    pub fn json_refusal(
        arguments: impl Iterator<Item = String>,
        error: &clap::Error,
    ) -> Option<String> {
        if !error.use_stderr() {
            return None;
        }
        let arguments: Vec<String> = arguments.collect();
        let command = arguments.first()?;
        let takes_json = Cli::command()
            .find_subcommand(command)
            .is_some_and(|found| {
                found
                    .get_arguments()
                    .any(|argument| argument.get_id() == "json")
            });
        if !takes_json || !arguments.iter().any(|argument| argument == "--json") {
            return None;
        }
        // clap's message, its first paragraph on one line (the usage and the hint left out).
        let rendered = error.to_string();
        let stopped = rendered
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let stopped = stopped.trim_start_matches("error: ").to_owned();
        Some(
            serde_json::json!({
                "command": command,
                "exitStatus": 2,
                "stopped": stopped,
            })
            .to_string(),
        )
    }

    /// Prints the completion script for `shell` to stdout.
    pub fn print_completions(shell: clap_complete::Shell) {
        let mut command = Cli::command();
        clap_complete::generate(
            shell,
            &mut command,
            "mfa-phone-handler",
            &mut std::io::stdout(),
        );
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
