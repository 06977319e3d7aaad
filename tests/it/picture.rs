//! Checks the user's whole MFA picture: the other methods, phone methods only (with Microsoft's SMS
//! and voice retirement), the last MFA method, the tenant's SMS and Voice policy, and `show`.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::policy::SimTarget;
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, result_of};

const NUMBER: &str = "+49 1701234567";

/// Adds a member whose methods besides phones are `others` (by `@odata.type` without namespace).
fn member_with(app: &TestApp, upn: &str, others: &[&str]) -> String {
    let mut user = SimUser::member(upn, "User");
    user.other_methods = others.iter().map(|kind| (*kind).to_owned()).collect();
    app.add_user(user)
}

#[tokio::test]
async fn the_other_methods_are_reported_by_kind_with_their_phishing_resistance() {
    let app = TestApp::spawn().await;
    let user = member_with(
        &app,
        "adele@contoso.com",
        &[
            "fido2AuthenticationMethod",
            "emailAuthenticationMethod",
            "softwareOathAuthenticationMethod",
            "qrCodePinAuthenticationMethod",
        ],
    );

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added");
    assert_eq!(
        answer.report["methods"],
        json!({
            "phone": [{"phoneType": "mobile", "smsSignInState": "ready"}],
            "other": ["fido2", "softwareOath", "other"],
            "phishingResistant": true
        })
    );
    assert!(!answer.has_warning("phoneOnlyMfa"));
    assert_eq!(
        answer.report["usableFor"],
        json!({"sms": true, "voice": true, "smsSignIn": true})
    );
}

#[tokio::test]
async fn a_user_left_with_phone_methods_only_is_told_of_the_retirement() {
    let app = TestApp::spawn().await;
    let user = member_with(
        &app,
        "adele@contoso.com",
        &["temporaryAccessPassAuthenticationMethod"],
    );

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added");
    let message = answer.warning_message("phoneOnlyMfa");
    assert!(message.contains("1 February 2027"), "{}", answer.report);
    assert!(message.contains("passkey"), "{message}");

    let managed = TestApp::builder()
        .env("MFA_TELEPHONY", "customerManaged")
        .spawn()
        .await;
    let user = member_with(&managed, "adele@contoso.com", &[]);
    let answer = managed
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    let message = answer.warning_message("phoneOnlyMfa");
    assert!(!message.is_empty(), "{}", answer.report);
    assert!(
        !message.contains("2027"),
        "no retirement note with an own provider: {message}"
    );
}

#[tokio::test]
async fn removing_the_last_mfa_method_is_a_warning_or_with_refuse_a_refusal() {
    let app = TestApp::spawn().await;
    let user = member_with(&app, "adele@contoso.com", &["emailAuthenticationMethod"]);
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;
    assert_eq!(answer.action(), "removed");
    assert!(answer.has_warning("lastMfaMethod"), "{}", answer.report);
    assert_eq!(answer.report["methods"]["phone"], json!([]));

    let strict = TestApp::builder()
        .env("MFA_LAST_METHOD_REMOVAL", "refuse")
        .spawn()
        .await;
    let user = member_with(&strict, "adele@contoso.com", &[]);
    strict.seed_phone(&user, PhoneType::Mobile, NUMBER);
    let refused = strict
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.report);
    assert_eq!(refused.error_code(), "lastMfaMethod");
    assert!(strict.writes().is_empty(), "refused before any write");
    let allowed = strict
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true, "allowLastMethodRemoval": true}))
        .await;
    assert_eq!(allowed.action(), "removed", "{}", allowed.report);
    assert!(allowed.has_warning("lastMfaMethod"));
    let another = member_with(
        &strict,
        "megan@contoso.com",
        &["microsoftAuthenticatorAuthenticationMethod"],
    );
    strict.seed_phone(&another, PhoneType::Mobile, "+49 1705555555");
    let with_app = strict
        .call(json!({"UserId": another, "phoneNumber": "+49 1705555555", "Remove": true}))
        .await;
    assert_eq!(
        with_app.action(),
        "removed",
        "Authenticator stays: {}",
        with_app.report
    );
}

#[tokio::test]
async fn the_policy_decides_what_the_number_can_do_and_is_checked_before_writing() {
    // The handler reads the policy in the background as it starts, so the policy is in place
    // before it starts; group members are checked per request.
    let group = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let app = TestApp::builder()
        .prepare({
            let group = group.clone();
            move |sim| {
                sim.tenant(|tenant| {
                    let id = tenant.directory.add_group("No SMS", &[], false);
                    tenant.policy.sms.exclude.push(id.clone());
                    tenant.policy.office_phone_allowed = false;
                    *group.lock().expect("not poisoned") = id;
                })
            }
        })
        .spawn()
        .await;
    let group = group.lock().expect("not poisoned").clone();
    let excluded = app.add_member("excluded@contoso.com");
    let office_user = app.add_member("office@contoso.com");
    assert!(
        app.sim
            .tenant(|tenant| tenant.directory.add_group_member(&group, &excluded))
    );

    let set = app
        .call(json!({"UserId": excluded, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(set.action(), "added", "{}", set.report);
    assert!(set.has_warning("smsNotEnabledForUser"), "{}", set.report);
    assert_eq!(
        set.report["usableFor"],
        json!({"sms": false, "voice": true, "smsSignIn": false})
    );
    let memberships = app.count(|request| request.path.ends_with("/checkMemberGroups"));
    assert_eq!(
        memberships, 1,
        "one membership check for the policy's groups ({group})"
    );

    let sign_in = app
        .call(json!({"UserId": excluded, "phoneNumber": "+49 1705555555", "smsSignIn": "enable"}))
        .await;
    assert_eq!(sign_in.status, 409, "{}", sign_in.report);
    assert_eq!(sign_in.error_code(), "smsSignInNotAllowedByPolicy");
    assert_eq!(
        app.phones(&excluded)[0].1,
        NUMBER,
        "refused before any write"
    );

    let office = app
        .call(
            json!({"UserId": office_user, "phoneNumber": "+49 30 12345678", "phoneType": "office"}),
        )
        .await;
    assert_eq!(office.action(), "added");
    assert!(
        office.has_warning("officePhoneNotAllowed"),
        "{}",
        office.report
    );
    assert_eq!(office.report["usableFor"]["voice"], false);

    // The policy is read again every few minutes; a new process reads it at once.
    let fresh = TestApp::builder()
        .prepare(|sim| sim.tenant(|tenant| tenant.policy.voice.enabled = false))
        .spawn()
        .await;
    let alternate = fresh.add_member("alternate@contoso.com");
    fresh.seed_phone(&alternate, PhoneType::Mobile, "+49 1705555555");
    let answer = fresh
        .call(json!({"UserId": alternate, "phoneNumber": NUMBER, "phoneType": "alternateMobile"}))
        .await;
    assert_eq!(answer.action(), "added");
    assert!(
        answer.has_warning("voiceNotEnabledForUser"),
        "{}",
        answer.report
    );
}

#[tokio::test]
async fn sms_sign_in_through_a_target_not_usable_for_sign_in_is_refused() {
    let app = TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.policy.sms.include = vec![SimTarget {
                    id: "all_users".to_owned(),
                    usable_for_sign_in: false,
                }];
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "smsSignIn": "enable"}))
        .await;

    assert_eq!(
        answer.error_code(),
        "smsSignInNotAllowedByPolicy",
        "{}",
        answer.report
    );
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn without_the_permission_to_read_the_policy_everything_else_works() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
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

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(answer.warning_codes(), ["policyUnknown"]);
    assert!(
        answer
            .warning_message("policyUnknown")
            .contains("Policy.Read.AuthenticationMethod")
    );
    assert_eq!(answer.report["usableFor"], Value::Null);
}

#[tokio::test]
async fn show_reads_everything_in_one_round_trip_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let user = member_with(&app, "adele@contoso.com", &[]);
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    // The handler is warm: the policy and the role holders are read in the background at start-up.
    app.call(json!({"UserId": user, "operation": "show"})).await;
    app.sim.clear_requests();
    // With a latency per request, requests made one after another cannot overlap.
    app.sim
        .configure(|options| options.latency = std::time::Duration::from_millis(100));

    let answer = app.call(json!({"UserId": user, "operation": "show"})).await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "none");
    assert_eq!(answer.status_text(), "succeeded");
    assert_eq!(
        answer.phone_method()["phoneNumber"],
        "+49 ********67",
        "masked unless asked for (revealNumber)"
    );
    assert_eq!(answer.report["methods"]["phone"][0]["phoneType"], "mobile");
    assert_eq!(answer.report["usableFor"]["sms"], true);
    assert!(answer.has_warning("phoneOnlyMfa"));
    assert!(app.writes().is_empty());
    let reads: Vec<String> = app
        .graph_requests()
        .iter()
        .map(|request| request.path.clone())
        .collect();
    assert_eq!(reads.len(), 2, "the user and the methods: {reads:?}");
    let requests = app.graph_requests();
    let first_answer = requests
        .iter()
        .map(|request| request.at)
        .min()
        .expect("reads");
    assert!(
        requests
            .iter()
            .all(|request| request.started < first_answer),
        "both started before either was answered: one round trip"
    );
    app.sim
        .configure(|options| options.latency = std::time::Duration::ZERO);

    let (status, envelope) = app
        .deliver(&json!({"UserId": "adele@contoso.com", "Show": true}), 1)
        .await;
    assert_eq!(status, 200);
    let result = result_of(&envelope);
    assert_eq!(result.action(), "none", "{result}");
    assert_eq!(result["methods"]["phone"][0]["phoneType"], "mobile");
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn show_of_a_guest_by_upn_and_of_a_protected_account_reads_only() {
    let admin = "21212121-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(admin));
                tenant.directory.assign(
                    admin,
                    mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR,
                );
            })
        })
        .spawn()
        .await;
    let guest = app.add_user(SimUser::guest(
        "lynne_fabrikam.com#EXT#@contoso.com",
        "Lynne",
    ));
    app.seed_phone(&guest, PhoneType::Mobile, NUMBER);

    let shown = app
        .call(json!({"UserId": "lynne_fabrikam.com#EXT#@contoso.com", "Show": true}))
        .await;
    assert_eq!(
        shown.phone_method()["phoneNumber"],
        "+49 ********67",
        "{}",
        shown.report
    );
    assert_eq!(
        shown.report["usableFor"]["smsSignIn"], false,
        "not for guests"
    );

    let protected = app.call(json!({"UserId": admin, "Show": true})).await;
    assert_eq!(
        protected.status, 200,
        "a look is not a change: {}",
        protected.report
    );
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn phone_entries_without_a_sign_in_state_in_the_methods_list_still_work() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    app.sim
        .tenant(|tenant| tenant.variants.methods_list_sms_state = false);

    let same = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(same.action(), "unchanged", "{}", same.report);
    let enabled = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "smsSignIn": "enable"}))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.report);
    assert_eq!(enabled.phone_method()["smsSignInState"], "ready");
}

#[tokio::test]
async fn the_methods_reported_hold_the_sms_sign_in_state_the_switch_left() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "smsSignIn": "disable"}))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
    let state = &answer.phone_method()["smsSignInState"];
    assert_ne!(state, "ready", "switched off: {}", answer.report);
    assert_eq!(
        &answer.report["methods"]["phone"][0]["smsSignInState"], state,
        "methods and phoneMethod agree: {}",
        answer.report
    );
}

#[tokio::test]
async fn a_dry_run_says_the_removal_would_leave_no_method() {
    let app = TestApp::spawn().await;
    let user = member_with(&app, "adele@contoso.com", &[]);
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "Remove": true, "dryRun": true}))
        .await;

    assert_eq!(answer.action(), "removed");
    assert!(answer.has_warning("lastMfaMethod"), "{}", answer.report);
    let message = answer.warning_message("lastMfaMethod");
    assert!(message.contains("would leave"), "{message}");
    assert!(!message.contains("has no MFA method left"), "{message}");
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_removal_the_plan_refuses_gets_the_plans_refusal_not_last_method() {
    let app = TestApp::builder()
        .env("MFA_LAST_METHOD_REMOVAL", "refuse")
        .spawn()
        .await;
    let user = member_with(&app, "adele@contoso.com", &[]);
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let other_number = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1705555555", "Remove": true}))
        .await;

    assert_eq!(
        other_number.error_code(),
        "numberMismatch",
        "{}",
        other_number.report
    );
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_policy_targeting_a_user_is_matched_by_id_not_asked_of_the_membership_check() {
    let adele = "16161616-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let protected = "17171717-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", protected)
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("adele@contoso.com", "Adele").with_id(adele));
                // SMS is on for one user (a user target), voice for nobody.
                tenant.policy.sms.include = vec![SimTarget {
                    id: adele.to_owned(),
                    usable_for_sign_in: true,
                }];
                tenant.policy.voice.enabled = false;
            })
        })
        .spawn()
        .await;
    let megan = app.add_member("megan@contoso.com");

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(answer.report["usableFor"]["sms"], true, "{}", answer.report);
    assert!(!answer.has_warning("policyUnknown"), "{}", answer.report);
    assert!(!answer.has_warning("smsNotEnabledForUser"));

    let other = app
        .call(json!({"UserId": megan, "phoneNumber": "+49 1705555555"}))
        .await;
    assert_eq!(other.action(), "added", "{}", other.report);
    assert!(
        other.has_warning("smsNotEnabledForUser"),
        "{}",
        other.report
    );
    let checked: Vec<String> = app
        .graph_requests()
        .iter()
        .filter(|request| request.path.ends_with("/checkMemberGroups"))
        .filter_map(|request| request.body.as_ref().map(Value::to_string))
        .collect();
    assert!(!checked.is_empty());
    assert!(
        checked.iter().all(|body| !body.contains(adele)),
        "a user id is no group: {checked:?}"
    );
}

#[tokio::test]
async fn the_policy_check_switched_off_reads_nothing_and_warns_of_nothing() {
    let app = TestApp::builder()
        .env("MFA_METHOD_POLICY_CHECK", "false")
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
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

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert!(answer.warning_codes().is_empty(), "{}", answer.report);
    assert_eq!(answer.report["usableFor"], Value::Null);
    assert!(
        app.graph_requests()
            .iter()
            .all(|request| !request.path.contains("authenticationMethodConfigurations")),
        "the policy is not read"
    );
}

#[tokio::test]
async fn a_policy_read_that_hangs_costs_one_bounded_wait() {
    let app = TestApp::builder()
        .prepare(|sim| {
            // This read is never answered: the gate is never opened.
            sim.hold(
                Some("GET"),
                "authenticationMethodConfigurations",
                usize::MAX,
            );
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let megan = app.add_member("megan@contoso.com");

    let first = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(first.action(), "added", "{}", first.report);
    assert!(
        first
            .warning_message("policyUnknown")
            .contains("no answer within"),
        "{}",
        first.report
    );
    // The wait is remembered: the next invocation does not read again.
    let reads = app.sim.arrived("authenticationMethodConfigurations");
    let second = app
        .call(json!({"UserId": megan, "phoneNumber": "+49 1705555555"}))
        .await;
    assert_eq!(second.action(), "added", "{}", second.report);
    assert!(second.has_warning("policyUnknown"), "{}", second.report);
    assert_eq!(
        app.sim.arrived("authenticationMethodConfigurations"),
        reads,
        "no new policy read"
    );
}

#[tokio::test]
async fn show_warns_of_what_the_policy_does_not_let_the_method_do() {
    let app = TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.policy.sms.enabled = false;
                tenant.policy.voice.enabled = false;
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    let without = app.add_member("megan@contoso.com");

    let answer = app.call(json!({"UserId": user, "Show": true})).await;

    assert_eq!(answer.action(), "none");
    assert!(
        answer.has_warning("smsNotEnabledForUser"),
        "{}",
        answer.report
    );
    assert!(
        answer.has_warning("voiceNotEnabledForUser"),
        "{}",
        answer.report
    );
    assert!(
        !answer
            .warning_message("smsNotEnabledForUser")
            .contains("1234567"),
        "no number in the clear"
    );
    let nothing = app.call(json!({"UserId": without, "Show": true})).await;
    assert!(
        !nothing.has_warning("smsNotEnabledForUser"),
        "no method, nothing to warn of: {}",
        nothing.report
    );
    assert!(app.writes().is_empty());
}
