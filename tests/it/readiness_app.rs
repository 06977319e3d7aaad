//! Runs the readiness scan in the Function App: the real handler behind the miniature host, Azurite
//! as the app's storage account, the readiness tenant in the simulator. The timer keeps the
//! latest scan and a folder per scan (deleting expired ones), and the dashboard draws the trend
//! of the kept scans; readers get the files over HTTP, others are refused; a writer's POST is
//! answered 202 and the queue function runs the scan. Nothing is written to Graph.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::readiness::{ReadinessTenant, readiness_tenant};
use mfa_phone_handler::storage::scans::ScanStore;
use serde_json::{Value, json};

use crate::helpers::{TestApp, azurite, connection_string, storage_of, within};
use crate::readiness::KEY;

const READER: &str = "cccccccc-3333-4333-8333-333333333333";
const WRITER: &str = "dddddddd-4444-4444-8444-444444444444";
const NOBODY: &str = "eeeeeeee-5555-4555-8555-555555555555";
/// A scan folder far older than any retention period.
const EXPIRED: &str = "2020-01-01T000000Z";

/// Builds App Service authentication's principal header for `oid` holding `roles`.
fn principal(oid: &str, roles: &[&str]) -> String {
    let mut claims = vec![json!({
        "typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": oid
    })];
    claims.extend(
        roles
            .iter()
            .map(|role| json!({"typ": "roles", "val": role})),
    );
    let principal = json!({"auth_typ": "aad", "claims": claims});
    base64::engine::general_purpose::STANDARD.encode(principal.to_string())
}

/// Starts the handler with the readiness tenant and Azurite and the host in front, and returns
/// them with the scans' store and the tenant.
async fn deployment(
    azurite: &mfa_phone_handler::simulator::azurite::Azurite,
) -> (TestApp, FunctionsHost, ScanStore, ReadinessTenant) {
    deployment_with(azurite, HostOptions::default()).await
}

async fn deployment_with(
    azurite: &mfa_phone_handler::simulator::azurite::Azurite,
    options: HostOptions,
) -> (TestApp, FunctionsHost, ScanStore, ReadinessTenant) {
    let storage = storage_of(azurite);
    let ids = Arc::new(Mutex::new(None));
    let kept = ids.clone();
    let app = TestApp::builder()
        .prepare(move |sim| {
            let tenant = sim.tenant(readiness_tenant);
            *kept.lock().expect("the ids") = Some(tenant);
        })
        .envs(&[
            ("AzureWebJobsStorage", connection_string(azurite).as_str()),
            ("MFA_CLEANUP_KEY", KEY),
            ("MFA_READINESS_RETENTION_DAYS", "30"),
        ])
        .spawn()
        .await;
    let host = FunctionsHost::start(
        &app.handler,
        options
            .with_storage(storage.clone())
            .others_polled_every(Duration::from_millis(200)),
    )
    .await
    .expect("the host starts");
    let ids = ids.lock().expect("the ids").take().expect("the tenant");
    (app, host, ScanStore::new(storage), ids)
}

async fn get(app: &TestApp, host: &FunctionsHost, query: &str, who: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/readiness{query}", host.url()))
        .header("X-MS-CLIENT-PRINCIPAL", who)
        .send()
        .await
        .expect("an answer")
}

#[tokio::test]
async fn the_timer_keeps_the_scan_as_latest_and_in_a_dated_folder_and_deletes_an_expired_one() {
    let azurite = azurite().await;
    let (app, host, store, ids) = deployment(&azurite).await;
    store
        .save(
            EXPIRED,
            vec![("readiness.json".to_owned(), Bytes::from_static(b"{}"))],
        )
        .await
        .expect("an old scan is kept");

    let (status, answer) = within(
        "the timer's run",
        host.fire_timer("MfaReadinessTimer", true),
    )
    .await
    .expect("the handler answers");

    assert_eq!(status, 200, "{answer:?}");
    let logs = answer.expect("an envelope")["Logs"].to_string();
    assert!(logs.contains("making up for a missed occurrence"), "{logs}");
    assert!(logs.contains("Readiness scan done"), "{logs}");
    let folders = store.folders().await.expect("listed");
    assert_eq!(folders.len(), 1, "the expired folder is gone: {folders:?}");
    assert_ne!(folders[0], EXPIRED);
    let latest = store
        .latest("readiness.csv")
        .await
        .expect("read")
        .expect("a latest readiness.csv");
    let kept = store
        .file(&folders[0], "readiness.csv")
        .await
        .expect("read")
        .expect("the folder's readiness.csv");
    assert_eq!(latest, kept);
    assert!(String::from_utf8_lossy(&latest).contains(&ids.member_phone_only));
    let summary: Value = serde_json::from_slice(
        &store
            .latest("readiness.json")
            .await
            .expect("read")
            .expect("a latest readiness.json"),
    )
    .expect("JSON");
    assert_eq!(
        summary["scannedAt"].as_str().map(|at| at.replace(':', "")),
        Some(folders[0].clone())
    );
    assert!(store.latest("cleanup.csv").await.expect("read").is_some());
    assert!(app.writes().is_empty(), "nothing written to Graph");
}

/// Reads the `phoneOnly` counts the served dashboard draws, oldest first, with each point's time.
fn trend_points(page: &str) -> Vec<(String, u64)> {
    page.split("<div class=\"point\"")
        .skip(1)
        .map(|column| {
            let attribute = |name: &str| {
                column
                    .split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_default()
                    .to_owned()
            };
            let count = attribute("data-phone-only").parse().expect("a count");
            (attribute("data-scanned-at"), count)
        })
        .collect()
}

/// Two scans with a `phoneOnly` user who registered a passkey between them: the dashboard
/// served after the second draws both, from the kept scans, with their counts.
#[tokio::test]
async fn the_served_dashboard_draws_the_phone_only_trend_of_the_kept_scans() {
    let azurite = azurite().await;
    let (app, host, store, ids) = deployment(&azurite).await;
    let reader = principal(READER, &["MfaPhone.Read"]);
    let phone_only = |summary: &Value| summary["categories"]["phoneOnly"].as_u64();

    within(
        "the first scan",
        host.fire_timer("MfaReadinessTimer", false),
    )
    .await;
    let first: Value = serde_json::from_slice(
        &store
            .latest("readiness.json")
            .await
            .expect("read")
            .expect("the first scan's summary"),
    )
    .expect("JSON");
    let page = get(&app, &host, "?format=html", &reader).await;
    let page = page.text().await.expect("text");
    assert!(page.contains("first scan: no trend yet"), "{page}");
    assert_eq!(trend_points(&page).len(), 1);

    app.sim.tenant(|tenant| {
        tenant.update_user(&ids.member_phone_only, |user| {
            user.other_methods
                .push("fido2AuthenticationMethod".to_owned());
        })
    });
    within(
        "the second scan",
        host.fire_timer("MfaReadinessTimer", false),
    )
    .await;

    let second: Value = serde_json::from_slice(
        &store
            .latest("readiness.json")
            .await
            .expect("read")
            .expect("the second scan's summary"),
    )
    .expect("JSON");
    let before = phone_only(&first).expect("a count");
    assert!(before > 0, "{first}");
    assert_eq!(
        phone_only(&second),
        Some(before - 1),
        "Ada is no longer phoneOnly"
    );
    let served = get(&app, &host, "?format=html", &reader).await;
    assert_eq!(served.status(), 200);
    let page = served.text().await.expect("text");
    let points = trend_points(&page);
    assert_eq!(
        points,
        vec![
            (
                first["scannedAt"].as_str().expect("a time").to_owned(),
                before
            ),
            (
                second["scannedAt"].as_str().expect("a time").to_owned(),
                before - 1
            ),
        ],
        "{page}"
    );
    assert!(page.contains("2 scans from"), "{page}");
    assert!(!page.contains("no trend yet"));
    assert_eq!(
        second["phoneOnlyTrend"].as_array().map(Vec::len),
        Some(2),
        "readiness.json carries the trend too: {second}"
    );
    assert!(app.writes().is_empty(), "nothing written to Graph");
}

#[tokio::test]
async fn readers_get_the_latest_as_csv_or_json_and_callers_without_the_role_are_refused() {
    let azurite = azurite().await;
    let (app, host, store, ids) = deployment(&azurite).await;
    let reader = principal(READER, &["MfaPhone.Read"]);

    let before = get(&app, &host, "?format=csv", &reader).await;
    assert_eq!(before.status(), 404, "no scan yet");
    within(
        "the timer's run",
        host.fire_timer("MfaReadinessTimer", false),
    )
    .await;

    let csv = get(&app, &host, "?format=csv", &reader).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.expect("text");
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(text.contains(&ids.member_phone_only));
    let negotiated = app
        .client
        .get(format!("{}/api/readiness", host.url()))
        .header("X-MS-CLIENT-PRINCIPAL", &reader)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("an answer");
    assert_eq!(negotiated.status(), 200);
    let summary: Value = negotiated.json().await.expect("JSON");
    assert!(
        summary["users"].as_u64().is_some_and(|users| users > 0),
        "{summary}"
    );
    let page = app
        .client
        .get(format!("{}/api/readiness", host.url()))
        .header("X-MS-CLIENT-PRINCIPAL", &reader)
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 200, "a browser gets the dashboard");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .is_ok_and(|policy| policy.starts_with("default-src 'none'"))
    );
    assert!(page.text().await.expect("text").contains("<html"));
    let cleanup = get(&app, &host, "?format=cleanup", &reader).await;
    assert_eq!(cleanup.status(), 200);
    let folder = store.folders().await.expect("listed").remove(0);
    let kept = get(
        &app,
        &host,
        &format!("?folder={folder}&format=json"),
        &reader,
    )
    .await;
    assert_eq!(kept.status(), 200);

    let nobody = get(&app, &host, "?format=csv", &principal(NOBODY, &[])).await;
    assert_eq!(nobody.status(), 403);
    let body = nobody.text().await.expect("text");
    assert!(!body.contains(&ids.member_phone_only), "{body}");
    let escape = get(&app, &host, "?folder=../latest&format=csv", &reader).await;
    assert_eq!(escape.status(), 400);
    let reader_posts = app
        .client
        .post(format!("{}/api/readiness", host.url()))
        .header("X-MS-CLIENT-PRINCIPAL", &reader)
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        reader_posts.status(),
        403,
        "starting a scan needs ReadWrite"
    );
    assert!(app.writes().is_empty(), "nothing written to Graph");
}

#[tokio::test]
async fn a_writers_post_is_answered_202_and_the_queued_scan_runs_and_is_then_served() {
    let azurite = azurite().await;
    let (app, host, store, ids) = deployment(&azurite).await;
    let writer = principal(WRITER, &["MfaPhone.ReadWrite"]);

    let posted = app
        .client
        .post(format!("{}/api/readiness", host.url()))
        .header("X-MS-CLIENT-PRINCIPAL", &writer)
        .send()
        .await
        .expect("an answer");

    assert_eq!(posted.status(), 202);
    let location = posted.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(posted.headers().contains_key("retry-after"));
    let accepted: Value = posted.json().await.expect("JSON");
    let scan = accepted["scan"].as_str().expect("the scan's id").to_owned();
    assert!(
        location.ends_with(&format!("/api/readiness?scan={scan}")),
        "{location}"
    );
    within("the queued scan", host.settled(1)).await;
    let status = get(&app, &host, &format!("?scan={scan}"), &writer).await;
    assert_eq!(status.status(), 200, "the run has ended");
    let status: Value = status.json().await.expect("JSON");
    assert_eq!(status["status"], "done", "{status}");
    let folder = status["folder"].as_str().expect("the scan's folder");
    assert_eq!(store.folders().await.expect("listed"), [folder]);
    let csv = get(&app, &host, "?format=csv", &writer).await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.text()
            .await
            .expect("text")
            .contains(&ids.member_phone_only)
    );
    assert_eq!(
        host.deliveries().last().map(|(_, _, status)| *status),
        Some(200)
    );
    assert!(app.writes().is_empty(), "nothing written to Graph");
}

/// Whoever may send to the readiness queue (a right also inherited from the resource group)
/// cannot start scans: a message naming a scan no POST queued is ignored.
#[tokio::test]
async fn a_queue_message_naming_a_scan_no_post_queued_runs_nothing() {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let (app, host, store, _) = deployment(&azurite).await;
    let queue = mfa_phone_handler::storage::queue::Queue::new(
        &storage,
        mfa_phone_handler::app::readiness::QUEUE,
        mfa_phone_handler::storage::queue::Encoding::None,
    )
    .expect("the readiness queue");
    queue.create_if_missing().await.expect("created");
    let planted = json!({"scan": "0f8fad5b-d9cb-469f-a165-70867728950e"});
    queue.send(&planted.to_string()).await.expect("sent");

    within("the planted message", host.settled(1)).await;

    assert!(
        store.folders().await.expect("listed").is_empty(),
        "no scan ran"
    );
    let scan_reads: Vec<String> = app
        .graph_requests()
        .into_iter()
        .map(|request| request.path)
        .filter(|path| {
            path.contains("userRegistrationDetails") || path.contains("authenticationMethodsPolicy")
        })
        .collect();
    assert!(
        scan_reads.is_empty(),
        "the scan read nothing: {scan_reads:?}"
    );
    assert_eq!(
        host.deliveries().last().map(|(_, _, status)| *status),
        Some(200),
        "settled, not redelivered"
    );
}

/// Runs `readiness --endpoint URL --out DIR` with `key` as MFA_FUNCTION_KEY, and returns its exit
/// status and stderr.
async fn download(url: &str, out: &std::path::Path, key: Option<&str>) -> (i32, String) {
    let mut command = crate::helpers::handler_command();
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["readiness", "--endpoint", url, "--out"])
        .arg(out)
        .stdin(std::process::Stdio::null());
    if let Some(key) = key {
        command.env("MFA_FUNCTION_KEY", key);
    }
    let output = within("the download", command.output())
        .await
        .expect("it runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_downloads_the_latest_scan_with_the_function_key_and_not_without() {
    let azurite = azurite().await;
    let (_app, host, store, _) = deployment_with(
        &azurite,
        HostOptions::default().with_function_key("the-key"),
    )
    .await;
    within(
        "the timer's run",
        host.fire_timer("MfaReadinessTimer", false),
    )
    .await;
    let out = std::env::temp_dir().join(format!("mfa-download-{}", uuid::Uuid::new_v4()));

    let (status, stderr) = download(&host.url(), &out, None).await;
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("function key"), "{stderr}");

    let (status, stderr) = download(&host.url(), &out, Some("the-key")).await;
    assert_eq!(status, 0, "{stderr}");
    for name in [
        "readiness.csv",
        "readiness.json",
        "cleanup.csv",
        "readiness.html",
    ] {
        let kept = store.latest(name).await.expect("read").expect("kept");
        assert_eq!(
            std::fs::read(out.join(name)).expect(name),
            kept.to_vec(),
            "{name}"
        );
    }
    let (status, stderr) = download("http://192.0.2.1/api/readiness", &out, Some("the-key")).await;
    assert_eq!(
        status, 2,
        "plain http leaves this machine: refused before anything is sent"
    );
    assert!(stderr.contains("https"), "{stderr}");
}
