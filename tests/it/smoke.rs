//! Runs `mfa-phone-handler smoke` against the miniature host (with the function key the deployed
//! HTTP trigger requires) and the simulator: it passes a deployment that holds, and names the
//! check that does not hold otherwise. It writes nothing to the tenant.

use std::process::Stdio;
use std::time::Duration;

use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;
use serde_json::Value;

use crate::helpers::TestApp;

const GA: &str = "6a5c0b8e-55b2-4c3e-9d0e-3f1a7c2b9d41";
const KEY: &str = "smoke-test-function-key";

/// Starts a tenant with an ordinary user and a Global Administrator, and the
/// handler with `settings`.
async fn deployment(settings: &[(&str, &str)]) -> TestApp {
    let app = TestApp::builder()
        .envs(settings)
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(GA));
                tenant.directory.assign(GA, GLOBAL_ADMINISTRATOR);
            });
        })
        .spawn()
        .await;
    app.add_member("tester@contoso.com");
    app
}

/// Runs `smoke` against `url` with `extra` options, and returns its exit status and its stdout.
async fn smoke(url: &str, extra: &[&str]) -> (i32, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        crate::helpers::handler_command()
            .args([
                "smoke",
                "--endpoint",
                &format!("{url}/api/SetOrRemoveMobilePhoneMfa"),
                "--test-user",
                "tester@contoso.com",
                "--privileged-user",
                "ga@contoso.com",
            ])
            .args(extra)
            .env_remove("MFA_FUNCTION_KEY")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("smoke ends")
    .expect("smoke runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn a_deployment_that_holds_passes_every_check_through_http_and_the_queue_and_nothing_is_written()
 {
    let azurite = crate::helpers::azurite().await;
    let storage = crate::helpers::storage_of(&azurite);
    let app = deployment(&[]).await;
    let host = FunctionsHost::start(
        &app.handler,
        HostOptions::default()
            .with_storage(storage.clone())
            .with_function_key(KEY),
    )
    .await
    .expect("the host starts");
    let queue = format!(
        "{}/mfa-phone-requests",
        storage
            .settings()
            .queue
            .as_ref()
            .expect("a queue endpoint")
            .as_str()
            .trim_end_matches('/')
    );

    let (status, printed) = smoke(
        &host.url(),
        &["--function-key", KEY, "--queue", &queue, "--json"],
    )
    .await;

    let summary: Value = serde_json::from_str(&printed).expect("one JSON object");
    assert_eq!(status, 0, "{summary:#}");
    let checks = summary["checks"].as_array().expect("the checks");
    assert_eq!(checks.len(), 5, "{summary:#}");
    assert!(
        checks.iter().all(|check| check["held"] == true),
        "{summary:#}"
    );
    assert!(app.writes().is_empty(), "a smoke test writes nothing");
}

#[tokio::test]
async fn a_deployment_that_would_change_a_privileged_account_fails_that_check() {
    let app = deployment(&[("MFA_ALLOW_PRIVILEGED_TARGETS", "true")]).await;
    let host = FunctionsHost::start(&app.handler, HostOptions::default().with_function_key(KEY))
        .await
        .expect("the host starts");

    let (status, printed) = smoke(&host.url(), &["--function-key", KEY]).await;

    assert_eq!(status, 1, "{printed}");
    let failed: Vec<&str> = printed
        .lines()
        .filter(|line| line.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "{printed}");
    assert!(
        failed[0].contains("the privileged account is refused"),
        "{printed}"
    );
    assert_eq!(
        printed
            .lines()
            .filter(|line| line.starts_with("ok"))
            .count(),
        3
    );
    assert!(app.writes().is_empty(), "a dry run writes nothing");
}

#[tokio::test]
async fn an_http_trigger_anyone_can_call_fails_the_first_check() {
    let app = deployment(&[]).await;
    // No function key is required, and no Entra authentication stands in front.
    let host = FunctionsHost::start(&app.handler, HostOptions::default())
        .await
        .expect("the host starts");

    let (status, printed) = smoke(&host.url(), &[]).await;

    assert_eq!(status, 1, "{printed}");
    assert!(
        printed
            .lines()
            .any(|line| line.starts_with("FAIL a call without key or token is refused")),
        "{printed}"
    );
}

#[tokio::test]
async fn an_endpoint_that_cannot_be_reached_is_exit_status_2() {
    let (status, printed) = smoke("http://127.0.0.1:9", &["--function-key", KEY]).await;
    assert_eq!(status, 2, "{printed}");
}
