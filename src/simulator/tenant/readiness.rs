//! The readiness tenant: users with phones in every category and under every date rule of
//! Microsoft's SMS and voice retirement (members, an internal guest and a B2B guest, active and
//! eligible Global Administrators, one through a role-assignable group, a protected group, a
//! disabled user, policy exclusions through a nested group, a method name Graph might add),
//! for the demo and the tests.

use super::policy::{ALL_USERS, SimChannel, SimTarget};
use super::{SimUser, Tenant};
use crate::phone::PhoneType;
use crate::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;

/// The ids of the users and groups the readiness tenant holds, by what they show.
#[derive(Clone, Debug)]
pub struct ReadinessTenant {
    pub member_phone_only: String,
    pub active_admin: String,
    pub admin_through_group: String,
    pub eligible_admin: String,
    pub external_guest: String,
    pub internal_guest: String,
    pub other_mfa: String,
    pub passkey: String,
    pub protected_passkey: String,
    pub excluded: String,
    pub office_only: String,
    pub disabled: String,
    pub unknown_method: String,
    pub authenticator_excluded: String,
    /// The group `MFA_PROTECTED_GROUP_IDS` names.
    pub protected_group: String,
    /// The group excluded from SMS and voice (it holds a nested group).
    pub no_phone_group: String,
}

/// The passkey user's numbers (the clean-up's fingerprints are of these).
pub const PASSKEY_MOBILE: &str = "+49 1701110001";
pub const PASSKEY_ALTERNATE: &str = "+49 1701110002";
/// The name of a method kind Graph has not told us about.
pub const UNKNOWN_METHOD: &str = "qrCodePinAuthenticationMethod";

const DOMAIN: &str = "contoso.example";

/// Adds the readiness users, groups, roles and policy to `tenant`.
pub fn readiness_tenant(tenant: &mut Tenant) -> ReadinessTenant {
    let mut number = 1_701_120_000_u64;
    let mut add =
        |tenant: &mut Tenant, user: SimUser, phones: &[PhoneType], others: &[&str]| -> String {
            let mut user = user;
            user.other_methods = others.iter().map(|kind| (*kind).to_owned()).collect();
            let id = tenant.add_user(user);
            for phone_type in phones {
                number += 1;
                tenant.seed_phone(&id, *phone_type, &format!("+49 {number}"));
            }
            id
        };
    let member = |name: &str, display: &str| SimUser::member(&format!("{name}@{DOMAIN}"), display);
    let mobile = [PhoneType::Mobile];
    let email = "emailAuthenticationMethod";
    let authenticator = "microsoftAuthenticatorAuthenticationMethod";
    let fido2 = "fido2AuthenticationMethod";
    let member_phone_only = add(
        tenant,
        member("ada.phone", "Ada Phone-Only"),
        &mobile,
        &[email],
    );
    let active_admin = add(
        tenant,
        member("gary.admin", "Gary Global-Admin"),
        &mobile,
        &[],
    );
    let admin_through_group = add(
        tenant,
        member("gina.group", "Gina Admin-Through-Group"),
        &mobile,
        &[],
    );
    let eligible_admin = add(
        tenant,
        member("elias.eligible", "Elias Eligible-Admin"),
        &mobile,
        &[],
    );
    let external_guest = add(
        tenant,
        SimUser::guest(
            &format!("bea_fabrikam.example#EXT#@{DOMAIN}"),
            "Bea External-Guest",
        ),
        &mobile,
        &[],
    );
    let mut internal = member("ivan.internal", "Ivan Internal-Guest");
    internal.user_type = "Guest".to_owned();
    let internal_guest = add(tenant, internal, &mobile, &[]);
    let other_mfa = add(
        tenant,
        member("otto.other", "Otto Authenticator"),
        &mobile,
        &[authenticator],
    );
    let passkey = add(
        tenant,
        member("paula.passkey", "Paula Passkey"),
        &[],
        &[fido2, authenticator],
    );
    tenant.seed_phone(&passkey, PhoneType::Mobile, PASSKEY_MOBILE);
    tenant.seed_phone(&passkey, PhoneType::AlternateMobile, PASSKEY_ALTERNATE);
    let protected_passkey = add(
        tenant,
        member("priya.protected", "Priya Protected"),
        &mobile,
        &[fido2],
    );
    let excluded = add(
        tenant,
        member("nora.kiosk", "Nora No-Phone-MFA"),
        &mobile,
        &[fido2],
    );
    let office_only = add(
        tenant,
        member("olga.office", "Olga Office-Phone"),
        &[PhoneType::Office],
        &[],
    );
    let mut off = member("dora.disabled", "Dora Disabled");
    off.account_enabled = false;
    let disabled = add(tenant, off, &mobile, &[]);
    let unknown_method = add(
        tenant,
        member("uma.unknown", "Uma Unknown-Method"),
        &mobile,
        &[UNKNOWN_METHOD],
    );
    let authenticator_excluded = add(
        tenant,
        member("xena.excluded", "Xena Authenticator-Excluded"),
        &mobile,
        &[authenticator],
    );
    let directory = &mut tenant.directory;
    directory.assign(&active_admin, GLOBAL_ADMINISTRATOR);
    let admins = directory.add_group("Global Administrators (PIM)", &[&admin_through_group], true);
    directory.assign(&admins, GLOBAL_ADMINISTRATOR);
    directory.make_eligible(&eligible_admin, GLOBAL_ADMINISTRATOR);
    let protected_group =
        directory.add_group("Break-glass and executives", &[&protected_passkey], false);
    let kiosk = directory.add_group("Kiosk staff", &[&excluded], false);
    let no_phone_group = directory.add_group("No phone MFA", &[&kiosk], false);
    let no_authenticator =
        directory.add_group("No Authenticator", &[&authenticator_excluded], false);
    let policy = &mut tenant.policy;
    policy.sms.exclude.push(no_phone_group.clone());
    policy.voice.exclude.push(no_phone_group.clone());
    policy.office_phone_allowed = false;
    if let Some(channel) = policy.others.get_mut("MicrosoftAuthenticator") {
        channel.exclude.push(no_authenticator);
    }
    policy.others.insert(
        "HardwareOath".to_owned(),
        SimChannel {
            enabled: false,
            include: vec![SimTarget {
                id: ALL_USERS.to_owned(),
                usable_for_sign_in: false,
            }],
            exclude: Vec::new(),
        },
    );
    ReadinessTenant {
        member_phone_only,
        active_admin,
        admin_through_group,
        eligible_admin,
        external_guest,
        internal_guest,
        other_mfa,
        passkey,
        protected_passkey,
        excluded,
        office_only,
        disabled,
        unknown_method,
        authenticator_excluded,
        protected_group,
        no_phone_group,
    }
}

/// The method names a report `$filter` asks for: `methodsRegistered/any(m:m eq 'x')`, any
/// number joined by ` or `; `None` for any other filter (Graph answers 400).
pub fn wanted_methods(filter: &str) -> Option<Vec<String>> {
    filter
        .split(" or ")
        .map(|clause| {
            let clause = clause.trim();
            let inner = clause
                .strip_prefix("methodsRegistered/any(")?
                .strip_suffix(')')?;
            let (variable, condition) = inner.split_once(':')?;
            let condition = condition.trim();
            let value = condition
                .strip_prefix(variable.trim())?
                .trim_start()
                .strip_prefix("eq")?
                .trim()
                .strip_prefix('\'')?
                .strip_suffix('\'')?;
            Some(value.to_owned())
        })
        .collect()
}

/// The registration report's name for a method kind (`@odata.type` without the namespace):
/// the names Graph's report uses, and for a kind it has none for, the kind's own stem.
pub(super) fn report_name(kind: &str) -> String {
    let known = [
        (
            "microsoftAuthenticatorAuthenticationMethod",
            "microsoftAuthenticatorPush",
        ),
        ("fido2AuthenticationMethod", "passKeyDeviceBound"),
        (
            "windowsHelloForBusinessAuthenticationMethod",
            "windowsHelloForBusiness",
        ),
        (
            "softwareOathAuthenticationMethod",
            "softwareOneTimePasscode",
        ),
        (
            "hardwareOathAuthenticationMethod",
            "hardwareOneTimePasscode",
        ),
        (
            "platformCredentialAuthenticationMethod",
            "macOsSecureEnclaveKey",
        ),
        (
            "temporaryAccessPassAuthenticationMethod",
            "temporaryAccessPass",
        ),
        ("emailAuthenticationMethod", "email"),
    ];
    known
        .iter()
        .find(|(odata, _)| odata.eq_ignore_ascii_case(kind))
        .map_or_else(
            || kind.trim_end_matches("AuthenticationMethod").to_owned(),
            |(_, name)| (*name).to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_filter_reads_clauses_joined_by_or() {
        assert_eq!(
            wanted_methods("methodsRegistered/any(t: t eq 'mobilePhone')"),
            Some(vec!["mobilePhone".to_owned()])
        );
        assert_eq!(
            wanted_methods(
                "methodsRegistered/any(m:m eq 'mobilePhone') or methodsRegistered/any(m:m eq 'officePhone')"
            ),
            Some(vec!["mobilePhone".to_owned(), "officePhone".to_owned()])
        );
        assert_eq!(wanted_methods("isAdmin eq true"), None);
        assert_eq!(wanted_methods("methodsRegistered/any(m:x eq 'a')"), None);
    }
}
