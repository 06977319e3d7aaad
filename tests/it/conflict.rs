//! Checks SMS sign-in conflicts: the handler verifies instead of sleeping, finds the holder fast,
//! stays under Graph's throttle, and switches SMS sign-in when asked.

use std::collections::HashMap;
use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Throttle};
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, granted};

const HELD: &str = "+49 1701234567";

/// Starts a tenant where Megan holds `HELD` for SMS sign-in and Adele has no phone.
async fn tenant_with_holder(
    options: SimOptions,
    environment: &[(&str, &str)],
) -> (TestApp, String, String) {
    let app = TestApp::builder()
        .options(options)
        .envs(environment)
        .spawn()
        .await;
    let adele = app.add_member("adele@contoso.com");
    let megan = app.add_user(SimUser::member("megan@contoso.com", "Megan Bowen"));
    app.seed_phone(&megan, PhoneType::Mobile, HELD);
    (app, adele, megan)
}

/// Adds `count` users with a registered mobile phone (each their own number).
fn add_registered_users(app: &TestApp, count: usize) {
    app.sim.tenant(|tenant| {
        for index in 0..count {
            let id = tenant.add_user(SimUser::member(&format!("user{index}@contoso.com"), "User"));
            tenant.seed_phone(
                &id,
                PhoneType::Mobile,
                &format!("+49 15{:09}", 100_000_000 + index),
            );
        }
    });
}

fn not_written(app: &TestApp) {
    app.sim
        .tenant(|tenant| tenant.variants.conflict_writes_method = false);
}

/// Counts the requests that belong to an owner search's scan (report pages, user pages, batches).
fn scan_requests(app: &TestApp) -> usize {
    count(app, |path| {
        path.contains("reports") || path.ends_with("$batch") || path == "/users"
    })
}

/// Counts the requests sent to Graph directly (not as items of a batch) whose
/// path satisfies `predicate`.
fn count(app: &TestApp, predicate: impl Fn(&str) -> bool) -> usize {
    app.count(|request| !request.in_batch && predicate(&request.path))
}

#[tokio::test]
async fn a_conflict_where_graph_wrote_the_method_is_a_success_with_a_warning() {
    let (app, adele, _) = tenant_with_holder(SimOptions::default(), &[]).await;

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert_eq!(answer.warning_codes(), ["smsSignInConflict"]);
    assert_eq!(
        answer.phone_method()["smsSignInState"],
        "phoneNumberNotUnique"
    );
    assert_eq!(*answer.conflict_owner(), Value::Null);
    assert_eq!(app.phones(&adele)[0].1, HELD);
    assert_eq!(scan_requests(&app), 0);
}

#[tokio::test]
async fn verification_keeps_reading_while_graph_lags_behind_its_write() {
    let (app, adele, _) =
        tenant_with_holder(SimOptions::default(), &[("MFA_VERIFY_SECONDS", "3")]).await;
    app.sim
        .tenant(|tenant| tenant.variants.read_lag = Duration::from_millis(600));

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.warning_codes(), ["smsSignInConflict"]);
    let reads = count(&app, |path| {
        path.ends_with(&format!("{adele}/authentication/phoneMethods"))
    });
    assert!(
        reads >= 3,
        "the first re-reads missed the lagging write: {reads} reads"
    );
}

#[tokio::test]
async fn a_conflict_where_graph_wrote_nothing_fails_and_names_the_holder() {
    let (app, adele, megan) = tenant_with_holder(SimOptions::default(), &[]).await;
    add_registered_users(&app, 50);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.status, 409, "{}", answer.report);
    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    assert_eq!(
        *answer.conflict_owner(),
        json!({
            "id": megan,
            "userPrincipalName": "megan@contoso.com",
            "displayName": "Megan Bowen",
            "phoneType": "mobile",
            "smsSignInState": "ready",
            "accountEnabled": true
        })
    );
    assert!(app.phones(&adele).is_empty());
    let log = answer.log_text();
    assert!(log.contains("held by Megan Bowen"), "{log}");
    assert!(!log.contains("1701234567"));
}

#[tokio::test]
async fn the_search_stops_at_the_holder() {
    // Only one batch is in flight at a time, so that "stops" has one meaning whatever the
    // scheduling: no batch starts after the one that found the holder.
    let (app, adele, megan) =
        tenant_with_holder(SimOptions::default(), &[("MFA_OWNER_SEARCH_BATCHES", "1")]).await;
    add_registered_users(&app, 400);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(
        answer.conflict_owner()["userPrincipalName"],
        "megan@contoso.com"
    );
    let requests = app.graph_requests();
    let holder_batch = requests
        .iter()
        .find(|request| {
            request.in_batch
                && request.path == format!("/users/{megan}/authentication/phoneMethods")
        })
        .map(|request| request.started)
        .expect("the holder's methods were read in a batch");
    let later: Vec<&str> = requests
        .iter()
        .filter(|request| request.path.ends_with("$batch") && request.started > holder_batch)
        .map(|request| request.path.as_str())
        .collect();
    assert!(later.is_empty(), "batches after the holder's: {later:?}");
    let batches = count(&app, |path| path.ends_with("$batch"));
    assert!(
        batches < 20,
        "400 candidates are 20 batches: {batches} were read"
    );
}

#[tokio::test]
async fn without_a_licence_the_search_reads_the_user_list_and_says_why() {
    let options = SimOptions {
        licensed: false,
        ..SimOptions::default()
    };
    let (app, adele, megan) = tenant_with_holder(options, &[]).await;
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.conflict_owner()["id"], megan.as_str());
    assert_eq!(answer.warning_codes(), ["ownerSearchFallback"]);
    let message = answer.warning_message("ownerSearchFallback");
    assert!(message.contains("P1 or P2"), "{message}");
}

#[tokio::test]
async fn without_audit_log_read_all_the_search_still_finds_the_holder() {
    let options = granted(&[
        "User.Read.All",
        "UserAuthMethod-Phone.ReadWrite.All",
        "UserAuthenticationMethod.Read.All",
        "RoleManagement.Read.Directory",
        "Application.Read.All",
    ]);
    let (app, adele, megan) = tenant_with_holder(options, &[]).await;
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.conflict_owner()["id"], megan.as_str());
    let message = answer.warning_message("ownerSearchFallback");
    assert!(message.contains("AuditLog.Read.All"), "{message}");
}

#[tokio::test]
async fn a_holder_the_report_does_not_show_yet_is_found_through_the_user_list() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    add_registered_users(&app, 30);
    app.sim.tenant(|tenant| tenant.freeze_report());
    let late = app.add_user(SimUser::member("late@contoso.com", "Registered Late"));
    app.seed_phone(&late, PhoneType::Mobile, HELD);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.conflict_owner()["id"], late.as_str());
}

#[tokio::test]
async fn a_deleted_holder_is_reported_as_not_found_with_the_mfa_only_matches() {
    let (app, adele, megan) = tenant_with_holder(SimOptions::default(), &[]).await;
    let office = app.add_member("frank@contoso.com");
    app.seed_phone(&office, PhoneType::Mobile, "+49 1705550100");
    app.seed_phone(&office, PhoneType::Office, HELD);
    app.sim
        .tenant(|tenant| tenant.update_user(&megan, |user| user.deleted = true));
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.status, 409);
    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    assert_eq!(*answer.conflict_owner(), Value::Null);
    assert_eq!(
        answer.warning_codes(),
        ["conflictOwnerNotFound", "conflictOwnerNotFound"]
    );
    let warnings = answer.warnings().to_string();
    assert!(warnings.contains("frank@contoso.com"), "{warnings}");
    assert!(warnings.contains("deleted"), "{warnings}");
}

#[tokio::test]
async fn the_search_can_be_switched_off() {
    let (app, adele, _) =
        tenant_with_holder(SimOptions::default(), &[("MFA_OWNER_SEARCH", "false")]).await;
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    assert_eq!(answer.warning_codes(), ["ownerSearchDisabled"]);
    assert_eq!(scan_requests(&app), 0);
}

#[tokio::test]
async fn the_search_stops_at_its_budget() {
    let options = SimOptions {
        latency: Duration::from_millis(150),
        ..SimOptions::default()
    };
    let (app, adele, _) = tenant_with_holder(
        options,
        &[
            ("MFA_OWNER_SEARCH_BUDGET_SECONDS", "1"),
            ("MFA_OWNER_SEARCH_BATCHES", "1"),
        ],
    )
    .await;
    // The holder comes last, behind 600 others.
    app.sim.tenant(|tenant| {
        let megan = tenant
            .find("megan@contoso.com")
            .map(|user| user.id.clone())
            .unwrap();
        tenant.update_user(&megan, |user| user.deleted = true);
    });
    add_registered_users(&app, 600);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    // This is not timed: 30 batches at 150 ms each need more than the 1 s budget however fast the
    // machine, and the search says it stopped at its budget (not at its end, nor at the
    // invocation's).
    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    let stopped = answer.warning_message("ownerSearchIncomplete");
    assert!(
        stopped.contains("stopped after its budget of 1 s"),
        "{stopped}"
    );
    assert!(
        answer.log_text().contains("(budget 1 s)"),
        "{}",
        answer.log_text()
    );
}

#[tokio::test]
async fn the_search_keeps_inside_the_invocation_budget() {
    let options = SimOptions {
        latency: Duration::from_millis(150),
        ..SimOptions::default()
    };
    let (app, adele, megan) = tenant_with_holder(
        options,
        &[
            // The HTTP trigger keeps to its own budget, not the queue's longer one.
            ("MFA_HTTP_BUDGET_SECONDS", "12"),
            ("MFA_INVOCATION_BUDGET_SECONDS", "600"),
            ("MFA_OWNER_SEARCH_BATCHES", "1"),
        ],
    )
    .await;
    app.sim
        .tenant(|tenant| tenant.update_user(&megan, |user| user.deleted = true));
    add_registered_users(&app, 600);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    // This is not timed: the search's budget is at most the HTTP budget less the 10 s kept for
    // answering (12 - 10 = 2 s, less what the invocation spent before the search; not the queue's
    // 600 s nor the search's own 90 s), and the search stopped at it.
    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    let log = answer.log_text();
    let budget: u64 = log
        .split_once("(budget ")
        .and_then(|(_, rest)| rest.split_once(" s, shortened from 90 s so that the caller"))
        .and_then(|(seconds, _)| seconds.parse().ok())
        .unwrap_or_else(|| panic!("the search says it was shortened: {log}"));
    assert!(budget <= 2, "{log}");
    let stopped = answer.warning_message("ownerSearchIncomplete");
    assert!(
        stopped.contains(&format!("stopped after its budget of {budget} s")),
        "{stopped}"
    );
}

#[tokio::test]
async fn the_token_never_follows_a_next_link_off_the_graph_endpoint() {
    let options = SimOptions {
        report_page_size: 10,
        next_link_origin: Some("http://127.0.0.2:9".to_owned()),
        ..SimOptions::default()
    };
    let (app, adele, megan) = tenant_with_holder(options, &[]).await;
    app.sim
        .tenant(|tenant| tenant.update_user(&megan, |user| user.deleted = true));
    add_registered_users(&app, 30);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(answer.error_code(), "phoneNumberNotUnique");
    let warnings = answer.warnings().to_string();
    assert!(
        warnings.contains("points away from the Graph endpoint"),
        "{warnings}"
    );
    // The user list still covered everyone, so the search could finish without the report.
    assert!(answer.has_warning("ownerSearchFallback"));
}

#[tokio::test]
async fn throttled_batch_items_are_retried_after_their_own_retry_after() {
    let options = SimOptions {
        throttle: Throttle {
            identity_bucket: Some((60.0, 400.0)),
            reports_window: Some((5, Duration::from_secs(10))),
            write_window: None,
        },
        ..SimOptions::default()
    };
    let app = TestApp::builder()
        .options(options)
        .envs(&[("MFA_VERIFY_SECONDS", "0.2")])
        .spawn()
        .await;
    let adele = app.add_member("adele@contoso.com");
    add_registered_users(&app, 300);
    let megan = app.add_user(SimUser::member("megan@contoso.com", "Megan Bowen"));
    app.seed_phone(&megan, PhoneType::Mobile, HELD);
    not_written(&app);

    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;

    assert_eq!(
        answer.conflict_owner()["id"],
        megan.as_str(),
        "{}",
        answer.report
    );
    let items: Vec<_> = app
        .graph_requests()
        .into_iter()
        .filter(|request| request.in_batch)
        .collect();
    let throttled = items.iter().filter(|item| item.status == 429).count();
    assert!(throttled > 0, "the bucket throttled some items");
    // Every throttled item was asked again, and not before its Retry-After had passed.
    let mut last_429: HashMap<&str, (std::time::Duration, tokio::time::Instant)> = HashMap::new();
    for item in &items {
        if let Some((wait, at)) = last_429.remove(item.path.as_str()) {
            assert!(
                item.started >= at + wait,
                "{} asked again too early",
                item.path
            );
        }
        if item.status == 429 {
            let wait: f64 = item.retry_after.as_deref().unwrap().parse().unwrap();
            last_429.insert(&item.path, (Duration::from_secs_f64(wait), item.at));
        }
    }
    assert!(
        last_429.keys().all(|path| !path.contains(megan.as_str())),
        "nothing throttled was dropped before the holder was found"
    );
}

#[tokio::test]
async fn a_second_conflict_on_the_same_number_costs_one_verifying_read() {
    let (app, adele, megan) = tenant_with_holder(SimOptions::default(), &[]).await;
    let bob = app.add_member("bob@contoso.com");
    add_registered_users(&app, 100);
    not_written(&app);
    let first = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;
    assert_eq!(first.conflict_owner()["id"], megan.as_str());
    app.sim.clear_requests();

    let second = app.call(json!({"UserId": bob, "phoneNumber": HELD})).await;

    assert_eq!(second.conflict_owner()["id"], megan.as_str());
    assert_eq!(scan_requests(&app), 0);
    assert_eq!(
        count(&app, |path| path
            .contains(&format!("{megan}/authentication"))),
        1
    );
}

#[tokio::test]
async fn a_conflict_on_a_number_an_earlier_search_read_costs_one_verifying_read() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    let bob = app.add_member("bob@contoso.com");
    // Nina comes before Megan in every list, so the search for Megan's number reads Nina's.
    let nina = app.add_user(SimUser::member("nina@contoso.com", "Nina"));
    app.seed_phone(&nina, PhoneType::Mobile, "+49 1767654321");
    let megan = app.add_user(SimUser::member("megan@contoso.com", "Megan Bowen"));
    app.seed_phone(&megan, PhoneType::Mobile, HELD);
    not_written(&app);
    let first = app
        .call(json!({"UserId": adele, "phoneNumber": HELD}))
        .await;
    assert_eq!(first.conflict_owner()["id"], megan.as_str());
    app.sim.clear_requests();

    let second = app
        .call(json!({"UserId": bob, "phoneNumber": "+49 176 7654321"}))
        .await;

    assert_eq!(
        second.conflict_owner()["id"],
        nina.as_str(),
        "{}",
        second.report
    );
    assert_eq!(second.conflict_owner()["accountEnabled"], true);
    assert_eq!(scan_requests(&app), 0);
    assert_eq!(
        count(&app, |path| path
            .contains(&format!("{nina}/authentication"))),
        1
    );
}

#[tokio::test]
async fn sms_sign_in_is_enabled_and_disabled_on_request() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    app.seed_phone(&adele, PhoneType::Mobile, HELD);
    app.sim.tenant(|tenant| {
        tenant
            .switch_sms_sign_in(&adele, false, tokio::time::Instant::now())
            .unwrap();
    });

    let enabled = app
        .call(json!({"UserId": adele, "phoneNumber": HELD, "smsSignIn": "enable"}))
        .await;
    let again = app
        .call(json!({"UserId": adele, "phoneNumber": HELD, "smsSignIn": "Enable"}))
        .await;
    let disabled = app
        .call(json!({"UserId": adele, "phoneNumber": HELD, "smsSignIn": "disable"}))
        .await;

    assert_eq!(enabled.status, 200, "{}", enabled.report);
    assert_eq!(enabled.action(), "unchanged");
    assert_eq!(enabled.phone_method()["smsSignInState"], "ready");
    assert!(again.log_text().contains("already on"));
    assert_eq!(disabled.phone_method()["smsSignInState"], "notEnabled");
    let switches: Vec<String> = app
        .writes()
        .iter()
        .map(|write| write.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(switches, ["enableSmsSignIn", "disableSmsSignIn"]);
}

#[tokio::test]
async fn enabling_sms_sign_in_that_policy_does_not_allow_is_a_clear_error() {
    let app = TestApp::spawn().await;
    let mut user = SimUser::member("adele@contoso.com", "Adele");
    user.sms_sign_in_allowed = false;
    let adele = app.add_user(user);

    // The number is set, then SMS sign-in is refused: the change stands and the result says
    // which step did not finish.
    let answer = app
        .call(json!({"UserId": adele, "phoneNumber": HELD, "smsSignIn": "enable"}))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(answer.action(), "added");
    assert_eq!(answer.warning_codes(), ["stepNotFinished"]);
    let message = answer.warning_message("stepNotFinished");
    assert!(message.contains("was added"), "{message}");
    assert!(
        message.contains("refused to enable SMS sign-in"),
        "{message}"
    );
    assert_eq!(app.phones(&adele)[0].1, HELD, "the number itself was set");

    // Asked again, nothing changes: now the refusal is the result.
    let again = app
        .call(json!({"UserId": adele, "phoneNumber": HELD, "smsSignIn": "enable"}))
        .await;

    assert_eq!(again.status, 409, "{}", again.report);
    assert_eq!(again.error_code(), "smsSignInNotAllowed");
    assert_eq!(again.error()["field"], "smsSignIn");
    assert!(again.error_message().contains("was set"));
}
