//! Checks queue callers: a message carries its sender's Entra access token (`CallerToken`), checked
//! against the simulator's published keys as App Service checks an HTTP caller, as of the
//! message's insertion time; a refused message is answered once, written nowhere, and never
//! poisoned.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::{API_CLIENT_ID, CallerToken, TENANT_ID};
use serde_json::{Value, json};

use crate::helpers::{TestApp, result_of};

const NUMBER: &str = "+49 1701234567";
const ADMIN: &str = "aaaaaaaa-1111-4222-8333-444444444444";
const WRITER: &str = "MfaPhone.ReadWrite";
const READER: &str = "MfaPhone.Read";

/// Starts a handler that checks queue callers against the simulator's tenant.
async fn checking(require: bool) -> TestApp {
    TestApp::builder()
        .envs(&[
            ("MFA_TENANT_ID", TENANT_ID),
            ("MFA_API_CLIENT_ID", API_CLIENT_ID),
            (
                "MFA_QUEUE_REQUIRE_CALLER",
                if require { "true" } else { "false" },
            ),
        ])
        .spawn()
        .await
}

fn admin() -> CallerToken {
    CallerToken::user(ADMIN, "admin@contoso.com", &[WRITER])
}

/// Sends every message through the miniature host, and returns the results by `requestId` and
/// the poison queue.
async fn through_the_queue(app: &TestApp, messages: &[Value]) -> (Vec<Value>, Vec<String>) {
    let host = FunctionsHost::start(&app.handler, HostOptions::default().max_dequeue_count(3))
        .await
        .unwrap();
    for message in messages {
        host.enqueue(&message.to_string()).await.unwrap();
    }
    host.drained().await;
    (host.results().await, host.poison().await)
}

fn by_request<'a>(results: &'a [Value], id: &str) -> &'a Value {
    results
        .iter()
        .find(|result| result["requestId"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {results:#?}"))
}

#[tokio::test]
async fn a_message_with_a_valid_token_is_carried_out_for_the_caller_it_names() {
    let app = checking(true).await;
    let user = app.add_member("adele@contoso.com");
    let token = app.sim.sign(&admin());
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "good",
                         "CallerToken": token});

    let (results, poison) = through_the_queue(&app, &[message]).await;

    let result = by_request(&results, "good");
    assert_eq!(result["status"], "succeeded", "{result:#}");
    assert_eq!(result["caller"]["id"], ADMIN);
    assert_eq!(result["caller"]["authenticated"], true);
    assert_eq!(result["caller"]["name"], "admin@contoso.com");
    assert_eq!(app.phones(&user).len(), 1);
    assert!(poison.is_empty());
    assert!(
        result["request"].get("CallerToken").is_none(),
        "the token is not echoed: {result:#}"
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !app.output().contains(signature),
        "the token is never logged"
    );
    assert!(!result.to_string().contains(signature));
    assert!(
        app.output().contains(ADMIN),
        "the log names the caller as for an HTTP caller"
    );
}

/// A webhook's `RequestBody` is JSON text: a token inside it is taken out and checked like
/// one at the top, and neither a result nor the log carries it; where callers are not
/// required, a bad token hidden there still refuses the message.
#[tokio::test]
async fn a_token_inside_a_webhooks_request_body_is_checked_and_never_echoed() {
    let app = checking(false).await;
    let user = app.add_member("adele@contoso.com");
    let other = app.add_member("bianca@contoso.com");
    let token = app.sim.sign(&admin());
    let forged = format!("{}.Zm9yZ2Vk", token.rsplit_once('.').unwrap().0);
    let body = |user: &str, id: &str, token: &str| {
        json!({"RequestBody": json!({"UserId": user, "phoneNumber": NUMBER, "requestId": id,
                                     "CallerToken": token}).to_string()})
    };
    let messages = [
        body(&user, "in-text", &token),
        body(&other, "forged-in-text", &forged),
    ];

    let (results, poison) = through_the_queue(&app, &messages).await;

    let good = by_request(&results, "in-text");
    assert_eq!(good["status"], "succeeded", "{good:#}");
    assert_eq!(
        good["caller"]["id"], ADMIN,
        "the hidden token was checked: {good:#}"
    );
    let forged_result = by_request(&results, "forged-in-text");
    assert_eq!(
        forged_result["error"]["code"], "callerNotAllowed",
        "{forged_result:#}"
    );
    assert!(
        app.phones(&other).is_empty(),
        "nothing written for a bad token"
    );
    assert!(poison.is_empty());
    for secret in [token.rsplit('.').next().unwrap(), "Zm9yZ2Vk"] {
        assert!(!app.output().contains(secret), "the token is never logged");
        for result in &results {
            assert!(!result.to_string().contains(secret), "{result:#}");
        }
    }
}

#[tokio::test]
async fn tokens_that_do_not_check_out_are_refused_once_and_nothing_is_written() {
    let app = checking(false).await;
    let user = app.add_member("adele@contoso.com");
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let expired = CallerToken {
        not_before: now - 2 * hour,
        expires: now - hour,
        ..admin()
    };
    let other_tenant = CallerToken {
        tenant_id: "99999999-9999-4999-8999-999999999999".to_owned(),
        ..admin()
    };
    let other_tenant_our_issuer = CallerToken {
        tenant_id: "99999999-9999-4999-8999-999999999999".to_owned(),
        issuer: Some(format!("https://sts.windows.net/{TENANT_ID}/")),
        ..admin()
    };
    let other_audience = CallerToken {
        audience: "https://graph.microsoft.com".to_owned(),
        ..admin()
    };
    let no_role = CallerToken {
        roles: Vec::new(),
        ..admin()
    };
    let reader = CallerToken::user(ADMIN, "admin@contoso.com", &[READER]);
    let unknown_key = CallerToken {
        key_id: "not-published".to_owned(),
        ..admin()
    };
    let guest = CallerToken {
        extra: vec![
            (
                "idp".to_owned(),
                json!("https://sts.windows.net/99999999-9999-4999-8999-999999999999/"),
            ),
            ("acct".to_owned(), json!(1)),
        ],
        ..admin()
    };
    // A reader's token has its payload swapped for a writer's, so the signature no longer fits.
    let forged = {
        let reader_token = app.sim.sign(&reader);
        let writer_token = app.sim.sign(&admin());
        let parts: Vec<&str> = reader_token.split('.').collect();
        let writer_payload = writer_token.split('.').nth(1).unwrap();
        format!("{}.{writer_payload}.{}", parts[0], parts[2])
    };
    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = app.sim.sign(&admin()).split('.').nth(1).unwrap().to_owned();
        format!("{header}.{payload}.")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", app.sim.sign(&expired), "expired"),
        ("other-tenant", app.sim.sign(&other_tenant), "issued by"),
        (
            "other-tenant-v1",
            app.sim.sign(&other_tenant_our_issuer),
            "tenant",
        ),
        ("other-audience", app.sim.sign(&other_audience), "audience"),
        ("no-role", app.sim.sign(&no_role), "app roles"),
        ("reader-changes", app.sim.sign(&reader), WRITER),
        ("unknown-key", app.sim.sign(&unknown_key), "not-published"),
        ("guest", app.sim.sign(&guest), "guest"),
        ("forged", forged, "signature"),
        ("none", none_alg, "RS256"),
        ("garbage", "not a token".to_owned(), "not a signed JWT"),
    ];
    let messages: Vec<Value> = cases
        .iter()
        .map(|(id, token, _)| {
            json!({"UserId": user, "phoneNumber": NUMBER, "requestId": id, "CallerToken": token})
        })
        .collect();

    let (results, poison) = through_the_queue(&app, &messages).await;

    for (id, _, reason) in &cases {
        let result = by_request(&results, id);
        assert_eq!(
            result["error"]["code"], "callerNotAllowed",
            "{id}: {result:#}"
        );
        assert_eq!(
            result["queueMessage"]["dequeueCount"], 1,
            "{id}: not retried"
        );
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{id}: {message}");
    }
    assert_eq!(results.len(), cases.len(), "one result each");
    assert!(poison.is_empty(), "nothing poisoned: {poison:?}");
    assert!(app.phones(&user).is_empty(), "nothing written");
    assert!(app.writes().is_empty(), "no write reached Graph");
    let key_reads = app
        .sim
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/discovery/v2.0/keys"))
        .count();
    assert!(
        (1..=2).contains(&key_reads),
        "the keys are kept between messages, and read once more for an unknown key id: \
         {key_reads}"
    );
}

#[tokio::test]
async fn a_message_without_a_token_is_refused_where_callers_are_required() {
    let app = checking(true).await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "anonymous"});

    let (results, poison) = through_the_queue(&app, &[message]).await;

    let result = by_request(&results, "anonymous");
    assert_eq!(result["error"]["code"], "callerNotAllowed", "{result:#}");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MFA_QUEUE_REQUIRE_CALLER")
    );
    assert_eq!(result["queueMessage"]["dequeueCount"], 1);
    assert!(poison.is_empty());
    assert!(app.phones(&user).is_empty());
    assert!(
        app.output().contains("MFA_QUEUE_REQUIRE_CALLER=true"),
        "the start-up log says which"
    );
}

/// Wraps `message` in the queue envelope with `InsertionTime` at `inserted`.
fn queued_at(message: &Value, inserted: SystemTime) -> Value {
    let inserted = httpdate::fmt_http_date(inserted);
    json!({
        "Data": {"queueItem": Value::String(message.to_string()).to_string()},
        "Metadata": {"DequeueCount": "1", "Id": "\"m1\"", "InsertionTime": inserted}
    })
}

#[tokio::test]
async fn a_token_counts_as_of_the_time_the_message_was_queued() {
    let app = checking(true).await;
    let user = app.add_member("adele@contoso.com");
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    // This message was queued two hours ago with a token that was valid then and has expired since.
    let lapsed_since = CallerToken {
        not_before: now - 3 * hour,
        expires: now - hour,
        ..admin()
    };
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true,
                         "CallerToken": app.sim.sign(&lapsed_since)});
    let (_, answer) = app
        .post(
            "SetOrRemoveMobilePhoneMfaQueue",
            &queued_at(&message, now - 2 * hour).to_string(),
        )
        .await;
    assert_eq!(result_of(&answer)["status"], "succeeded", "{answer:#}");

    // This one is queued now with a token that had expired an hour before.
    let (_, answer) = app
        .post(
            "SetOrRemoveMobilePhoneMfaQueue",
            &queued_at(&message, now).to_string(),
        )
        .await;
    assert_eq!(result_of(&answer)["error"]["code"], "callerNotAllowed");

    // This one was queued before the token was valid (beyond the allowed clock skew).
    let (_, answer) = app
        .post(
            "SetOrRemoveMobilePhoneMfaQueue",
            &queued_at(&message, now - 4 * hour).to_string(),
        )
        .await;
    assert!(
        result_of(&answer)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not yet valid")
    );
}

#[tokio::test]
async fn the_queue_result_masks_the_number_it_echoes() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "r1",
                         "CallerName": "Ops +49 170 1234567"});

    let (_, answer) = app.deliver(&message, 1).await;

    let result = result_of(&answer);
    assert_eq!(result["status"], "succeeded");
    assert_eq!(
        result["requestId"], "r1",
        "what a sender matches its result by"
    );
    assert_eq!(result["request"]["UserId"], user);
    let echoed = result["request"].to_string();
    assert!(!echoed.contains("1701234567"), "{echoed}");
    assert!(!echoed.contains("170 1234567"), "{echoed}");
    assert!(echoed.contains("67"), "the last digits stay: {echoed}");
}

#[tokio::test]
async fn keys_that_cannot_be_read_have_the_message_delivered_again_and_nothing_written() {
    // Nothing listens on the discard port: the keys cannot be read (fail closed, transient).
    let app = TestApp::builder()
        .envs(&[
            ("MFA_TENANT_ID", TENANT_ID),
            ("MFA_API_CLIENT_ID", API_CLIENT_ID),
            ("MFA_ENTRA_AUTHORITY", "http://127.0.0.1:9"),
            ("MFA_QUEUE_MAX_DEQUEUE_COUNT", "2"),
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "k",
                         "CallerToken": app.sim.sign(&admin())});

    let (first, _) = app.deliver(&message, 1).await;
    assert_eq!(first, 503, "delivered again while attempts remain");
    let (last, answer) = app.deliver(&message, 2).await;
    assert_eq!(last, 200);
    let result = result_of(&answer);
    assert_eq!(result["error"]["code"], "identityUnavailable", "{result:#}");
    assert_eq!(result["requestId"], "k");
    assert!(app.phones(&user).is_empty());
}

/// Delivers `message` as queued now.
async fn now(app: &TestApp, message: &Value) -> (u16, Value) {
    app.post(
        "SetOrRemoveMobilePhoneMfaQueue",
        &queued_at(message, SystemTime::now()).to_string(),
    )
    .await
}

#[tokio::test]
async fn a_rolled_over_key_is_read_when_a_token_first_names_it() {
    let app = checking(true).await;
    let user = app.add_member("adele@contoso.com");
    let key_reads = || {
        app.sim
            .requests()
            .iter()
            .filter(|request| request.path.ends_with("/discovery/v2.0/keys"))
            .count()
    };
    let send = |token: &CallerToken, id: &str| {
        json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true, "requestId": id,
               "CallerToken": app.sim.sign(token)})
    };
    let (_, answer) = now(&app, &send(&admin(), "before")).await;
    assert_eq!(result_of(&answer)["status"], "succeeded", "{answer:#}");
    assert_eq!(key_reads(), 1);

    // Entra starts signing with a key it has just published.
    app.sim
        .configure(|options| options.signing_key_id = "rolled-over".to_owned());
    let rolled = CallerToken {
        key_id: "rolled-over".to_owned(),
        ..admin()
    };
    let (_, answer) = now(&app, &send(&rolled, "after")).await;
    assert_eq!(result_of(&answer)["status"], "succeeded", "{answer:#}");
    assert_eq!(key_reads(), 2, "read again for the key id it did not know");
    let (_, answer) = now(&app, &send(&rolled, "again")).await;
    assert_eq!(result_of(&answer)["status"], "succeeded");
    assert_eq!(key_reads(), 2, "kept since");
}

/// `bulk --queue --audience` attaches the admin's own token to every message (from their
/// `az login`; here an `az` on PATH that hands out a token the simulator signed), so a handler
/// that requires queue callers carries the file out and records who sent it.
#[tokio::test]
async fn bulk_through_the_queue_attaches_the_admins_token_to_every_message() {
    use mfa_phone_handler::storage::queue::{Encoding, Queue};
    use std::os::unix::fs::PermissionsExt;

    let azurite = crate::helpers::azurite().await;
    let storage = crate::helpers::storage_of(&azurite);
    let app = checking(true).await;
    let users: Vec<String> = (0..2)
        .map(|index| app.add_member(&format!("sent{index}@contoso.com")))
        .collect();
    let host = FunctionsHost::start(
        &app.handler,
        HostOptions::default().with_storage(storage.clone()),
    )
    .await
    .expect("the host starts");
    let directory = std::env::temp_dir().join(format!("mfa-bulk-token-{}", uuid::Uuid::new_v4()));
    let tools = directory.join("bin");
    std::fs::create_dir_all(&tools).expect("a scratch directory");
    let asked = directory.join("az-asked");
    let expires = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600;
    let az = tools.join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{asked}'\nprintf '%s' '{{\"accessToken\":\"{token}\",\
             \"expiresOn\":\"2099-01-01 00:00:00.000000\",\"expires_on\":{expires},\
             \"tokenType\":\"Bearer\"}}'\n",
            asked = asked.display(),
            token = app.sim.sign(&admin()),
        ),
    )
    .expect("the az stand-in");
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("executable");
    let file = directory.join("users.csv");
    std::fs::write(
        &file,
        "UPN,Mobile\nsent0@contoso.com,+49 1702000000\nsent1@contoso.com,+49 1702000001\n",
    )
    .expect("the file");
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
    Queue::new(&storage, "mfa-phone-results", Encoding::None)
        .expect("a client")
        .create_if_missing()
        .await
        .expect("created");
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let output = crate::helpers::within(
        "the bulk run ends",
        crate::helpers::handler_command()
            .arg("bulk")
            .arg(&file)
            .args(["--queue", &queue, "--audience"])
            .arg(format!("api://{API_CLIENT_ID}"))
            .arg("--out")
            .arg(directory.join("out"))
            .arg("--state-key")
            .arg(directory.join("state.key"))
            .arg("--json")
            .env("PATH", path)
            .stdin(std::process::Stdio::null())
            .output(),
    )
    .await
    .expect("bulk runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["succeeded"], 2, "{summary:#}");
    for (index, user) in users.iter().enumerate() {
        assert_eq!(app.phones(user)[0].1, format!("+49 170200000{index}"));
    }
    let asked = std::fs::read_to_string(&asked).expect("az was asked for a token");
    assert!(
        asked.contains(&format!("--scope api://{API_CLIENT_ID}/.default")),
        "for the API's audience: {asked}"
    );
    assert!(
        app.output().contains(ADMIN),
        "the handler records the admin who sent the file"
    );
    drop(host);
}
