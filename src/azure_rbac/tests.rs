//! Table tests of the evaluator: built-in roles as Azure publishes them, and custom ones.

use super::*;

fn block(actions: &[&str], not_actions: &[&str], data: &[&str]) -> Permission {
    let owned = |list: &[&str]| list.iter().map(|item| (*item).to_owned()).collect();
    Permission {
        actions: owned(actions),
        not_actions: owned(not_actions),
        data_actions: owned(data),
        not_data_actions: Vec::new(),
    }
}

const GROUPS: &str = "Microsoft.Resources/subscriptions/resourceGroups/write";
const ASSIGN: &str = "Microsoft.Authorization/roleAssignments/write";

fn owner() -> Vec<Permission> {
    vec![block(&["*"], &[], &[])]
}

fn contributor() -> Vec<Permission> {
    vec![block(
        &["*"],
        &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
        ],
        &[],
    )]
}

fn website_contributor() -> Vec<Permission> {
    vec![block(
        &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/components/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Web/serverFarms/join/action",
            "Microsoft.Web/serverFarms/read",
            "Microsoft.Web/sites/*",
        ],
        &[],
        &[],
    )]
}

fn user_access_administrator() -> Vec<Permission> {
    vec![block(
        &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        &[],
        &[],
    )]
}

fn blob_data_contributor() -> Vec<Permission> {
    vec![block(
        &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        &[],
        &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ],
    )]
}

fn blob_data_owner() -> Vec<Permission> {
    vec![block(
        &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        &[],
        &["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
    )]
}

fn blob_data_reader() -> Vec<Permission> {
    vec![block(
        &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        &[],
        &["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    )]
}

fn reader() -> Vec<Permission> {
    vec![block(&["*/read"], &[], &[])]
}

#[test]
fn the_roles_that_control_the_app_are_told_from_those_that_do_not() {
    let table: [(&str, Vec<Permission>, bool); 10] = [
        ("Owner", owner(), true),
        ("Contributor", contributor(), true),
        ("Website Contributor", website_contributor(), true),
        (
            "User Access Administrator",
            user_access_administrator(),
            true,
        ),
        (
            "Storage Blob Data Contributor",
            blob_data_contributor(),
            true,
        ),
        ("Storage Blob Data Owner", blob_data_owner(), true),
        (
            "a custom role with only the app's settings",
            vec![block(&["Microsoft.Web/sites/config/write"], &[], &[])],
            true,
        ),
        ("Storage Blob Data Reader", blob_data_reader(), false),
        ("Reader", reader(), false),
        (
            "Contributor less everything on sites and storage",
            vec![block(
                &["*"],
                &[
                    "Microsoft.Authorization/*",
                    "Microsoft.Web/*",
                    "Microsoft.Storage/*",
                    "Microsoft.ManagedIdentity/*",
                ],
                &[],
            )],
            false,
        ),
    ];
    for (name, permissions, controls) in table {
        assert_eq!(
            !control(&permissions).is_empty(),
            controls,
            "{name}: {:?}",
            control(&permissions)
        );
    }
}

#[test]
fn contributor_may_change_the_app_but_not_assign_roles() {
    let what = control(&contributor());
    assert!(what.contains(&"change the app's settings (the package it runs among them)"));
    assert!(
        !what.contains(&"assign roles on the app's resources"),
        "{what:?}"
    );
    assert_eq!(
        control(&user_access_administrator()),
        [
            "assign roles on the app's resources",
            "change what a custom role allows"
        ]
    );
}

#[test]
fn data_actions_are_excluded_by_not_data_actions_and_never_by_not_actions() {
    let mut writer = blob_data_owner();
    writer[0].not_actions = vec!["*".to_owned()];
    assert!(!control(&writer).is_empty(), "notActions do not touch data");
    writer[0].not_data_actions =
        vec!["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*".to_owned()];
    assert!(control(&writer).is_empty(), "{:?}", control(&writer));
}

#[test]
fn wildcards_match_any_run_of_characters_and_case_does_not_matter() {
    assert!(matches("*", GROUPS));
    assert!(matches("Microsoft.Resources/*", GROUPS));
    assert!(matches(
        "microsoft.resources/subscriptions/resourcegroups/WRITE",
        GROUPS
    ));
    assert!(matches("*/write", GROUPS));
    assert!(matches("Microsoft.*/resourceGroups/*", GROUPS));
    assert!(!matches("*/read", GROUPS));
    assert!(!matches("Microsoft.Resources/deployments/*", GROUPS));
    assert!(!matches(
        "Microsoft.Resources/subscriptions/resourceGroups/writ",
        GROUPS
    ));
    assert!(!matches("*/resourceGroups", GROUPS));
}

#[test]
fn owner_contributor_and_reader_as_azure_answers_them() {
    assert!(allows(&owner(), ASSIGN) && allows(&owner(), GROUPS));
    assert!(allows(&contributor(), GROUPS));
    assert!(!allows(&contributor(), ASSIGN), "notActions take it away");
    assert!(!allows(&reader(), GROUPS));
    assert!(!allows(&[], GROUPS));
}

#[test]
fn one_roles_not_actions_take_nothing_from_anothers_actions() {
    let contributor_and_rbac_administrator = [
        block(&["*"], &["Microsoft.Authorization/*/Write"], &[]),
        block(
            &["Microsoft.Authorization/roleAssignments/*", "*/read"],
            &[],
            &[],
        ),
    ];
    assert!(allows(&contributor_and_rbac_administrator, ASSIGN));
    assert!(allows(&contributor_and_rbac_administrator, GROUPS));
}

#[test]
fn scopes_are_arm_resource_ids_under_a_subscription() {
    let site = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-mfa\
                /providers/Microsoft.Web/sites/func-mfa";
    let scope = Scope::parse(site).unwrap();
    assert!(scope.is_within("/subscriptions/00000000-0000-0000-0000-000000000001"));
    assert!(
        scope
            .is_within("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/resourcegroups/RG-MFA")
    );
    assert!(
        !scope
            .is_within("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-mf")
    );
    assert!(
        scope.is_within("/"),
        "the root management group is above all"
    );
    for bad in [
        "",
        "subscriptions/00000000-0000-0000-0000-000000000001",
        "/subscriptions/not-a-guid",
        "/subscriptions/00000000-0000-0000-0000-000000000001/../x",
        "/subscriptions/00000000-0000-0000-0000-000000000001//x",
        "/subscriptions/00000000-0000-0000-0000-000000000001/a?b",
        "/subscriptions/00000000-0000-0000-0000-000000000001/a%2Fb",
        "/tenants/x",
    ] {
        assert!(Scope::parse(bad).is_err(), "{bad}");
    }
    let parsed = parse_scopes(&format!("[\"{site}\", \"{site}/\"]")).unwrap();
    assert_eq!(parsed.len(), 1, "the same scope once");
    assert!(parse_scopes("[]").unwrap_err().contains("lists no scope"));
    assert!(parse_scopes("\"x\"").unwrap_err().contains("JSON array"));
    assert!(
        parse_scopes("[\"/x\"]")
            .unwrap_err()
            .starts_with("entry 1:")
    );
}
