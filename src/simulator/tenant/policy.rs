//! Models the Authentication methods policy's SMS and Voice configurations (reference graph.md
//! §13): their state, include and exclude targets, SMS targets' `isUsableForSignIn`, and
//! Voice's `isOfficePhoneAllowed`.

/// The id of the target that includes every user.
pub(crate) const ALL_USERS: &str = "all_users";

/// The SMS and Voice configurations.
#[derive(Clone, Debug)]
pub struct SimPolicy {
    pub sms: SimChannel,
    pub voice: SimChannel,
    pub office_phone_allowed: bool,
    /// The other configurations by Graph's id (`MicrosoftAuthenticator`, `Fido2`, ...); a
    /// missing one answers 404.
    pub(crate) others: std::collections::BTreeMap<String, SimChannel>,
    /// `telecomProviderSettings` of SMS and of voice, when the tenant has its own provider.
    pub sms_provider: Option<SimProvider>,
    pub voice_provider: Option<SimProvider>,
}

/// A customer-managed telephony provider (`telecomProviderSettings`).
#[derive(Clone, Copy, Debug)]
pub struct SimProvider {
    pub migration_percentage: u8,
    pub evaluation_mode: bool,
}

/// One method's configuration.
#[derive(Clone, Debug)]
pub struct SimChannel {
    pub enabled: bool,
    pub include: Vec<SimTarget>,
    /// Group or user ids.
    pub exclude: Vec<String>,
}

/// An include target.
#[derive(Clone, Debug)]
pub struct SimTarget {
    /// A group id, a user id or [`ALL_USERS`].
    pub id: String,
    /// Whether the target is usable for sign-in ("Use for sign-in"); SMS only.
    pub usable_for_sign_in: bool,
}

impl Default for SimPolicy {
    fn default() -> SimPolicy {
        let everyone = |usable_for_sign_in| SimChannel {
            enabled: true,
            include: vec![SimTarget {
                id: ALL_USERS.to_owned(),
                usable_for_sign_in,
            }],
            exclude: Vec::new(),
        };
        SimPolicy {
            sms: everyone(true),
            voice: everyone(false),
            office_phone_allowed: true,
            others: [
                "MicrosoftAuthenticator",
                "Fido2",
                "SoftwareOath",
                "X509Certificate",
            ]
            .into_iter()
            .map(|id| (id.to_owned(), everyone(false)))
            .collect(),
            sms_provider: None,
            voice_provider: None,
        }
    }
}

impl SimChannel {
    /// Whether the configuration applies to the user `id` in `groups`; with `for_sign_in`, also
    /// through a target usable for sign-in.
    pub(crate) fn applies(
        &self,
        id: &str,
        groups: &std::collections::HashSet<String>,
        for_sign_in: bool,
    ) -> bool {
        let matches = |target: &str| {
            target == ALL_USERS
                || target.eq_ignore_ascii_case(id)
                || groups.contains(&target.to_ascii_lowercase())
        };
        self.enabled
            && self
                .include
                .iter()
                .any(|target| matches(&target.id) && (!for_sign_in || target.usable_for_sign_in))
            && !self.exclude.iter().any(|target| matches(target))
    }
}
