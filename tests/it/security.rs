//! Checks who may change whose MFA: the authenticated caller is recorded and checked, and protected
//! accounts (privileged roles held directly, through a group or eligible through PIM; members
//! of protected groups) are refused before any write, failing closed when the check cannot be made.

use mfa_phone_handler::simulator::FaultRule;
use mfa_phone_handler::simulator::tenant::directory::{
    AUTHENTICATION_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, REPORTS_READER,
};
use serde_json::{Value, json};

use crate::helpers::{Results, TestApp, http_envelope, http_envelope_as, result_of};

const NUMBER: &str = "+49 1701234567";
const ADMIN_OID: &str = "aaaaaaaa-1111-4111-8111-111111111111";
const LOGIC_APP_OID: &str = "bbbbbbbb-2222-4222-8222-222222222222";
const LOGIC_APP_ID: &str = "cccccccc-3333-4333-8333-333333333333";

fn admin_claims() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "http://schemas.microsoft.com/identity/claims/objectidentifier",
            ADMIN_OID,
        ),
        ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        (
            "http://schemas.microsoft.com/identity/claims/scope",
            "user_impersonation",
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
            "helpdesk.admin@contoso.com",
        ),
        ("roles", "MfaPhone.ReadWrite"),
    ]
}

fn logic_app_claims() -> Vec<(&'static str, &'static str)> {
    vec![
        ("oid", LOGIC_APP_OID),
        ("appid", LOGIC_APP_ID),
        ("idtyp", "app"),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
            "MfaPhone.ReadWrite",
        ),
    ]
}

#[tokio::test]
async fn the_authenticated_caller_is_recorded_in_the_result_and_on_every_log_line() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let body = json!({"UserId": user, "phoneNumber": NUMBER, "CallerName": "ticket 42"});

    let answer = app
        .call_envelope(http_envelope_as(&body, &admin_claims()))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
    assert_eq!(
        answer.report["caller"],
        json!({"id": ADMIN_OID, "name": "helpdesk.admin@contoso.com", "type": "user",
               "authenticated": true, "roles": ["MfaPhone.ReadWrite"], "appRoleRequired": true})
    );
    assert_eq!(
        answer.report["callerName"], "ticket 42",
        "the declared name stays beside it"
    );
    let output = app.output();
    let lines: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("invocation_id=11111111-2222-3333-4444-555555555555"))
        .collect();
    assert!(lines.len() >= 3, "{output}");
    let after_caller: Vec<&&str> = lines
        .iter()
        .skip_while(|line| !line.contains(ADMIN_OID))
        .collect();
    assert!(
        !after_caller.is_empty()
            && after_caller
                .iter()
                .all(|line| line.contains(&format!("caller={ADMIN_OID}"))),
        "{output}"
    );

    let app_call = app
        .call_envelope(http_envelope_as(&body, &logic_app_claims()))
        .await;
    assert_eq!(app_call.report["caller"]["type"], "application");
    assert_eq!(app_call.report["caller"]["name"], LOGIC_APP_ID);
}

#[tokio::test]
async fn a_forged_principal_header_without_the_platforms_identity_is_not_a_caller() {
    let app = TestApp::builder()
        .env("MFA_REQUIRE_AUTHENTICATED_CALLER", "true")
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let mut envelope = http_envelope(Some(
        &json!({"UserId": user, "phoneNumber": NUMBER}).to_string(),
    ));
    envelope["Data"]["req"]["Headers"]["X-MS-CLIENT-PRINCIPAL-ID"] = json!([ADMIN_OID]);
    envelope["Data"]["req"]["Headers"]["X-MS-CLIENT-PRINCIPAL"] =
        json!(["eyJhdXRoX3R5cCI6ImFhZCJ9"]);

    let answer = app.call_envelope(envelope).await;

    assert_eq!(answer.status, 401, "{}", answer.report);
    assert_eq!(answer.error_code(), "unauthenticatedCaller");
    assert_eq!(answer.report["caller"]["authenticated"], false);
    assert!(app.graph_requests().is_empty(), "nothing was read");
}

#[tokio::test]
async fn only_the_allowed_callers_may_call() {
    let app = TestApp::builder()
        .env(
            "MFA_ALLOWED_CALLERS",
            &format!("{LOGIC_APP_ID}, {ADMIN_OID}"),
        )
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let body = json!({"UserId": user, "phoneNumber": NUMBER});

    let by_key_only = app.call(body.clone()).await;
    assert_eq!(by_key_only.status, 401, "{}", by_key_only.report);
    assert_eq!(by_key_only.error_code(), "unauthenticatedCaller");

    let stranger = app
        .call_envelope(http_envelope_as(
            &body,
            &[
                ("oid", "dddddddd-4444-4444-8444-444444444444"),
                ("appid", "eeeeeeee-5555-4555-8555-555555555555"),
            ],
        ))
        .await;
    assert_eq!(stranger.status, 403, "{}", stranger.report);
    assert_eq!(stranger.error_code(), "callerNotAllowed");
    assert!(
        app.graph_requests().is_empty(),
        "refused before any Graph call"
    );

    let logic_app = app
        .call_envelope(http_envelope_as(&body, &logic_app_claims()))
        .await;
    assert_eq!(
        logic_app.action(),
        "added",
        "allowed by application id: {}",
        logic_app.report
    );
}

#[tokio::test]
async fn a_user_is_admitted_by_who_they_are_not_by_the_client_they_used() {
    const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let app = TestApp::builder()
        .env(
            "MFA_ALLOWED_CALLERS",
            &format!("{ADMIN_OID},{LOGIC_APP_ID}"),
        )
        .env(
            "MFA_ALLOWED_CLIENT_APPS",
            &format!("{AZURE_CLI},{LOGIC_APP_ID}"),
        )
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let body = json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true});

    // This is another user of the tenant, with a token from the same Azure CLI.
    let colleague = app
        .call_envelope(http_envelope_as(
            &body,
            &[
                ("oid", "dddddddd-4444-4444-8444-444444444444"),
                ("appid", AZURE_CLI),
                ("scp", "user_impersonation"),
                ("roles", "MfaPhone.ReadWrite"),
            ],
        ))
        .await;
    assert_eq!(colleague.status, 403, "{}", colleague.report);
    assert_eq!(colleague.error_code(), "callerNotAllowed");
    // This is a listed principal through a client that is not listed.
    let mut elsewhere = admin_claims();
    elsewhere[1] = ("appid", "eeeeeeee-5555-4555-8555-555555555555");
    let through_other_client = app.call_envelope(http_envelope_as(&body, &elsewhere)).await;
    assert_eq!(through_other_client.error_code(), "callerNotAllowed");
    assert!(
        through_other_client
            .error_message()
            .contains("MFA_ALLOWED_CLIENT_APPS")
    );
    assert!(
        app.graph_requests().is_empty(),
        "refused before any Graph call"
    );

    for claims in [admin_claims(), logic_app_claims()] {
        let admitted = app.call_envelope(http_envelope_as(&body, &claims)).await;
        assert_eq!(admitted.status, 200, "{}", admitted.report);
    }
}

#[tokio::test]
async fn the_queue_carries_no_caller() {
    let app = TestApp::builder()
        .env("MFA_REQUIRE_AUTHENTICATED_CALLER", "true")
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let (status, envelope) = app
        .deliver(&json!({"UserId": user, "phoneNumber": NUMBER}), 1)
        .await;

    assert_eq!(status, 200);
    let result = result_of(&envelope);
    assert_eq!(
        result.action(),
        "added",
        "who may send to the queue is its access control"
    );
    assert_eq!(result["caller"], Value::Null);
}

/// Asserts that a change of `user`'s phone is refused, with the reason, and nothing written; a dry
/// run is refused the same way.
async fn assert_refused(app: &TestApp, user: &str, reason: &str) {
    app.seed_phone(
        user,
        mfa_phone_handler::phone::PhoneType::Mobile,
        "+49 1709999999",
    );
    for parameters in [
        json!({"UserId": user, "phoneNumber": NUMBER}),
        json!({"UserId": user, "phoneNumber": "+49 1709999999", "Remove": true}),
        json!({"UserId": user, "phoneNumber": NUMBER, "dryRun": true}),
    ] {
        let answer = app.call(parameters.clone()).await;
        assert_eq!(answer.status, 403, "{parameters}: {}", answer.report);
        assert_eq!(answer.error_code(), "protectedUser");
        let message = answer.error_message();
        assert!(message.contains(reason), "{message}");
        assert!(
            message.contains("Privileged Authentication Administrator"),
            "{message}"
        );
    }
    assert!(app.writes().is_empty(), "a refusal writes nothing");
    assert_eq!(app.phones(user)[0].1, "+49 1709999999");
}

#[tokio::test]
async fn a_global_administrator_is_refused() {
    let admin_id = "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(
                    mfa_phone_handler::simulator::tenant::SimUser::member("ga@contoso.com", "GA")
                        .with_id(admin_id),
                );
                tenant.directory.assign(admin_id, GLOBAL_ADMINISTRATOR);
            });
        })
        .spawn()
        .await;
    assert_refused(
        &app,
        admin_id,
        "holds the privileged role Global Administrator",
    )
    .await;
}

#[tokio::test]
async fn roles_held_through_a_group_or_eligible_through_pim_are_refused() {
    let through_group = "22222222-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let eligible = "33333333-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let eligible_through_group = "44444444-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let plain = "55555555-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    for expand in [true, false] {
        let app = TestApp::builder()
            .prepare(move |sim| {
                sim.tenant(|tenant| {
                    use mfa_phone_handler::simulator::tenant::SimUser;
                    for (id, upn) in [
                        (through_group, "grouped@contoso.com"),
                        (eligible, "eligible@contoso.com"),
                        (eligible_through_group, "eligible.grouped@contoso.com"),
                        (plain, "reader@contoso.com"),
                    ] {
                        tenant.add_user(SimUser::member(upn, "User").with_id(id));
                    }
                    tenant.variants.expand_principal = expand;
                    let admins =
                        tenant
                            .directory
                            .add_group("Tier 0 admins", &[through_group], true);
                    tenant
                        .directory
                        .assign(&admins, AUTHENTICATION_ADMINISTRATOR);
                    tenant
                        .directory
                        .make_eligible(eligible, GLOBAL_ADMINISTRATOR);
                    let standby = tenant.directory.add_group(
                        "Standby admins",
                        &[eligible_through_group],
                        true,
                    );
                    tenant
                        .directory
                        .make_eligible(&standby, GLOBAL_ADMINISTRATOR);
                    tenant.directory.assign(plain, REPORTS_READER);
                });
            })
            .spawn()
            .await;
        let group_name = if expand { "Tier 0 admins" } else { "" };
        assert_refused(&app, through_group, &format!("holds the privileged role Authentication Administrator through the group {group_name}")).await;
        assert_refused(
            &app,
            eligible,
            "is eligible (PIM) for the privileged role Global Administrator",
        )
        .await;
        assert_refused(
            &app,
            eligible_through_group,
            "is eligible (PIM) for the privileged role Global Administrator through the group",
        )
        .await;
        let reader = app
            .call(json!({"UserId": plain, "phoneNumber": NUMBER}))
            .await;
        assert_eq!(
            reader.action(),
            "added",
            "a role that is not privileged: {}",
            reader.report
        );
    }
}

#[tokio::test]
async fn members_of_protected_groups_are_refused_even_when_privileged_targets_are_allowed() {
    let breakglass = "66666666-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let ga = "77777777-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let group = "88888888-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .envs(&[
            ("MFA_PROTECTED_GROUP_IDS", group),
            ("MFA_ALLOW_PRIVILEGED_TARGETS", "true"),
        ])
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                use mfa_phone_handler::simulator::tenant::SimUser;
                tenant.add_user(
                    SimUser::member("breakglass@contoso.com", "Break glass").with_id(breakglass),
                );
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(ga));
                tenant.directory.assign(ga, GLOBAL_ADMINISTRATOR);
                // The account is nested: it is in a group that is in the protected group.
                let inner = tenant
                    .directory
                    .add_group("Emergency access", &[breakglass], false);
                tenant
                    .directory
                    .add_group_with_id(group, "Protected", &[&inner], false);
            });
        })
        .spawn()
        .await;

    assert_refused(
        &app,
        breakglass,
        &format!("is a member of the protected group {group}"),
    )
    .await;
    let allowed = app
        .call(json!({"UserId": "ga@contoso.com", "phoneNumber": NUMBER}))
        .await;
    assert_eq!(
        allowed.action(),
        "added",
        "MFA_ALLOW_PRIVILEGED_TARGETS switches the role check off: {}",
        allowed.report
    );
}

#[tokio::test]
async fn without_the_permission_to_check_nothing_is_written() {
    let app = TestApp::builder()
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
        ])
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let message = json!({"UserId": user, "phoneNumber": NUMBER});

    let answer = app.call(message.clone()).await;

    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectionUnknown");
    assert!(
        answer
            .error_message()
            .contains("RoleManagement.Read.Directory"),
        "{}",
        answer.error_message()
    );
    assert!(answer.envelope["Outputs"]["res"]["headers"]["Retry-After"].is_string());
    assert!(app.writes().is_empty());
    let (status, _) = app.deliver(&message, 1).await;
    assert_eq!(status, 503, "the queue tries again later");
}

#[tokio::test]
async fn a_membership_check_graph_cannot_answer_fails_closed() {
    let group = "99999999-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", group)
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    app.sim.inject(FaultRule::respond(
        Some("POST"),
        "/checkMemberGroups",
        100,
        503,
        "serviceNotAvailable",
    ));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_fails_closed(&app, &answer);
}

#[tokio::test]
async fn graphs_list_of_privileged_roles_or_the_built_in_one_and_a_tenant_without_pim() {
    let ga = "12121212-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(
                    mfa_phone_handler::simulator::tenant::SimUser::member("ga@contoso.com", "GA")
                        .with_id(ga),
                );
                tenant.directory.assign(ga, GLOBAL_ADMINISTRATOR);
                tenant.variants.privileged_filter = false;
                tenant.variants.pim_licensed = false;
            });
        })
        .spawn()
        .await;
    let member = app.add_member("adele@contoso.com");

    assert_refused(&app, ga, "Global Administrator").await;
    let answer = app
        .call(json!({"UserId": member, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(
        answer.action(),
        "added",
        "no PIM is no eligibility: {}",
        answer.report
    );
}

#[tokio::test]
async fn the_check_costs_no_round_trip_of_its_own_for_an_object_id_caller() {
    let group = "13131313-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", group)
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    // The handler is warm: the role holders were read at start-up, and one more call makes sure.
    app.call(json!({"UserId": user, "phoneNumber": "+49 1705555555", "dryRun": true}))
        .await;
    app.sim.clear_requests();
    // With a latency per request, requests made one after another cannot overlap.
    app.sim
        .configure(|options| options.latency = std::time::Duration::from_millis(100));

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added");
    let requests = app.graph_requests();
    let write = requests
        .iter()
        .find(|request| request.is_write())
        .expect("a write");
    let before_write: Vec<_> = requests
        .iter()
        .filter(|request| request.at <= write.started)
        .collect();
    assert_eq!(
        before_write.len(),
        3,
        "user, methods and membership: {requests:#?}"
    );
    assert!(
        before_write
            .iter()
            .all(|request| request.started
                < before_write.iter().map(|other| other.at).min().unwrap()),
        "the three started together, before any of them was answered"
    );
}

#[tokio::test]
async fn the_miniature_host_passes_on_the_principal_app_service_authentication_vouched_for() {
    use base64::Engine;
    use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let host = FunctionsHost::start(&app.handler, HostOptions::default())
        .await
        .expect("the host starts");
    let principal = json!({"auth_typ": "aad", "claims": [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": LOGIC_APP_OID},
        {"typ": "appid", "val": LOGIC_APP_ID},
        {"typ": "idtyp", "val": "app"},
        {"typ": "roles", "val": "MfaPhone.ReadWrite"}
    ]});

    let result: Value = app
        .client
        .post(format!("{}/api/SetOrRemoveMobilePhoneMfa", host.url()))
        .header(
            "X-MS-CLIENT-PRINCIPAL",
            base64::engine::general_purpose::STANDARD.encode(principal.to_string()),
        )
        .json(&json!({"UserId": user, "phoneNumber": NUMBER}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");

    assert_eq!(result["caller"]["id"], LOGIC_APP_OID, "{result}");
    assert_eq!(result["caller"]["type"], "application");
}

#[tokio::test]
async fn graph_unavailable_for_its_list_of_privileged_roles_is_no_reason_to_trust_the_built_in_one()
{
    // This is a custom privileged role: only Graph's list knows it is privileged.
    let holder = "14141414-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let custom = "15151515-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let app = TestApp::builder()
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant.add_user(
                    mfa_phone_handler::simulator::tenant::SimUser::member("t0@contoso.com", "T0")
                        .with_id(holder),
                );
                tenant.directory.roles.push(
                    mfa_phone_handler::simulator::tenant::directory::SimRole {
                        id: custom.to_owned(),
                        display_name: "Tier 0 Operators".to_owned(),
                        privileged: true,
                    },
                );
                tenant.directory.assign(holder, custom);
            });
            sim.inject(FaultRule::respond(
                Some("GET"),
                "roleDefinitions",
                usize::MAX,
                503,
                "serviceNotAvailable",
            ));
        })
        .spawn()
        .await;

    let answer = app
        .call(json!({"UserId": holder, "phoneNumber": NUMBER}))
        .await;

    assert_fails_closed(&app, &answer);
}

#[tokio::test]
async fn eligibility_through_pim_for_groups_is_refused_and_fails_closed_unread() {
    let admins = "18181818-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let breakglass = "19191919-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let candidate = "20202020-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let standby = "21212121-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let prepare = move |sim: &mfa_phone_handler::simulator::Simulator| {
        sim.tenant(|tenant| {
            use mfa_phone_handler::simulator::tenant::SimUser;
            tenant
                .add_user(SimUser::member("candidate@contoso.com", "Candidate").with_id(candidate));
            tenant.add_user(SimUser::member("standby@contoso.com", "Standby").with_id(standby));
            for (id, name, role_assignable) in [
                (admins, "Tier 0 admins", true),
                (breakglass, "Break glass", false),
            ] {
                tenant
                    .directory
                    .add_group_with_id(id, name, &[], role_assignable);
            }
            tenant.directory.assign(admins, GLOBAL_ADMINISTRATOR);
            // They are not members today: each may activate membership through PIM for Groups.
            tenant.directory.make_group_eligible(candidate, admins);
            tenant.directory.make_group_eligible(standby, breakglass);
        });
    };
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", breakglass)
        .prepare(prepare)
        .spawn()
        .await;

    assert_refused(
        &app,
        candidate,
        "eligible (PIM for Groups) for the group Tier 0 admins",
    )
    .await;
    let answer = app
        .call(json!({"UserId": standby, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.error_code(), "protectedUser", "{}", answer.report);
    assert!(
        answer.error_message().contains("protected group"),
        "{}",
        answer.error_message()
    );
    assert!(app.writes().is_empty());

    // Without the permission to read them, nothing is written.
    let unread = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", breakglass)
        .grant(&[
            "User.Read.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
            "RoleManagement.Read.Directory",
            "Application.Read.All",
            "GroupMember.Read.All",
            "Policy.Read.AuthenticationMethod",
        ])
        .prepare(prepare)
        .spawn()
        .await;
    let answer = unread
        .call(json!({"UserId": candidate, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectionUnknown");
    assert!(
        answer
            .error_message()
            .contains("PrivilegedEligibilitySchedule.Read.AzureADGroup"),
        "{}",
        answer.error_message()
    );
    assert!(unread.writes().is_empty());
}

#[tokio::test]
async fn members_of_a_group_eligible_through_pim_for_groups_are_refused_also_without_the_role_check()
 {
    let admins = "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let standby_team = "23232323-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let breakglass = "24242424-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let member = "25252525-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let standby = "26262626-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let prepare = move |sim: &mfa_phone_handler::simulator::Simulator| {
        sim.tenant(|tenant| {
            use mfa_phone_handler::simulator::tenant::SimUser;
            tenant.add_user(SimUser::member("member@contoso.com", "Member").with_id(member));
            tenant.add_user(SimUser::member("standby@contoso.com", "Standby").with_id(standby));
            for (id, name, members) in [
                (admins, "Tier 0 admins", &[][..]),
                (standby_team, "Standby team", &[member][..]),
                (breakglass, "Break glass", &[][..]),
            ] {
                tenant
                    .directory
                    .add_group_with_id(id, name, members, id == admins);
            }
            tenant.directory.assign(admins, GLOBAL_ADMINISTRATOR);
            // A group may be eligible for another: its members may activate through it.
            tenant.directory.make_group_eligible(standby_team, admins);
            tenant.directory.make_group_eligible(standby, breakglass);
        });
    };
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", breakglass)
        .prepare(prepare)
        .spawn()
        .await;
    let answer = app
        .call(json!({"UserId": member, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.error_code(), "protectedUser", "{}", answer.report);
    assert!(
        answer.error_message().contains("Tier 0 admins"),
        "{}",
        answer.error_message()
    );

    // With the role check off, protected groups still apply, PIM for Groups included.
    let roles_off = TestApp::builder()
        .envs(&[
            ("MFA_PROTECTED_GROUP_IDS", breakglass),
            ("MFA_ALLOW_PRIVILEGED_TARGETS", "true"),
        ])
        .prepare(prepare)
        .spawn()
        .await;
    let answer = roles_off
        .call(json!({"UserId": standby, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.error_code(), "protectedUser", "{}", answer.report);
    let allowed = roles_off
        .call(json!({"UserId": member, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(
        allowed.action(),
        "added",
        "roles are not checked: {}",
        allowed.report
    );
    assert_eq!(app.writes().len(), 0);
}

#[tokio::test]
async fn a_tenant_without_pim_has_no_pim_for_groups_either() {
    let admins = "27272727-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let app = TestApp::builder()
        .env(
            "MFA_PROTECTED_GROUP_IDS",
            "28282828-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
        )
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant
                    .directory
                    .add_group_with_id(admins, "Tier 0 admins", &[], true);
                tenant.directory.assign(admins, GLOBAL_ADMINISTRATOR);
                tenant.variants.pim_licensed = false;
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;

    assert_eq!(answer.action(), "added", "{}", answer.report);
}

/// Asserts that the check could not be made: 503 `protectionUnknown` (the queue
/// retries), nothing written.
#[track_caller]
fn assert_fails_closed(app: &TestApp, answer: &crate::helpers::HttpAnswer) {
    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectionUnknown");
    assert!(app.writes().is_empty(), "nothing written unchecked");
}

#[tokio::test]
async fn owners_of_privileged_or_protected_groups_are_refused() {
    let admins = "29292929-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let breakglass = "30303030-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let owner = "31313131-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let keeper = "32323232-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    let app = TestApp::builder()
        .env("MFA_PROTECTED_GROUP_IDS", breakglass)
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                use mfa_phone_handler::simulator::tenant::SimUser;
                tenant.add_user(SimUser::member("owner@contoso.com", "Owner").with_id(owner));
                tenant.add_user(SimUser::member("keeper@contoso.com", "Keeper").with_id(keeper));
                tenant
                    .directory
                    .add_group_with_id(admins, "Tier 0 admins", &[], true);
                tenant
                    .directory
                    .add_group_with_id(breakglass, "Break glass", &[], false);
                tenant.directory.assign(admins, GLOBAL_ADMINISTRATOR);
                // These are not members but owners, who can add themselves.
                tenant.directory.add_group_owner(admins, owner);
                tenant.directory.add_group_owner(breakglass, keeper);
            })
        })
        .spawn()
        .await;

    assert_refused(&app, owner, "owns the group Tier 0 admins").await;
    let answer = app
        .call(json!({"UserId": keeper, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(answer.error_code(), "protectedUser", "{}", answer.report);
    assert!(
        answer.error_message().contains("owns the protected group"),
        "{}",
        answer.error_message()
    );
    let user = app.add_member("adele@contoso.com");
    let plain = app
        .call(json!({"UserId": user, "phoneNumber": NUMBER}))
        .await;
    assert_eq!(plain.action(), "added", "{}", plain.report);
}
