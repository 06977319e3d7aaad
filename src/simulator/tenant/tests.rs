//! Tests of the simulated tenant's rules: number formats, SMS sign-in uniqueness, structural
//! rules, the default-method rule, read lag.

use std::time::Duration;

use super::*;

fn tenant_with(user: SimUser) -> (Tenant, String) {
    let mut tenant = Tenant::default();
    let id = tenant.add_user(user);
    (tenant, id)
}

#[test]
fn numbers_are_stored_as_country_code_space_national() {
    assert_eq!(
        normalise("+49 1701234567").as_deref(),
        Some("+49 1701234567")
    );
    assert_eq!(
        normalise("+491701234567").as_deref(),
        Some("+49 1701234567")
    );
    assert_eq!(
        normalise("+1 5555551234x123").as_deref(),
        Some("+1 5555551234x123")
    );
    assert_eq!(normalise("01701234567"), None);
    assert_eq!(normalise("+49 170 1234567"), None);
    assert_eq!(normalise("+49 1701234567x"), None);
}

#[tokio::test]
async fn sms_sign_in_numbers_are_unique_and_conflicts_still_write_by_default() {
    let now = Instant::now();
    let mut tenant = Tenant::default();
    let holder = tenant.add_user(SimUser::member("a@x", "A"));
    let other = tenant.add_user(SimUser::member("b@x", "B"));
    let phone = tenant
        .add_phone(&holder, PhoneType::Mobile, "+49 1701234567", now)
        .unwrap();
    assert_eq!(phone.sms_sign_in_state, "ready");
    let conflict = tenant
        .add_phone(&other, PhoneType::Mobile, "+491701234567", now)
        .unwrap_err();
    assert_eq!(
        (conflict.status, conflict.code.as_str()),
        (409, "phoneNumberNotUnique")
    );
    let written = tenant.read_phones(&other, now).unwrap();
    assert_eq!(written[0].sms_sign_in_state, "phoneNumberNotUnique");
    assert_eq!(tenant.sms_holder("+49 1701234567"), Some(holder.as_str()));

    tenant.variants.conflict_writes_method = false;
    tenant.remove_phone(&other, PhoneType::Mobile, now).unwrap();
    assert!(
        tenant
            .add_phone(&other, PhoneType::Mobile, "+491701234567", now)
            .is_err()
    );
    assert!(tenant.read_phones(&other, now).unwrap().is_empty());
}

#[tokio::test]
async fn graph_structural_rules_are_enforced() {
    let now = Instant::now();
    let (mut tenant, id) = tenant_with(SimUser::member("a@x", "A"));
    let error = tenant
        .add_phone(&id, PhoneType::AlternateMobile, "+49 1701234567", now)
        .unwrap_err();
    assert_eq!(error.status, 400);
    tenant
        .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
        .unwrap();
    assert_eq!(
        tenant
            .add_phone(&id, PhoneType::Mobile, "+49 1701234568", now)
            .unwrap_err()
            .status,
        400
    );
    tenant
        .add_phone(&id, PhoneType::AlternateMobile, "+49 1701234568", now)
        .unwrap();
    assert_eq!(
        tenant
            .remove_phone(&id, PhoneType::Mobile, now)
            .unwrap_err()
            .status,
        400
    );
    tenant
        .remove_phone(&id, PhoneType::AlternateMobile, now)
        .unwrap();
    tenant.remove_phone(&id, PhoneType::Mobile, now).unwrap();
    assert_eq!(tenant.sms_holder("+49 1701234567"), None);
}

#[tokio::test]
async fn the_default_method_cannot_go_while_others_exist() {
    let now = Instant::now();
    let mut user = SimUser::member("a@x", "A");
    user.default_method = Some(PhoneType::Mobile);
    user.other_methods = vec!["microsoftAuthenticatorAuthenticationMethod".to_owned()];
    let (mut tenant, id) = tenant_with(user);
    tenant
        .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
        .unwrap();
    let error = tenant
        .remove_phone(&id, PhoneType::Mobile, now)
        .unwrap_err();
    assert_eq!((error.status, error.code.as_str()), (400, "badRequest"));
    tenant.update_user(&id, |user| user.other_methods.clear());
    tenant.remove_phone(&id, PhoneType::Mobile, now).unwrap();
}

#[tokio::test(start_paused = true)]
async fn reads_can_lag_behind_writes() {
    let (mut tenant, id) = tenant_with(SimUser::member("a@x", "A"));
    tenant.variants.read_lag = Duration::from_secs(1);
    let now = Instant::now();
    tenant
        .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
        .unwrap();
    assert!(tenant.read_phones(&id, now).unwrap().is_empty());
    assert_eq!(
        tenant
            .read_phones(&id, now + Duration::from_secs(1))
            .unwrap()
            .len(),
        1
    );
}
