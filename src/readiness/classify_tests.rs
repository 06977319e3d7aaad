//! The classification's table: every category and every date rule.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::method_policy::{ALL_USERS, Target};

fn group(id: &str) -> Target {
    Target {
        id: id.to_owned(),
        usable_for_sign_in: false,
        group: true,
    }
}

fn everyone() -> ChannelPolicy {
    ChannelPolicy {
        enabled: true,
        include: vec![group(ALL_USERS)],
        exclude: Vec::new(),
    }
}

fn policy() -> MethodsPolicy {
    let mut others = HashMap::new();
    for configuration in [
        Configuration::MicrosoftAuthenticator,
        Configuration::Fido2,
        Configuration::SoftwareOath,
        Configuration::X509Certificate,
    ] {
        others.insert(configuration, everyone());
    }
    MethodsPolicy {
        sms: ChannelPolicy {
            enabled: true,
            include: vec![group("sms-group")],
            exclude: vec![group("no-phone")],
        },
        voice: ChannelPolicy {
            enabled: true,
            include: vec![group(ALL_USERS)],
            exclude: vec![group("no-phone")],
        },
        office_phone_allowed: false,
        others,
        sms_provider: None,
        voice_provider: None,
    }
}

struct Case {
    name: &'static str,
    registered: &'static [Method],
    groups: &'static [&'static str],
    kind: Kind,
    admin: GlobalAdmin,
    policy: fn(&mut MethodsPolicy),
    category: Category,
    date: Option<&'static str>,
    reason_has: &'static str,
}

const MOBILE: Method = Method::Phone(PhoneType::Mobile);
const OFFICE: Method = Method::Phone(PhoneType::Office);
const ALTERNATE: Method = Method::Phone(PhoneType::AlternateMobile);

fn same(_: &mut MethodsPolicy) {}

#[test]
fn every_category_and_date_rule_follows_microsofts_rule() {
    let cases = [
        Case {
            name: "a member with only a mobile and e-mail",
            registered: &[MOBILE, Method::NotMfa],
            groups: &["sms-group"],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "a member",
        },
        Case {
            name: "an active Global Administrator",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::Active,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(JULY),
            reason_has: "active Global Administrator",
        },
        Case {
            name: "an eligible-only Global Administrator",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::EligibleOnly,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "before activation",
        },
        Case {
            name: "an external user",
            registered: &[ALTERNATE],
            groups: &[],
            kind: Kind::External,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(JULY),
            reason_has: "external",
        },
        Case {
            name: "an internal guest",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::InternalGuest,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "internal guest",
        },
        Case {
            name: "a guest of unknown kind",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::UnknownGuest("not read".to_owned()),
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "the earlier date",
        },
        Case {
            name: "a member whose roles could not be read",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::Unknown("403".to_owned()),
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "the earlier date",
        },
        Case {
            name: "Authenticator available",
            registered: &[MOBILE, Method::Authenticator],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneAndOtherMfa,
            date: None,
            reason_has: "nudged",
        },
        Case {
            name: "Authenticator registered but excluded by the policy",
            registered: &[MOBILE, Method::Authenticator],
            groups: &["no-authenticator"],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| {
                if let Some(channel) = policy
                    .others
                    .get_mut(&Configuration::MicrosoftAuthenticator)
                {
                    channel.exclude.push(group("no-authenticator"));
                }
            },
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "not enabled for the user by the policy: microsoftAuthenticator",
        },
        Case {
            name: "a passkey available",
            registered: &[MOBILE, Method::Authenticator, Method::Passkey],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::Active,
            policy: same,
            category: Category::PhoneAndPhishingResistant,
            date: None,
            reason_has: "the phone can go",
        },
        Case {
            name: "Windows Hello is not governed by the methods policy",
            registered: &[OFFICE, Method::WindowsHello],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| policy.office_phone_allowed = true,
            category: Category::PhoneAndPhishingResistant,
            date: None,
            reason_has: "phishing-resistant",
        },
        Case {
            name: "hardware OATH without a configuration is not counted",
            registered: &[MOBILE, Method::HardwareOath],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "hardwareOath",
        },
        Case {
            name: "excluded from SMS and voice",
            registered: &[MOBILE, Method::Passkey],
            groups: &["no-phone", "sms-group"],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::NoPhoneChannel,
            date: None,
            reason_has: "neither SMS nor voice",
        },
        Case {
            name: "an office phone without isOfficePhoneAllowed",
            registered: &[OFFICE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: same,
            category: Category::NoPhoneChannel,
            date: None,
            reason_has: "no other MFA method is available either",
        },
        Case {
            name: "an office phone with isOfficePhoneAllowed",
            registered: &[OFFICE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| policy.office_phone_allowed = true,
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "only MFA method",
        },
        Case {
            name: "voice disabled and the mobile outside the SMS group",
            registered: &[MOBILE],
            groups: &[],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| policy.voice.enabled = false,
            category: Category::NoPhoneChannel,
            date: None,
            reason_has: "neither SMS nor voice",
        },
        Case {
            name: "SMS through a fully migrated provider",
            registered: &[MOBILE],
            groups: &["sms-group"],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| {
                policy.sms_provider = Some(Provider {
                    migration_percentage: 100,
                    evaluation_mode: false,
                });
            },
            category: Category::PhoneOnly,
            date: None,
            reason_has: "tenant's own telephony provider",
        },
        Case {
            name: "a partly migrated provider",
            registered: &[MOBILE],
            groups: &["sms-group"],
            kind: Kind::Member,
            admin: GlobalAdmin::No,
            policy: |policy| {
                policy.sms_provider = Some(Provider {
                    migration_percentage: 100,
                    evaluation_mode: true,
                });
            },
            category: Category::PhoneOnly,
            date: Some(FEBRUARY),
            reason_has: "partly migrated",
        },
    ];
    for case in cases {
        let mut policy = policy();
        (case.policy)(&mut policy);
        let member_of: HashSet<String> = case.groups.iter().map(|id| (*id).to_owned()).collect();
        let verdict = classify(
            &policy,
            &Subject {
                id: "u1",
                kind: case.kind,
                registered: case.registered,
                member_of: &member_of,
                global_admin: case.admin,
            },
        );
        assert_eq!(
            verdict.category, case.category,
            "{}: {verdict:?}",
            case.name
        );
        assert_eq!(
            verdict.affected_from, case.date,
            "{}: {verdict:?}",
            case.name
        );
        assert!(
            verdict.reason.contains(case.reason_has),
            "{}: {}",
            case.name,
            verdict.reason
        );
    }
}
