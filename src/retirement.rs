//! Holds the facts Microsoft's SMS and voice retirement is judged on, as plain data: the
//! methods a user has registered, as far as the retirement cares, and the authentication
//! methods policy's configurations beyond SMS and voice and their telephony providers. It is
//! pure, and sits below the Graph client, which decodes its answers into these types;
//! `readiness::classify` judges them.

use std::collections::HashMap;

use crate::method_policy::ChannelPolicy;
use crate::phone::PhoneType;

/// A registered method, as far as the retirement cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Phone(PhoneType),
    /// Microsoft Authenticator: push or phone sign-in (not phishing-resistant).
    Authenticator,
    SoftwareOath,
    HardwareOath,
    /// A passkey: FIDO2 security key, device-bound or synced, also in Authenticator.
    Passkey,
    WindowsHello,
    /// Platform Credential for macOS.
    PlatformCredential,
    /// Certificate-based authentication.
    Certificate,
    /// An external authentication method (another provider's MFA).
    External,
    /// E-mail, a Temporary Access Pass, security questions, the password: no MFA alternative.
    NotMfa,
}

/// The policy configurations that can make a method available (besides SMS and voice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Configuration {
    MicrosoftAuthenticator,
    Fido2,
    SoftwareOath,
    HardwareOath,
    X509Certificate,
}

/// A customer-managed telephony provider on the SMS or voice configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provider {
    pub migration_percentage: u8,
    pub evaluation_mode: bool,
}

impl Provider {
    /// The whole channel's traffic goes through the tenant's own provider.
    pub fn fully_migrated(self) -> bool {
        self.migration_percentage >= 100 && !self.evaluation_mode
    }
}

/// The authentication methods policy, as much of it as the classification reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodsPolicy {
    pub sms: ChannelPolicy,
    pub voice: ChannelPolicy,
    pub office_phone_allowed: bool,
    /// The other configurations the policy holds; a missing one makes its methods count as
    /// unavailable.
    pub others: HashMap<Configuration, ChannelPolicy>,
    pub sms_provider: Option<Provider>,
    pub voice_provider: Option<Provider>,
}
