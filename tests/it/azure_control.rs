//! Whoever controls the app on the Azure side is protected like a privileged role holder: an
//! Owner, Contributor or custom role that can change the Function App (at the app, its
//! resource group or the subscription, directly or through a group), a blob writer on its
//! storage account or on a container below it, the owners of a service principal holding such
//! a role. A Reader is not, above or below; nor is a role on a sibling resource (the
//! assignments read are those at, above and below the scopes). When ARM cannot be
//! read, every change is refused; when no scope is set, every result says the Azure side is
//! not protected.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::azure::{
    CONTRIBUTOR, FUNCTION_APP, OTHER_RESOURCE, OWNER, READER, RESOURCE_GROUP, STORAGE_ACCOUNT,
    STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER, SUBSCRIPTION, WEBSITE_CONTRIBUTOR,
};
use mfa_phone_handler::simulator::{FaultRule, Simulator};
use serde_json::json;

use crate::helpers::{Results, TestApp};

const OLD: &str = "+49 1709999999";
const NEW: &str = "+49 1701234567";
const ALICE: &str = "a1a1a1a1-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const BOB: &str = "b2b2b2b2-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const CAROL: &str = "c3c3c3c3-cccc-4ccc-8ccc-cccccccccccc";

/// Adds `id` as a member with a mobile phone.
fn user(sim: &Simulator, id: &str) {
    sim.tenant(|tenant| {
        tenant.add_user(SimUser::member(&format!("{id}@contoso.com"), "User").with_id(id));
        tenant.seed_phone(id, PhoneType::Mobile, OLD);
    });
}

/// Starts a handler whose tenant has ALICE and BOB, prepared further by `prepare`.
async fn app_with(prepare: impl FnOnce(&Simulator) + 'static) -> TestApp {
    TestApp::builder()
        .prepare(move |sim| {
            user(sim, ALICE);
            user(sim, BOB);
            prepare(sim);
        })
        .spawn()
        .await
}

/// Asserts that a change of `user`'s phone is refused as protected, for `reason`, with nothing
/// written and the number as it was.
async fn assert_refused(app: &TestApp, user: &str, reason: &str) {
    let answer = app.call(json!({"UserId": user, "phoneNumber": NEW})).await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectedUser");
    let message = answer.error_message();
    assert!(message.contains(reason), "{message}");
    assert!(app.writes().is_empty(), "a refusal writes nothing");
    assert_eq!(app.phones(user)[0].1, OLD);
}

/// Asserts that a change of `user`'s phone is made as asked.
async fn assert_allowed(app: &TestApp, user: &str) {
    let answer = app.call(json!({"UserId": user, "phoneNumber": NEW})).await;
    assert_eq!(answer.status, 200, "{}", answer.report);
    assert_eq!(app.phones(user)[0].1, NEW);
}

#[tokio::test]
async fn an_owner_of_the_resource_group_is_refused() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| tenant.azure.assign(RESOURCE_GROUP, OWNER, ALICE, "User"));
    })
    .await;
    assert_refused(&app, ALICE, "holds the Azure role Owner at /subscriptions/").await;
    let again = app.call(json!({"UserId": ALICE, "phoneNumber": NEW})).await;
    let message = again.error_message();
    assert!(
        message.contains("assign roles on the app's resources"),
        "{message}"
    );
    assert!(!app.output().contains("MFA_AZURE_CONTROL_SCOPES is not set"));
}

#[tokio::test]
async fn a_contributor_through_a_group_at_the_subscription_is_refused() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            let outer = tenant.directory.add_group("Platform team", &[ALICE], false);
            // The user holds the role transitively: the group holding the role has the user's group
            // as a member.
            let holder = tenant
                .directory
                .add_group("Subscription contributors", &[], false);
            tenant.directory.add_group_member(&holder, &outer);
            tenant
                .azure
                .assign(SUBSCRIPTION, CONTRIBUTOR, &holder, "Group");
        });
    })
    .await;
    assert_refused(&app, ALICE, "holds the Azure role Contributor").await;
    let again = app.call(json!({"UserId": ALICE, "phoneNumber": NEW})).await;
    let message = again.error_message();
    assert!(message.contains("through the group"), "{message}");
    assert_allowed(&app, BOB).await;
}

#[tokio::test]
async fn a_blob_data_writer_on_the_storage_account_is_refused_and_a_blob_reader_is_not() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            tenant.azure.assign(
                STORAGE_ACCOUNT,
                STORAGE_BLOB_DATA_CONTRIBUTOR,
                ALICE,
                "User",
            );
            tenant
                .azure
                .assign(STORAGE_ACCOUNT, STORAGE_BLOB_DATA_READER, BOB, "User");
        });
    })
    .await;
    assert_refused(&app, ALICE, "Storage Blob Data Contributor").await;
    assert_allowed(&app, BOB).await;
}

#[tokio::test]
async fn a_blob_data_writer_on_the_package_container_below_the_storage_account_is_refused_and_a_reader_there_is_not()
 {
    // This is the usual least-privilege CI set-up: the deployer may write the
    // package's container only.
    let container = format!("{STORAGE_ACCOUNT}/blobServices/default/containers/app-package");
    let app = app_with(move |sim| {
        sim.tenant(|tenant| {
            tenant
                .azure
                .assign(&container, STORAGE_BLOB_DATA_CONTRIBUTOR, ALICE, "User");
            tenant.azure.assign(&container, READER, BOB, "User");
        });
    })
    .await;
    assert_refused(&app, ALICE, "Storage Blob Data Contributor").await;
    let again = app.call(json!({"UserId": ALICE, "phoneNumber": NEW})).await;
    let message = again.error_message();
    assert!(message.contains("containers/app-package"), "{message}");
    assert_allowed(&app, BOB).await;
}

#[tokio::test]
async fn a_custom_role_that_can_only_change_the_app_settings_is_refused() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            let role = tenant.azure.define(
                "App settings editor",
                &["Microsoft.Web/sites/config/write"],
                &[],
            );
            tenant.azure.assign(FUNCTION_APP, &role, ALICE, "User");
        });
    })
    .await;
    assert_refused(&app, ALICE, "App settings editor").await;
}

#[tokio::test]
async fn a_reader_and_an_owner_of_another_resource_are_allowed() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            tenant.azure.assign(SUBSCRIPTION, READER, ALICE, "User");
            // This is a sibling of the app in its group, which atScope() at the app does not see.
            tenant.azure.assign(OTHER_RESOURCE, OWNER, BOB, "User");
        });
    })
    .await;
    assert_allowed(&app, ALICE).await;
    assert_allowed(&app, BOB).await;
    let arm: Vec<_> = app
        .sim
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/arm/"))
        .collect();
    assert!(!arm.is_empty(), "the Azure side was read");
    assert!(
        arm.iter()
            .all(|request| request.authorized && request.status == 200),
        "with ARM's token, and answered: {arm:#?}"
    );
}

#[tokio::test]
async fn the_owner_of_a_service_principal_that_controls_the_app_is_refused() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            let deployer = tenant.directory.add_app("Release pipeline");
            if let Some(app) = tenant.directory.app_mut(&deployer) {
                app.owners.push(ALICE.to_owned());
            }
            tenant.azure.assign(
                FUNCTION_APP,
                WEBSITE_CONTRIBUTOR,
                &deployer,
                "ServicePrincipal",
            );
        });
    })
    .await;
    assert_refused(&app, ALICE, "owns the application Release pipeline").await;
    let again = app.call(json!({"UserId": ALICE, "phoneNumber": NEW})).await;
    let message = again.error_message();
    assert!(message.contains("Website Contributor"), "{message}");
    assert_allowed(&app, BOB).await;
}

#[tokio::test]
async fn when_arm_cannot_be_read_every_change_is_refused_and_nothing_is_written() {
    let app = app_with(|sim| {
        sim.configure(|options| options.arm_unavailable = true);
    })
    .await;
    let answer = app.call(json!({"UserId": BOB, "phoneNumber": NEW})).await;
    assert_eq!(
        answer.error_code(),
        "protectionUnknown",
        "{}",
        answer.report
    );
    assert!(
        answer.error_message().contains("Azure roles"),
        "{}",
        answer.error_message()
    );
    assert!(app.writes().is_empty(), "nothing is written unchecked");
    assert_eq!(app.phones(BOB)[0].1, OLD);
}

#[tokio::test]
async fn a_user_eligible_for_owner_at_the_resource_group_is_refused_like_an_active_owner() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            tenant
                .azure
                .make_eligible(RESOURCE_GROUP, OWNER, ALICE, "User");
        });
    })
    .await;
    assert_refused(
        &app,
        ALICE,
        "is eligible (PIM) for the Azure role Owner at /subscriptions/",
    )
    .await;
    assert_allowed(&app, BOB).await;
    let eligibilities: Vec<_> = app
        .sim
        .requests()
        .into_iter()
        .filter(|request| {
            request
                .path
                .ends_with("/Microsoft.Authorization/roleEligibilityScheduleInstances")
        })
        .collect();
    assert!(!eligibilities.is_empty(), "the eligibilities were read");
    assert!(
        eligibilities.iter().all(|request| request.authorized
            && request.status == 200
            && request
                .query
                .iter()
                .any(|(name, value)| name == "api-version" && value == "2020-10-01")
            && !request.query.iter().any(|(name, _)| name == "$filter")),
        "with ARM's token and version, at, above and below the scope: {eligibilities:#?}"
    );
}

#[tokio::test]
async fn a_member_of_a_group_eligible_for_contributor_at_the_subscription_is_refused() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            let inner = tenant.directory.add_group("On-call", &[ALICE], false);
            let holder = tenant
                .directory
                .add_group("Eligible contributors", &[], false);
            tenant.directory.add_group_member(&holder, &inner);
            tenant
                .azure
                .make_eligible(SUBSCRIPTION, CONTRIBUTOR, &holder, "Group");
        });
    })
    .await;
    assert_refused(
        &app,
        ALICE,
        "is eligible (PIM) for the Azure role Contributor",
    )
    .await;
    assert_allowed(&app, BOB).await;
}

#[tokio::test]
async fn a_user_eligible_for_reader_is_allowed() {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            tenant
                .azure
                .make_eligible(RESOURCE_GROUP, READER, ALICE, "User");
        });
    })
    .await;
    assert_allowed(&app, ALICE).await;
}

/// Starts a handler whose reads of the eligibilities are answered `status` `code`, and checks its
/// answer to a change of Bob's phone, which must be `protectionUnknown` with nothing written and a
/// message that says `why`.
async fn refused_when_the_eligibilities_answer(
    status: u16,
    code: &'static str,
    why: &str,
) -> TestApp {
    let app = app_with(move |sim| {
        sim.inject(FaultRule::respond(
            Some("GET"),
            "/Microsoft.Authorization/roleEligibilityScheduleInstances",
            usize::MAX,
            status,
            code,
        ));
    })
    .await;
    let answer = app.call(json!({"UserId": BOB, "phoneNumber": NEW})).await;
    assert_eq!(
        answer.error_code(),
        "protectionUnknown",
        "{}",
        answer.report
    );
    assert!(
        answer.error_message().contains(why),
        "{}",
        answer.error_message()
    );
    assert!(app.writes().is_empty(), "nothing is written unchecked");
    assert_eq!(app.phones(BOB)[0].1, OLD);
    app
}

#[tokio::test]
async fn when_the_eligibilities_cannot_be_read_every_change_is_refused_and_nothing_is_written() {
    refused_when_the_eligibilities_answer(
        500,
        "InternalServerError",
        "eligible (PIM) for Azure roles",
    )
    .await;
}

#[tokio::test]
async fn an_identity_not_allowed_to_read_the_eligibilities_refuses_every_change_naming_the_right() {
    // This deployment's RBAC reader role predates the eligibilities' read right.
    let app = refused_when_the_eligibilities_answer(
        403,
        "AuthorizationFailed",
        "roleEligibilityScheduleInstances/read",
    )
    .await;
    assert!(
        !app.output()
            .contains("eligible Azure role assignments could not be read"),
        "a refusal is not the tenant's missing licence"
    );
}

#[tokio::test]
async fn without_entra_id_p2_the_active_assignments_protect_and_the_log_says_eligible_ones_could_not_be_read()
 {
    let app = app_with(|sim| {
        sim.tenant(|tenant| {
            tenant.variants.pim_licensed = false;
            tenant.azure.assign(RESOURCE_GROUP, OWNER, ALICE, "User");
        });
    })
    .await;
    assert_refused(&app, ALICE, "holds the Azure role Owner").await;
    assert_allowed(&app, BOB).await;
    let output = app.output();
    assert_eq!(
        output
            .matches("eligible Azure role assignments could not be read")
            .count(),
        1,
        "said once: {output}"
    );
    assert!(
        app.sim.requests().iter().any(|request| request
            .path
            .ends_with("/Microsoft.Authorization/roleEligibilityScheduleInstances")
            && request.status == 400),
        "ARM refused the eligibilities"
    );
}

#[tokio::test]
async fn without_scopes_every_result_and_the_start_up_log_say_the_azure_side_is_not_protected() {
    let app = TestApp::builder()
        .env("MFA_AZURE_CONTROL_SCOPES", "")
        .prepare(move |sim| {
            user(sim, ALICE);
            sim.tenant(|tenant| tenant.azure.assign(RESOURCE_GROUP, OWNER, ALICE, "User"));
        })
        .spawn()
        .await;
    let answer = app.call(json!({"UserId": ALICE, "phoneNumber": NEW})).await;
    assert_eq!(answer.status, 200, "{}", answer.report);
    assert!(
        answer.has_warning("azureSideUnprotected"),
        "{}",
        answer.report
    );
    assert!(app.output().contains("MFA_AZURE_CONTROL_SCOPES is not set"));
    assert!(
        !app.sim
            .requests()
            .iter()
            .any(|request| request.path.starts_with("/arm/")),
        "ARM is not asked"
    );
}

#[tokio::test]
async fn a_malformed_scope_list_stops_the_handler_naming_the_variable() {
    let sim = Simulator::start(Default::default())
        .await
        .expect("simulator starts");
    let output = crate::helpers::handler_command()
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
        .envs(sim.handler_environment())
        .env("MFA_AZURE_CONTROL_SCOPES", "[\"/subscriptions/x/../y\"]")
        .output()
        .await
        .expect("the handler runs");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("MFA_AZURE_CONTROL_SCOPES entry 1"), "{text}");
}

#[tokio::test]
async fn the_simulated_arm_is_as_strict_as_arm() {
    let sim = Simulator::start(Default::default())
        .await
        .expect("simulator starts");
    sim.tenant(|tenant| {
        tenant.azure.assign(RESOURCE_GROUP, OWNER, ALICE, "User");
        tenant.azure.assign(OTHER_RESOURCE, OWNER, BOB, "User");
        tenant.azure.assign(
            &format!("{FUNCTION_APP}/slots/staging"),
            OWNER,
            CAROL,
            "User",
        );
    });
    let (client, graph_token, arm_token) = tokens(&sim).await;
    let list = format!(
        "{}{FUNCTION_APP}/providers/Microsoft.Authorization/roleAssignments",
        sim.arm_endpoint()
    );
    let get = |url: &str, token: &str, query: &[(&str, &str)]| {
        let url = url::Url::parse_with_params(url, query).unwrap();
        client.get(url).bearer_auth(token).send()
    };
    let at_scope = [("api-version", "2022-04-01"), ("$filter", "atScope()")];
    let status = |answer: reqwest::Response| answer.status().as_u16();
    assert_eq!(
        status(get(&list, &graph_token, &at_scope).await.unwrap()),
        401
    );
    assert_eq!(
        status(
            get(&list, &arm_token, &[("$filter", "atScope()")])
                .await
                .unwrap()
        ),
        400,
        "api-version is required"
    );
    let unknown = list.replace("func-mfa", "func-other");
    assert_eq!(
        status(get(&unknown, &arm_token, &at_scope).await.unwrap()),
        404
    );
    assert_eq!(
        status(
            get(
                &list,
                &arm_token,
                &[
                    ("api-version", "2022-04-01"),
                    ("$filter", &format!("principalId eq '{ALICE}'"))
                ]
            )
            .await
            .unwrap()
        ),
        400,
        "a filter that is not simulated is refused"
    );
    let principals = |answer: serde_json::Value| -> Vec<String> {
        answer["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|assignment| {
                assignment["properties"]["principalId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let answer = get(&list, &arm_token, &at_scope).await.unwrap();
    assert_eq!(
        principals(answer.json().await.unwrap()),
        [ALICE],
        "atScope(): the group's, neither a sibling's nor a slot's"
    );
    let answer = get(&list, &arm_token, &[("api-version", "2022-04-01")])
        .await
        .unwrap();
    assert_eq!(
        principals(answer.json().await.unwrap()),
        [ALICE, CAROL],
        "no filter: the group's and the slot's below, not a sibling's"
    );
}

/// Makes a client and gets the managed identity's tokens for Graph and for ARM, as the
/// simulator issues them.
async fn tokens(sim: &Simulator) -> (reqwest::Client, String, String) {
    let environment: std::collections::HashMap<String, String> =
        sim.handler_environment().into_iter().collect();
    mfa_phone_handler::install_crypto_provider();
    let client = reqwest::Client::new();
    let token = async |resource: String| {
        let url = url::Url::parse_with_params(
            &sim.identity_endpoint(),
            [
                ("api-version", "2019-08-01"),
                ("resource", resource.as_str()),
            ],
        )
        .unwrap();
        let request = client
            .get(url)
            .header("X-IDENTITY-HEADER", &environment["IDENTITY_HEADER"]);
        let answer: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    };
    let graph_token = token(sim.graph_endpoint()).await;
    let arm_token = token(sim.arm_endpoint()).await;
    (client, graph_token, arm_token)
}

#[tokio::test]
async fn the_simulated_arm_lists_eligibilities_as_strictly_as_assignments() {
    let sim = Simulator::start(Default::default())
        .await
        .expect("simulator starts");
    sim.tenant(|tenant| {
        tenant
            .azure
            .make_eligible(RESOURCE_GROUP, OWNER, ALICE, "User");
        tenant
            .azure
            .make_eligible(OTHER_RESOURCE, OWNER, BOB, "User");
        tenant.azure.make_eligible(
            &format!("{FUNCTION_APP}/slots/staging"),
            OWNER,
            CAROL,
            "User",
        );
    });
    let (client, graph_token, arm_token) = tokens(&sim).await;
    let list = format!(
        "{}{FUNCTION_APP}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances",
        sim.arm_endpoint()
    );
    let get = async |url: &str, token: &str, query: &[(&str, &str)]| {
        let url = url::Url::parse_with_params(url, query).unwrap();
        client.get(url).bearer_auth(token).send().await.unwrap()
    };
    let version = ("api-version", "2020-10-01");
    let at_scope = [version, ("$filter", "atScope()")];
    assert_eq!(get(&list, &graph_token, &at_scope).await.status(), 401);
    assert_eq!(
        get(&list, &arm_token, &[("$filter", "atScope()")])
            .await
            .status(),
        400,
        "api-version is required"
    );
    let unknown = list.replace("func-mfa", "func-other");
    assert_eq!(get(&unknown, &arm_token, &at_scope).await.status(), 404);
    assert_eq!(
        get(&list, &arm_token, &[version, ("$filter", "asTarget()")])
            .await
            .status(),
        400,
        "a filter that is not simulated is refused"
    );
    let listed = async |query: &[(&str, &str)]| -> Vec<(String, String)> {
        let answer: serde_json::Value = get(&list, &arm_token, query).await.json().await.unwrap();
        answer["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|instance| {
                let properties = &instance["properties"];
                assert_eq!(
                    instance["type"],
                    "Microsoft.Authorization/roleEligibilityScheduleInstances"
                );
                assert!(
                    properties["roleDefinitionId"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/roleDefinitions/{OWNER}"))
                );
                (
                    properties["principalId"].as_str().unwrap().to_owned(),
                    properties["memberType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        listed(&at_scope).await,
        [(ALICE.to_owned(), "Inherited".to_owned())],
        "atScope(): the group's, neither a sibling's nor a slot's"
    );
    assert_eq!(
        listed(&[version]).await,
        [
            (ALICE.to_owned(), "Inherited".to_owned()),
            (CAROL.to_owned(), "Direct".to_owned())
        ],
        "no filter: the group's and the slot's below, not a sibling's"
    );
    sim.tenant(|tenant| tenant.variants.pim_licensed = false);
    let refused = get(&list, &arm_token, &[version]).await;
    assert_eq!(refused.status(), 400, "no PIM without Entra ID P2");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AadPremiumLicenseRequired");
}
