//! Runs the HTTP trigger end to end: every row of the decision table, Graph's structural rules,
//! dry runs, addressing, and the envelope contract.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{FaultAction, FaultRule, Gate, LoggedRequest};
use serde_json::json;

use crate::helpers::{Results, TestApp, http_envelope};

const NUMBER: &str = "+49 1701234567";
const OTHER: &str = "+49 1709876543";
const MOBILE_ID: &str = "3179e48a-750b-4051-897c-87b9720928f7";

#[tokio::test]
async fn set_adds_a_mobile_method_when_there_is_none() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": "adele@contoso.com", "phoneNumber": "+49 170 1234567", "CallerName": "helpdesk"}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.status_text(), "succeeded");
    assert_eq!(answer.action(), "added");
    assert_eq!(answer.phone_method()["id"], MOBILE_ID);
    assert_eq!(answer.phone_method()["phoneNumber"], NUMBER);
    assert_eq!(answer.phone_method()["smsSignInState"], "ready");
    assert_eq!(answer.user()["id"], user.as_str());
    assert_eq!(answer.report["callerName"], "helpdesk");
    assert_eq!(
        app.phones(&user),
        [(PhoneType::Mobile, NUMBER.to_owned(), "ready".to_owned())]
    );
    let writes = app.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "POST");
    assert_eq!(
        writes[0].body,
        Some(json!({"phoneNumber": NUMBER, "phoneType": "mobile"}))
    );
    // The user is resolved once: the write addresses the user by object id.
    assert!(writes[0].path.contains(&user), "{}", writes[0].path);
}

#[tokio::test]
async fn set_updates_a_method_that_holds_another_number() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+491701234567"}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "updated");
    assert_eq!(app.phones(&user)[0].1, NUMBER);
    let writes = app.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "PATCH");
    assert!(writes[0].path.ends_with(MOBILE_ID));
    // PATCH answers 204 without a body: the state Graph computed is not claimed.
    assert_eq!(answer.phone_method()["smsSignInState"], json!(null));
}

#[tokio::test]
async fn set_writes_nothing_when_the_digits_already_match() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+49 (170) 123-4567"}))
        .await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.action(), "unchanged");
    assert_eq!(answer.phone_method()["phoneNumber"], NUMBER);
    assert!(app.writes().is_empty());
    // The read costs one round trip of latency: the user and the methods, read concurrently,
    // and nothing else.
    let requests = app.graph_requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests.iter().all(|request| request.method == "GET"));
}

#[tokio::test]
async fn remove_deletes_the_method_holding_the_number_given() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": "True"}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "removed");
    assert_eq!(*answer.phone_method(), json!(null));
    assert!(app.phones(&user).is_empty());
    let writes = app.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "DELETE");
}

#[tokio::test]
async fn remove_refuses_when_the_method_holds_another_number() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;

    assert_eq!(answer.status, 409);
    assert_eq!(answer.status_text(), "failed");
    assert_eq!(answer.error_code(), "numberMismatch");
    let message = answer.error_message();
    assert!(message.contains("+49 ********43"), "{message}");
    assert!(!message.contains("1709876543"), "{message}");
    assert!(app.writes().is_empty());
    assert_eq!(app.phones(&user)[0].1, OTHER);
}

#[tokio::test]
async fn remove_succeeds_with_nothing_to_do_when_there_is_no_method() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Office, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.status_text(), "succeeded");
    assert_eq!(answer.action(), "notPresent");
    assert!(app.writes().is_empty());
    assert_eq!(app.phones(&user).len(), 1, "the office phone stays");
}

#[tokio::test]
async fn an_alternate_mobile_without_a_mobile_is_refused_before_writing() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "phoneType": "alternateMobile"}))
        .await;

    assert_eq!(answer.status, 409);
    assert_eq!(answer.error_code(), "alternateMobileRequiresMobile");
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn the_mobile_cannot_be_removed_while_an_alternate_exists() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    app.seed_phone(&user, PhoneType::AlternateMobile, OTHER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;

    assert_eq!(answer.status, 409);
    assert_eq!(answer.error_code(), "mobileHasAlternate");
    assert!(app.writes().is_empty());
    assert_eq!(app.phones(&user).len(), 2);
}

#[tokio::test]
async fn the_default_method_is_reported_when_graph_will_not_delete_it() {
    let app = TestApp::spawn().await;
    let mut user = SimUser::member("diego@contoso.com", "Diego");
    user.default_method = Some(PhoneType::Mobile);
    user.other_methods = vec!["microsoftAuthenticatorAuthenticationMethod".to_owned()];
    let user = app.add_user(user);
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;

    assert_eq!(answer.status, 409, "{}", answer.report);
    assert_eq!(answer.error_code(), "cannotDeleteDefaultMethod");
    assert_eq!(app.phones(&user).len(), 1);
    // There is one DELETE: the refusal is not retried blindly.
    assert_eq!(app.writes().len(), 1);
}

#[tokio::test]
async fn alternate_and_office_methods_are_managed_with_their_own_ids() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let alternate = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "phoneType": "AlternateMobile"}))
        .await;
    let office = app
        .call(json!({"UserId": user, "phoneNumber": "+49 30 12345678 x123", "phoneType": "office"}))
        .await;

    assert_eq!(alternate.action(), "added");
    assert_eq!(
        alternate.phone_method()["id"],
        "b6332ec1-7057-4abe-9331-3d72feddfe41"
    );
    assert_eq!(alternate.phone_method()["smsSignInState"], "notSupported");
    assert_eq!(office.action(), "added", "{}", office.report);
    assert_eq!(office.phone_method()["phoneNumber"], "+49 3012345678x123");
    let types: Vec<PhoneType> = app.phones(&user).into_iter().map(|phone| phone.0).collect();
    assert_eq!(
        types,
        [
            PhoneType::Mobile,
            PhoneType::AlternateMobile,
            PhoneType::Office
        ]
    );
}

#[tokio::test]
async fn a_dry_run_reports_the_plan_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let update = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true}))
        .await;
    let mismatch = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true, "dryRun": "true"}))
        .await;

    assert_eq!(update.status, 200);
    assert_eq!(update.report["dryRun"], true);
    assert_eq!(update.action(), "updated");
    assert_eq!(update.phone_method()["phoneNumber"], NUMBER);
    assert!(update.log_text().contains("Dry run: would change"));
    assert_eq!(mismatch.status, 409);
    assert_eq!(mismatch.report["dryRun"], true);
    assert_eq!(mismatch.error_code(), "numberMismatch");
    assert!(app.writes().is_empty());
    assert_eq!(app.phones(&user)[0].1, OTHER);
}

#[tokio::test]
async fn an_unknown_user_is_a_404() {
    let app = TestApp::spawn().await;

    let by_name = app
        .call(json!({"UserId": "nobody@contoso.com", "phoneNumber": NUMBER}))
        .await;
    let by_id = app
        .call(json!({"UserId": "00000000-0000-0000-0000-000000000001", "phoneNumber": NUMBER}))
        .await;

    for answer in [&by_name, &by_id] {
        assert_eq!(answer.status, 404);
        assert_eq!(answer.error_code(), "userNotFound");
        assert_eq!(answer.error()["field"], "UserId");
        assert_eq!(*answer.user(), json!(null));
    }
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_guest_is_addressed_with_its_ext_upn_encoded_and_gets_a_warning() {
    let app = TestApp::spawn().await;
    let guest = app.add_user(SimUser::guest(
        "lynne_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "Lynne",
    ));

    let answer = app
        .call(json!({"UserId": "lynne_fabrikam.com#EXT#@contoso.onmicrosoft.com", "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert_eq!(answer.warning_codes(), ["guestUser"]);
    assert_eq!(
        answer.phone_method()["smsSignInState"],
        "notAllowedByPolicy"
    );
    let reads: Vec<_> = app
        .graph_requests()
        .into_iter()
        .filter(|request| request.method == "GET")
        .collect();
    // The user is read by the UPN, encoded; Graph's authentication-methods endpoints answer
    // 404 to a guest's UPN, so the methods are read, and written, by object id.
    let by_upn = |request: &&LoggedRequest| {
        request
            .raw_path
            .contains("lynne_fabrikam.com%23EXT%23@contoso.onmicrosoft.com")
    };
    assert!(
        reads
            .iter()
            .filter(by_upn)
            .any(|read| !read.path.contains("/authentication"))
    );
    assert!(reads.iter().any(
        |read| read.path == format!("/users/{guest}/authentication/methods") && read.status == 200
    ));
    assert!(app.writes()[0].path.contains(&guest));
}

#[tokio::test]
async fn a_upn_starting_with_dollar_uses_graphs_key_syntax() {
    let app = TestApp::spawn().await;
    let user = app.add_member("$admin@contoso.com");

    let answer = app
        .call(json!({"UserId": "$admin@contoso.com", "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(app.phones(&user).len(), 1);
    assert!(app.graph_requests().iter().any(|request| {
        request
            .raw_path
            .starts_with("/v1.0/users('$admin@contoso.com')")
    }));
}

#[tokio::test]
async fn a_fixed_line_number_for_a_mobile_type_is_set_with_a_warning() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+49 30 12345678"}))
        .await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.warning_codes(), ["notAMobileNumber"]);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_touches_no_tenant() {
    let app = TestApp::spawn().await;
    app.add_member("adele@contoso.com");

    let cases = [
        (json!({"phoneNumber": NUMBER}), "invalidRequest", "UserId"),
        (
            json!({"UserId": "adele@contoso.com"}),
            "invalidRequest",
            "phoneNumber",
        ),
        (
            json!({"UserId": "a/../b@contoso.com", "phoneNumber": NUMBER}),
            "invalidRequest",
            "UserId",
        ),
        (
            json!({"UserId": "adele@contoso.com", "phoneNumber": "0170 1234567"}),
            "invalidPhoneNumber",
            "phoneNumber",
        ),
        (
            json!({"UserId": "adele@contoso.com", "phoneNumber": "+4917012"}),
            "invalidPhoneNumber",
            "phoneNumber",
        ),
        (
            json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER, "Remove": "yes"}),
            "invalidRequest",
            "Remove",
        ),
        (
            json!({"UserId": "adele@contoso.com", "phoneNumber": NUMBER, "phoneType": "pager"}),
            "invalidRequest",
            "phoneType",
        ),
    ];
    for (parameters, code, field) in cases {
        let answer = app.call(parameters.clone()).await;
        assert_eq!(answer.status, 400, "{parameters}");
        assert_eq!(answer.error_code(), code, "{parameters}");
        assert_eq!(answer.error()["field"], field, "{parameters}");
    }
    assert!(app.graph_requests().is_empty());
}

#[tokio::test]
async fn an_absent_body_and_a_non_json_body_are_invalid_requests() {
    let app = TestApp::spawn().await;

    let absent = app.call_envelope(http_envelope(None)).await;
    let text = app.call_envelope(http_envelope(Some("UserId=adele"))).await;
    let array = app.call_envelope(http_envelope(Some("[1,2]"))).await;

    assert_eq!(absent.status, 400);
    assert!(
        absent.error()["message"]
            .as_str()
            .unwrap()
            .contains("body is empty")
    );
    assert_eq!(text.status, 400);
    assert!(
        text.error()["message"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    assert_eq!(array.status, 400);
    assert!(
        array.error()["message"]
            .as_str()
            .unwrap()
            .contains("JSON object")
    );
}

#[tokio::test]
async fn the_envelope_is_read_in_any_case_and_query_parameters_fill_in() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);
    let envelope = json!({
        "data": {"REQ": {
            "url": "https://app/api/SetOrRemoveMobilePhoneMfa?dryRun=true&code=secret-key",
            "method": "POST",
            "query": {"dryRun": "true", "code": "secret-key"},
            "headers": {},
            "body": json!({"UserId": user, "phoneNumber": NUMBER}).to_string()
        }},
        "metadata": {}
    });

    let answer = app.call_envelope(envelope).await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.report["dryRun"], true);
    assert!(
        answer.warning_codes().is_empty(),
        "the function key is not a parameter"
    );
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn the_answer_envelope_carries_status_headers_logs_and_the_invocation_id() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "CallerName": "helpdesk", "requestId": "r-7"}))
        .await;

    let output = &answer.envelope["Outputs"]["res"];
    assert_eq!(output["headers"]["Content-Type"], "application/json");
    assert_eq!(answer.envelope["ReturnValue"], json!(null));
    assert_eq!(
        answer.report["invocationId"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(answer.report["requestId"], "r-7");
    assert_eq!(answer.report["trigger"], "http");
    assert_eq!(answer.report["schemaVersion"], 1);
    let logs = answer.envelope["Logs"].as_array().unwrap();
    assert_eq!(logs, answer.report["log"].as_array().unwrap());
    assert!(
        logs.iter()
            .any(|line| line.as_str().unwrap().contains("+49 ********67"))
    );
    assert!(!answer.envelope["Logs"].to_string().contains("1701234567"));
    assert!(
        app.output()
            .contains("invocation_id=11111111-2222-3333-4444-555555555555")
    );
}

#[tokio::test]
async fn every_graph_request_carries_a_token_and_a_client_request_id() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    app.call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    let requests = app.graph_requests();
    assert_eq!(requests.len(), 3);
    for request in requests {
        assert!(request.authorized, "{request:?}");
        let id = request.client_request_id.expect("client-request-id");
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }
}

#[tokio::test]
async fn the_health_probe_and_unknown_routes_answer() {
    let app = TestApp::spawn().await;

    let health = app
        .client
        .get(format!("{}/", app.handler))
        .send()
        .await
        .unwrap();
    let unknown = app
        .client
        .post(format!("{}/SomethingElse", app.handler))
        .send()
        .await
        .unwrap();

    assert_eq!(health.status(), 200);
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn remove_registered_number_removes_whatever_number_the_type_holds_over_http() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let answer = app
        .call(json!({"UserId": user, "Remove": true, "removeRegisteredNumber": true}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "removed");
    assert!(
        app.phones(&user).is_empty(),
        "the registered number is gone"
    );
    let log = answer.report["log"].to_string();
    assert!(
        log.contains("removing the one registered when it was read, +49 ********43"),
        "the number removed, masked: {log}"
    );
    assert_eq!(
        answer.report["removedNumber"], "+49 ********43",
        "the result names the number removed, masked: {}",
        answer.report
    );
    assert!(
        !answer.report.to_string().contains("1709876543"),
        "never in full: {}",
        answer.report
    );
}

#[tokio::test]
async fn remove_registered_number_keeps_graphs_rules_and_a_missing_method_is_not_present() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let empty = app
        .call(json!({"UserId": user, "Remove": true, "removeRegisteredNumber": true}))
        .await;
    assert_eq!(empty.status, 200, "{}", empty.report);
    assert_eq!(empty.action(), "notPresent");
    assert!(empty.report["removedNumber"].is_null(), "nothing removed");

    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    app.seed_phone(&user, PhoneType::AlternateMobile, OTHER);
    let refused = app
        .call(json!({"UserId": user, "Remove": true, "removeRegisteredNumber": true}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.report);
    assert_eq!(refused.error_code(), "mobileHasAlternate");
    assert_eq!(app.phones(&user).len(), 2, "nothing was removed");
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn remove_registered_number_is_refused_through_the_queue() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let (status, envelope) = app
        .deliver(
            &json!({"UserId": user, "Remove": true, "removeRegisteredNumber": true}),
            1,
        )
        .await;
    let result = &envelope["Outputs"]["resultMessage"];

    assert_eq!(status, 200, "a final answer: {envelope}");
    assert_eq!(result["error"]["code"], "invalidRequest", "{result}");
    assert_eq!(
        result["error"]["field"], "removeRegisteredNumber",
        "{result}"
    );
    assert_eq!(app.phones(&user).len(), 1, "nothing was removed");
}

#[tokio::test]
async fn a_removal_naming_the_wrong_number_says_how_to_remove_the_registered_one() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);

    let answer = app
        .call(json!({"UserId": user, "Remove": true, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.error_code(), "numberMismatch");
    assert!(
        answer.report["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("removeRegisteredNumber: true")),
        "{}",
        answer.report
    );
}

/// The number removed is the one the request saw before it waited: a number another caller set
/// while this removal waited for the user's lock is refused as a mismatch, never deleted.
#[tokio::test]
async fn remove_registered_number_leaves_a_number_set_while_it_waited() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OTHER);
    let gate = Gate::default();
    app.sim.inject(FaultRule::new(
        Some("PATCH"),
        "/authentication/phoneMethods",
        1,
        FaultAction::Hold(gate.clone()),
    ));

    let mut arrivals = app.sim.request_arrived();
    // A sets a new number by object id; its PATCH waits at Graph, holding the user's lock.
    let set = app.call(json!({"UserId": user, "phoneNumber": NUMBER}));
    let remove = async {
        while app.sim.arrived("/authentication/phoneMethods/") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // B removes whatever is registered, by UPN: its first read answers the old number.
        let remove = app.call(
            json!({"UserId": "adele@contoso.com", "Remove": true, "removeRegisteredNumber": true}),
        );
        let release = async {
            while app.count(|request| {
                request.method == "GET" && request.path.contains("adele@contoso.com/authentication")
            }) == 0
            {
                arrivals.changed().await.expect("the simulator runs");
            }
            gate.open();
        };
        tokio::join!(remove, release).0
    };
    let (set, remove) = tokio::join!(set, remove);

    assert_eq!(set.action(), "updated", "{}", set.report);
    assert_eq!(remove.error_code(), "numberMismatch", "{}", remove.report);
    let phones = app.phones(&user);
    assert_eq!(phones.len(), 1, "{phones:?}");
    assert_eq!(phones[0].1, NUMBER, "the number set meanwhile stays");
}
