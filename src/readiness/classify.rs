//! Classifies readiness: for one user with a phone method, it decides which of the four
//! categories Microsoft's SMS and voice retirement puts them in, judged by the methods the
//! authentication methods policy makes *available* to them (not merely registered), and from
//! which date a `phoneOnly` user meets the blocking passkey prompt. Pure: the scan hands it
//! the policy, the user's registered methods, group memberships and standing.

use std::collections::HashSet;

use crate::method_policy::ChannelPolicy;
use crate::phone::PhoneType;
use crate::retirement::{Configuration, Method, MethodsPolicy, Provider};

/// Microsoft's general retirement date for the SMS and voice it provides.
pub const FEBRUARY: &str = "2027-02-01";
/// The later date for active Global Administrators and external (B2B) users.
pub const JULY: &str = "2027-07-01";

/// The four categories, in the words of the output contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    PhoneOnly,
    PhoneAndOtherMfa,
    PhoneAndPhishingResistant,
    /// Neither SMS nor voice reaches the user: `phoneNotEnabled` in the output.
    NoPhoneChannel,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::PhoneOnly,
        Category::PhoneAndOtherMfa,
        Category::PhoneAndPhishingResistant,
        Category::NoPhoneChannel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::PhoneOnly => "phoneOnly",
            Category::PhoneAndOtherMfa => "phoneAndOtherMfa",
            Category::PhoneAndPhishingResistant => "phoneAndPhishingResistant",
            Category::NoPhoneChannel => "phoneNotEnabled",
        }
    }
}

/// Whether the user is a Global Administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalAdmin {
    /// Active, directly or through a role-assignable group.
    Active,
    /// Eligible through PIM only: they meet the prompt before they activate.
    EligibleOnly,
    No,
    /// The role holders could not be read; why.
    Unknown(String),
}

/// Who the user is, for the date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Member,
    /// A guest of the tenant's own identity, who follows the February date.
    InternalGuest,
    /// A B2B user, who signs in with another organisation's or a social identity.
    External,
    /// A guest whose kind could not be told; why.
    UnknownGuest(String),
}

/// One user, as the scan found them.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub registered: &'a [Method],
    /// Lowercase ids of the groups (any the policy targets) the user is in, transitively.
    pub member_of: &'a HashSet<String>,
    pub global_admin: GlobalAdmin,
}

/// What the classification says about one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub category: Category,
    /// For `phoneOnly` users who will be blocked: the date.
    pub affected_from: Option<&'static str>,
    pub phone_types: Vec<PhoneType>,
    /// The MFA methods available to the user, by name.
    pub available: Vec<&'static str>,
    pub reason: String,
}

impl MethodsPolicy {
    fn applies(channel: &ChannelPolicy, user_id: &str, member_of: &HashSet<String>) -> bool {
        channel.applies_to(&user_id.to_ascii_lowercase(), member_of)
    }

    fn configuration_applies(
        &self,
        configuration: Configuration,
        user_id: &str,
        member_of: &HashSet<String>,
    ) -> bool {
        self.others
            .get(&configuration)
            .is_some_and(|channel| MethodsPolicy::applies(channel, user_id, member_of))
    }
}

/// Classifies one user.
pub fn classify(policy: &MethodsPolicy, subject: &Subject) -> Verdict {
    let channels = reaching_channels(policy, subject);
    let available = available_methods(policy, subject, &channels);
    let not_available = not_enabled_note(&available.not_enabled);
    let judgement = judge(policy, subject, &channels, &available);
    Verdict {
        category: judgement.category,
        affected_from: judgement.affected_from,
        phone_types: channels.phone_types,
        available: available.names,
        reason: format!("{}{not_available}", judgement.reason),
    }
}

/// The user's phones and which of SMS and voice reach them.
struct Channels {
    phone_types: Vec<PhoneType>,
    /// SMS is enabled for the user by the policy, whatever phone they have.
    sms_on: bool,
    /// Voice is enabled for the user by the policy, whatever phone they have.
    voice_on: bool,
    /// SMS is enabled and the user has a mobile phone for it.
    sms: bool,
    /// Voice is enabled and the user has a phone it may call.
    voice: bool,
}

/// Decides which channels reach the user: SMS needs a mobile phone, and voice reaches an office
/// phone only when the policy allows office phones.
fn reaching_channels(policy: &MethodsPolicy, subject: &Subject) -> Channels {
    let mut phone_types: Vec<PhoneType> = PhoneType::ALL
        .into_iter()
        .filter(|phone_type| subject.registered.contains(&Method::Phone(*phone_type)))
        .collect();
    phone_types.dedup();
    let sms_on = MethodsPolicy::applies(&policy.sms, subject.id, subject.member_of);
    let voice_on = MethodsPolicy::applies(&policy.voice, subject.id, subject.member_of);
    let sms = sms_on && phone_types.contains(&PhoneType::Mobile);
    let voice = voice_on
        && phone_types
            .iter()
            .any(|phone_type| *phone_type != PhoneType::Office || policy.office_phone_allowed);
    Channels {
        phone_types,
        sms_on,
        voice_on,
        sms,
        voice,
    }
}

/// The MFA methods besides SMS and voice: the method, its name in the output, the policy
/// configuration that governs it (none when the policy does not), and whether it is
/// phishing-resistant.
const OTHER_METHODS: [(Method, &str, Option<Configuration>, bool); 8] = [
    (
        Method::Authenticator,
        "microsoftAuthenticator",
        Some(Configuration::MicrosoftAuthenticator),
        false,
    ),
    (
        Method::SoftwareOath,
        "softwareOath",
        Some(Configuration::SoftwareOath),
        false,
    ),
    (
        Method::HardwareOath,
        "hardwareOath",
        Some(Configuration::HardwareOath),
        false,
    ),
    (Method::Passkey, "passkey", Some(Configuration::Fido2), true),
    (
        Method::Certificate,
        "certificate",
        Some(Configuration::X509Certificate),
        true,
    ),
    // Windows Hello and Platform Credential are governed by device policy, not by the
    // authentication methods policy, so registered means available.
    (Method::WindowsHello, "windowsHelloForBusiness", None, true),
    (Method::PlatformCredential, "platformCredential", None, true),
    // Each external method has its own configuration; registered counts as available.
    (
        Method::External,
        "externalAuthenticationMethod",
        None,
        false,
    ),
];

/// What the user can sign in with, and what they registered that the policy does not enable.
struct Available {
    /// The available MFA methods by name, SMS and voice first.
    names: Vec<&'static str>,
    /// A method that is MFA but not phishing-resistant is available.
    other_mfa: bool,
    /// A phishing-resistant method is available.
    resistant: bool,
    /// Registered methods the policy does not enable for the user.
    not_enabled: Vec<&'static str>,
}

/// Lists what is available to the user: the reaching channels, then each registered method the
/// policy enables for the user.
fn available_methods(policy: &MethodsPolicy, subject: &Subject, channels: &Channels) -> Available {
    let mut available = Available {
        names: Vec::new(),
        other_mfa: false,
        resistant: false,
        not_enabled: Vec::new(),
    };
    if channels.sms {
        available.names.push("sms");
    }
    if channels.voice {
        available.names.push("voice");
    }
    for (method, name, configuration, phishing_resistant) in OTHER_METHODS {
        if !subject.registered.contains(&method) {
            continue;
        }
        let on = configuration.is_none_or(|configuration| {
            policy.configuration_applies(configuration, subject.id, subject.member_of)
        });
        if on {
            available.names.push(name);
            available.other_mfa |= !phishing_resistant;
            available.resistant |= phishing_resistant;
        } else {
            available.not_enabled.push(name);
        }
    }
    available
}

/// Writes the note that ends every reason when the user registered methods the policy does not
/// enable.
fn not_enabled_note(not_enabled: &[&str]) -> String {
    if not_enabled.is_empty() {
        String::new()
    } else {
        format!(
            "; registered but not enabled for the user by the policy: {}",
            not_enabled.join(", ")
        )
    }
}

/// The category, the date a blocked user meets the prompt, and the reason (without the note on
/// methods the policy does not enable).
struct Judgement {
    category: Category,
    affected_from: Option<&'static str>,
    reason: String,
}

impl Judgement {
    fn not_blocked(category: Category, reason: String) -> Judgement {
        Judgement {
            category,
            affected_from: None,
            reason,
        }
    }
}

/// Judges the category by trying, in order: no channel reaches the user, a phishing-resistant
/// method, other MFA, a fully migrated provider, and last the blocking date.
fn judge(
    policy: &MethodsPolicy,
    subject: &Subject,
    channels: &Channels,
    available: &Available,
) -> Judgement {
    if !channels.sms && !channels.voice {
        return Judgement::not_blocked(
            Category::NoPhoneChannel,
            phone_not_enabled_reason(policy, channels, available),
        );
    }
    if available.resistant {
        return Judgement::not_blocked(
            Category::PhoneAndPhishingResistant,
            "a phishing-resistant method is available: the phone can go".to_owned(),
        );
    }
    if available.other_mfa {
        return Judgement::not_blocked(
            Category::PhoneAndOtherMfa,
            "not blocked; nudged to register a passkey while SMS or voice stays enabled".to_owned(),
        );
    }
    let migrated = migrated_channels(policy, channels);
    if !migrated.is_empty() {
        return Judgement::not_blocked(
            Category::PhoneOnly,
            format!(
                "not blocked: {} goes through the tenant's own telephony provider (fully \
                 migrated); SMS sign-in as a primary method still retires",
                migrated.join(" and ")
            ),
        );
    }
    let partly = [policy.sms_provider, policy.voice_provider]
        .into_iter()
        .flatten()
        .any(|provider| !provider.fully_migrated());
    let (date, mut reason) = affected_from(&subject.kind, &subject.global_admin);
    if partly {
        reason.push_str("; the tenant's telephony provider is only partly migrated");
    }
    Judgement {
        category: Category::PhoneOnly,
        affected_from: Some(date),
        reason: format!("SMS or voice is the only MFA method available; {reason}"),
    }
}

/// Says why no channel reaches the user, and so why the retirement changes nothing for them.
fn phone_not_enabled_reason(
    policy: &MethodsPolicy,
    channels: &Channels,
    available: &Available,
) -> String {
    let why = if channels.phone_types.is_empty() {
        "no phone method is registered".to_owned()
    } else if !channels.sms_on && !channels.voice_on {
        "neither SMS nor voice is enabled for the user".to_owned()
    } else {
        format!(
            "the registered phone ({}) is reached by no channel enabled for the user{}",
            names(&channels.phone_types),
            if channels.voice_on && !policy.office_phone_allowed {
                ": office phones need isOfficePhoneAllowed"
            } else {
                ""
            }
        )
    };
    let nothing = if available.names.is_empty() {
        "; no other MFA method is available either"
    } else {
        ""
    };
    format!("{why}: the retirement changes nothing{nothing}")
}

/// Finds the reaching channels whose traffic all goes through the tenant's own provider, which
/// the retirement does not block.
fn migrated_channels(policy: &MethodsPolicy, channels: &Channels) -> Vec<&'static str> {
    [
        (channels.sms, policy.sms_provider, "SMS"),
        (channels.voice, policy.voice_provider, "voice"),
    ]
    .into_iter()
    .filter(|(on, provider, _)| *on && provider.is_some_and(Provider::fully_migrated))
    .map(|(_, _, name)| name)
    .collect()
}

/// Decides the date a `phoneOnly` user meets the blocking prompt, and says why.
fn affected_from(kind: &Kind, global_admin: &GlobalAdmin) -> (&'static str, String) {
    if *global_admin == GlobalAdmin::Active {
        return (JULY, "an active Global Administrator".to_owned());
    }
    match kind {
        Kind::External => return (JULY, "an external (B2B) user".to_owned()),
        Kind::UnknownGuest(why) => {
            return (
                FEBRUARY,
                format!("a guest whose kind could not be told ({why}): the earlier date"),
            );
        }
        Kind::Member | Kind::InternalGuest => {}
    }
    let who = if *kind == Kind::InternalGuest {
        "an internal guest"
    } else {
        "a member"
    };
    match global_admin {
        GlobalAdmin::EligibleOnly => (
            FEBRUARY,
            format!(
                "{who} eligible (not active) for Global Administrator: the prompt comes before activation"
            ),
        ),
        GlobalAdmin::Unknown(why) => (
            FEBRUARY,
            format!(
                "{who}; whether an active Global Administrator could not be read ({why}): the earlier date"
            ),
        ),
        GlobalAdmin::Active | GlobalAdmin::No => (FEBRUARY, who.to_owned()),
    }
}

fn names(phone_types: &[PhoneType]) -> String {
    phone_types
        .iter()
        .map(|phone_type| phone_type.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
