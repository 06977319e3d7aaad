//! Defines what the simulated tenant stores: users, their phone methods, the mail Exchange
//! accepted, and the rows of the registration report.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::slot;
use crate::phone::PhoneType;

/// A simulated user.
#[derive(Clone, Debug)]
pub struct SimUser {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// `Member` or `Guest`.
    pub user_type: String,
    pub account_enabled: bool,
    /// Whether the Authentication Methods Policy enables this user for SMS sign-in.
    pub sms_sign_in_allowed: bool,
    /// The user's default MFA method, when it is a phone type.
    pub default_method: Option<PhoneType>,
    /// The user's methods other than phones and the password, by `@odata.type` without the
    /// namespace (`microsoftAuthenticatorAuthenticationMethod`, `fido2AuthenticationMethod`).
    pub other_methods: Vec<String>,
    /// Deleted users are invisible everywhere, but still hold their SMS sign-in numbers.
    pub deleted: bool,
    /// The user's primary SMTP address; `None` for a user without a mailbox.
    pub mail: Option<String>,
    /// Where the user works, as two letters (`DE`); decides the notification's language.
    pub usage_location: Option<String>,
    pub(super) phones: BTreeMap<u8, SimPhone>,
    /// What reads show until the lag after the last write has passed.
    pub(super) stale: Option<(Instant, BTreeMap<u8, SimPhone>)>,
}

/// A stored phone method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPhone {
    pub phone_type: PhoneType,
    /// As Graph stores it: `+{cc} {national}` with an optional `x{extension}`.
    pub number: String,
    pub sms_sign_in_state: String,
}

/// A message the simulated Exchange accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMail {
    /// The mailbox it was sent from, as the caller named it.
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// `HTML` or `Text`.
    pub content_type: String,
    pub content: String,
    pub save_to_sent_items: bool,
}

/// A row of the registration details report.
#[derive(Clone, Debug)]
pub struct ReportRow {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub user_type: String,
    /// Free text, as Graph's report has it.
    pub methods_registered: Vec<String>,
    /// When the report's row was refreshed (ISO 8601).
    pub last_updated: String,
}

impl SimUser {
    /// Makes a member user, enabled, allowed SMS sign-in, with Microsoft Authenticator and no
    /// phone.
    pub fn member(user_principal_name: &str, display_name: &str) -> SimUser {
        SimUser {
            id: uuid::Uuid::new_v4().to_string(),
            user_principal_name: user_principal_name.to_owned(),
            display_name: display_name.to_owned(),
            user_type: "Member".to_owned(),
            account_enabled: true,
            sms_sign_in_allowed: true,
            default_method: None,
            // Most users have Microsoft Authenticator besides their phone; tests of the whole
            // picture clear this.
            other_methods: vec!["microsoftAuthenticatorAuthenticationMethod".to_owned()],
            deleted: false,
            mail: Some(user_principal_name.to_owned()),
            usage_location: None,
            phones: BTreeMap::new(),
            stale: None,
        }
    }

    /// Makes a B2B guest (`…#EXT#@…`); SMS sign-in is not available to guests. Their mail is
    /// their home address, read back from the UPN (`ann_fabrikam.com#EXT#@…` →
    /// `ann@fabrikam.com`).
    pub fn guest(user_principal_name: &str, display_name: &str) -> SimUser {
        let home = user_principal_name
            .split_once("#EXT#")
            .and_then(|(local, _)| local.rsplit_once('_'))
            .map(|(name, domain)| format!("{name}@{domain}"));
        SimUser {
            user_type: "Guest".to_owned(),
            sms_sign_in_allowed: false,
            mail: home,
            ..SimUser::member(user_principal_name, display_name)
        }
    }

    pub fn with_id(mut self, id: &str) -> SimUser {
        self.id = id.to_owned();
        self
    }

    pub fn with_usage_location(mut self, location: &str) -> SimUser {
        self.usage_location = Some(location.to_owned());
        self
    }

    /// Makes a user without a mailbox (no `mail`).
    pub fn without_mailbox(mut self) -> SimUser {
        self.mail = None;
        self
    }

    /// Returns the user's phone methods as they are now (not as a lagging read shows them).
    pub fn phones(&self) -> Vec<SimPhone> {
        self.phones.values().cloned().collect()
    }

    pub(super) fn visible_phones(&self, now: Instant) -> Vec<SimPhone> {
        match &self.stale {
            Some((until, snapshot)) if now < *until => snapshot.values().cloned().collect(),
            _ => self.phones(),
        }
    }

    pub(super) fn phone(&self, phone_type: PhoneType) -> Option<&SimPhone> {
        self.phones.get(&slot(phone_type))
    }
}
