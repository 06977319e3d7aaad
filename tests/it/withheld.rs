//! Checks what is not handed out about a privileged or protected account: `show` says it is
//! protected and shows none of its methods (not its SMS sign-in state, not whether phone is its
//! only MFA), and a conflict's holder is not named when it is such an account.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::azure::{OWNER, RESOURCE_GROUP};
use mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, http_envelope_as};

const NUMBER: &str = "+49 1701234567";
const ADMIN: &str = "c3c3c3c3-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const CONTROLLER: &str = "d4d4d4d4-aaaa-4aaa-8aaa-aaaaaaaaaaaa";

/// Makes the claims of a helpdesk caller with `roles` of the API.
fn helpdesk(roles: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    let mut claims = vec![
        ("oid", "e5e5e5e5-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
        ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        ("scp", "user_impersonation"),
        ("upn", "helpdesk@contoso.com"),
    ];
    claims.extend(roles.iter().map(|role| ("roles", *role)));
    claims
}

/// Starts a handler whose tenant has a Global Administrator and an Owner of the app's resource
/// group, each with a mobile phone (and SMS sign-in), and nothing else: phone is their only MFA.
async fn app() -> TestApp {
    TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "Global Admin").with_id(ADMIN));
                tenant.add_user(
                    SimUser::member("owner@contoso.com", "Subscription Owner").with_id(CONTROLLER),
                );
                tenant.directory.assign(ADMIN, GLOBAL_ADMINISTRATOR);
                tenant
                    .azure
                    .assign(RESOURCE_GROUP, OWNER, CONTROLLER, "User");
                tenant.seed_phone(ADMIN, PhoneType::Mobile, NUMBER);
                tenant.seed_phone(CONTROLLER, PhoneType::Mobile, "+49 1707654321");
            });
        })
        .spawn()
        .await
}

#[tokio::test]
async fn show_of_a_protected_account_says_so_and_shows_nothing_that_helps_take_it_over() {
    let app = app().await;
    for user in [ADMIN, CONTROLLER] {
        let answer = app
            .call_envelope(http_envelope_as(
                &json!({"UserId": user, "Show": true, "revealNumber": true}),
                &helpdesk(&["MfaPhone.ReadWrite"]),
            ))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.report);
        assert_eq!(
            answer.report["phoneMethod"],
            Value::Null,
            "{}",
            answer.report
        );
        assert_eq!(answer.report["methods"], Value::Null);
        assert_eq!(answer.report["usableFor"], Value::Null);
        assert!(
            answer
                .warning_message("detailsWithheld")
                .contains("privileged or protected"),
            "{}",
            answer.report
        );
        let text = answer.report.to_string();
        for detail in [
            "ready",
            "phoneOnly",
            "phone only",
            "1701234567",
            "1707654321",
        ] {
            assert!(!text.contains(detail), "{detail} in {text}");
        }
    }
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_conflict_with_a_protected_holder_does_not_name_them() {
    let app = app().await;
    let adele = app.add_member("adele@contoso.com");
    app.sim
        .tenant(|tenant| tenant.variants.conflict_writes_method = false);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 409, "{}", answer.report);
    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    assert_eq!(answer.report["conflictOwner"], Value::Null);
    let text = answer.report.to_string();
    for detail in ["ga@contoso.com", "Global Admin", ADMIN] {
        assert!(!text.contains(detail), "{detail} in {text}");
    }
    assert!(answer.log_text().contains("privileged or protected"));
}
