//! Checks that the handler holds the least power that does the job: the phone-only Graph
//! permissions, callers admitted by the API's app roles in Entra's own terms, owners of privileged
//! applications refused, numbers not handed out, and the smaller holes of the review (issue 17).

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;
use mfa_phone_handler::simulator::{FaultAction, FaultRule, Gate};
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, http_envelope_as, result_of};

const NUMBER: &str = "+49 1701234567";
const MASKED: &str = "+49 ********67";
const CALLER_OID: &str = "aaaaaaaa-1111-4111-8111-111111111111";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Makes an administrator's claims, with the app roles given.
fn admin(roles: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    let mut claims = vec![
        ("oid", CALLER_OID),
        ("tid", TENANT),
        ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        ("scp", "user_impersonation"),
        ("upn", "helpdesk.admin@contoso.com"),
    ];
    claims.extend(roles.iter().map(|role| ("roles", *role)));
    claims
}

/// The narrow pair, and what the protection and the policy read.
const NARROW: [&str; 8] = [
    "User.Read.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "RoleManagement.Read.Directory",
    "Application.Read.All",
    "GroupMember.Read.All",
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "Policy.Read.AuthenticationMethod",
];

#[tokio::test]
async fn the_phone_only_permissions_do_the_whole_job() {
    let app = TestApp::builder().grant(&NARROW).spawn().await;
    let user = app.add_member("adele@contoso.com");

    for (parameters, action) in [
        (json!({"UserId": user, "phoneNumber": NUMBER}), "added"),
        (
            json!({"UserId": user, "phoneNumber": "+49 1709876543", "smsSignIn": "disable"}),
            "updated",
        ),
        (
            json!({"UserId": user, "phoneNumber": "+49 1709876543", "Remove": true}),
            "removed",
        ),
    ] {
        let answer = app.call(parameters).await;
        assert_eq!(answer.status, 200, "{}", answer.report);
        assert_eq!(answer.action(), action);
    }
    let shown = app.call(json!({"UserId": user, "operation": "show"})).await;
    assert_eq!(shown.status, 200, "{}", shown.report);
    assert!(app.phones(&user).is_empty());
}

#[tokio::test]
async fn an_earlier_deployments_broad_permission_still_works() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthenticationMethod.ReadWrite.All",
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
}

#[tokio::test]
async fn the_phone_only_permission_does_not_reach_every_method() {
    // Without UserAuthenticationMethod.Read.All the whole picture cannot be read, and the
    // failure names the permission, not the broad one.
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "RoleManagement.Read.Directory",
            "Application.Read.All",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 502, "{}", answer.report);
    assert_eq!(answer.error_code(), "graphForbidden");
    let message = answer.error_message();
    assert!(
        message.contains("UserAuthenticationMethod.Read.All"),
        "{message}"
    );
    assert!(!message.contains("ReadWrite"), "{message}");
    assert!(app.phones(&user).is_empty());
}

#[tokio::test]
async fn a_change_needs_the_read_write_app_role_and_show_either() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    let change = json!({"UserId": user, "phoneNumber": "+49 1709876543"});
    let show = json!({"UserId": user, "operation": "show"});

    let nothing = app
        .call_envelope(http_envelope_as(&show, &admin(&[])))
        .await;
    assert_eq!(nothing.status, 403, "{}", nothing.report);
    assert_eq!(nothing.error_code(), "callerNotAllowed");
    assert!(nothing.error_message().contains("MfaPhone.ReadWrite"));
    assert!(nothing.error_message().contains("MfaPhone.Read "));
    assert!(app.graph_requests().is_empty(), "refused before any read");

    let reader = admin(&["MfaPhone.Read"]);
    let looked = app.call_envelope(http_envelope_as(&show, &reader)).await;
    assert_eq!(looked.status, 200, "{}", looked.report);
    assert_eq!(looked.report["caller"]["roles"], json!(["MfaPhone.Read"]));
    for refused in [change.clone(), {
        let mut dry = change.clone();
        dry["dryRun"] = json!(true);
        dry
    }] {
        let answer = app.call_envelope(http_envelope_as(&refused, &reader)).await;
        assert_eq!(answer.status, 403, "{}", answer.report);
        assert_eq!(answer.error_code(), "callerNotAllowed");
        assert!(
            answer
                .error_message()
                .contains("needs this API's app role MfaPhone.ReadWrite"),
            "{}",
            answer.error_message()
        );
    }
    assert!(app.writes().is_empty());
    assert_eq!(app.phones(&user)[0].1, NUMBER);

    let writer = admin(&["MfaPhone.ReadWrite"]);
    let changed = app.call_envelope(http_envelope_as(&change, &writer)).await;
    assert_eq!(changed.action(), "updated", "{}", changed.report);
    let looked = app.call_envelope(http_envelope_as(&show, &writer)).await;
    assert_eq!(looked.status, 200, "{}", looked.report);
}

#[tokio::test]
async fn roles_are_read_in_either_claim_type_and_behind_hundreds_of_group_claims() {
    let app = TestApp::builder()
        .env("MFA_TENANT_ID", TENANT)
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let groups: Vec<String> = (0..300)
        .map(|index| format!("00000000-0000-4000-8000-{index:012}"))
        .collect();
    let mut claims: Vec<(&str, &str)> = groups
        .iter()
        .map(|group| ("groups", group.as_str()))
        .collect();
    claims.extend([
        (
            "http://schemas.microsoft.com/identity/claims/tenantid",
            TENANT,
        ),
        (
            "http://schemas.microsoft.com/identity/claims/objectidentifier",
            CALLER_OID,
        ),
        ("idtyp", "app"),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
            "MfaPhone.ReadWrite",
        ),
    ]);

    let answer = app
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "phoneNumber": NUMBER}),
            &claims,
        ))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(answer.report["caller"]["id"], CALLER_OID);
    assert_eq!(
        answer.report["caller"]["roles"],
        json!(["MfaPhone.ReadWrite"])
    );
}

#[tokio::test]
async fn only_an_entra_identity_of_the_apps_own_tenant_is_a_caller() {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_TENANT_ID", TENANT),
            ("MFA_REQUIRE_AUTHENTICATED_CALLER", "true"),
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let body = json!({"UserId": user, "phoneNumber": NUMBER});

    let mut foreign = admin(&["MfaPhone.ReadWrite"]);
    foreign[1] = ("tid", "11111111-2222-4333-8444-555555555555");
    let answer = app.call_envelope(http_envelope_as(&body, &foreign)).await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert_eq!(answer.error_code(), "callerNotAllowed");
    assert!(
        answer
            .error_message()
            .contains("not from this app's tenant"),
        "{}",
        answer.error_message()
    );

    let mut other_provider = http_envelope_as(&body, &admin(&["MfaPhone.ReadWrite"]));
    other_provider["Data"]["req"]["Identities"][0]["AuthenticationType"] = json!("github");
    let answer = app.call_envelope(other_provider).await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert!(
        answer.error_message().contains("'github'"),
        "{}",
        answer.error_message()
    );
    assert!(app.graph_requests().is_empty());

    let own = app
        .call_envelope(http_envelope_as(&body, &admin(&["MfaPhone.ReadWrite"])))
        .await;
    assert_eq!(own.action(), "added", "{}", own.report);

    // Where no caller is required either, the foreign identity is not taken for a caller with
    // the key alone.
    let open = TestApp::builder()
        .env("MFA_TENANT_ID", TENANT)
        .spawn()
        .await;
    let user = open.add_member("adele@contoso.com");
    let answer = open
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "phoneNumber": NUMBER}),
            &foreign,
        ))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert!(open.writes().is_empty());
}

#[tokio::test]
async fn the_role_check_switched_off_says_so_and_the_caller_goes_into_the_hosts_logs() {
    let app = TestApp::builder()
        .env("MFA_REQUIRE_APP_ROLE", "false")
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "phoneNumber": NUMBER}),
            &admin(&[]),
        ))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(answer.report["caller"]["appRoleRequired"], false);
    let logs: Vec<&str> = answer.envelope["Logs"]
        .as_array()
        .expect("Logs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let called = logs
        .iter()
        .find(|line| line.starts_with("Called by"))
        .expect("the caller is in the invocation's Logs");
    assert!(called.contains("helpdesk.admin@contoso.com"), "{called}");
    assert!(called.contains(CALLER_OID), "{called}");
    assert!(called.contains("MFA_REQUIRE_APP_ROLE=false"), "{called}");
}

#[tokio::test]
async fn show_reveals_a_number_only_over_http_to_an_authenticated_caller_for_an_unprotected_account()
 {
    let admin_id = "21212121-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(admin_id));
                tenant.directory.assign(admin_id, GLOBAL_ADMINISTRATOR);
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);
    app.seed_phone(admin_id, PhoneType::Mobile, NUMBER);
    let reveal = |who: &str| json!({"UserId": who, "operation": "show", "revealNumber": true});
    let reader = admin(&["MfaPhone.ReadWrite"]);

    let revealed = app
        .call_envelope(http_envelope_as(&reveal(&user), &reader))
        .await;
    assert_eq!(
        revealed.phone_method()["phoneNumber"],
        NUMBER,
        "{}",
        revealed.report
    );
    assert!(!revealed.has_warning("numberNotRevealed"));
    app.sim.clear_requests();
    let by_upn = app
        .call_envelope(http_envelope_as(&reveal("adele@contoso.com"), &reader))
        .await;
    assert!(
        app.graph_requests()
            .iter()
            .any(|request| request.path == format!("/users/{user}/authentication/methods")),
        "a number to be revealed is read by object id"
    );
    assert_eq!(
        by_upn.phone_method()["phoneNumber"],
        NUMBER,
        "{}",
        by_upn.report
    );

    let protected = app
        .call_envelope(http_envelope_as(&reveal(admin_id), &reader))
        .await;
    assert_eq!(protected.status, 200, "a look: {}", protected.report);
    assert_eq!(
        protected.report["phoneMethod"],
        Value::Null,
        "nothing of a protected account's methods: {}",
        protected.report
    );
    assert!(
        protected
            .warning_message("detailsWithheld")
            .contains("privileged or protected"),
        "{}",
        protected.report
    );

    let read_only = app
        .call_envelope(http_envelope_as(&reveal(&user), &admin(&["MfaPhone.Read"])))
        .await;
    assert_eq!(read_only.status, 200, "{}", read_only.report);
    assert_eq!(read_only.phone_method()["phoneNumber"], MASKED);
    assert!(
        read_only
            .warning_message("numberNotRevealed")
            .contains("MfaPhone.ReadWrite")
    );

    let key_only = app.call(reveal(&user)).await;
    assert_eq!(key_only.phone_method()["phoneNumber"], MASKED);
    assert!(
        key_only
            .warning_message("numberNotRevealed")
            .contains("authenticated")
    );

    let (_, envelope) = app.deliver(&reveal(&user), 1).await;
    let queued = result_of(&envelope);
    assert_eq!(queued.phone_method()["phoneNumber"], MASKED, "{queued}");
    assert!(
        queued
            .warning_message("numberNotRevealed")
            .contains("queue")
    );
    assert!(!envelope.to_string().contains("1701234567"));

    let asked_on_a_change = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER, "revealNumber": true}))
        .await;
    assert_eq!(asked_on_a_change.status, 400);
    assert_eq!(asked_on_a_change.report["error"]["field"], "revealNumber");
}

#[tokio::test]
async fn nothing_is_shown_when_protection_cannot_be_checked() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, NUMBER);

    let answer = app
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "Show": true, "revealNumber": true}),
            &admin(&["MfaPhone.ReadWrite"]),
        ))
        .await;

    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(
        answer.report["phoneMethod"],
        Value::Null,
        "closed: {}",
        answer.report
    );
    assert!(
        answer
            .warning_message("detailsWithheld")
            .contains("could not be checked")
    );
}

/// Prepares a tenant with an application, its service principal granted `permission`, owned by
/// `owner` (of the app registration when `registration`, else of the enterprise application).
fn with_owned_app(
    owner: &'static str,
    permission: &'static str,
    registration: bool,
) -> impl FnOnce(&mfa_phone_handler::simulator::Simulator) + 'static {
    move |sim| {
        sim.tenant(|tenant| {
            tenant.add_user(SimUser::member("dev@contoso.com", "Dev").with_id(owner));
            let app = tenant.directory.add_app("Contoso Provisioning");
            tenant.directory.grant_graph_permission(&app, permission);
            let owned = tenant.directory.app_mut(&app).expect("the app");
            if registration {
                owned.owners.push(owner.to_owned());
            } else {
                owned.service_principal_owners.push(owner.to_owned());
            }
        })
    }
}

#[tokio::test]
async fn owners_of_an_application_with_a_privileged_graph_permission_are_refused() {
    const OWNER: &str = "31313131-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    for (permission, registration) in [
        ("Application.ReadWrite.All", true),
        ("RoleManagement.ReadWrite.Directory", false),
        ("UserAuthenticationMethod.ReadWrite.All", true),
    ] {
        let app = TestApp::builder()
            .prepare(with_owned_app(OWNER, permission, registration))
            .spawn()
            .await;

        let answer = app
            .call(json!({"UserId": OWNER, "phoneNumber": NUMBER}))
            .await;

        assert_eq!(answer.status, 403, "{permission}: {}", answer.report);
        assert_eq!(answer.error_code(), "protectedUser");
        let message = answer.error_message();
        assert!(message.contains("Contoso Provisioning"), "{message}");
        assert!(message.contains(permission), "{message}");
        assert!(
            message.contains(if registration {
                "its app registration"
            } else {
                "its enterprise application"
            }),
            "{message}"
        );
        assert!(app.writes().is_empty());
    }
}

#[tokio::test]
async fn owners_of_an_application_with_a_harmless_permission_may_be_changed() {
    const OWNER: &str = "32323232-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(with_owned_app(OWNER, "User.Read.All", true))
        .spawn()
        .await;

    let answer = app
        .call(json!({"UserId": OWNER, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
}

#[tokio::test]
async fn owners_of_a_service_principal_holding_a_privileged_role_and_of_its_owner_are_refused() {
    const OWNER: &str = "33333333-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("dev@contoso.com", "Dev").with_id(OWNER));
                // The privileged one is a Global Administrator service principal.
                let admin_app = tenant.directory.add_app("Tenant Automation");
                tenant.directory.assign(&admin_app, GLOBAL_ADMINISTRATOR);
                // Its owner is another application, which the user owns.
                let middle = tenant.directory.add_app("Deployment Pipeline");
                tenant
                    .directory
                    .app_mut(&admin_app)
                    .expect("the app")
                    .owners
                    .push(middle.clone());
                tenant
                    .directory
                    .app_mut(&middle)
                    .expect("the app")
                    .owners
                    .push(OWNER.to_owned());
            })
        })
        .spawn()
        .await;

    let answer = app
        .call(json!({"UserId": OWNER, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 403, "{}", answer.report);
    let message = answer.error_message();
    assert!(message.contains("Deployment Pipeline"), "{message}");
    assert!(message.contains("Tenant Automation"), "{message}");
    assert!(message.contains("Global Administrator"), "{message}");
}

#[tokio::test]
async fn without_application_read_all_the_owners_are_unknown_and_nothing_is_written() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
            "RoleManagement.Read.Directory",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectionUnknown");
    assert!(answer.error_message().contains("Application.Read.All"));
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn a_user_named_by_upn_is_checked_by_object_id_after_waiting_for_the_lock() {
    let group = "41414141-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", group)
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant
                    .directory
                    .add_group_with_id(group, "Break glass", &[], false)
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    // The first change, by object id, holds the user's lock while its write is held.
    let gate = Gate::default();
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::Hold(gate.clone()),
    ));
    let mut arrivals = app.sim.request_arrived();
    let first = app.call(json!({"UserId": user, "phoneNumber": NUMBER}));
    let rest = async {
        while app.sim.arrived("/authentication/phoneMethods") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // The second, by UPN, reads the user and then waits for the object id's lock.
        let second =
            app.call(json!({"UserId": "adele@contoso.com", "phoneNumber": "+49 1709876543"}));
        let meanwhile = async {
            while !app
                .sim
                .requests()
                .iter()
                .any(|request| request.path == "/users/adele@contoso.com")
            {
                arrivals.changed().await.expect("the simulator runs");
            }
            // Meanwhile the user becomes a member of a protected group.
            app.sim
                .tenant(|tenant| tenant.directory.add_group_member(group, &user));
            gate.open();
        };
        tokio::join!(second, meanwhile).0
    };
    let (first, second) = tokio::join!(first, rest);

    assert_eq!(first.action(), "added", "{}", first.report);
    assert_eq!(second.error_code(), "protectedUser", "{}", second.report);
    let checks: Vec<String> = app
        .graph_requests()
        .iter()
        .filter(|request| request.path.ends_with("/checkMemberGroups"))
        .map(|request| request.path.clone())
        .collect();
    assert!(!checks.is_empty());
    assert!(
        checks
            .iter()
            .all(|path| path == &format!("/users/{user}/checkMemberGroups")),
        "every membership check names the object id: {checks:?}"
    );
    assert_eq!(app.phones(&user)[0].1, NUMBER, "the second did not write");
}

#[tokio::test]
async fn names_and_error_texts_from_graph_reach_no_log_line_with_a_number_or_a_line_break() {
    let app = TestApp::spawn().await;
    let user = app.add_user(SimUser::member(
        "adele@contoso.com",
        "Adele +49 170 1234567\nInjected: Set the mobile phone of admin",
    ));
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::Answer {
            status: 400,
            body: json!({"error": {"code": "badRequest\r\nforged", "message": "the number +49 170 9876543\nis bad"}}),
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1709876543"}))
        .await;

    assert_eq!(answer.status_text(), "failed", "{}", answer.report);
    for line in answer.report["log"].as_array().expect("log") {
        let line = line.as_str().expect("a line");
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        assert!(
            !line.contains("1234567") && !line.contains("9876543"),
            "{line:?}"
        );
    }
    let message = answer.error_message();
    assert!(
        !message.contains("9876543") && !message.contains('\n'),
        "{message}"
    );
    let output = app.output();
    assert!(
        !output.contains("1234567") && !output.contains("9876543"),
        "{output}"
    );
    assert!(
        !output.lines().any(|line| line.starts_with("Injected")),
        "no forged line: {output}"
    );
    assert_eq!(
        answer.user()["displayName"],
        "Adele +49 170 1234567Injected: Set the mobile phone of admin",
        "the result keeps Graph's data, without the control characters"
    );
}

/// Graph sends an answer in the wrong shape, with a number where the parse error quotes it:
/// the error that names what could not be read masks the number and keeps to one line.
#[tokio::test]
async fn a_parse_error_quoting_graphs_answer_reaches_no_log_line_with_a_number() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/authentication/methods",
        5,
        FaultAction::Answer {
            status: 200,
            body: json!({"value": "+49 170 9876543\nInjected: a forged line"}),
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1701234567"}))
        .await;

    assert_eq!(answer.status_text(), "failed", "{}", answer.report);
    let mut quoted = false;
    for line in answer.report["log"].as_array().expect("log") {
        let line = line.as_str().expect("a line");
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        assert!(!line.contains("9876543"), "{line:?}");
        quoted |= line.contains("+49 ********43");
    }
    assert!(
        quoted || answer.error_message().contains("+49 ********43"),
        "the parse error is told, its number masked: {}",
        answer.report
    );
    assert!(!answer.error_message().contains("9876543"));
    let output = app.output();
    assert!(!output.contains("9876543"), "{output}");
    assert!(
        !output.lines().any(|line| line.starts_with("Injected")),
        "no forged line: {output}"
    );
}

#[tokio::test]
async fn an_answer_of_many_megabytes_is_refused_without_holding_it() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/authentication/methods",
        1,
        FaultAction::Answer {
            status: 200,
            body: json!({"value": [], "padding": "x".repeat(6 * 1024 * 1024)}),
        },
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.status, 502, "{}", answer.report);
    assert_eq!(answer.error_code(), "graphRejected");
    assert!(answer.error_message().contains("larger than 4 MiB"));
    assert!(app.writes().is_empty());
}

#[tokio::test]
async fn thousands_of_methods_and_an_enum_of_60_kb_still_give_a_queue_result_under_48_kib() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let mut methods: Vec<Value> = (0..8_000)
        .map(|index| {
            json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": format!("{index}")})
        })
        .collect();
    methods.push(json!({
        "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
        "id": "3179e48a-750b-4051-897c-87b9720928f7",
        "phoneType": "mobile",
        "phoneNumber": NUMBER,
        "smsSignInState": "s".repeat(60 * 1024),
    }));
    methods.push(
        json!({"@odata.type": format!("#microsoft.graph.{}", "k".repeat(60 * 1024)), "id": "x"}),
    );
    app.sim.inject(FaultRule::new(
        Some("GET"),
        "/authentication/methods",
        1,
        FaultAction::Answer {
            status: 200,
            body: json!({"value": methods}),
        },
    ));

    let (status, envelope) = app
        .deliver(&json!({"UserId": user, "operation": "show"}), 1)
        .await;

    assert_eq!(status, 200);
    let result = result_of(&envelope);
    assert_eq!(result.status_text(), "succeeded", "{result}");
    let text = result.to_string();
    assert!(text.len() <= 48 * 1024, "{} bytes", text.len());
    assert_eq!(result["truncated"], true);
    assert!(
        result["methods"]["other"]
            .as_array()
            .is_some_and(|other| !other.is_empty())
    );
    assert!(
        result["phoneMethod"]["smsSignInState"]
            .as_str()
            .is_some_and(|state| state.len() <= 64),
        "{}",
        result["phoneMethod"]
    );
}

#[tokio::test]
async fn the_result_echoes_the_parameters_that_ran_not_the_wrapper_they_came_in() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let inner = json!({"UserId": user, "phoneNumber": NUMBER, "CallerName": "webhook"});

    let answer = app
        .call(json!({
            "WebhookName": "mfa",
            "RequestBody": inner.to_string(),
            "RequestHeader": {"User-Agent": "Azure-Automation"},
        }))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(answer.report["request"], inner);
}

#[tokio::test]
async fn no_number_is_revealed_while_the_privileged_account_check_is_off() {
    let admin_id = "22222222-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .env("MFA_ALLOW_PRIVILEGED_TARGETS", "true")
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(admin_id));
                tenant.directory.assign(admin_id, GLOBAL_ADMINISTRATOR);
            })
        })
        .spawn()
        .await;
    app.seed_phone(admin_id, PhoneType::Mobile, NUMBER);

    let answer = app
        .call_envelope(http_envelope_as(
            &json!({"UserId": admin_id, "Show": true, "revealNumber": true}),
            &admin(&["MfaPhone.ReadWrite"]),
        ))
        .await;

    assert_eq!(
        answer.phone_method()["phoneNumber"],
        MASKED,
        "{}",
        answer.report
    );
    assert!(
        answer
            .warning_message("numberNotRevealed")
            .contains("MFA_ALLOW_PRIVILEGED_TARGETS")
    );
}

#[tokio::test]
async fn a_caller_who_may_only_show_is_refused_a_change_before_its_parameters_are_read() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call_envelope(http_envelope_as(
            &json!({"UserId": user, "phoneNumber": "not a number", "Unknown": 1}),
            &admin(&["MfaPhone.Read"]),
        ))
        .await;

    assert_eq!(answer.status, 403, "{}", answer.report);
    assert_eq!(answer.error_code(), "callerNotAllowed");
    assert!(answer.warning_codes().is_empty(), "{}", answer.report);
}

#[tokio::test]
async fn a_queue_invocation_says_in_its_logs_that_it_has_no_caller() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");

    let (_, envelope) = app
        .deliver(&json!({"UserId": user, "operation": "show"}), 1)
        .await;

    let logs = envelope["Logs"].to_string();
    assert!(logs.contains("Called through the queue"), "{logs}");
}

#[tokio::test]
async fn owners_of_a_service_principal_in_a_role_holding_group_and_of_long_chains_are_refused() {
    const IN_GROUP: &str = "34343434-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    const AT_THE_END: &str = "35353535-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("dev1@contoso.com", "Dev").with_id(IN_GROUP));
                tenant.add_user(SimUser::member("dev2@contoso.com", "Dev").with_id(AT_THE_END));
                // This service principal is a member of a group holding Global Administrator.
                let member = tenant.directory.add_app("Group Member App");
                let group =
                    tenant
                        .directory
                        .add_group("Tier 0 automation", &[member.as_str()], true);
                tenant.directory.assign(&group, GLOBAL_ADMINISTRATOR);
                tenant
                    .directory
                    .app_mut(&member)
                    .expect("the app")
                    .service_principal_owners
                    .push(IN_GROUP.to_owned());
                // Five applications each own the one before, the first holding a privileged
                // permission; the user owns the last.
                let mut previous = tenant.directory.add_app("Link 0");
                tenant
                    .directory
                    .grant_graph_permission(&previous, "RoleManagement.ReadWrite.Directory");
                for link in 1..5 {
                    let next = tenant.directory.add_app(&format!("Link {link}"));
                    tenant
                        .directory
                        .app_mut(&previous)
                        .expect("the app")
                        .owners
                        .push(next.clone());
                    previous = next;
                }
                tenant
                    .directory
                    .app_mut(&previous)
                    .expect("the app")
                    .owners
                    .push(AT_THE_END.to_owned());
            })
        })
        .spawn()
        .await;

    for (owner, named) in [(IN_GROUP, "Tier 0 automation"), (AT_THE_END, "Link 0")] {
        let answer = app
            .call(json!({"UserId": owner, "phoneNumber": NUMBER}))
            .await;
        assert_eq!(answer.status, 403, "{}", answer.report);
        assert!(
            answer.error_message().contains(named),
            "{}",
            answer.error_message()
        );
    }
    assert!(app.writes().is_empty());
}
