//! No phone number, token or secret reaches a log line: the handler's own output, the host's
//! `Logs`, or the result's `log`.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use serde_json::json;

use crate::helpers::{Results, TestApp};

#[tokio::test]
async fn no_full_number_token_or_secret_is_ever_logged() {
    let app = TestApp::builder()
        .envs(&[("MFA_NOTIFY_SENDER", "notify@contoso.com")])
        .spawn()
        .await;
    app.add_member("notify@contoso.com");
    let adele = app.add_member("adele@contoso.com");
    let megan = app.add_user(SimUser::member("megan@contoso.com", "Megan"));
    app.seed_phone(&megan, PhoneType::Mobile, "+49 1761112233");
    let mut blocked = SimUser::member("bob@contoso.com", "Bob");
    blocked.sms_sign_in_allowed = false;
    let bob = app.add_user(blocked);
    let numbers = [
        "+49 1701234567",
        "+49 1709876543",
        "+49 1761112233",
        "+49 1725550199",
    ];

    let mut answers = Vec::new();
    for parameters in [
        json!({"UserId": adele, "phoneNumber": "+49 170 1234567", "NotifyUser": true}),
        json!({"UserId": adele, "phoneNumber": "+491709876543", "NotifyUser": true}),
        json!({"UserId": adele, "phoneNumber": "+49 1701234567", "Remove": true}),
        json!({"UserId": adele, "phoneNumber": "+49 176 1112233"}),
        json!({"UserId": adele, "phoneNumber": "+49 17012"}),
        json!({"UserId": adele, "phoneNumber": "+49 1709876543", "phoneType": "alternateMobile", "dryRun": true}),
        json!({"UserId": "nobody@contoso.com", "phoneNumber": "+49 1701234567"}),
        json!({"UserId": bob, "phoneNumber": "+49 1725550199", "smsSignIn": "enable",
               "CallerName": "helpdesk, ticket for +49 172 5550199"}),
    ] {
        answers.push(app.call(parameters).await);
    }
    // This takes the conflict path with the owner search: Graph writes nothing, and the
    // search names Megan.
    app.sim
        .tenant(|tenant| tenant.variants.conflict_writes_method = false);
    let carol = app.add_member("carol@contoso.com");
    let conflict = app
        .call(json!({"UserId": carol, "phoneNumber": "+49 176 1112233"}))
        .await;
    assert_eq!(conflict.conflict_owner()["id"], megan.as_str());
    answers.push(conflict);

    let output = app.output();
    assert!(
        output.contains("invocation_id="),
        "the handler logged: {output}"
    );
    let mut logged = vec![output];
    for answer in &answers {
        logged.push(answer.envelope["Logs"].to_string());
        logged.push(answer.log_text());
    }
    // The mails are not logs, but they leave the tenant's control, so numbers are
    // masked there too.
    let mails = app.sim.tenant(|tenant| tenant.sent_mail().to_vec());
    assert_eq!(mails.len(), 2);
    logged.extend(mails.into_iter().map(|mail| mail.content));
    for text in &logged {
        for number in numbers {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            let national = &digits[2..];
            assert!(!text.contains(national), "{number} appears in: {text}");
            assert!(
                !text.contains(&national[..7]),
                "most of {number} appears in: {text}"
            );
        }
        assert!(
            !text.contains("sim-"),
            "a token or the identity secret appears in: {text}"
        );
        assert!(!text.to_lowercase().contains("bearer"), "{text}");
    }
}
