//! Weighs a user's authentication methods as a whole: the phone methods, the other kinds, and
//! what they add up to (is the user left with phone methods only, or with no MFA method at all;
//! is any of them phishing-resistant). Pure.

use crate::phone::{PhoneMethod, PhoneType};

/// A kind of authentication method other than a phone, by Graph's `@odata.type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodKind {
    MicrosoftAuthenticator,
    /// A passkey: a FIDO2 security key, or a passkey in Microsoft Authenticator.
    Fido2,
    WindowsHelloForBusiness,
    SoftwareOath,
    HardwareOath,
    /// Platform Credential for macOS.
    PlatformCredential,
    TemporaryAccessPass,
    ExternalAuthenticationMethod,
    /// For self-service password reset only; not an MFA method.
    Email,
    /// Not an MFA method.
    Password,
    /// A kind Graph added after this was written; its `@odata.type` name.
    Other(String),
}

impl MethodKind {
    /// The kind's name in the result (`fido2`), or `other` for a kind this product does not
    /// know.
    pub fn as_str(&self) -> &str {
        match self {
            MethodKind::MicrosoftAuthenticator => "microsoftAuthenticator",
            MethodKind::Fido2 => "fido2",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusiness",
            MethodKind::SoftwareOath => "softwareOath",
            MethodKind::HardwareOath => "hardwareOath",
            MethodKind::PlatformCredential => "platformCredential",
            MethodKind::TemporaryAccessPass => "temporaryAccessPass",
            MethodKind::ExternalAuthenticationMethod => "externalAuthenticationMethod",
            MethodKind::Email => "email",
            MethodKind::Password => "password",
            MethodKind::Other(_) => "other",
        }
    }

    /// Whether the method is a second factor that lasts: not the password, not e-mail (SSPR
    /// only), and not a temporary access pass (it expires).
    pub fn is_lasting_mfa(&self) -> bool {
        !matches!(
            self,
            MethodKind::Email | MethodKind::Password | MethodKind::TemporaryAccessPass
        )
    }

    /// Phishing-resistant by Microsoft's definition: passkeys (FIDO2, also in Authenticator),
    /// Windows Hello for Business and Platform Credential for macOS (entra-docs
    /// `overview-authentication.md`, `concept-authentication-strengths.md`; certificate-based
    /// authentication is not an entry of this list).
    pub fn is_phishing_resistant(&self) -> bool {
        matches!(
            self,
            MethodKind::Fido2
                | MethodKind::WindowsHelloForBusiness
                | MethodKind::PlatformCredential
        )
    }
}

/// Every authentication method of a user, as one read found them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticationMethods {
    pub phone: Vec<PhoneMethod>,
    pub other: Vec<MethodKind>,
}

impl AuthenticationMethods {
    /// Returns the methods as they would be after `phone_type` came to hold `method` (or none).
    pub fn with(
        &self,
        phone_type: PhoneType,
        method: Option<&PhoneMethod>,
    ) -> AuthenticationMethods {
        let mut phone: Vec<PhoneMethod> = self
            .phone
            .iter()
            .filter(|existing| existing.phone_type != phone_type)
            .cloned()
            .collect();
        if let Some(method) = method {
            phone.push(method.clone());
        }
        phone.sort_by_key(|method| PhoneType::ALL.iter().position(|t| *t == method.phone_type));
        AuthenticationMethods {
            phone,
            other: self.other.clone(),
        }
    }

    /// Lists the lasting MFA methods that are not phones.
    pub fn lasting_other(&self) -> impl Iterator<Item = &MethodKind> {
        self.other.iter().filter(|kind| kind.is_lasting_mfa())
    }

    /// Whether the user's only lasting MFA methods are phone methods (and there is one).
    pub fn phone_only(&self) -> bool {
        !self.phone.is_empty() && self.lasting_other().next().is_none()
    }

    /// Whether the user has no lasting MFA method at all.
    pub fn none_left(&self) -> bool {
        self.phone.is_empty() && self.lasting_other().next().is_none()
    }

    pub fn phishing_resistant(&self) -> bool {
        self.other.iter().any(MethodKind::is_phishing_resistant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::RegisteredNumber;

    fn mobile() -> PhoneMethod {
        PhoneMethod {
            phone_type: PhoneType::Mobile,
            number: RegisteredNumber::new("+49 1701234567"),
            sms_sign_in_state: None,
        }
    }

    #[test]
    fn what_the_methods_add_up_to() {
        let only_phone = AuthenticationMethods {
            phone: vec![mobile()],
            other: vec![
                MethodKind::Password,
                MethodKind::Email,
                MethodKind::TemporaryAccessPass,
            ],
        };
        assert!(only_phone.phone_only());
        assert!(!only_phone.none_left());
        let removed = only_phone.with(PhoneType::Mobile, None);
        assert!(removed.none_left());
        assert!(!removed.phone_only());
        let with_key = AuthenticationMethods {
            phone: vec![mobile()],
            other: vec![MethodKind::Fido2],
        };
        assert!(!with_key.phone_only());
        assert!(with_key.phishing_resistant());
        let authenticator = AuthenticationMethods {
            phone: Vec::new(),
            other: vec![
                MethodKind::MicrosoftAuthenticator,
                MethodKind::Other("qrCodePin".to_owned()),
            ],
        };
        assert!(!authenticator.none_left());
        assert!(!authenticator.phishing_resistant());
        assert_eq!(authenticator.other[1].as_str(), "other");
    }
}
