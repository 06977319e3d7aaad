//! The same change sent again over HTTP with its `requestId` (a resumed bulk run, a Logic
//! App's retry) is answered with the first answer, not carried out twice; one still under way
//! is waited for; anything that differs, or a first attempt that ended transiently, runs.

use mfa_phone_handler::simulator::{FaultAction, FaultRule, Gate};
use serde_json::json;

use crate::helpers::{Results, TestApp};

const NUMBER: &str = "+49 1701234567";

/// How many writes of phone methods Graph answered.
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

    // This user's requests only: the handler's background reads (the policy, the role
    // holders) may come at any time.
    let users_requests = || {
        app.graph_requests()
            .iter()
            .filter(|request| request.path.contains(user.as_str()))
            .count()
    };
    let first = app.call(change.clone()).await;
    let requests_after_first = users_requests();
    let again = app.call(change).await;

    assert_eq!(first.action(), "added", "{}", first.report);
    assert_eq!(
        again.action(),
        "added",
        "the first answer: {}",
        again.report
    );
    assert_eq!(again.report["requestId"], "row-7");
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
    let first = app.call(change.clone());
    let second = async {
        while app.sim.arrived("/authentication/phoneMethods") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // The first's write is held at Graph: the same request comes again.
        let second = app.call(change.clone());
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
    // The first attempt meets Graph unavailable (every retry of it too): not final.
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
    let unavailable = app.call(change.clone()).await;
    assert_eq!(
        unavailable.error_code(),
        "graphUnavailable",
        "{}",
        unavailable.report
    );
    app.sim.clear_faults();

    let retried = app.call(change).await;
    assert_eq!(retried.action(), "added", "carried out: {}", retried.report);

    let other_number = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1709876543", "requestId": "row-9"}))
        .await;
    assert_eq!(other_number.action(), "updated", "{}", other_number.report);

    let without_id = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1709876543"}))
        .await;
    assert_eq!(without_id.action(), "unchanged", "{}", without_id.report);
    assert!(
        !without_id.log_text().contains("that answer again"),
        "carried out again: {}",
        without_id.report
    );
}
