//! Builds the readiness tenant for the demo and the tests: users with phones in every category
//! and under every date rule of Microsoft's SMS and voice retirement (members, an internal guest
//! and a B2B guest, active and eligible Global Administrators, one through a role-assignable
//! group, a protected group, a disabled user, policy exclusions through a nested group, a
//! method name Graph might add).

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
}

/// The passkey user's numbers (the clean-up's fingerprints are of these).
pub const PASSKEY_MOBILE: &str = "+49 1701110001";
pub const PASSKEY_ALTERNATE: &str = "+49 1701110002";
/// The name of a method kind Graph has not told us about.
pub(crate) const UNKNOWN_METHOD: &str = "qrCodePinAuthenticationMethod";

const DOMAIN: &str = "contoso.example";

const EMAIL: &str = "emailAuthenticationMethod";
const AUTHENTICATOR: &str = "microsoftAuthenticatorAuthenticationMethod";
const FIDO2: &str = "fido2AuthenticationMethod";
const MOBILE: [PhoneType; 1] = [PhoneType::Mobile];

/// Adds the readiness users, groups, roles and policy to `tenant`.
pub fn readiness_tenant(tenant: &mut Tenant) -> ReadinessTenant {
    // The users are added in a fixed order so that their ids and phone numbers stay the same.
    let mut seeder = Seeder {
        number: 1_701_120_000,
    };
    let member_phone_only = seeder.add(
        tenant,
        member("ada.phone", "Ada Phone-Only"),
        &MOBILE,
        &[EMAIL],
    );
    let admins = admins(&mut seeder, tenant);
    let guests = guests(&mut seeder, tenant);
    let methods = other_methods(&mut seeder, tenant);
    let odd = odd_cases(&mut seeder, tenant);
    admin_roles(tenant, &admins);
    let groups = policy_groups(tenant, &methods, &odd);
    policy_set_up(tenant, &groups);
    ReadinessTenant {
        member_phone_only,
        active_admin: admins.active,
        admin_through_group: admins.through_group,
        eligible_admin: admins.eligible,
        external_guest: guests.external,
        internal_guest: guests.internal,
        other_mfa: methods.other_mfa,
        passkey: methods.passkey,
        protected_passkey: methods.protected_passkey,
        excluded: methods.excluded,
        office_only: odd.office_only,
        disabled: odd.disabled,
        unknown_method: odd.unknown_method,
        authenticator_excluded: odd.authenticator_excluded,
        protected_group: groups.protected,
    }
}

/// Adds users with phones, numbering each phone one after the last so that no two share one.
struct Seeder {
    number: u64,
}

impl Seeder {
    fn add(
        &mut self,
        tenant: &mut Tenant,
        user: SimUser,
        phones: &[PhoneType],
        others: &[&str],
    ) -> String {
        let mut user = user;
        user.other_methods = others.iter().map(|kind| (*kind).to_owned()).collect();
        let id = tenant.add_user(user);
        for phone_type in phones {
            self.number += 1;
            tenant.seed_phone(&id, *phone_type, &format!("+49 {}", self.number));
        }
        id
    }
}

fn member(name: &str, display: &str) -> SimUser {
    SimUser::member(&format!("{name}@{DOMAIN}"), display)
}

/// The Global Administrators: active, active through a role-assignable group, and eligible.
struct Admins {
    active: String,
    through_group: String,
    eligible: String,
}

fn admins(seeder: &mut Seeder, tenant: &mut Tenant) -> Admins {
    let active = seeder.add(
        tenant,
        member("gary.admin", "Gary Global-Admin"),
        &MOBILE,
        &[],
    );
    let through_group = seeder.add(
        tenant,
        member("gina.group", "Gina Admin-Through-Group"),
        &MOBILE,
        &[],
    );
    let eligible = seeder.add(
        tenant,
        member("elias.eligible", "Elias Eligible-Admin"),
        &MOBILE,
        &[],
    );
    Admins {
        active,
        through_group,
        eligible,
    }
}

/// The guests: a B2B guest and a guest of the tenant's own identity.
struct Guests {
    external: String,
    internal: String,
}

fn guests(seeder: &mut Seeder, tenant: &mut Tenant) -> Guests {
    let external = seeder.add(
        tenant,
        SimUser::guest(
            &format!("bea_fabrikam.example#EXT#@{DOMAIN}"),
            "Bea External-Guest",
        ),
        &MOBILE,
        &[],
    );
    let mut internal = member("ivan.internal", "Ivan Internal-Guest");
    internal.user_type = "Guest".to_owned();
    let internal = seeder.add(tenant, internal, &MOBILE, &[]);
    Guests { external, internal }
}

/// The users with another MFA method besides the phone.
struct OtherMethods {
    other_mfa: String,
    passkey: String,
    protected_passkey: String,
    excluded: String,
}

fn other_methods(seeder: &mut Seeder, tenant: &mut Tenant) -> OtherMethods {
    let other_mfa = seeder.add(
        tenant,
        member("otto.other", "Otto Authenticator"),
        &MOBILE,
        &[AUTHENTICATOR],
    );
    let passkey = seeder.add(
        tenant,
        member("paula.passkey", "Paula Passkey"),
        &[],
        &[FIDO2, AUTHENTICATOR],
    );
    // The passkey user's numbers are fixed because the clean-up's fingerprints are of them.
    tenant.seed_phone(&passkey, PhoneType::Mobile, PASSKEY_MOBILE);
    tenant.seed_phone(&passkey, PhoneType::AlternateMobile, PASSKEY_ALTERNATE);
    let protected_passkey = seeder.add(
        tenant,
        member("priya.protected", "Priya Protected"),
        &MOBILE,
        &[FIDO2],
    );
    let excluded = seeder.add(
        tenant,
        member("nora.kiosk", "Nora No-Phone-MFA"),
        &MOBILE,
        &[FIDO2],
    );
    OtherMethods {
        other_mfa,
        passkey,
        protected_passkey,
        excluded,
    }
}

/// The users at the edges: an office phone only, a disabled account, a method name Graph might
/// add, and a user the policy excludes from Authenticator.
struct OddCases {
    office_only: String,
    disabled: String,
    unknown_method: String,
    authenticator_excluded: String,
}

fn odd_cases(seeder: &mut Seeder, tenant: &mut Tenant) -> OddCases {
    let office_only = seeder.add(
        tenant,
        member("olga.office", "Olga Office-Phone"),
        &[PhoneType::Office],
        &[],
    );
    let mut off = member("dora.disabled", "Dora Disabled");
    off.account_enabled = false;
    let disabled = seeder.add(tenant, off, &MOBILE, &[]);
    let unknown_method = seeder.add(
        tenant,
        member("uma.unknown", "Uma Unknown-Method"),
        &MOBILE,
        &[UNKNOWN_METHOD],
    );
    let authenticator_excluded = seeder.add(
        tenant,
        member("xena.excluded", "Xena Authenticator-Excluded"),
        &MOBILE,
        &[AUTHENTICATOR],
    );
    OddCases {
        office_only,
        disabled,
        unknown_method,
        authenticator_excluded,
    }
}

/// Makes the admins Global Administrators: one directly, one through a role-assignable group,
/// one eligible through PIM only.
fn admin_roles(tenant: &mut Tenant, admins: &Admins) {
    let directory = &mut tenant.directory;
    directory.assign(&admins.active, GLOBAL_ADMINISTRATOR);
    let group = directory.add_group(
        "Global Administrators (PIM)",
        &[&admins.through_group],
        true,
    );
    directory.assign(&group, GLOBAL_ADMINISTRATOR);
    directory.make_eligible(&admins.eligible, GLOBAL_ADMINISTRATOR);
}

/// The groups the protection and the policy name.
struct Groups {
    protected: String,
    no_phone: String,
    no_authenticator: String,
}

/// Adds the protected group and the groups the policy excludes, one of them through a nested
/// group.
fn policy_groups(tenant: &mut Tenant, methods: &OtherMethods, odd: &OddCases) -> Groups {
    let directory = &mut tenant.directory;
    let protected = directory.add_group(
        "Break-glass and executives",
        &[&methods.protected_passkey],
        false,
    );
    let kiosk = directory.add_group("Kiosk staff", &[&methods.excluded], false);
    let no_phone = directory.add_group("No phone MFA", &[&kiosk], false);
    let no_authenticator =
        directory.add_group("No Authenticator", &[&odd.authenticator_excluded], false);
    Groups {
        protected,
        no_phone,
        no_authenticator,
    }
}

/// Sets up the policy: SMS and voice exclude the no-phone group, office phones are not
/// allowed, Authenticator excludes its group, and hardware OATH is off.
fn policy_set_up(tenant: &mut Tenant, groups: &Groups) {
    let policy = &mut tenant.policy;
    policy.sms.exclude.push(groups.no_phone.clone());
    policy.voice.exclude.push(groups.no_phone.clone());
    policy.office_phone_allowed = false;
    if let Some(channel) = policy.others.get_mut("MicrosoftAuthenticator") {
        channel.exclude.push(groups.no_authenticator.clone());
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
}

/// Reads the method names a report `$filter` asks for: `methodsRegistered/any(m:m eq 'x')`,
/// any number joined by ` or `; `None` for any other filter (Graph answers 400).
pub(crate) fn wanted_methods(filter: &str) -> Option<Vec<String>> {
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

/// Names a method kind (`@odata.type` without the namespace) as the registration report does:
/// with the names Graph's report uses, and for a kind it has none for, the kind's own stem.
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
