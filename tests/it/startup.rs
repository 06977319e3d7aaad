//! Checks starting and stopping the handler process as the Functions host does.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use mfa_phone_handler::simulator::SimOptions;
use serde_json::json;

use crate::helpers::{Results, TestApp, start_handler};

async fn run_to_exit(environment: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        crate::helpers::handler_command()
            .env_clear()
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the handler exits instead of hanging")
    .expect("the handler runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn with_no_credential_configured_it_exits_at_once_with_a_clear_error() {
    let (success, output) = run_to_exit(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "0")]).await;

    assert!(!success);
    assert!(output.contains("no credential is configured"), "{output}");
    assert!(output.contains("IDENTITY_ENDPOINT"), "{output}");
}

#[tokio::test]
async fn every_configuration_problem_is_named_before_it_serves() {
    let (success, output) = run_to_exit(&[
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token"),
        ("IDENTITY_HEADER", "x"),
        ("GRAPH_ENDPOINT", "http://graph.example.com"),
        ("MFA_GRAPH_MAX_ATTEMPTS", "0"),
    ])
    .await;

    assert!(!success);
    for expected in [
        "FUNCTIONS_CUSTOMHANDLER_PORT is not set",
        "GRAPH_ENDPOINT must use https",
        "MFA_GRAPH_MAX_ATTEMPTS must be",
    ] {
        assert!(
            output.contains(expected),
            "{expected} missing from {output}"
        );
    }
}

#[tokio::test]
async fn sigterm_stops_it_gracefully() {
    let app = TestApp::spawn().await;
    let mut command = crate::helpers::handler_command();
    command
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
        .envs(app.sim.handler_environment());
    let (mut child, handler, output) = start_handler(command).await;
    let ready = app.client.get(format!("{handler}/")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("it stops")
        .unwrap();

    assert!(status.success(), "{status:?}");
    let lines = output.text();
    assert!(lines.contains("stopped"), "{lines}");
}

#[tokio::test]
async fn a_handler_whose_token_lacks_its_grants_names_them_at_start_up() {
    let app = TestApp::builder()
        .grant(&["User.Read.All", "UserAuthenticationMethod.Read.All"])
        .spawn()
        .await;

    app.wait_for_output(|text| text.contains("the Graph token lacks"))
        .await;

    let output = app.output();
    let line = output
        .lines()
        .find(|line| line.contains("the Graph token lacks"))
        .expect("the line");
    assert!(
        line.contains("UserAuthMethod-Phone.ReadWrite.All"),
        "{line}"
    );
    assert!(line.contains("RoleManagement.Read.Directory"), "{line}");
    assert!(!line.contains("User.Read.All ("), "granted: {line}");
    assert!(line.contains("a restart does not help"), "{line}");
}

#[tokio::test]
async fn broader_method_rights_left_from_an_older_deployment_are_named_in_every_result() {
    let mut roles = SimOptions::default().granted_roles;
    roles.insert("UserAuthenticationMethod.ReadWrite.All".to_owned());
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let app = TestApp::builder().grant(&roles).spawn().await;
    app.wait_for_output(|text| text.contains("broader than this app needs"))
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app.call(json!({"UserId": user, "operation": "show"})).await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert!(
        answer
            .report
            .warning_codes()
            .contains(&"excessGraphPermissions".to_owned()),
        "{}",
        answer.report
    );
    assert!(
        answer
            .report
            .warning_message("excessGraphPermissions")
            .contains("UserAuthenticationMethod.ReadWrite.All")
    );
    assert!(
        !app.output().contains("the Graph token lacks"),
        "nothing the settings need is missing"
    );
}
