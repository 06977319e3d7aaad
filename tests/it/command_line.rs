//! Checks the command line as admins and scripts use it: generated help that states each command's
//! exit statuses, defaults and environment variables; suggestions for a mistyped option, an
//! error before anything is read or sent; completion scripts; `--version`.

use std::process::Stdio;
use std::time::Duration;

/// Runs the handler binary with `arguments` (no environment but PATH), and returns its exit
/// status, stdout and stderr.
async fn run(arguments: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        crate::helpers::handler_command()
            .args(arguments)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the command ends")
    .expect("the command runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bulk_help_lists_every_option_its_default_its_environment_variable_and_the_exit_statuses() {
    let (status, help, _) = run(&["bulk", "--help"]).await;
    assert_eq!(status, 0);
    for expected in [
        "--endpoint",
        "--queue",
        "--function-key",
        "[env: MFA_FUNCTION_KEY",
        "--write-limit",
        "3000/150]",
        "--result-wait",
        "[default: 900]",
        "--json",
        "Exit status:",
        "0  every change succeeded",
        "2  the file or the options are wrong",
    ] {
        assert!(help.contains(expected), "{expected} in: {help}");
    }
}

#[tokio::test]
async fn a_mistyped_option_is_refused_with_a_suggestion_before_anything_is_read() {
    let directory = std::env::temp_dir().join(format!("mfa-cli-{}", uuid::Uuid::new_v4()));
    let (status, stdout, stderr) = run(&[
        "bulk",
        "no-such-file.csv",
        "--endpoint",
        "http://127.0.0.1:9/api/SetOrRemoveMobilePhoneMfa",
        "--dryrun",
        "--out",
        &directory.display().to_string(),
    ])
    .await;
    assert_eq!(status, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("--dry-run"), "a suggestion: {stderr}");
    assert!(
        !stderr.contains("no-such-file.csv cannot be opened"),
        "nothing was read: {stderr}"
    );
    assert!(!directory.exists(), "nothing was written");
}

#[tokio::test]
async fn a_secret_from_the_environment_is_never_shown_in_help() {
    let output = crate::helpers::handler_command()
        .args(["bulk", "--help"])
        .env("MFA_FUNCTION_KEY", "s3cret-function-key")
        .output()
        .await
        .expect("the command runs");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("MFA_FUNCTION_KEY"), "{help}");
    assert!(!help.contains("s3cret-function-key"), "{help}");
}

#[tokio::test]
async fn every_command_states_its_exit_statuses() {
    use clap::CommandFactory;
    let cli = mfa_phone_handler::cli::Cli::command();
    let mut commands: Vec<&str> = cli.get_subcommands().map(clap::Command::get_name).collect();
    assert!(commands.len() >= 9, "{commands:?}");
    commands.push("");
    for command in commands {
        let arguments: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|argument| !argument.is_empty())
            .collect();
        let (status, help, _) = run(&arguments).await;
        assert_eq!(status, 0, "{command}");
        assert!(help.contains("Exit status"), "{command}: {help}");
        assert!(help.contains("2  "), "{command} says what 2 means: {help}");
    }
}

#[tokio::test]
async fn a_completion_script_read_only_in_part_is_no_error() {
    // The reader is gone before the command starts, as `| head -0` may be.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let child = crate::helpers::handler_command()
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the command ends")
        .expect("its output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn completions_are_printed_for_powershell_and_bash() {
    let (status, script, _) = run(&["completions", "powershell"]).await;
    assert_eq!(status, 0);
    assert!(script.contains("Register-ArgumentCompleter"), "{script}");
    assert!(
        script.contains("--skip-bad-rows"),
        "bulk's options: {script}"
    );
    let (status, script, _) = run(&["completions", "bash"]).await;
    assert_eq!(status, 0);
    assert!(script.contains("complete -F"), "{script}");
    let (status, _, stderr) = run(&["completions", "cmd"]).await;
    assert_eq!(status, 2, "{stderr}");
}

#[tokio::test]
async fn version_names_the_package_version() {
    let (status, version, _) = run(&["--version"]).await;
    assert_eq!(status, 0);
    assert_eq!(
        version.trim(),
        format!("mfa-phone-handler {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn with_json_wrong_options_still_answer_with_one_json_object() {
    let (status, stdout, stderr) = run(&["bulk", "users.csv", "--json"]).await;
    assert_eq!(status, 2);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["exitStatus"], 2);
    assert_eq!(summary["command"], "bulk");
    assert_eq!(summary["file"], "users.csv");
    assert_eq!(summary["dryRun"], false);
    for field in ["rows", "changes", "succeeded", "failed", "notSent"] {
        assert_eq!(
            summary[field], 0,
            "the same fields as a run's summary, nothing counted: {summary}"
        );
    }
    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|why| why.contains("--endpoint")),
        "{summary}"
    );
    assert!(
        stderr.contains("--endpoint"),
        "clap's words on stderr too: {stderr}"
    );
}

#[tokio::test]
async fn readiness_with_json_answers_wrong_options_in_its_summarys_shape() {
    let (status, stdout, _) = run(&["readiness", "--out", "scan", "--json", "--per-usr"]).await;
    assert_eq!(status, 2);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["command"], "readiness");
    assert_eq!(summary["exitStatus"], 2);
    assert_eq!(summary["finished"], false);
    assert_eq!(summary["out"], "scan");
    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|why| why.contains("--per-usr")),
        "{summary}"
    );
}

#[tokio::test]
async fn refused_options_keep_what_was_asked_for_in_the_summary() {
    let (status, stdout, _) = run(&["bulk", "users.csv", "--dry-run", "--json"]).await;
    assert_eq!(status, 2);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["dryRun"], true, "{summary}");
    let (status, stdout, _) = run(&[
        "readiness",
        "--out",
        "scan",
        "--endpoint",
        "ftp://example.com",
        "--json",
    ])
    .await;
    assert_eq!(status, 2);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["mode"], "download", "{summary}");
}
