//! Holds one classified user and one clean-up row as the scan hands them to the files, and
//! says what each CSV line says, in the contract's column names, with every cell kept text in
//! Excel and no phone number in it. It also translates a per-user read's method kinds into the
//! classification's methods. It does no IO.

use crate::methods::{AuthenticationMethods, MethodKind};
use crate::phone::PhoneType;
use crate::readiness::classify::{Kind, Verdict};
use crate::retirement::Method;
use crate::spreadsheet::as_text;

/// Whether the handler would refuse to change the user (its own protection verdict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protected {
    No,
    Yes(Vec<String>),
    /// The verdict could not be made, so the user counts as protected (fail closed).
    Unknown(String),
}

impl Protected {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protected::No => "no",
            Protected::Yes(_) => "yes",
            Protected::Unknown(_) => "unknown",
        }
    }

    /// Whether the clean-up must leave the user alone.
    pub fn holds_back(&self) -> bool {
        !matches!(self, Protected::No)
    }
}

/// One user with a phone method, classified.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub kind: Kind,
    pub verdict: Verdict,
    pub protected: Protected,
    /// Method names the scan did not know.
    pub unknown_methods: Vec<String>,
    /// For a blocked `phoneOnly` user: the SMS and voice include targets that reach them.
    pub scope: Vec<String>,
}

/// One phone to remove, named by a keyed fingerprint of the number the scan saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupRecord {
    pub user_id: String,
    pub user_principal_name: String,
    pub phone_type: PhoneType,
    pub fingerprint: String,
    pub category: &'static str,
}

/// `readiness.csv`'s columns.
pub const USER_COLUMNS: [&str; 12] = [
    "userId",
    "userPrincipalName",
    "displayName",
    "userType",
    "category",
    "affectedFrom",
    "phoneTypes",
    "availableMethods",
    "protected",
    "reason",
    "protectedBecause",
    "unknownMethods",
];

/// `cleanup.csv`'s columns: bulk's input format (the user, the phone type, the operation) and
/// the fingerprint the handler checks before it deletes.
pub const CLEANUP_COLUMNS: [&str; 6] = [
    "UserId",
    "phoneType",
    "operation",
    "numberFingerprint",
    "principalName",
    "category",
];

impl UserRecord {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Member => "member",
            Kind::InternalGuest => "internalGuest",
            Kind::External => "externalGuest",
            Kind::UnknownGuest(_) => "guestOfUnknownKind",
        }
    }

    /// Makes the CSV line's cells, each kept text in Excel.
    pub fn cells(&self) -> Vec<String> {
        let because = match &self.protected {
            Protected::No => String::new(),
            Protected::Yes(reasons) => reasons.join("; "),
            Protected::Unknown(why) => format!("the protection check could not be made: {why}"),
        };
        [
            self.id.clone(),
            self.user_principal_name.clone(),
            self.display_name.clone(),
            self.kind_name().to_owned(),
            self.verdict.category.as_str().to_owned(),
            self.verdict.affected_from.unwrap_or_default().to_owned(),
            self.verdict
                .phone_types
                .iter()
                .map(|phone_type| phone_type.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            self.verdict.available.join(";"),
            self.protected.as_str().to_owned(),
            self.verdict.reason.clone(),
            because,
            self.unknown_methods.join(";"),
        ]
        .iter()
        .map(|cell| as_text(cell))
        .collect()
    }
}

impl CleanupRecord {
    pub fn cells(&self) -> Vec<String> {
        [
            self.user_id.as_str(),
            self.phone_type.as_str(),
            "remove",
            self.fingerprint.as_str(),
            self.user_principal_name.as_str(),
            self.category,
        ]
        .iter()
        .map(|cell| as_text(cell))
        .collect()
    }
}

/// Translates a per-user read's methods into the classification's, and returns the kinds it
/// does not know.
pub fn methods_of(methods: &AuthenticationMethods) -> (Vec<Method>, Vec<String>) {
    let mut found: Vec<Method> = methods
        .phone
        .iter()
        .map(|phone| Method::Phone(phone.phone_type))
        .collect();
    let mut unknown = Vec::new();
    for kind in &methods.other {
        found.push(match kind {
            MethodKind::MicrosoftAuthenticator => Method::Authenticator,
            MethodKind::Fido2 => Method::Passkey,
            MethodKind::WindowsHelloForBusiness => Method::WindowsHello,
            MethodKind::SoftwareOath => Method::SoftwareOath,
            MethodKind::HardwareOath => Method::HardwareOath,
            MethodKind::PlatformCredential => Method::PlatformCredential,
            MethodKind::ExternalAuthenticationMethod => Method::External,
            MethodKind::TemporaryAccessPass | MethodKind::Email | MethodKind::Password => {
                Method::NotMfa
            }
            MethodKind::Other(name) => {
                unknown.push(name.clone());
                continue;
            }
        });
    }
    (found, unknown)
}

/// Ranks a user's phones in the order they are removed: the alternate mobile before the mobile
/// (Graph refuses to remove a mobile while an alternate mobile remains), the office phone last.
pub fn removal_order(phone_type: PhoneType) -> u8 {
    match phone_type {
        PhoneType::AlternateMobile => 0,
        PhoneType::Mobile => 1,
        PhoneType::Office => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::classify::Category;

    #[test]
    fn cells_stay_text_and_name_no_number() {
        let record = UserRecord {
            id: "u1".to_owned(),
            user_principal_name: "=cmd@contoso.com".to_owned(),
            display_name: "+Ann".to_owned(),
            kind: Kind::External,
            verdict: Verdict {
                category: Category::PhoneOnly,
                affected_from: Some("2027-07-01"),
                phone_types: vec![PhoneType::Mobile, PhoneType::Office],
                available: vec!["sms", "voice"],
                reason: "-".to_owned(),
            },
            protected: Protected::Unknown("403".to_owned()),
            unknown_methods: vec!["qrCodePin".to_owned()],
            scope: Vec::new(),
        };
        let cells = record.cells();
        assert_eq!(cells.len(), USER_COLUMNS.len());
        assert_eq!(cells[1], "'=cmd@contoso.com");
        assert_eq!(cells[2], "'+Ann");
        assert_eq!(cells[3], "externalGuest");
        assert_eq!(cells[6], "mobile;office");
        assert_eq!(cells[8], "unknown");
        assert!(record.protected.holds_back());
        assert!(removal_order(PhoneType::AlternateMobile) < removal_order(PhoneType::Mobile));
    }
}
