//! Checks HTTP callers (issue 25 §4): the function key alone is no caller while app roles are
//! required, a B2B guest is no caller unless allowed, and a number never comes in a URL.

use mfa_phone_handler::simulator::TENANT_ID;
use serde_json::json;

use crate::helpers::{Results, TestApp, http_envelope_as};

const NUMBER: &str = "+49 1701234567";
const ADMIN: &str = "aaaaaaaa-1111-4222-8333-444444444444";
const WRITER: &str = "MfaPhone.ReadWrite";

#[tokio::test]
async fn a_phone_number_in_the_query_string_is_refused_naming_the_reason() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let envelope = json!({
        "Data": {"req": {
            "Url": "https://app/api/SetOrRemoveMobilePhoneMfa?phoneNumber=%2B491701234567",
            "Method": "POST",
            "Query": {"phonenumber": NUMBER},
            "Headers": {},
            "Body": json!({"UserId": user}).to_string()
        }},
        "Metadata": {}
    });

    let answer = app.call_envelope(envelope).await;

    assert_eq!(answer.status, 400, "{}", answer.report);
    assert_eq!(answer.error_code(), "invalidRequest");
    let message = answer.error()["message"].as_str().unwrap();
    assert!(message.contains("query string"), "{message}");
    assert!(!answer.report.to_string().contains("1701234567"));
    assert!(app.phones(&user).is_empty());
    assert!(
        app.graph_requests()
            .iter()
            .all(|request| request.method == "GET")
    );
}

#[tokio::test]
async fn the_function_key_alone_is_refused_unless_allowed_on_purpose() {
    let refusing = TestApp::builder()
        .env("MFA_ALLOW_KEY_ONLY_CALLERS", "false")
        .spawn()
        .await;
    let user = refusing.add_member("adele@contoso.com");
    let answer = refusing
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.status, 401, "{}", answer.report);
    assert_eq!(answer.error_code(), "unauthenticatedCaller");
    assert!(
        answer.error()["message"]
            .as_str()
            .unwrap()
            .contains("MFA_ALLOW_KEY_ONLY_CALLERS")
    );
    assert!(refusing.phones(&user).is_empty());
    assert!(
        refusing
            .output()
            .contains("MFA_ALLOW_KEY_ONLY_CALLERS=false")
    );

    // A caller Microsoft Entra authenticated, with the role, still gets through.
    let envelope = http_envelope_as(
        &json!({"UserId": user, "phoneNumber": NUMBER}),
        &[
            ("oid", ADMIN),
            ("roles", WRITER),
            ("scp", "user_impersonation"),
        ],
    );
    let answer = refusing.call_envelope(envelope).await;
    assert_eq!(answer.status, 200, "{}", answer.report);
}

#[tokio::test]
async fn a_guest_of_the_tenant_is_no_caller_unless_allowed() {
    let guest_claims = [
        ("oid", ADMIN),
        ("tid", TENANT_ID),
        ("roles", WRITER),
        ("scp", "user_impersonation"),
        (
            "http://schemas.microsoft.com/identity/claims/identityprovider",
            "https://sts.windows.net/99999999-9999-4999-8999-999999999999/",
        ),
    ];
    let strict = TestApp::builder()
        .env("MFA_TENANT_ID", TENANT_ID)
        .spawn()
        .await;
    let user = strict.add_member("adele@contoso.com");
    let body = json!({"UserId": user, "phoneNumber": NUMBER});
    let answer = strict
        .call_envelope(http_envelope_as(&body, &guest_claims))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert!(
        answer.error()["message"]
            .as_str()
            .unwrap()
            .contains("MFA_ALLOW_GUEST_CALLERS")
    );
    let member = strict
        .call_envelope(http_envelope_as(
            &body,
            &[
                ("oid", ADMIN),
                ("tid", TENANT_ID),
                ("roles", WRITER),
                ("idp", &format!("https://sts.windows.net/{TENANT_ID}/")),
                ("acct", "0"),
            ],
        ))
        .await;
    assert_eq!(member.status, 200, "{}", member.report);
    let by_acct = strict
        .call_envelope(http_envelope_as(
            &body,
            &[
                ("oid", ADMIN),
                ("tid", TENANT_ID),
                ("roles", WRITER),
                ("acct", "1"),
            ],
        ))
        .await;
    assert_eq!(by_acct.status, 403, "{}", by_acct.report);

    let allowing = TestApp::builder()
        .envs(&[
            ("MFA_TENANT_ID", TENANT_ID),
            ("MFA_ALLOW_GUEST_CALLERS", "true"),
        ])
        .spawn()
        .await;
    let user = allowing.add_member("adele@contoso.com");
    let answer = allowing
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "phoneNumber": NUMBER}),
            &guest_claims,
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.report);
}
