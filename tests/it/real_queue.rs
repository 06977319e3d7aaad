//! Runs the queue path for real: Azurite as the storage account, the miniature host running the
//! storage queues extension's listener with the deployed host.json and function.json, the real
//! handler behind it. Each test asserts what lands in the three queues and in the tenant.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::FaultRule;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::{FaultAction, SimOptions};
use mfa_phone_handler::storage::StorageAccount;
use mfa_phone_handler::storage::queue::{Encoding, Queue, read_json};
use serde_json::{Value, json};

use crate::helpers::{TestApp, azurite, connection_string, storage_of, take_all, within};

const NUMBER: &str = "+49 1701234567";
const REQUESTS: &str = "mfa-phone-requests";
const RESULTS: &str = "mfa-phone-results";
const POISON: &str = "mfa-phone-requests-poison";

/// Starts a host for `handler` on `storage`, as deployed but redelivering after 100 ms.
async fn host(handler: &str, storage: &StorageAccount) -> FunctionsHost {
    FunctionsHost::start(
        handler,
        HostOptions::default()
            .with_storage(storage.clone())
            .redelivering_after(Duration::from_millis(100)),
    )
    .await
    .expect("the host starts")
}

/// Puts a producer's message on the request queue as plain JSON text.
async fn produce(storage: &StorageAccount, message: &Value) {
    Queue::new(storage, REQUESTS, Encoding::None)
        .expect("a client")
        .send(&message.to_string())
        .await
        .expect("sent");
}

async fn request_queue_is_empty(storage: &StorageAccount) -> bool {
    Queue::new(storage, REQUESTS, Encoding::None)
        .expect("a client")
        .approximate_count()
        .await
        .expect("counted")
        == 0
}

#[tokio::test]
async fn a_message_ends_in_exactly_one_result_message_and_is_gone() {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let host = host(&app.handler, &storage).await;

    produce(
        &storage,
        &json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "r-1"}),
    )
    .await;
    within("the deliveries settle", host.settled(1)).await;

    let results = take_all(&storage, RESULTS).await;
    assert_eq!(results.len(), 1, "{results:#?}");
    assert!(
        results[0].starts_with("{\n  "),
        "written as the host writes an object, indented: {}",
        results[0]
    );
    let result = read_json(&results[0]).expect("JSON");
    assert_eq!(result["requestId"], "r-1");
    assert_eq!(result["action"], "added", "{result}");
    assert_eq!(result["queueMessage"]["dequeueCount"], 1);
    assert!(
        request_queue_is_empty(&storage).await,
        "the request is gone"
    );
    assert!(take_all(&storage, POISON).await.is_empty());
    assert_eq!(app.phones(&user)[0].1, NUMBER);
}

#[tokio::test]
async fn graph_unavailable_is_redelivered_until_the_last_attempt_answers_with_a_final_failure() {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let app = TestApp::builder()
        .env("MFA_GRAPH_MAX_ATTEMPTS", "1")
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        &format!("/users/{user}"),
        1000,
        503,
        "serviceNotAvailable",
    ));
    let host = host(&app.handler, &storage).await;

    produce(&storage, &json!({"UserId": user, "phoneNumber": NUMBER})).await;
    within("the deliveries settle", host.settled(5)).await;

    let deliveries: Vec<(u64, u16)> = host
        .deliveries()
        .into_iter()
        .map(|(_, count, status)| (count, status))
        .collect();
    assert_eq!(
        deliveries,
        [(1, 503), (2, 503), (3, 503), (4, 503), (5, 200)],
        "DequeueCount rises; the fifth (host.json's maxDequeueCount) is answered"
    );
    let results = take_all(&storage, RESULTS).await;
    assert_eq!(results.len(), 1);
    let result = read_json(&results[0]).expect("JSON");
    assert_eq!(result["status"], "failed");
    assert_eq!(result["error"]["code"], "graphUnavailable");
    assert_eq!(result["queueMessage"]["dequeueCount"], 5);
    assert!(
        take_all(&storage, POISON).await.is_empty(),
        "nothing is poisoned"
    );
    assert!(request_queue_is_empty(&storage).await);
    assert!(app.phones(&user).is_empty());
}

#[tokio::test]
async fn a_handler_that_never_answers_leaves_the_message_unchanged_in_the_poison_queue() {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    // This handler takes every request and never answers: each invocation ends at the
    // host's function timeout (shortened here to 300 ms).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = silent.local_addr().expect("its address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    let mut options = HostOptions::default()
        .with_storage(storage.clone())
        .redelivering_after(Duration::from_millis(100));
    options.trigger.invocation_timeout = Duration::from_millis(300);
    let host = FunctionsHost::start(&format!("http://{address}"), options)
        .await
        .expect("the host starts");
    let text = r#"{"UserId": "adele@contoso.com",  "phoneNumber": "+49 1701234567", "note": "kept <&> as is"}"#;

    Queue::new(&storage, REQUESTS, Encoding::None)
        .expect("a client")
        .send(text)
        .await
        .expect("sent");
    within("the deliveries settle", host.settled(5)).await;

    assert_eq!(
        host.deliveries()
            .iter()
            .map(|(_, count, status)| (*count, *status))
            .collect::<Vec<_>>(),
        [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]
    );
    assert_eq!(
        take_all(&storage, POISON).await,
        [text],
        "the body unchanged"
    );
    assert!(take_all(&storage, RESULTS).await.is_empty());
    assert!(request_queue_is_empty(&storage).await);
}

#[tokio::test]
async fn under_the_default_encoding_a_message_that_is_not_base64_is_poisoned_without_an_invocation()
{
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let mut options = HostOptions::default()
        .with_storage(storage.clone())
        .redelivering_after(Duration::from_millis(100));
    options.trigger.encoding = Encoding::Base64;
    let host = FunctionsHost::start(&app.handler, options)
        .await
        .expect("the host starts");
    let plain = json!({"UserId": user, "phoneNumber": NUMBER}).to_string();

    produce(&storage, &json!({"UserId": user, "phoneNumber": NUMBER})).await;
    Queue::new(&storage, REQUESTS, Encoding::Base64)
        .expect("a client")
        .send(&json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "b64"}).to_string())
        .await
        .expect("sent");
    within("the deliveries settle", host.settled(2)).await;

    assert_eq!(
        take_all(&storage, POISON).await,
        [plain],
        "plain JSON is not base64"
    );
    let results = take_all(&storage, RESULTS).await;
    assert_eq!(results.len(), 1);
    assert!(
        !results[0].starts_with('{'),
        "written base64 like the trigger: {}",
        results[0]
    );
    assert_eq!(
        read_json(&results[0]).expect("base64 JSON")["requestId"],
        "b64"
    );
}

/// 1,000 messages for 200 users with Graph faults before and after writes, throttling and
/// unavailability: every message ends in exactly one result, and every user holds what the
/// messages say (each user's messages are written so that any order gives the same end).
#[tokio::test]
async fn a_thousand_messages_through_faults_each_end_in_one_result_and_the_tenant_matches() {
    through_faults(200, 40, &[]).await;
}

/// This runs the same with the per-user leases in Azurite's blob service, as deployed (200 messages
/// for 40 users): a write whose answer was lost leaves its user's lease to lapse (60 s), so that
/// user's later messages wait, are answered `userBusy` and are delivered again until it has.
#[tokio::test]
async fn through_faults_with_per_user_leases_each_message_ends_in_one_result() {
    through_faults(40, 8, &[("MFA_LEASE_WAIT_SECONDS", "30")]).await;
}

/// Sends `users` users' five messages each through `faults` Graph faults of each kind; the handler
/// has the per-user leases when `settings` name a lease wait.
async fn through_faults(users: usize, faults: usize, settings: &[(&str, &str)]) {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let connection = connection_string(&azurite);
    let mut environment = vec![
        ("MFA_GRAPH_BACKOFF_SECONDS", "0.01"),
        ("MFA_GRAPH_BACKOFF_CAP_SECONDS", "0.05"),
    ];
    if !settings.is_empty() {
        environment.push(("AzureWebJobsStorage", connection.as_str()));
        environment.extend_from_slice(settings);
    }
    let app = TestApp::builder()
        .options(SimOptions {
            latency: Duration::from_millis(2),
            ..SimOptions::default()
        })
        .envs(&environment)
        .spawn()
        .await;
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut messages = Vec::new();
    for index in 0..users {
        let user = app.add_member(&format!("user{index}@contoso.com"));
        let mobile = format!("+49 170{:07}", 1_000_000 + index);
        let office = format!("+49 30{:08}", 10_000_000 + index);
        if index % 3 == 0 {
            app.seed_phone(
                &user,
                PhoneType::Mobile,
                &format!("+49 171{:07}", 1_000_000 + index),
            );
        }
        for (n, message) in [
            json!({"UserId": user, "phoneNumber": mobile}),
            json!({"UserId": user, "phoneNumber": mobile}),
            json!({"UserId": user, "phoneNumber": office, "phoneType": "office"}),
            json!({"UserId": user, "phoneNumber": "+49 1729999999", "phoneType": "alternateMobile", "Remove": true}),
            json!({"UserId": format!("user{index}@contoso.com"), "phoneNumber": office, "phoneType": "office"}),
        ]
        .into_iter()
        .enumerate()
        {
            let mut message = message;
            message["requestId"] = json!(format!("{index}-{n}"));
            messages.push(message);
        }
        expected.insert(user, (mobile, office));
    }
    // Interleave the users.
    messages.sort_by_key(|message| {
        let id = message["requestId"].as_str().unwrap_or_default().to_owned();
        let (user, n) = id.split_once('-').unwrap_or_default();
        (
            n.parse::<u32>().unwrap_or(0),
            user.parse::<u32>().unwrap_or(0),
        )
    });
    for (path, times, action) in [
        (
            "/phoneMethods",
            faults,
            FaultAction::ApplyThenRespond {
                status: 503,
                code: "serviceNotAvailable",
            },
        ),
        (
            "/phoneMethods",
            faults,
            FaultAction::Respond {
                status: 503,
                code: "serviceNotAvailable",
                retry_after: None,
            },
        ),
        (
            "/phoneMethods",
            faults,
            FaultAction::Respond {
                status: 429,
                code: "TooManyRequests",
                retry_after: Some("0.05".to_owned()),
            },
        ),
        (
            "/authentication/methods",
            faults,
            FaultAction::Respond {
                status: 503,
                code: "serviceNotAvailable",
                retry_after: None,
            },
        ),
        (
            "/users/",
            faults * 3 / 4,
            FaultAction::Respond {
                status: 504,
                code: "GatewayTimeout",
                retry_after: None,
            },
        ),
    ] {
        app.sim.inject(FaultRule::new(None, path, times, action));
    }
    let host = host(&app.handler, &storage).await;

    for message in &messages {
        produce(&storage, message).await;
    }
    within("the host drains the queue", host.drained()).await;

    let results: Vec<Value> = take_all(&storage, RESULTS)
        .await
        .iter()
        .filter_map(|text| read_json(text))
        .collect();
    let ids: BTreeSet<String> = results
        .iter()
        .map(|result| result["requestId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(results.len(), users * 5, "exactly one result per message");
    assert_eq!(ids.len(), users * 5, "no message has two results");
    let failed: Vec<&Value> = results
        .iter()
        .filter(|result| result["status"] != "succeeded")
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(take_all(&storage, POISON).await.is_empty());
    if !settings.is_empty() {
        assert!(
            app.output().contains("held the user's lease for the"),
            "a lapsed lease was waited for and answered userBusy"
        );
    }
    for (user, (mobile, office)) in &expected {
        let phones: Vec<(PhoneType, String)> = app
            .phones(user)
            .into_iter()
            .map(|(phone_type, number, _)| (phone_type, number))
            .collect();
        assert_eq!(
            phones,
            [
                (PhoneType::Mobile, mobile.clone()),
                (PhoneType::Office, office.clone())
            ],
            "{user}"
        );
    }
}
