//! Checks the queue trigger: every message ends in a definite result, nothing is lost, and
//! redelivery and concurrency leave the tenant as one processing would.

use std::time::Duration;

use base64::Engine;
use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{FaultAction, FaultRule, SimOptions};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::{HANDLER, Results, TestApp, queue_envelope, result_of, start_handler};

const NUMBER: &str = "+49 1701234567";
const OTHER: &str = "+49 1709876543";
const FUNCTION: &str = "SetOrRemoveMobilePhoneMfaQueue";

/// Delivers `message` (its text) with `dequeue_count`, as the host does.

#[tokio::test]
async fn a_message_is_read_in_every_form_the_host_sends_it() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true});
    let text = message.to_string();
    let forms = [
        // This is as the host sends it: the message text JSON-encoded once more.
        json!({"Data": {"queueItem": Value::String(text.clone()).to_string()},
               "Metadata": {"DequeueCount": "1", "Id": "\"a1\"", "PopReceipt": "\"p\""}}),
        // This is as the stale docs show it: one layer, a numeric DequeueCount, no quotes on Id.
        json!({"Data": {"queueItem": text.clone()}, "Metadata": {"DequeueCount": 1, "Id": "a1"}}),
        // The message may be an object.
        json!({"Data": {"queueItem": message.clone()}, "Metadata": {"DequeueCount": 1, "Id": "a1"}}),
        // With "dataType": "binary", the message is base64 of the bytes.
        json!({"Data": {"queueItem": base64::engine::general_purpose::STANDARD.encode(&text)},
               "Metadata": {"DequeueCount": "1", "Id": "\"a1\""}}),
        // Property names may come in another case.
        json!({"data": {"QUEUEITEM": text.clone()}, "metadata": {"dequeueCount": "1", "id": "\"a1\""}}),
    ];
    for envelope in forms {
        let (status, answer) = app.post(FUNCTION, &envelope.to_string()).await;
        assert_eq!(status, 200, "{envelope}: {answer}");
        let result = result_of(&answer);
        assert_eq!(result.status_text(), "succeeded", "{envelope}: {result}");
        assert_eq!(result["action"], "added");
        assert_eq!(
            result["queueMessage"],
            json!({"id": "a1", "dequeueCount": 1})
        );
        assert_eq!(result["trigger"], "queue");
    }
}

#[tokio::test]
async fn definite_outcomes_answer_2xx_with_one_result_message() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);
    let cases = [
        (
            json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "set"}),
            "succeeded",
            None,
        ),
        (
            json!({"UserId": user, "phoneNumber": OTHER, "Remove": true, "requestId": "mismatch"}),
            "failed",
            Some("numberMismatch"),
        ),
        (
            json!({"UserId": "nobody@contoso.com", "phoneNumber": NUMBER, "requestId": "missing"}),
            "failed",
            Some("userNotFound"),
        ),
        (
            json!({"UserId": user, "requestId": "no-number"}),
            "failed",
            Some("invalidRequest"),
        ),
        (
            json!({"UserId": user, "phoneNumber": "12345", "requestId": "bad-number"}),
            "failed",
            Some("invalidPhoneNumber"),
        ),
    ];
    for (message, status, code) in cases {
        let (http, answer) = app.deliver(&message, 1).await;
        assert_eq!(http, 200, "{message}");
        let result = result_of(&answer);
        assert_eq!(result.status_text(), status, "{message}: {result}");
        assert_eq!(result.error()["code"].as_str(), code, "{message}");
        assert_eq!(
            result["requestId"], message["requestId"],
            "echoed for matching"
        );
        let mut masked = message.clone();
        if let Some(number) = message["phoneNumber"].as_str() {
            masked["phoneNumber"] = json!(mfa_phone_handler::phone::mask(number));
        }
        assert_eq!(
            result["request"], masked,
            "the request is echoed, its number masked (the result queue keeps it)"
        );
        assert!(
            answer["Logs"]
                .as_array()
                .is_some_and(|logs| !logs.is_empty())
        );
    }
}

#[tokio::test]
async fn a_missing_permission_is_definite_too() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.Read.All",
            "UserAuthenticationMethod.Read.All",
            "RoleManagement.Read.Directory",
            "Application.Read.All",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let (status, answer) = app
        .deliver(&json!({"UserId": user, "phoneNumber": NUMBER}), 1)
        .await;

    assert_eq!(status, 200);
    assert_eq!(result_of(&answer)["error"]["code"], "graphForbidden");
}

#[tokio::test]
async fn a_transient_failure_asks_for_redelivery_until_the_last_attempt() {
    let app = TestApp::builder()
        .envs(&[("MFA_GRAPH_MAX_ATTEMPTS", "2")])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        "/users/",
        1000,
        503,
        "serviceNotAvailable",
    ));
    let message = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "r-9"});

    let (first, _) = app.deliver(&message, 1).await;
    let (fourth, _) = app.deliver(&message, 4).await;
    let (last, answer) = app.deliver(&message, 5).await;

    assert_eq!(
        first, 503,
        "non-2xx: the host makes the message visible again"
    );
    assert_eq!(fourth, 503);
    assert_eq!(
        last, 200,
        "the last attempt records the failure as the result"
    );
    let result = result_of(&answer);
    assert_eq!(result.status_text(), "failed");
    assert_eq!(result.error()["code"], "graphUnavailable");
    assert_eq!(result["queueMessage"]["dequeueCount"], 5);
    assert_eq!(result["requestId"], "r-9");
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn the_last_attempt_follows_the_configured_maximum() {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_GRAPH_MAX_ATTEMPTS", "1"),
            ("MFA_QUEUE_MAX_DEQUEUE_COUNT", "2"),
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        "/users/",
        1000,
        504,
        "GatewayTimeout",
    ));
    let message = json!({"UserId": user, "phoneNumber": NUMBER});

    let (first, _) = app.deliver(&message, 1).await;
    let (second, answer) = app.deliver(&message, 2).await;

    assert_eq!(first, 503);
    assert_eq!(second, 200);
    assert_eq!(result_of(&answer)["error"]["code"], "graphUnavailable");
}

#[tokio::test]
async fn redelivering_any_request_leaves_the_tenant_as_one_delivery_would() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let steps = [
        (
            json!({"UserId": user, "phoneNumber": OTHER}),
            "added",
            "unchanged",
        ),
        (
            json!({"UserId": user, "phoneNumber": NUMBER}),
            "updated",
            "unchanged",
        ),
        (
            json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}),
            "removed",
            "notPresent",
        ),
    ];
    for (message, first_action, again_action) in steps {
        let (_, first) = app.deliver(&message, 1).await;
        let after_first = app.phones(&user);
        let writes_after_first = app.writes().len();
        let (_, again) = app.deliver(&message, 2).await;

        assert_eq!(result_of(&first)["action"], first_action, "{message}");
        assert_eq!(result_of(&again)["status"], "succeeded", "{message}");
        assert_eq!(result_of(&again)["action"], again_action, "{message}");
        assert_eq!(app.phones(&user), after_first, "{message}");
        assert_eq!(
            app.writes().len(),
            writes_after_first,
            "no write on redelivery"
        );
    }
}

#[tokio::test]
async fn a_late_remove_never_deletes_a_number_registered_after_it() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);
    let remove_old = json!({"UserId": user, "phoneNumber": OTHER, "Remove": true});
    let set_new = json!({"UserId": user, "phoneNumber": NUMBER});

    app.deliver(&remove_old, 1).await;
    app.deliver(&set_new, 1).await;
    // The remove is delivered again, after the new number was set.
    let (status, answer) = app.deliver(&remove_old, 2).await;

    assert_eq!(status, 200);
    assert_eq!(result_of(&answer)["error"]["code"], "numberMismatch");
    assert_eq!(app.phones(&user)[0].1, NUMBER);
}

#[tokio::test]
async fn concurrent_messages_for_one_user_are_serialised() {
    let options = SimOptions {
        latency: Duration::from_millis(20),
        ..SimOptions::default()
    };
    let app = TestApp::builder().options(options).spawn().await;
    let user = app.add_member("adele@contoso.com");
    let numbers: Vec<String> = (0..8)
        .map(|index| format!("+49 170123456{index}"))
        .collect();

    let deliveries = numbers.iter().map(|number| {
        let message = json!({"UserId": user, "phoneNumber": number});
        let app = &app;
        async move { app.deliver(&message, 1).await }
    });
    let answers = futures_util::future::join_all(deliveries).await;

    for (status, answer) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(result_of(answer)["status"], "succeeded", "{answer}");
    }
    let writes = app.writes();
    let posts = writes.iter().filter(|write| write.method == "POST").count();
    assert_eq!(
        posts, 1,
        "serialised: only the first saw no method and added it"
    );
    assert_eq!(writes.len(), 8);
    assert!(
        writes.iter().all(|write| write.status < 300),
        "no write was refused"
    );
    let final_number = &app.phones(&user)[0].1;
    assert!(numbers.contains(final_number));
}

#[tokio::test]
async fn a_caller_naming_the_user_by_upn_sees_a_write_made_by_id_while_it_read() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    // A's user read is slow; its methods read is not.
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/users/adele@contoso.com$",
        1,
        FaultAction::Delay(Duration::from_millis(800)),
    ));
    let remove_by_name =
        json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER, "Remove": true});
    let a = {
        let message = remove_by_name.clone();
        let app = &app;
        async move { app.deliver(&message, 1).await }
    };
    let b = async {
        // Once A has read the methods (still showing NUMBER), B sets another number by id.
        let mut activity = app.sim.request_arrived();
        while !app
            .sim
            .requests()
            .iter()
            .any(|request| request.path == "/users/adele@contoso.com/authentication/methods")
        {
            activity.changed().await.unwrap();
        }
        app.deliver(&json!({"UserId": user, "phoneNumber": OTHER}), 1)
            .await
    };

    let ((_, removed), (_, set)) = tokio::join!(a, b);

    assert_eq!(result_of(&set)["action"], "updated");
    assert_eq!(
        result_of(&removed)["error"]["code"],
        "numberMismatch",
        "A must not delete the number B set: {removed}"
    );
    assert_eq!(app.phones(&user)[0].1, OTHER);
}

#[tokio::test]
async fn a_busy_user_does_not_hold_back_other_users() {
    let options = SimOptions {
        latency: Duration::from_millis(150),
        ..SimOptions::default()
    };
    let app = TestApp::builder()
        .options(options)
        .envs(&[("MFA_MAX_CONCURRENT_USERS", "2")])
        .spawn()
        .await;
    let busy = app.add_member("busy@contoso.com");
    let other = app.add_member("other@contoso.com");
    let busy_calls = futures_util::future::join_all((0..3).map(|index| {
        let message = json!({"UserId": busy, "phoneNumber": format!("+49 170123456{index}")});
        let app = &app;
        async move { app.deliver(&message, 1).await }
    }));
    let other_call = async {
        // Once all three calls for the busy user are in the handler, the other user asks.
        app.wait_for_output(|text| text.matches(&format!("phone of {busy}")).count() == 3)
            .await;
        app.deliver(&json!({"UserId": other, "phoneNumber": NUMBER}), 1)
            .await
    };

    let (busy_answers, (_, other_answer)) = tokio::join!(busy_calls, other_call);

    assert!(busy_answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(result_of(&other_answer)["status"], "succeeded");
    let requests = app.graph_requests();
    let first_busy_write = requests
        .iter()
        .filter(|request| request.is_write() && request.path.contains(busy.as_str()))
        .map(|request| request.at)
        .min()
        .unwrap();
    let other_started = requests
        .iter()
        .filter(|request| request.path.contains(other.as_str()))
        .map(|request| request.started)
        .min()
        .unwrap();
    assert!(
        other_started < first_busy_write,
        "the other user ran while the first busy call was still working"
    );
}

#[tokio::test]
async fn different_users_run_concurrently_up_to_the_bound() {
    let options = SimOptions {
        latency: Duration::from_millis(40),
        ..SimOptions::default()
    };
    let app = TestApp::builder()
        .options(options)
        .envs(&[("MFA_MAX_CONCURRENT_USERS", "3")])
        .spawn()
        .await;
    let users: Vec<String> = (0..6)
        .map(|index| app.add_user(SimUser::member(&format!("user{index}@contoso.com"), "User")))
        .collect();

    let deliveries = users.iter().map(|user| {
        let message = json!({"UserId": user, "phoneNumber": NUMBER});
        let app = &app;
        async move { app.deliver(&message, 1).await }
    });
    let answers = futures_util::future::join_all(deliveries).await;
    assert!(
        answers
            .iter()
            .all(|(status, answer)| *status == 200 && result_of(answer)["status"] == "succeeded")
    );

    // The log shows which users had a Graph request in flight at each moment a request started.
    let requests = app.graph_requests();
    let user_of = |path: &str| users.iter().position(|user| path.contains(user.as_str()));
    let most_users_at_once = requests
        .iter()
        .map(|request| {
            let mut active: Vec<usize> = requests
                .iter()
                .filter(|other| other.started <= request.started && other.at > request.started)
                .filter_map(|other| user_of(&other.path))
                .collect();
            active.sort_unstable();
            active.dedup();
            active.len()
        })
        .max()
        .unwrap_or(0);
    assert!(
        most_users_at_once >= 2,
        "different users overlap: {most_users_at_once}"
    );
    assert!(
        most_users_at_once <= 3,
        "at most MFA_MAX_CONCURRENT_USERS: {most_users_at_once}"
    );
}

#[tokio::test]
async fn undecodable_messages_never_crash_and_always_answer_a_permanent_failure() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let mut runner = TestRunner::deterministic();
    let garbage = proptest::prop_oneof![
        // Some messages are any text, once or twice JSON-encoded.
        proptest::string::string_regex(".{0,64}")
            .unwrap()
            .prop_map(Value::String),
        proptest::string::string_regex(".{0,64}")
            .unwrap()
            .prop_map(|text| Value::String(Value::String(text).to_string())),
        // Some are JSON that is not a parameter object.
        proptest::num::i64::ANY.prop_map(|number| Value::String(number.to_string())),
        proptest::collection::vec(proptest::num::u8::ANY, 0..16)
            .prop_map(|bytes| Value::String(serde_json::to_string(&bytes).unwrap())),
        // Some are base64 of random bytes.
        proptest::collection::vec(proptest::num::u8::ANY, 0..48).prop_map(|bytes| Value::String(
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )),
        // Some are objects that lack a required parameter or hold the wrong types.
        proptest::string::string_regex("[a-zA-Z]{1,12}")
            .unwrap()
            .prop_map(|key| Value::String(json!({key: 1, "UserId": [1]}).to_string())),
        // Some are nested garbage: objects, arrays, nulls and booleans.
        proptest::bool::ANY.prop_map(Value::Bool),
        proptest::collection::vec(proptest::num::i32::ANY, 0..4).prop_map(|items| json!(items)),
    ];
    let mut cases = Vec::new();
    for _ in 0..200 {
        let value = garbage.new_tree(&mut runner).expect("a case").current();
        cases.push(value);
    }
    // And some envelopes are broken themselves.
    let broken = ["", "{", "[]", "null", "{\"Data\": 5}", "{\"Data\": {}}"];

    for data in &cases {
        let envelope =
            json!({"Data": {"queueItem": data}, "Metadata": {"DequeueCount": "1", "Id": "\"x\""}});
        let (status, answer) = tokio::time::timeout(
            Duration::from_secs(10),
            app.post(FUNCTION, &envelope.to_string()),
        )
        .await
        .expect("answered, not hung");
        assert_eq!(status, 200, "{data}: {answer}");
        let result = result_of(&answer);
        assert_eq!(result.status_text(), "failed", "{data}");
        assert_eq!(result.error()["code"], "invalidRequest", "{data}: {result}");
    }
    for text in broken {
        let (status, answer) = app.post(FUNCTION, text).await;
        assert_eq!(status, 200, "{text:?}");
        assert_eq!(
            result_of(&answer)["error"]["code"],
            "invalidRequest",
            "{text:?}"
        );
    }
    assert!(
        app.graph_requests().is_empty(),
        "nothing undecodable reached Graph"
    );
    let (status, _) = app
        .deliver(&json!({"UserId": user, "phoneNumber": NUMBER}), 1)
        .await;
    assert_eq!(status, 200, "still serving");
}

#[tokio::test]
async fn through_a_host_every_message_ends_in_exactly_one_result() {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_GRAPH_MAX_ATTEMPTS", "1"),
            ("MFA_QUEUE_MAX_DEQUEUE_COUNT", "3"),
        ])
        .spawn()
        .await;
    let adele = app.add_member("adele@contoso.com");
    let megan = app.add_member("megan@contoso.com");
    // Graph is unavailable for Adele's first two deliveries, and for every one of Megan's.
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        &format!("/users/{adele}"),
        2,
        503,
        "serviceNotAvailable",
    ));
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        &format!("/users/{megan}"),
        1000,
        503,
        "serviceNotAvailable",
    ));
    let host = FunctionsHost::start(
        &app.handler,
        HostOptions::default()
            .max_dequeue_count(3)
            .redelivering_after(Duration::from_millis(50)),
    )
    .await
    .unwrap();

    for message in [
        json!({"UserId": adele, "phoneNumber": NUMBER, "requestId": "a"}).to_string(),
        json!({"UserId": megan, "phoneNumber": NUMBER, "requestId": "m"}).to_string(),
        "this is not JSON".to_owned(),
    ] {
        host.enqueue(&message).await.unwrap();
    }
    host.drained().await;

    let results = host.results().await;
    assert_eq!(results.len(), 3, "{results:#?}");
    let by_request = |id: &str| {
        results
            .iter()
            .find(|result| result["requestId"] == id)
            .unwrap()
    };
    assert_eq!(by_request("a")["status"], "succeeded");
    assert_eq!(by_request("a")["queueMessage"]["dequeueCount"], 2);
    assert_eq!(by_request("m")["error"]["code"], "graphUnavailable");
    assert_eq!(by_request("m")["queueMessage"]["dequeueCount"], 3);
    assert!(
        host.poison().await.is_empty(),
        "nothing is lost to the poison queue"
    );
    assert_eq!(app.phones(&adele).len(), 1);
}

#[tokio::test]
async fn a_handler_killed_mid_write_leaves_nothing_a_redelivery_cannot_finish() {
    // The handler is killed before Graph applied the POST, and after it applied it but
    // before it answered.
    for (fault, expected) in [
        (FaultAction::Delay(Duration::from_secs(30)), "added"),
        (
            FaultAction::DelayAnswer(Duration::from_secs(30)),
            "unchanged",
        ),
    ] {
        let app = TestApp::spawn().await;
        let user = app.add_member("adele@contoso.com");
        app.sim.inject(FaultRule::new(
            Some("POST"),
            "/phoneMethods",
            1,
            fault.clone(),
        ));
        let message = json!({"UserId": user, "phoneNumber": NUMBER});
        // A second handler process is killed while its POST is at the simulator.
        let mut command = Command::new(HANDLER);
        command
            .env_clear()
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
            .envs(app.sim.handler_environment());
        let (mut doomed, doomed_url, _) = start_handler(command).await;
        let client = app.client.clone();
        let body = queue_envelope(&message.to_string(), 1).to_string();
        let in_flight = tokio::spawn(async move {
            client
                .post(format!("{doomed_url}/{FUNCTION}"))
                .body(body)
                .send()
                .await
        });
        let mut activity = app.sim.request_arrived();
        while !app
            .sim
            .in_flight()
            .iter()
            .any(|(method, path)| method == "POST" && path.contains("phoneMethods"))
        {
            activity.changed().await.unwrap();
        }
        doomed.kill().await.unwrap();
        assert!(
            in_flight.await.unwrap().is_err(),
            "the host sees the invocation fail"
        );

        let (status, answer) = app.deliver(&message, 2).await;

        assert_eq!(status, 200, "{fault:?}");
        let result = result_of(&answer);
        assert_eq!(result.status_text(), "succeeded", "{fault:?}: {answer}");
        assert_eq!(result["action"], expected, "{fault:?}");
        assert_eq!(
            app.phones(&user),
            [(PhoneType::Mobile, NUMBER.to_owned(), "ready".to_owned())],
            "{fault:?}"
        );
    }
}
