//! Runs the handler against Graph misbehaving: throttling, unavailability, lost answers, missing
//! permissions, an identity endpoint that is down, and the undocumented variants of Graph's rules.

use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::Rejection;
use mfa_phone_handler::simulator::{FaultAction, FaultRule, SimOptions};
use serde_json::json;

use crate::helpers::{Results, TestApp};

const NUMBER: &str = "+49 1701234567";
/// The answers Graph might give to a rule it does not document the error of [UNVERIFIED].
const REJECTION_VARIANTS: [Rejection; 2] = [
    Rejection {
        status: 400,
        code: "badRequest",
    },
    Rejection {
        status: 409,
        code: "conflict",
    },
];
const OTHER: &str = "+49 1709876543";

#[tokio::test]
async fn throttled_reads_are_retried_after_graphs_retry_after() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::throttle(
        Some("GET"),
        "/authentication/methods",
        2,
        "0.2",
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    let reads: Vec<_> = app
        .graph_requests()
        .into_iter()
        .filter(|request| {
            request.method == "GET" && request.path.ends_with("/authentication/methods")
        })
        .collect();
    assert_eq!(
        reads.iter().map(|read| read.status).collect::<Vec<_>>(),
        [429, 429, 200]
    );
    // Each retry waited at least the 0.2 s Graph asked for.
    for pair in reads.windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(200));
    }
    // It is one logical request: the retries reuse its client-request-id.
    assert!(
        reads
            .iter()
            .all(|read| read.client_request_id == reads[0].client_request_id)
    );
}

#[tokio::test]
async fn graph_staying_unavailable_is_a_503_with_retry_after_and_no_write() {
    let app = TestApp::builder()
        .envs(&[("MFA_GRAPH_MAX_ATTEMPTS", "3")])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/authentication/methods",
        100,
        FaultAction::Respond {
            status: 503,
            code: "serviceNotAvailable",
            retry_after: Some("0.05".to_owned()),
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 503);
    assert_eq!(answer.error_code(), "graphUnavailable");
    // Graph asked for 0.05 s; a caller is told to wait at least 5 s.
    assert_eq!(
        answer.envelope["Outputs"]["res"]["headers"]["Retry-After"],
        "5"
    );
    assert!(app.writes().is_empty());
    let attempts = app
        .graph_requests()
        .iter()
        .filter(|request| request.path.ends_with("/authentication/methods"))
        .count();
    assert_eq!(attempts, 3, "bounded by MFA_GRAPH_MAX_ATTEMPTS");
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once_instead_of_waiting() {
    let app = TestApp::builder()
        .envs(&[("MFA_GRAPH_RETRY_BUDGET_SECONDS", "2")])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::throttle(
        Some("GET"),
        "/authentication/methods",
        1,
        "120",
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    // This is not timed: the throttled read was the only one (no wait for a second), and the caller
    // is told Graph's 120 s, which only a request that gave up instead of waiting can pass on.
    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(
        answer.envelope["Outputs"]["res"]["headers"]["Retry-After"],
        "120"
    );
    assert!(
        answer.error_message().contains("gave up after 1 attempts"),
        "{}",
        answer.error_message()
    );
    let reads = app.count(|request| request.path.ends_with("/authentication/methods"));
    assert_eq!(reads, 1, "no attempt after the throttled one");
}

#[tokio::test]
async fn an_attempt_that_takes_too_long_is_abandoned_and_retried() {
    let app = TestApp::builder()
        .envs(&[("MFA_GRAPH_TIMEOUT_SECONDS", "0.3")])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    // The first read is held until the test lets it go: it can only be answered late.
    let held = app.sim.hold(Some("GET"), "/authentication/methods", 1);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    // This is not timed: the first read was never answered (its gate is still shut), yet the
    // handler answered, so it did not wait for it; the read was sent again and the phone added.
    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert_eq!(app.sim.arrived("/authentication/methods"), 2);
    let answered = app.count(|request| request.path.ends_with("/authentication/methods"));
    assert_eq!(answered, 1, "only the second read was answered");
    held.open();
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_read_back_not_repeated() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/phoneMethods",
        1,
        FaultAction::ApplyThenRespond {
            status: 504,
            code: "GatewayTimeout",
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    let posts = app
        .writes()
        .iter()
        .filter(|write| write.method == "POST")
        .count();
    assert_eq!(posts, 1, "the POST is not repeated");
    assert_eq!(app.phones(&user).len(), 1);
    assert!(answer.log_text().contains("reading back confirms it"));
}

#[tokio::test]
async fn a_post_that_graph_did_not_carry_out_is_sent_again_after_reading_back() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("POST"),
        "/phoneMethods",
        1,
        503,
        "serviceNotAvailable",
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    let requests = app.graph_requests();
    let methods: Vec<&str> = requests
        .iter()
        .map(|request| request.method.as_str())
        .collect();
    assert_eq!(methods, ["GET", "GET", "POST", "GET", "POST"]);
    let posts = app
        .writes()
        .iter()
        .filter(|write| write.method == "POST")
        .count();
    assert_eq!(posts, 2);
}

#[tokio::test]
async fn a_write_with_read_rights_only_is_a_502_naming_the_phone_only_permission() {
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

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 502);
    assert_eq!(answer.error_code(), "graphForbidden");
    let message = answer.error_message();
    assert!(
        message.contains("UserAuthMethod-Phone.ReadWrite.All"),
        "{message}"
    );
    assert!(message.contains("403 accessDenied"), "{message}");
    assert!(app.phones(&user).is_empty());
}

#[tokio::test]
async fn a_missing_directory_permission_names_user_read_all() {
    let app = TestApp::builder()
        .grant(&[
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 502);
    assert_eq!(answer.error_code(), "graphForbidden");
    assert!(
        answer.error()["message"]
            .as_str()
            .unwrap()
            .contains("User.Read.All")
    );
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn an_identity_endpoint_that_is_down_is_transient_and_recovers() {
    let app = TestApp::builder()
        .prepare(|sim| {
            sim.inject(FaultRule::respond(
                None,
                "/msi/token",
                1000,
                500,
                "InternalServerError",
            ));
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let down = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    app.sim.clear_faults();
    let recovered = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(down.status, 503, "{}", down.report);
    assert_eq!(down.error_code(), "identityUnavailable");
    assert!(down.envelope["Outputs"]["res"]["headers"]["Retry-After"].is_string());
    assert_eq!(recovered.status, 200, "{}", recovered.report);
    assert_eq!(recovered.action(), "added");
}

#[tokio::test]
async fn without_a_token_the_handler_reports_identity_unavailable_at_the_refusal() {
    let app = TestApp::builder()
        .envs(&[
            // The simulator does not accept this header, so every token request is refused.
            ("IDENTITY_HEADER", "wrong-secret"),
            // No test outlasts this token wait, so the answer below comes from the refusal itself.
            ("MFA_TOKEN_TIMEOUT_SECONDS", "60"),
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    // This is not timed: the answer names the endpoint's refusal, not a token wait that ran out, so
    // the refusal was not retried until the wait ended.
    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "identityUnavailable");
    let message = answer.error_message();
    assert!(message.contains("X-IDENTITY-HEADER"), "{message}");
    assert!(!message.contains("did not answer within"), "{message}");
    let refused = app.sim.requests();
    assert!(
        refused
            .iter()
            .filter(|request| request.path == "/msi/token")
            .all(|request| request.status == 401),
        "every token request was refused"
    );
    assert!(
        app.graph_requests().is_empty(),
        "no request reaches Graph without a token"
    );
}

#[tokio::test]
async fn a_user_assigned_identity_is_used_when_azure_client_id_is_set() {
    let options = SimOptions {
        managed_identity_client_id: Some("5b1c1e56-0000-4000-8000-00000000cafe".to_owned()),
        ..SimOptions::default()
    };
    let app = TestApp::builder().options(options).spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    // This is the token for Graph's audience (ARM's, for the protection check, is another).
    let graph = app.sim.graph_endpoint();
    let token_requests: Vec<_> =
        app.sim
            .requests()
            .into_iter()
            .filter(|request| {
                request.path == "/msi/token"
                    && request.query.iter().any(|(name, value)| {
                        name == "resource" && value.trim_end_matches('/') == graph
                    })
            })
            .collect();
    assert_eq!(
        token_requests.len(),
        1,
        "one token, cached for every later request"
    );
    assert_eq!(token_requests[0].status, 200);
}

#[tokio::test]
async fn a_stale_read_before_a_write_converges_under_every_duplicate_post_variant() {
    for duplicate in REJECTION_VARIANTS {
        let app = TestApp::spawn().await;
        let user = app.add_member("adele@contoso.com");
        app.sim.tenant(|tenant| {
            tenant.variants.duplicate_post = duplicate.clone();
            tenant.variants.read_lag = Duration::from_millis(300);
        });
        // A first request writes the mobile phone; reads lag behind it for 300 ms.
        let first = app
            .call(json!({"UserId": user, "phoneNumber": OTHER}))
            .await;
        assert_eq!(first.action(), "added");

        // The second reads "no mobile phone", POSTs, is refused, and must still converge.
        let second = app
            .call(json!({"UserId": user, "phoneNumber": NUMBER}))
            .await;

        assert_eq!(second.status, 200, "{duplicate:?}: {}", second.report);
        assert_eq!(second.action(), "updated", "{duplicate:?}");
        assert_eq!(app.phones(&user)[0].1, NUMBER, "{duplicate:?}");
    }
}

#[tokio::test]
async fn structural_rules_hold_under_every_rejection_variant() {
    for structural in REJECTION_VARIANTS {
        let app = TestApp::spawn().await;
        let user = app.add_member("adele@contoso.com");
        app.seed_phone(&user, PhoneType::Mobile, NUMBER);
        app.sim.tenant(|tenant| {
            tenant.variants.structural = structural.clone();
            tenant.variants.read_lag = Duration::from_millis(300);
        });
        // Another request adds an alternate; our read still shows only the mobile phone.
        let alternate = app
            .call(json!({"UserId": user, "phoneNumber": OTHER, "phoneType": "alternateMobile"}))
            .await;
        assert_eq!(alternate.action(), "added");

        let remove = app
            .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
            .await;

        assert_eq!(remove.status, 409, "{structural:?}: {}", remove.report);
        assert_eq!(remove.error_code(), "mobileHasAlternate", "{structural:?}");
        assert_eq!(app.phones(&user).len(), 2);
    }
}

#[tokio::test]
async fn an_ignored_phone_type_filter_does_not_matter_because_we_filter_ourselves() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);
    app.seed_phone(&user, PhoneType::Office, NUMBER);
    app.sim
        .tenant(|tenant| tenant.variants.honour_phone_filter = false);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(
        answer.action(),
        "updated",
        "the office number is not the mobile one"
    );
    assert_eq!(app.phones(&user)[0].1, NUMBER);
}
