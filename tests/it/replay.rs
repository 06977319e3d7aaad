//! The same change sent again over HTTP with its `requestId` (a resumed bulk run, a Logic
//! App's retry) is answered with the first answer, not carried out twice; one still under way
//! is waited for; anything that differs, or a first attempt that ended transiently, runs.

use mfa_phone_handler::simulator::{FaultAction, FaultRule, Gate};
use serde_json::json;

use crate::helpers::{HttpAnswer, Results, TestApp, http_envelope_as};

const NUMBER: &str = "+49 1701234567";

/// Sends `parameters` as a caller Microsoft Entra authenticated, with the writer's app role:
/// answers are kept for such callers only.
async fn call(app: &TestApp, parameters: serde_json::Value) -> HttpAnswer {
    app.call_envelope(http_envelope_as(
        &parameters,
        &[
            ("oid", "aaaaaaaa-1111-4222-8333-444444444444"),
            ("roles", "MfaPhone.ReadWrite"),
            ("scp", "user_impersonation"),
        ],
    ))
    .await
}

/// Counts the writes of phone methods Graph answered.
fn writes(app: &TestApp) -> usize {
    app.graph_requests()
        .iter()
        .filter(|request| request.method != "GET" && request.path.contains("/phoneMethods"))
        .count()
}

#[tokio::test]
async fn a_change_sent_again_with_its_request_id_gets_the_first_answer_without_a_second_run() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let change = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "row-7"});

    // Only this user's requests count: the handler's background reads (the policy, the role
    // holders) may come at any time.
    let users_requests = || {
        app.graph_requests()
            .iter()
            .filter(|request| request.path.contains(user.as_str()))
            .count()
    };
    let first = call(&app, change.clone()).await;
    let requests_after_first = users_requests();
    let again = call(&app, change).await;

    assert_eq!(first.action(), "added", "{}", first.report);
    assert_eq!(
        again.action(),
        "added",
        "the first answer: {}",
        again.report
    );
    assert_eq!(again.report["requestId"], "row-7");
    let age = &again.envelope["Outputs"]["res"]["headers"]["Age"];
    assert!(
        age.as_str().is_some_and(|age| age.parse::<u64>().is_ok()),
        "a replayed answer says how old it is: {age}"
    );
    assert!(
        first.envelope["Outputs"]["res"]["headers"]
            .get("Age")
            .is_none(),
        "a fresh answer has no age"
    );
    assert_eq!(
        again.report["log"].as_array().unwrap().last(),
        first.report["log"].as_array().unwrap().last(),
        "the last line still says what was done, not that it was replayed"
    );
    assert!(
        again
            .log_text()
            .contains("this is that answer again; nothing was read or written"),
        "{}",
        again.report
    );
    assert_eq!(
        users_requests(),
        requests_after_first,
        "nothing was sent to Graph the second time"
    );
    assert_eq!(writes(&app), 1);
}

/// The second sending reaches the handler while the first's write is held at Graph, or (as the
/// scheduler has it) just after it was let through: either way it gets the first's answer
/// ("added", where carrying it out again would say "unchanged") and Graph sees one write. The
/// wait itself is unit-tested in `replay`.
#[tokio::test]
async fn a_change_sent_again_while_the_first_is_under_way_waits_for_its_answer() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let gate = Gate::default();
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::Hold(gate.clone()),
    ));
    let change = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "row-8"});

    let mut arrivals = app.sim.request_arrived();
    let first = call(&app, change.clone());
    let second = async {
        while app.sim.arrived("/authentication/phoneMethods") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // The first's write is held at Graph: the same request comes again.
        let second = call(&app, change.clone());
        let release = async {
            tokio::task::yield_now().await;
            gate.open();
        };
        tokio::join!(second, release).0
    };
    let (first, second) = tokio::join!(first, second);

    assert_eq!(first.action(), "added", "{}", first.report);
    assert_eq!(second.action(), "added", "{}", second.report);
    assert_eq!(writes(&app), 1, "one write for the two sendings");
}

/// Only a success is kept: a transient failure, other parameters under the same requestId,
/// and a request without one all run.
#[tokio::test]
async fn other_parameters_or_a_failed_first_answer_run_again() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    // The first attempt meets Graph unavailable (every retry of it too), so it is not final.
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        50,
        FaultAction::Respond {
            status: 503,
            code: "serviceNotAvailable",
            retry_after: None,
        },
    ));
    let change = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "row-9"});
    let unavailable = call(&app, change.clone()).await;
    assert_eq!(
        unavailable.error_code(),
        "graphUnavailable",
        "{}",
        unavailable.report
    );
    app.sim.clear_faults();

    let retried = call(&app, change).await;
    assert_eq!(retried.action(), "added", "carried out: {}", retried.report);

    let other_number = call(
        &app,
        json!({"UserId": user, "phoneNumber": "+49 1709876543", "requestId": "row-9"}),
    )
    .await;
    assert_eq!(other_number.action(), "updated", "{}", other_number.report);

    let without_id = call(
        &app,
        json!({"UserId": user, "phoneNumber": "+49 1709876543"}),
    )
    .await;
    assert_eq!(without_id.action(), "unchanged", "{}", without_id.report);
    assert!(
        !without_id.log_text().contains("that answer again"),
        "carried out again: {}",
        without_id.report
    );
}

#[tokio::test]
async fn a_caller_with_the_function_key_alone_gets_no_kept_answer() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let change = json!({"UserId": user, "phoneNumber": NUMBER, "requestId": "row-10"});

    let first = app.call(change.clone()).await;
    let again = app.call(change).await;

    assert_eq!(first.action(), "added", "{}", first.report);
    assert_eq!(
        again.action(),
        "unchanged",
        "carried out again, not told another key holder's answer: {}",
        again.report
    );
    assert!(!again.log_text().contains("that answer again"));
}
