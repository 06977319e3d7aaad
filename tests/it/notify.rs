//! Checks `NotifyUser`: the e-mail to the user after their phone method changed is sent through
//! the simulated Exchange (`sendMail`), at most once per change, never failing the change itself.

use mfa_phone_handler::phone::{PhoneNumber, PhoneType};
use mfa_phone_handler::simulator::tenant::{SentMail, SimUser};
use std::time::Duration;

use mfa_phone_handler::simulator::{FaultAction, FaultRule, SimOptions};
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, granted, queue_envelope};

const SENDER: &str = "it-notify@contoso.example";
const ADELE: &str = "adele.vance@contoso.example";
const NUMBER: &str = "+49 170 1234567";

/// Starts a handler configured to notify from [`SENDER`], with Adele (working in Germany) and the
/// sender's mailbox in the tenant.
async fn notifying_app(options: SimOptions, environment: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("MFA_NOTIFY_SENDER", SENDER),
        ("MFA_NOTIFY_SERVICE_DESK_NAME", "Contoso Service Desk"),
        (
            "MFA_NOTIFY_SERVICE_DESK_EMAIL",
            "servicedesk@contoso.example",
        ),
    ];
    settings.extend_from_slice(environment);
    let app = TestApp::builder()
        .options(options)
        .envs(&settings)
        .spawn()
        .await;
    app.add_user(SimUser::member(ADELE, "Adele Vance").with_usage_location("DE"));
    app.add_user(SimUser::member(SENDER, "IT notifications"));
    app
}

fn sent(app: &TestApp) -> Vec<SentMail> {
    app.sim.tenant(|tenant| tenant.sent_mail().to_vec())
}

fn count(app: &TestApp, method: &str, path_end: &str) -> usize {
    app.count(|request| request.method == method && request.path.ends_with(path_end))
}

fn notification(report: &Value) -> (&str, &str) {
    (
        report["notification"]["status"]
            .as_str()
            .unwrap_or("(none)"),
        report["notification"]["language"]
            .as_str()
            .unwrap_or("(none)"),
    )
}

#[tokio::test]
async fn each_change_is_announced_once_in_the_users_language() {
    let app = notifying_app(SimOptions::default(), &[]).await;

    let added = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;
    let updated = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "NotifyUser": true, "LanguageOverride": "en"}))
        .await;
    let removed = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "Remove": true, "NotifyUser": true}))
        .await;

    for answer in [&added, &updated, &removed] {
        assert_eq!(answer.status, 200, "{}", answer.report);
        assert_eq!(answer.notification()["to"], ADELE);
    }
    assert_eq!(notification(&added.report), ("sent", "de"));
    assert_eq!(notification(&updated.report), ("sent", "en"));
    assert_eq!(notification(&removed.report), ("sent", "de"));
    let mails = sent(&app);
    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Ein Mobiltelefon wurde Ihren Anmeldemethoden hinzugefügt",
            "The mobile phone of your sign-in methods was changed",
            "Ein Mobiltelefon wurde aus Ihren Anmeldemethoden entfernt",
        ]
    );
    for mail in &mails {
        assert_eq!(mail.from, SENDER);
        assert_eq!(mail.to, [ADELE]);
        assert_eq!(mail.content_type, "HTML");
        assert!(mail.save_to_sent_items);
        assert!(
            mail.content.contains("Contoso Service Desk"),
            "{}",
            mail.content
        );
        assert!(
            mail.content.contains("IT-Team von Contoso")
                || mail.content.contains("IT team of Contoso")
        );
    }
    let masked = |number: &str| PhoneNumber::parse(number).unwrap().masked();
    assert!(
        mails[0].content.contains(&masked(NUMBER)),
        "{}",
        mails[0].content
    );
    assert!(
        mails[1].content.contains(&masked("+49 171 9876543")),
        "{}",
        mails[1].content
    );
    for mail in &mails {
        let digits: String = mail.content.chars().filter(char::is_ascii_digit).collect();
        assert!(!digits.contains("1701234567") && !digits.contains("1719876543"));
    }
    // The organization's name is read once, alongside the first read, and then remembered.
    assert_eq!(count(&app, "GET", "/organization"), 1);
    assert_eq!(count(&app, "POST", "/sendMail"), 3);
}

#[tokio::test]
async fn nothing_is_mailed_when_nothing_changed() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    app.seed_phone(ADELE, PhoneType::Mobile, "+49 1701234567");

    let dry = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "NotifyUser": true, "dryRun": true}))
        .await;
    assert_eq!(
        count(&app, "GET", "/organization"),
        0,
        "a dry run reads only what the decision needs"
    );
    let unchanged = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;
    let mismatch = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "Remove": true, "NotifyUser": true}))
        .await;
    let absent = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "phoneType": "office", "Remove": true, "NotifyUser": true}))
        .await;

    assert_eq!(unchanged.action(), "unchanged");
    assert_eq!(notification(&unchanged.report), ("notNeeded", "de"));
    assert_eq!(mismatch.error_code(), "numberMismatch");
    assert_eq!(notification(&mismatch.report), ("notNeeded", "de"));
    assert_eq!(dry.action(), "updated");
    assert_eq!(notification(&dry.report), ("wouldSend", "de"));
    assert_eq!(absent.action(), "notPresent");
    assert_eq!(notification(&absent.report), ("notNeeded", "de"));
    assert!(sent(&app).is_empty());
    assert_eq!(count(&app, "POST", "/sendMail"), 0);
    // Without NotifyUser the result says nothing of a notification.
    let quiet = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER}))
        .await;
    assert!(quiet.notification().is_null());
}

#[tokio::test]
async fn notify_user_without_a_sender_is_refused_before_anything_is_done() {
    let app = TestApp::builder().spawn().await;
    app.add_user(SimUser::member(ADELE, "Adele Vance"));

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": "true"}))
        .await;

    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), "invalidRequest");
    assert_eq!(answer.error()["field"], "NotifyUser");
    assert!(
        answer.error()["message"]
            .as_str()
            .unwrap()
            .contains("MFA_NOTIFY_SENDER")
    );
    assert!(app.graph_requests().is_empty());
    assert!(app.phones(ADELE).is_empty());
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_is_a_warning_and_the_change_stands() {
    let without_mail_send = granted(&[
        "User.Read.All",
        "UserAuthMethod-Phone.ReadWrite.All",
        "UserAuthenticationMethod.Read.All",
        "Organization.Read.All",
        "RoleManagement.Read.Directory",
        "Application.Read.All",
        "Policy.Read.AuthenticationMethod",
        "GroupMember.Read.All",
    ]);
    let app = notifying_app(without_mail_send, &[]).await;
    app.add_user(SimUser::member("megan@contoso.example", "Megan").without_mailbox());

    let refused = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;
    let no_mailbox = app
        .call(json!({"UserId": "megan@contoso.example", "phoneNumber": "+49 171 9876543", "NotifyUser": true}))
        .await;

    assert_eq!(refused.status, 200, "{}", refused.report);
    assert_eq!(refused.action(), "added");
    assert_eq!(notification(&refused.report), ("failed", "de"));
    let warning = &refused.warnings()[0];
    assert_eq!(warning["code"], "notificationFailed");
    assert!(
        warning["message"].as_str().unwrap().contains("Mail.Send"),
        "{warning}"
    );
    assert_eq!(app.phones(ADELE).len(), 1);
    assert_eq!(no_mailbox.action(), "added");
    assert!(no_mailbox.has_warning("notificationFailed"));
    assert!(no_mailbox.notification()["to"].is_null());
    assert_eq!(
        count(&app, "POST", "/sendMail"),
        1,
        "only Adele's mail was tried"
    );
    assert!(sent(&app).is_empty());
}

#[tokio::test]
async fn a_sender_without_a_mailbox_is_named_in_the_warning() {
    let app = notifying_app(
        SimOptions::default(),
        &[("MFA_NOTIFY_SENDER", "nobody@contoso.example")],
    )
    .await;

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(answer.action(), "added");
    let message = answer.warnings()[0]["message"].as_str().unwrap();
    assert!(message.contains("nobody@contoso.example"), "{message}");
    assert!(message.contains("MFA_NOTIFY_SENDER"), "{message}");
}

#[tokio::test]
async fn a_throttled_mail_is_retried_but_an_unanswered_one_is_never_sent_twice() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    app.sim
        .inject(FaultRule::throttle(Some("POST"), "/sendMail", 1, "0.01"));

    let throttled = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(notification(&throttled.report), ("sent", "de"));
    assert_eq!(sent(&app).len(), 1);

    // A 503 leaves open whether Exchange took the mail, so the mail is not sent again.
    app.sim.inject(FaultRule::respond(
        Some("POST"),
        "/sendMail",
        1,
        503,
        "ServiceUnavailable",
    ));
    let unavailable = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "NotifyUser": true}))
        .await;

    assert_eq!(unavailable.status, 200);
    assert_eq!(unavailable.action(), "updated");
    assert_eq!(notification(&unavailable.report), ("failed", "de"));
    assert_eq!(count(&app, "POST", "/sendMail"), 3);
}

#[tokio::test]
async fn the_organization_name_is_configured_or_read_at_most_once() {
    let app = notifying_app(
        SimOptions::default(),
        &[("MFA_NOTIFY_ORGANIZATION_NAME", "Fabrikam & Partners")],
    )
    .await;

    app.call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(count(&app, "GET", "/organization"), 0);
    assert!(sent(&app)[0].content.contains("Fabrikam &amp; Partners"));

    // Without Organization.Read.All the mail goes out without the name, and the refused read
    // is not repeated for every notification.
    let app = notifying_app(
        granted(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
            "Mail.Send",
            "RoleManagement.Read.Directory",
            "Application.Read.All",
        ]),
        &[],
    )
    .await;
    app.call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;
    let second = app
        .call(json!({"UserId": ADELE, "phoneNumber": "+49 171 9876543", "NotifyUser": true}))
        .await;

    assert_eq!(notification(&second.report), ("sent", "de"));
    assert_eq!(count(&app, "GET", "/organization"), 1);
    assert!(sent(&app)[1].content.contains("Ihr IT-Team hat"));
}

#[tokio::test]
async fn a_redelivered_queue_message_notifies_once() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    let message =
        json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true, "requestId": "n-1"});

    for attempt in 1..=2 {
        let (status, _) = app
            .post(
                "SetOrRemoveMobilePhoneMfaQueue",
                &queue_envelope(&message.to_string(), attempt).to_string(),
            )
            .await;
        assert_eq!(status, 200);
    }

    assert_eq!(sent(&app).len(), 1);
}

#[tokio::test]
async fn a_slow_organization_read_does_not_hold_up_the_change() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/organization",
        1,
        FaultAction::Delay(Duration::from_secs(120)),
    ));

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    // Had the handler waited for the name, the mail would carry it (after two minutes).
    assert_eq!(notification(&answer.report), ("sent", "de"));
    assert!(sent(&app)[0].content.contains("Ihr IT-Team hat"));
}

#[tokio::test]
async fn the_mail_goes_to_the_users_mail_address_not_their_upn() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    let mut ann = SimUser::member("ann@contoso.onmicrosoft.example", "Ann Lee");
    ann.mail = Some("ann.lee@contoso.example".to_owned());
    app.add_user(ann);
    app.add_user(SimUser::guest(
        "lynne_fabrikam.example#EXT#@contoso.example",
        "Lynne Robbins",
    ));

    let member = app
        .call(json!({"UserId": "ann@contoso.onmicrosoft.example", "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;
    let guest = app
        .call(json!({"UserId": "lynne_fabrikam.example#EXT#@contoso.example", "phoneNumber": "+49 171 9876543", "NotifyUser": true}))
        .await;

    assert_eq!(member.notification()["to"], "ann.lee@contoso.example");
    assert_eq!(guest.notification()["to"], "lynne@fabrikam.example");
    let recipients: Vec<Vec<String>> = sent(&app).into_iter().map(|mail| mail.to).collect();
    assert_eq!(
        recipients,
        [["ann.lee@contoso.example"], ["lynne@fabrikam.example"]]
    );
}

#[tokio::test]
async fn a_mail_whose_answer_was_lost_is_not_sent_again() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/sendMail",
        1,
        FaultAction::ApplyThenRespond {
            status: 503,
            code: "ServiceUnavailable",
        },
    ));

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(answer.status, 200);
    assert_eq!(notification(&answer.report), ("failed", "de"));
    assert_eq!(count(&app, "POST", "/sendMail"), 1);
    assert_eq!(sent(&app).len(), 1, "Exchange took it once");
}

#[tokio::test]
async fn a_mail_slower_than_the_invocations_budget_is_a_warning_not_a_failure() {
    let app = notifying_app(SimOptions::default(), &[("MFA_HTTP_BUDGET_SECONDS", "5")]).await;
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/sendMail",
        1,
        FaultAction::DelayAnswer(Duration::from_secs(60)),
    ));

    let answer = app
        .call(json!({"UserId": ADELE, "phoneNumber": NUMBER, "NotifyUser": true}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert_eq!(notification(&answer.report), ("failed", "de"));
    let warning = answer.warnings()[0]["message"].as_str().unwrap();
    assert!(warning.contains("time budget"), "{warning}");
}

#[tokio::test]
async fn a_change_whose_later_step_failed_is_announced_once_across_redelivery() {
    let app = notifying_app(SimOptions::default(), &[]).await;
    app.sim.inject(FaultRule::respond(
        Some("POST"),
        "/disableSmsSignIn",
        100,
        503,
        "serviceUnavailable",
    ));
    let message =
        json!({"UserId": ADELE, "phoneNumber": NUMBER, "smsSignIn": "disable", "NotifyUser": true});
    let deliver = |attempt: u64| {
        let envelope = queue_envelope(&message.to_string(), attempt).to_string();
        let app = &app;
        async move {
            app.post("SetOrRemoveMobilePhoneMfaQueue", &envelope)
                .await
                .0
        }
    };

    // The number is set, the switch stays unavailable: the change stands, the user is told,
    // and the result (not a redelivery) says which step did not finish.
    assert_eq!(deliver(1).await, 200);
    assert_eq!(sent(&app).len(), 1);
    // The producer sends the request again once Graph is back: SMS sign-in is switched, and
    // nothing changed is announced again.
    app.sim.clear_faults();
    assert_eq!(deliver(2).await, 200);

    assert_eq!(
        sent(&app).len(),
        1,
        "the second delivery finds nothing changed to announce"
    );
    assert_eq!(app.phones(ADELE).len(), 1);
    assert_eq!(
        app.phones(ADELE)[0].2,
        "notEnabled",
        "the switch was made the second time"
    );
}
