//! Snapshots the contracts callers depend on: a change to the result schema, the error
//! bodies or the host envelopes shows up as a reviewed diff in tests/it/snapshots/.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use serde_json::json;

use crate::helpers::{Results, TestApp, queue_envelope};

const ADELE: &str = "6e7b768e-07e2-4810-8459-485f84f8f204";

async fn app_with_adele() -> crate::helpers::TestApp {
    let app = TestApp::spawn().await;
    app.add_user(SimUser::member("adele.vance@contoso.example", "Adele Vance").with_id(ADELE));
    app
}

#[tokio::test]
async fn the_result_of_a_successful_set() {
    let app = app_with_adele().await;

    let answer = app
        .call(json!({"UserId": "adele.vance@contoso.example", "phoneNumber": "+49 170 1234567", "CallerName": "helpdesk", "requestId": "r-1", "Extra": 1}))
        .await;

    insta::assert_json_snapshot!("set_envelope", answer.envelope, {".Outputs.res.body" => "[the report, snapshotted below]"});
    insta::assert_json_snapshot!("set_report", answer.report);
}

#[tokio::test]
async fn the_result_of_a_refused_removal() {
    let app = app_with_adele().await;
    app.seed_phone(ADELE, PhoneType::Mobile, "+49 1709876543");

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 1701234567", "Remove": true}))
        .await;

    insta::assert_json_snapshot!(answer.report);
}

#[tokio::test]
async fn the_result_of_invalid_input() {
    let app = app_with_adele().await;

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 170 12"}))
        .await;

    insta::assert_json_snapshot!(answer.report);
}

#[tokio::test]
async fn the_queue_answer_envelope() {
    let app = app_with_adele().await;
    let message = json!({"UserId": ADELE, "phoneNumber": "+49 1701234567", "requestId": "q-1"});

    let (status, envelope) = app
        .post(
            "SetOrRemoveMobilePhoneMfaQueue",
            &queue_envelope(&message.to_string(), 1).to_string(),
        )
        .await;

    assert_eq!(status, 200);
    insta::assert_json_snapshot!(envelope);
}

#[tokio::test]
async fn the_result_and_the_mail_of_a_notified_change() {
    let app = TestApp::builder()
        .options(mfa_phone_handler::simulator::SimOptions::default())
        .envs(&[
            ("MFA_NOTIFY_SENDER", "it-notify@contoso.example"),
            ("MFA_NOTIFY_SERVICE_DESK_NAME", "Contoso Service Desk"),
            ("MFA_NOTIFY_SERVICE_DESK_PHONE", "+49 30 1234567"),
        ])
        .spawn()
        .await;
    app.add_user(
        SimUser::member("adele.vance@contoso.example", "Adele Vance")
            .with_id(ADELE)
            .with_usage_location("AT"),
    );
    app.add_user(SimUser::member("it-notify@contoso.example", "IT"));

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 170 1234567", "NotifyUser": true}))
        .await;

    insta::assert_json_snapshot!("notified_report", answer.notification());
    let mail = app.sim.tenant(|tenant| tenant.sent_mail()[0].clone());
    insta::assert_snapshot!(
        "notified_mail",
        format!(
            "Subject: {}\n\n{}",
            mail.subject,
            mail.content.replace("</p>", "</p>\n")
        )
    );
}
