//! Runs the product against a stricter Graph and platform: guests by UPN, a lock held while waiting
//! for a permit, a hung identity endpoint, numbers as Graph stores them, codes in another case,
//! a change followed by a failure, results that must fit a queue message, numbers in free
//! text, unreadable batch items, and panics.

use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::{GuestsByUpn, SimUser};
use mfa_phone_handler::simulator::{FaultAction, FaultRule};
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, http_envelope, result_of};

const NUMBER: &str = "+49 1701234567";
const GUEST: &str = "lynne_fabrikam.com#EXT#@contoso.onmicrosoft.com";

fn retry_after(answer: &crate::helpers::HttpAnswer) -> &Value {
    &answer.envelope["Outputs"]["res"]["headers"]["Retry-After"]
}

#[tokio::test]
async fn a_guest_named_by_upn_is_read_by_object_id_under_every_variant() {
    for variant in [
        GuestsByUpn::NotFound,
        GuestsByUpn::EmptyList,
        GuestsByUpn::Served,
    ] {
        let app = TestApp::spawn().await;
        let guest = app.add_user(SimUser::guest(GUEST, "Lynne"));
        app.seed_phone(&guest, PhoneType::Mobile, NUMBER);
        app.sim
            .tenant(|tenant| tenant.variants.guests_by_upn = variant);

        let same = app
            .call(json!({"UserId": GUEST, "phoneNumber": NUMBER}))
            .await;
        assert_eq!(same.status, 200, "{variant:?}: {}", same.report);
        assert_eq!(same.action(), "unchanged", "{variant:?}");
        assert_eq!(same.user()["id"], guest.as_str());

        let removed = app
            .call(json!({"UserId": GUEST, "phoneNumber": NUMBER, "Remove": true}))
            .await;
        assert_eq!(
            removed.action(),
            "removed",
            "{variant:?}: {}",
            removed.report
        );
        assert!(app.phones(&guest).is_empty(), "{variant:?}");
        assert!(
            app.writes().iter().all(|write| write.path.contains(&guest)),
            "every write goes by object id"
        );
    }
}

#[tokio::test]
async fn a_404_of_the_methods_read_is_not_called_user_not_found() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        "/authentication/methods",
        2,
        404,
        "itemNotFound",
    ));

    let answer = app
        .call(json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER}))
        .await;

    assert_eq!(
        answer.user()["id"],
        user.as_str(),
        "the user read found them"
    );
    assert_ne!(answer.error_code(), "userNotFound", "{}", answer.report);
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_member_named_by_upn_is_read_in_one_round_trip() {
    let app = TestApp::spawn().await;
    app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added");
    let reads = app.count(|request| request.method == "GET");
    assert_eq!(
        reads, 2,
        "the user and the methods, concurrently; no third read"
    );
}

/// Runs two callers of one user, one by UPN and one by object id, at a bound of one user at a time:
/// neither may hold what the other waits for.
async fn mixed_callers_at_bound_one(queue: bool) {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_MAX_CONCURRENT_USERS", "1"),
            ("MFA_HTTP_BUDGET_SECONDS", "20"),
            ("MFA_INVOCATION_BUDGET_SECONDS", "20"),
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    // The UPN caller's user read waits at the simulator until the other caller is queued.
    let gate = app.sim.hold(Some("GET"), "/users/adele@contoso.com$", 1);
    let by_upn = json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER});
    let by_id = json!({"UserId": user, "phoneNumber": NUMBER});
    let send = |message: Value| {
        let app = &app;
        async move {
            if queue {
                let (status, envelope) = app.deliver(&message, 1).await;
                (status, result_of(&envelope).clone())
            } else {
                let answer = app.call(message).await;
                (answer.status, answer.report)
            }
        }
    };
    let first = send(by_upn);
    let second = async {
        let mut arrived = app.sim.request_arrived();
        while app.sim.in_flight().is_empty() {
            arrived.changed().await.expect("the simulator runs");
        }
        let id_caller = send(by_id.clone());
        let opener = async {
            app.wait_for_output(|text| text.contains(&format!("phone of {user}")))
                .await;
            gate.open();
        };
        let (answer, ()) = tokio::join!(id_caller, opener);
        answer
    };
    let ((first_status, first), (second_status, second)) = tokio::join!(first, second);

    assert_eq!(first_status, 200, "{first}");
    assert_eq!(second_status, 200, "{second}");
    assert_eq!(first.status_text(), "succeeded", "{first}");
    assert_eq!(second.status_text(), "succeeded", "{second}");
    let actions = [first.action().to_owned(), second.action().to_owned()];
    assert!(actions.contains(&"added".to_owned()), "{actions:?}");
    assert!(actions.contains(&"unchanged".to_owned()), "{actions:?}");
    assert_eq!(app.phones(&user).len(), 1);
}

#[tokio::test]
async fn a_upn_caller_and_an_object_id_caller_never_stall_each_other_over_http() {
    mixed_callers_at_bound_one(false).await;
}

#[tokio::test]
async fn a_upn_caller_and_an_object_id_caller_never_stall_each_other_on_the_queue() {
    mixed_callers_at_bound_one(true).await;
}

#[tokio::test]
async fn a_hung_identity_endpoint_costs_one_bounded_wait_then_recovers() {
    let app = TestApp::builder()
        .env("MFA_TOKEN_TIMEOUT_SECONDS", "1")
        .prepare(|sim| {
            // The endpoint accepts the connection and answers after a minute: the start-up prefetch
            // hangs on it too.
            sim.inject(FaultRule::new(
                Some("GET"),
                "/msi/token",
                100,
                FaultAction::Delay(Duration::from_secs(60)),
            ));
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER});

    let (first, second) = tokio::join!(app.call(message.clone()), app.call(message.clone()));

    for answer in [&first, &second] {
        assert_eq!(answer.status, 503, "{}", answer.report);
        assert_eq!(answer.error_code(), "identityUnavailable");
        assert!(retry_after(answer).is_string(), "{}", answer.envelope);
        assert!(
            answer
                .error_message()
                .contains("no token could be obtained"),
            "{}",
            answer.error_message()
        );
    }
    let (redeliver, _) = app.deliver(&message, 1).await;
    assert_eq!(redeliver, 503, "the queue asks for redelivery");
    let (last, envelope) = app.deliver(&message, 5).await;
    assert_eq!(last, 200);
    assert_eq!(result_of(&envelope).error_code(), "identityUnavailable");
    assert!(app.writes().is_empty());

    app.sim.clear_faults();
    let recovered = app.call(message).await;
    assert_eq!(recovered.action(), "added", "{}", recovered.report);
}

#[tokio::test]
async fn numbers_in_older_notations_are_the_same_number() {
    for written in [
        "+49 (0)170 1234567",
        "+49 01701234567",
        "+49 170-1234567",
        "+491701234567",
    ] {
        let app = TestApp::builder()
            .env("MFA_NOTIFY_SENDER", "it@contoso.com")
            .spawn()
            .await;
        app.add_member("it@contoso.com");
        let user = app.add_member("adele@contoso.com");
        app.sim.tenant(|tenant| {
            tenant.seed_phone_as_written(&user, PhoneType::Mobile, written);
        });

        let set = app
            .call(json!({"UserId": user, "phoneNumber": "+49 170 1234567", "NotifyUser": true}))
            .await;
        assert_eq!(set.action(), "unchanged", "{written}: {}", set.report);
        assert!(app.writes().is_empty(), "{written}: no write");
        assert_eq!(set.notification()["status"], "notNeeded", "{written}");
        if written.contains(['(', '-']) || written.contains(" 0") {
            assert!(
                set.log_text().contains("compared by the numbering plan"),
                "{written}: the log says how it compared: {}",
                set.log_text()
            );
        }

        let removed = app
            .call(json!({"UserId": user, "phoneNumber": "+491701234567", "Remove": true}))
            .await;
        assert_eq!(removed.action(), "removed", "{written}: {}", removed.report);
        assert!(app.phones(&user).is_empty(), "{written}");
    }
}

#[tokio::test]
async fn the_owner_search_recognises_a_holder_whose_number_is_in_an_older_notation() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    let megan = app.add_member("megan@contoso.com");
    app.sim.tenant(|tenant| {
        tenant.seed_phone_as_written(&megan, PhoneType::Mobile, "+49 (0)170 1234567");
        tenant.variants.conflict_writes_method = false;
    });

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(
        answer.error_code(),
        "phoneNumberNotUnique",
        "{}",
        answer.report
    );
    assert_eq!(answer.conflict_owner()["id"], megan.as_str());
}

#[tokio::test]
async fn a_conflict_code_in_another_case_is_still_the_conflict() {
    let app = TestApp::builder()
        .env("MFA_NOTIFY_SENDER", "it@contoso.com")
        .spawn()
        .await;
    app.add_member("it@contoso.com");
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::ApplyThenRespond {
            status: 409,
            code: "PhoneNumberNotUnique",
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(
        answer.action(),
        "added",
        "the write Graph carried out is reported"
    );
    assert!(answer.has_warning("smsSignInConflict"), "{}", answer.report);
    assert_eq!(answer.notification()["status"], "sent");
}

#[tokio::test]
async fn a_verification_read_that_fails_for_a_moment_does_not_hide_the_change() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::ApplyThenRespond {
            status: 409,
            code: "phoneNumberNotUnique",
        },
    ));
    // The first verification read (the read before the write is of all methods) fails
    // through every retry of the Graph client.
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        "/authentication/phoneMethods",
        5,
        503,
        "serviceNotAvailable",
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert!(answer.has_warning("smsSignInConflict"));
}

#[tokio::test]
async fn a_change_whose_last_step_runs_out_of_time_is_still_reported_as_the_change() {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_HTTP_BUDGET_SECONDS", "5"),
            ("MFA_GRAPH_TIMEOUT_SECONDS", "60"),
        ])
        .spawn()
        .await;
    let mut adele = SimUser::member("adele@contoso.com", "Adele");
    adele.sms_sign_in_allowed = false;
    let user = app.add_user(adele);
    // Enabling SMS sign-in never answers.
    let _gate = app.sim.hold(Some("POST"), "/enableSmsSignIn", 1);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "smsSignIn": "enable"}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    let message = answer.warning_message("stepNotFinished");
    assert!(message.contains("was added"), "{}", answer.report);
    assert!(message.contains("time budget"), "{message}");
    assert_eq!(app.phones(&user)[0].1, NUMBER);
}

#[tokio::test]
async fn a_result_always_fits_a_queue_message() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let mut message = serde_json::Map::new();
    message.insert("UserId".to_owned(), json!(user));
    message.insert("phoneNumber".to_owned(), json!(NUMBER));
    for index in 0..3_000 {
        message.insert(format!("p{index}"), json!(index));
    }
    let message = Value::Object(message);
    assert!(
        message.to_string().len() < 64 * 1024,
        "the request fits a queue message"
    );

    let (status, envelope) = app.deliver(&message, 1).await;

    assert_eq!(status, 200);
    let result = result_of(&envelope);
    let size = result.to_string().len();
    assert!(size <= 48 * 1024, "the result is {size} bytes");
    assert_eq!(result.action(), "added");
    assert_eq!(result["truncated"], true);
    assert_eq!(
        result["request"]["UserId"],
        user.as_str(),
        "the known parameters stay"
    );
    assert!(result.warnings().as_array().unwrap().len() <= 11);
    assert!(result.has_warning("unknownParameter"));
}

#[tokio::test]
async fn a_body_over_the_limit_gets_a_structured_answer_in_a_host_envelope() {
    let app = TestApp::spawn().await;
    let body =
        json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER, "pad": "x".repeat(3 << 20)});

    let answer = app
        .call_envelope(http_envelope(Some(&body.to_string())))
        .await;

    assert_eq!(answer.status, 413, "{}", answer.report);
    assert_eq!(answer.error_code(), "requestTooLarge");
    assert!(
        answer.error_message().contains("256 KiB"),
        "{}",
        answer.error_message()
    );
    assert_eq!(answer.report["schemaVersion"], 1);
    assert!(app.graph_requests().is_empty());
}

#[tokio::test]
async fn a_number_in_free_text_is_masked_whatever_its_separators() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({
            "UserId": user,
            "phoneNumber": NUMBER,
            "CallerName": "ticket for +49/170/7654321 and +44.7911.123456"
        }))
        .await;

    assert_eq!(answer.action(), "added");
    for leaked in ["7654321", "765432", "7911123456", "911123", "170/765"] {
        assert!(!answer.log_text().contains(leaked), "{}", answer.log_text());
        assert!(
            !app.output().contains(leaked),
            "{leaked} reached the process log"
        );
    }
}

#[tokio::test]
async fn candidates_whose_batch_item_is_missing_or_unreadable_are_not_counted_as_read() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    let megan = app.add_member("megan@contoso.com");
    app.seed_phone(&megan, PhoneType::Mobile, NUMBER);
    let bob = app.add_member("bob@contoso.com");
    app.seed_phone(&bob, PhoneType::Mobile, "+49 1705555555");
    app.sim.tenant(|tenant| {
        tenant.variants.conflict_writes_method = false;
        tenant.update_user(&megan, |user| user.deleted = true);
    });
    // Megan is deleted and holds the number: nobody visible holds it. Bob's item is left out
    // of every batch answer, so nobody may claim that no visible user holds it.
    app.sim.inject(FaultRule::new(
        Some("GET"),
        &format!("/users/{bob}/authentication/phoneMethods"),
        100,
        FaultAction::Omit,
    ));

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    assert!(
        answer.has_warning("ownerSearchIncomplete"),
        "{}",
        answer.report
    );
    assert!(
        !answer
            .warnings()
            .to_string()
            .contains("no visible user holds"),
        "{}",
        answer.report
    );
}

#[tokio::test]
async fn a_panic_costs_one_invocation_and_the_others_carry_on() {
    let app = TestApp::builder()
        .env("MFA_TEST_PANIC_CALLER", "boom")
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let other = app.add_member("megan@contoso.com");
    // Another invocation is in flight while the panic happens.
    let gate = app.sim.hold(Some("GET"), &format!("/users/{other}$"), 1);
    let in_flight = app.call(json!({"UserId": other, "phoneNumber": "+49 1705555555"}));
    let panicking = async {
        let mut arrived = app.sim.request_arrived();
        while app.sim.in_flight().is_empty() {
            arrived.changed().await.expect("the simulator runs");
        }
        let answer = app
            .call(json!({"UserId": user, "phoneNumber": NUMBER, "CallerName": "boom"}))
            .await;
        gate.open();
        answer
    };
    let (survivor, panicked) = tokio::join!(in_flight, panicking);

    assert_eq!(panicked.status, 500, "{}", panicked.report);
    assert_eq!(panicked.error_code(), "internal");
    assert_eq!(survivor.action(), "added", "{}", survivor.report);
    let output = app.output();
    assert!(output.contains("panicked at"), "{output}");
    assert!(
        !output.contains("test-only panic trigger"),
        "the panic's message is not logged"
    );

    let message = json!({"UserId": user, "phoneNumber": NUMBER, "CallerName": "boom"});
    let (again, _) = app.deliver(&message, 1).await;
    assert_eq!(again, 503, "the queue delivers it again");
    let (last, envelope) = app.deliver(&message, 5).await;
    assert_eq!(last, 200);
    assert_eq!(result_of(&envelope).error_code(), "internal");
    let after = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(after.action(), "added", "the handler still serves");
}
