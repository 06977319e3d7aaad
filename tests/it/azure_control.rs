//! Whoever controls the app on the Azure side is protected like a privileged role holder: an
//! Owner, Contributor or custom role that can change the Function App (at the app, its
//! resource group or the subscription, directly or through a group), a blob writer on its
//! storage account or on a container below it, the owners of a service principal holding such
//! a role. A Reader is not, above or below; nor is a role on a sibling resource (the
//! assignments read are those at, above and below the scopes). When ARM cannot be
//! read, every change is refused; when no scope is set, every result says the Azure side is
//! not protected.

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::Simulator;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::azure::{
    CONTRIBUTOR, FUNCTION_APP, OTHER_RESOURCE, OWNER, READER, RESOURCE_GROUP, STORAGE_ACCOUNT,
    STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER, SUBSCRIPTION, WEBSITE_CONTRIBUTOR,
};
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

/// A handler whose tenant has ALICE and BOB, prepared further by `prepare`.
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

/// Refused as protected, for `reason`, with nothing written and the number as it was.
async fn assert_refused(app: &TestApp, user: &str, reason: &str) {
    let answer = app.call(json!({"UserId": user, "phoneNumber": NEW})).await;
    assert_eq!(answer.status, 403, "{}", answer.report);
    assert_eq!(answer.error_code(), "protectedUser");
    let message = answer.error_message();
    assert!(message.contains(reason), "{message}");
    assert!(app.writes().is_empty(), "a refusal writes nothing");
    assert_eq!(app.phones(user)[0].1, OLD);
}

/// Changed as asked.
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
            // Transitively: the group holding the role has the user's group as a member.
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
    // The usual least-privilege CI set-up: the deployer may write the package's container only.
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
            // A sibling of the app in its group: atScope() at the app does not see it.
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
    let environment: std::collections::HashMap<String, String> =
        sim.handler_environment().into_iter().collect();
    mfa_phone_handler::install_crypto_provider();
    let client = reqwest::Client::new();
    let token = |resource: String| {
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
        async move {
            let answer: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let graph_token = token(sim.graph_endpoint()).await;
    let arm_token = token(sim.arm_endpoint()).await;
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
