//! Reads who called into a [`Caller`]: the principal Microsoft Entra authenticated in front of
//! the HTTP trigger, as the Functions host hands it over (an identity with its claims). The
//! [`CallerPolicy`] decides whether to admit it. Pure.
//!
//! Only what the platform vouches for counts: the host builds the identities from App Service
//! authentication's principal and ignores a forged `X-MS-CLIENT-PRINCIPAL` header when that
//! authentication is off, so the headers themselves are never read. Of those identities only
//! one from Microsoft Entra (`aad`) in the app's own tenant is a caller. Entra's own model for
//! APIs decides what a caller may do: the API's app roles in the token's `roles` claim,
//! `MfaPhone.Read` to show and `MfaPhone.ReadWrite` to change (and show).

use crate::report::{ErrorCode, Failure};

/// The app role that lets a caller show a user's phone methods.
pub const READ_ROLE: &str = "MfaPhone.Read";
/// The app role that lets a caller set, update or remove phone methods (and show them).
pub const READ_WRITE_ROLE: &str = "MfaPhone.ReadWrite";

/// Who may call the HTTP trigger, beyond the function key (app settings
/// `MFA_REQUIRE_AUTHENTICATED_CALLER`, `MFA_REQUIRE_APP_ROLE`, `MFA_TENANT_ID`,
/// `MFA_ALLOWED_CALLERS`, `MFA_ALLOWED_CLIENT_APPS`). Like App Service authentication's allowed
/// principals and allowed applications, the two lists must both admit a caller: a user is
/// admitted by who they are (or a group they are in), never by the client application they
/// used. The lists narrow what the app roles allow; they never widen it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerPolicy {
    /// Refuse a request that carries no Microsoft Entra principal.
    pub require_authenticated: bool,
    /// Require an authenticated caller to hold the API's app role for what it asks
    /// ([`READ_ROLE`], [`READ_WRITE_ROLE`]); off only for teams that cannot create app roles.
    pub require_app_role: bool,
    /// The app's own tenant (lowercase): an identity from another tenant is no caller. `None`
    /// when not configured (then the tenant is not checked).
    pub tenant_id: Option<String>,
    /// When not empty, only these principals (lowercase) may call: users' object ids, group
    /// ids, and applications by object id or application id (an application id names an
    /// application calling as itself). A request without a principal is then refused too.
    pub allowed: Vec<String>,
    /// When not empty, only tokens these client applications (`appid`/`azp`, lowercase) asked
    /// for are admitted.
    pub allowed_client_apps: Vec<String>,
    /// Admit a request with no principal (the function key alone) although app roles are
    /// required (`MFA_ALLOW_KEY_ONLY_CALLERS`): whoever holds the key then acts unseen.
    pub allow_key_only: bool,
    /// Count B2B guests and other identities another provider authenticated (`acct` 1, an
    /// `idp` that is not this tenant) as callers (`MFA_ALLOW_GUEST_CALLERS`).
    pub allow_guests: bool,
}

/// What a request asks to do, for the app role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Show: read a user's methods.
    Read,
    /// Set, update or remove (a dry run included: it plans a change).
    ReadWrite,
}

/// Who the host's principal is, as far as this deployment is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identified {
    /// An Entra identity of the app's own tenant.
    Caller(Caller),
    /// No identity besides the function key's.
    Nobody,
    /// An identity that does not count as a caller, and why (for the log).
    Ignored(String),
}

impl CallerPolicy {
    /// The caller `principal` describes, when it counts as one: an identity App Service
    /// authentication vouched for from Microsoft Entra (`aad`) with an object id, in the app's
    /// own tenant when that is configured.
    pub fn identify(&self, principal: Option<&Principal>) -> Identified {
        let Some(principal) = principal else {
            return Identified::Nobody;
        };
        if !principal
            .authentication_type
            .eq_ignore_ascii_case(ENTRA_PROVIDER)
        {
            return Identified::Ignored(format!(
                "an identity from the authentication provider '{}' is not a Microsoft Entra \
                 caller and does not count as one",
                clean(&principal.authentication_type)
            ));
        }
        let Some(caller) = Caller::from_principal(principal) else {
            return Identified::Ignored(
                "the Microsoft Entra identity names no object id (oid) and does not count as a \
                 caller"
                    .to_owned(),
            );
        };
        if !self.allow_guests
            && let Some(home) = caller.home_elsewhere(self.tenant_id.as_deref())
        {
            return Identified::Ignored(format!(
                "the Microsoft Entra identity {} is a guest of this tenant (its account is at \
                 {home}); guests are not callers unless MFA_ALLOW_GUEST_CALLERS=true",
                caller.id
            ));
        }
        match (&self.tenant_id, &caller.tenant_id) {
            (Some(own), Some(theirs)) if own == theirs => Identified::Caller(caller),
            (Some(_), theirs) => Identified::Ignored(format!(
                "the Microsoft Entra identity {} is from {}, not from this app's tenant \
                 (MFA_TENANT_ID), and does not count as a caller",
                caller.id,
                theirs.as_deref().map_or_else(
                    || "no named tenant".to_owned(),
                    |tid| format!("tenant {tid}")
                )
            )),
            (None, _) => Identified::Caller(caller),
        }
    }

    /// Decides, before anything is read, whether `caller` may call at all; `Err` carries the
    /// refusal to answer with.
    ///
    /// # Errors
    ///
    /// `unauthenticatedCaller` (401) without a principal where one is required;
    /// `callerNotAllowed` (403) for a principal the lists do not admit, or that holds neither of
    /// the API's app roles where they are required.
    pub fn admit(&self, caller: Option<&Caller>) -> Result<(), Failure> {
        match caller {
            None if self.require_app_role && !self.allow_key_only => Err(Failure::new(
                ErrorCode::UnauthenticatedCaller,
                "the request carries no caller Microsoft Entra authenticated, only the function \
                 key, and this deployment requires the API's app roles (MFA_REQUIRE_APP_ROLE): \
                 send a bearer token for the API (App Service authentication passes the caller \
                 on), or set MFA_ALLOW_KEY_ONLY_CALLERS=true to accept the key alone; nothing \
                 was read or changed",
            )),
            None if self.require_authenticated
                || !self.allowed.is_empty()
                || !self.allowed_client_apps.is_empty() =>
            {
                Err(Failure::new(
                    ErrorCode::UnauthenticatedCaller,
                    "this deployment accepts only callers that Microsoft Entra authenticated: send \
                 a bearer token for the app's audience (App Service authentication passes the \
                 caller on); nothing was read or changed",
                ))
            }
            Some(caller)
                if !self.allowed_client_apps.is_empty()
                    && !caller
                        .app_id
                        .as_ref()
                        .is_some_and(|app| self.allowed_client_apps.contains(app)) =>
            {
                Err(Failure::new(
                    ErrorCode::CallerNotAllowed,
                    format!(
                        "the caller's token was issued to a client application ({}) this \
                         deployment does not allow (MFA_ALLOWED_CLIENT_APPS); nothing was read \
                         or changed",
                        caller.app_id.as_deref().unwrap_or("none named")
                    ),
                ))
            }
            Some(caller) if !self.allowed.is_empty() && !caller.is_among(&self.allowed) => {
                Err(Failure::new(
                    ErrorCode::CallerNotAllowed,
                    format!(
                        "the caller (object id {}{}) is not among the callers this deployment \
                         allows (MFA_ALLOWED_CALLERS); nothing was read or changed",
                        caller.id,
                        caller
                            .app_id
                            .as_deref()
                            .map(|app| format!(", application {app}"))
                            .unwrap_or_default()
                    ),
                ))
            }
            Some(caller)
                if self.require_app_role
                    && !caller.holds(READ_ROLE)
                    && !caller.holds(READ_WRITE_ROLE) =>
            {
                Err(Failure::new(
                    ErrorCode::CallerNotAllowed,
                    format!(
                        "the caller (object id {}) holds neither of this API's app roles: \
                         {READ_WRITE_ROLE} to set, update or remove phone methods, {READ_ROLE} to \
                         show them. An administrator assigns one in Microsoft Entra ID \
                         (Enterprise applications, the API's Users and groups); nothing was read \
                         or changed",
                        caller.id
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether `caller` may do what the request asks (`access`), once it is known.
    ///
    /// # Errors
    ///
    /// `callerNotAllowed` (403) for an authenticated caller without the app role it needs,
    /// where app roles are required.
    pub fn permit(&self, caller: Option<&Caller>, access: Access) -> Result<(), Failure> {
        let Some(caller) = caller.filter(|_| self.require_app_role) else {
            return Ok(());
        };
        let allowed = match access {
            Access::Read => caller.holds(READ_ROLE) || caller.holds(READ_WRITE_ROLE),
            Access::ReadWrite => caller.holds(READ_WRITE_ROLE),
        };
        if allowed {
            return Ok(());
        }
        Err(Failure::new(
            ErrorCode::CallerNotAllowed,
            match access {
                Access::ReadWrite => format!(
                    "setting, updating or removing a phone method (a dry run too) needs this \
                     API's app role {READ_WRITE_ROLE}, which the caller (object id {}) does not \
                     hold{}; nothing was read or changed",
                    caller.id,
                    if caller.holds(READ_ROLE) {
                        format!(" (it holds {READ_ROLE}, which allows show only)")
                    } else {
                        String::new()
                    }
                ),
                Access::Read => format!(
                    "showing phone methods needs this API's app role {READ_ROLE} or \
                     {READ_WRITE_ROLE}, which the caller (object id {}) does not hold; nothing \
                     was read",
                    caller.id
                ),
            },
        ))
    }
}

impl CallerPolicy {
    /// Whether `caller` may have a registered number in full (`revealNumber`), as far as who
    /// they are goes (the account's protection is the runbook's to check): a caller Microsoft
    /// Entra authenticated, holding `MfaPhone.ReadWrite` where app roles are required
    /// (`MfaPhone.Read` shows numbers masked).
    ///
    /// # Errors
    ///
    /// The reason why not, in words that finish "revealNumber is honoured …".
    pub fn may_reveal(&self, caller: Option<&Caller>) -> Result<(), &'static str> {
        match caller {
            None => Err("only for a caller Microsoft Entra authenticated"),
            Some(caller) if self.require_app_role && !caller.holds(READ_WRITE_ROLE) => Err(
                "only for a caller with the app role MfaPhone.ReadWrite (MfaPhone.Read shows \
                 numbers masked)",
            ),
            Some(_) => Ok(()),
        }
    }
}

/// The authentication provider App Service names for Microsoft Entra (`auth_typ`), which the
/// host hands on as the identity's `AuthenticationType`.
const ENTRA_PROVIDER: &str = "aad";

/// The claims of one authenticated identity, as the host serialised them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// The identity's `AuthenticationType` (App Service authentication: the provider, `aad`).
    pub authentication_type: String,
    pub claims: Vec<(String, String)>,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The object id of the user or service principal (`oid`).
    pub id: String,
    /// The client (application) id the token was issued to (`appid` or `azp`).
    pub app_id: Option<String>,
    /// A name to show: the user's UPN or name, the application's name or id.
    pub name: Option<String>,
    pub kind: CallerKind,
    /// The group ids the token's `groups` claim names (when the API's app registration emits
    /// group claims), lowercase.
    pub groups: Vec<String>,
    /// The API's app roles the token grants (`roles`), as written.
    pub roles: Vec<String>,
    /// The tenant the token was issued in (`tid`), lowercase.
    pub tenant_id: Option<String>,
    /// Who authenticated the account (`idp`), when the token names it: another tenant's issuer
    /// or a consumer provider for a B2B guest.
    pub identity_provider: Option<String>,
    /// The account's status in the tenant (`acct`): `0` a member, `1` a guest.
    pub account_status: Option<String>,
}

/// Whether a person or an application called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    User,
    Application,
}

impl CallerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallerKind::User => "user",
            CallerKind::Application => "application",
        }
    }
}

/// Claim types as tokens carry them, short and as .NET or App Service map them.
const OBJECT_ID: [&str; 2] = [
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
];
const TENANT_ID: [&str; 2] = [
    "http://schemas.microsoft.com/identity/claims/tenantid",
    "tid",
];
const APP_ID: [&str; 2] = ["appid", "azp"];
const TOKEN_TYPE: [&str; 1] = ["idtyp"];
const SCOPE: [&str; 2] = ["http://schemas.microsoft.com/identity/claims/scope", "scp"];
const USER_NAME: [&str; 6] = [
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "name",
    "unique_name",
];
const APP_NAME: [&str; 1] = ["app_displayname"];
const IDENTITY_PROVIDER: [&str; 2] = [
    "http://schemas.microsoft.com/identity/claims/identityprovider",
    "idp",
];
const ACCOUNT_STATUS: [&str; 1] = ["acct"];
const GROUPS: [&str; 2] = [
    "groups",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];
const ROLES: [&str; 3] = [
    "roles",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    "role",
];
/// The most group claims read.
const MAX_GROUPS: usize = 200;
/// The most role claims read (the result lists them).
const MAX_ROLES: usize = 20;

/// The longest a claim value is kept.
const MAX_CLAIM_CHARS: usize = 256;

impl Caller {
    /// The caller a principal describes, whatever the order of its claims; `None` when it
    /// names no object id (then it is not an Entra principal this product can record or
    /// check). Whether the identity counts as a caller at all is [`CallerPolicy::identify`]'s
    /// question.
    pub fn from_principal(principal: &Principal) -> Option<Caller> {
        let claim = |types: &[&str]| {
            types.iter().find_map(|wanted| {
                principal
                    .claims
                    .iter()
                    .find(|(kind, _)| kind.eq_ignore_ascii_case(wanted))
                    .map(|(_, value)| clean(value))
                    .filter(|value| !value.is_empty())
            })
        };
        let all = |types: &[&str], most: usize| -> Vec<String> {
            principal
                .claims
                .iter()
                .filter(|(kind, _)| types.iter().any(|wanted| kind.eq_ignore_ascii_case(wanted)))
                .map(|(_, value)| clean(value))
                .filter(|value| !value.is_empty())
                .take(most)
                .collect()
        };
        let id = claim(&OBJECT_ID)?.to_ascii_lowercase();
        let app_id = claim(&APP_ID).map(|id| id.to_ascii_lowercase());
        let kind = match claim(&TOKEN_TYPE).as_deref() {
            Some(kind) if kind.eq_ignore_ascii_case("app") => CallerKind::Application,
            Some(kind) if kind.eq_ignore_ascii_case("user") => CallerKind::User,
            // Without `idtyp` (an optional claim), a token that carries scopes or a name is a
            // user's.
            _ if claim(&SCOPE).is_some() || claim(&USER_NAME[..3]).is_some() => CallerKind::User,
            _ => CallerKind::Application,
        };
        let name = match kind {
            CallerKind::User => claim(&USER_NAME),
            CallerKind::Application => claim(&APP_NAME).or_else(|| app_id.clone()),
        };
        let groups = all(&GROUPS, MAX_GROUPS)
            .into_iter()
            .map(|group| group.to_ascii_lowercase())
            .collect();
        let mut roles = all(&ROLES, MAX_ROLES);
        roles.dedup();
        Some(Caller {
            id,
            app_id,
            name,
            kind,
            groups,
            roles,
            tenant_id: claim(&TENANT_ID).map(|tid| tid.to_ascii_lowercase()),
            identity_provider: claim(&IDENTITY_PROVIDER),
            account_status: claim(&ACCOUNT_STATUS),
        })
    }

    /// Says where the account lives when it is not this tenant's own (a B2B guest, a consumer
    /// account): the token has an `idp` that does not name this tenant (`own`, or the token's
    /// own tenant when that is not configured), or `acct` 1. Entra emits `idp` when the
    /// provider differs from the token's issuer; a member's token omits it or names its own
    /// tenant.
    pub fn home_elsewhere(&self, own: Option<&str>) -> Option<String> {
        let own = own.or(self.tenant_id.as_deref());
        if let Some(provider) = &self.identity_provider {
            let ours = own.is_some_and(|tenant| provider.to_ascii_lowercase().contains(tenant));
            if !ours {
                return Some(provider.clone());
            }
        }
        (self.account_status.as_deref() == Some("1"))
            .then(|| "another organisation (acct 1)".to_owned())
    }

    /// Whether the token grants the app role `role` (app role values compared without case).
    pub fn holds(&self, role: &str) -> bool {
        self.roles
            .iter()
            .any(|held| held.eq_ignore_ascii_case(role))
    }

    /// Whether `allowed` (object ids, application ids and group ids, lowercase) names this
    /// caller, or a group its token says it is in. An application id names an application
    /// calling as itself only: a user is not admitted by the client they signed in with (Azure
    /// CLI's id would admit every user of the tenant).
    pub fn is_among(&self, allowed: &[String]) -> bool {
        allowed.iter().any(|entry| {
            *entry == self.id
                || (self.kind == CallerKind::Application
                    && self.app_id.as_deref() == Some(entry.as_str()))
                || self.groups.contains(entry)
        })
    }
}

/// Makes a claim value fit to be shown and logged: bounded, without control characters.
fn clean(value: &str) -> String {
    value
        .trim()
        .chars()
        .filter(|character| !character.is_control())
        .take(MAX_CLAIM_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(claims: &[(&str, &str)]) -> Principal {
        Principal {
            authentication_type: "aad".to_owned(),
            claims: claims
                .iter()
                .map(|(kind, value)| ((*kind).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_user_token_is_read_with_short_or_mapped_claim_types() {
        let caller = Caller::from_principal(&principal(&[
            (
                "http://schemas.microsoft.com/identity/claims/objectidentifier",
                "6E7B768E-07E2-4810-8459-485F84F8F204",
            ),
            ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            (
                "http://schemas.microsoft.com/identity/claims/scope",
                "user_impersonation",
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                "admin@contoso.com",
            ),
        ]))
        .unwrap();
        assert_eq!(caller.id, "6e7b768e-07e2-4810-8459-485f84f8f204");
        assert_eq!(caller.kind, CallerKind::User);
        assert_eq!(caller.name.as_deref(), Some("admin@contoso.com"));
        assert!(
            !caller.is_among(&["04b07795-8ddb-461a-bbee-02f9e1bf7b46".to_owned()]),
            "a user is not admitted by the client application they used"
        );
        assert!(caller.is_among(&["6e7b768e-07e2-4810-8459-485f84f8f204".to_owned()]));
        let in_group = Caller::from_principal(&principal(&[
            ("oid", "11111111-1111-1111-1111-111111111111"),
            ("groups", "AAAAAAAA-0000-0000-0000-000000000000"),
            ("groups", "bbbbbbbb-0000-0000-0000-000000000000"),
        ]))
        .unwrap();
        assert!(in_group.is_among(&["aaaaaaaa-0000-0000-0000-000000000000".to_owned()]));
    }

    #[test]
    fn an_application_token_names_the_application() {
        let caller = Caller::from_principal(&principal(&[
            ("oid", "11111111-1111-1111-1111-111111111111"),
            ("azp", "22222222-2222-2222-2222-222222222222"),
            ("idtyp", "app"),
            ("roles", "Mfa.Write"),
        ]))
        .unwrap();
        assert_eq!(caller.kind, CallerKind::Application);
        assert_eq!(
            caller.name.as_deref(),
            Some("22222222-2222-2222-2222-222222222222")
        );
        assert!(caller.is_among(&["11111111-1111-1111-1111-111111111111".to_owned()]));
        assert!(!caller.is_among(&["33333333-3333-3333-3333-333333333333".to_owned()]));
    }

    #[test]
    fn the_policy_refuses_missing_and_unlisted_callers() {
        let caller = Caller::from_principal(&principal(&[
            ("oid", "11111111-1111-1111-1111-111111111111"),
            ("appid", "22222222-2222-2222-2222-222222222222"),
        ]))
        .unwrap();
        let open = CallerPolicy::default();
        assert_eq!(open.admit(None), Ok(()));
        assert_eq!(open.admit(Some(&caller)), Ok(()));
        let required = CallerPolicy {
            require_authenticated: true,
            ..CallerPolicy::default()
        };
        assert_eq!(
            required.admit(None).unwrap_err().code,
            ErrorCode::UnauthenticatedCaller
        );
        let listed = CallerPolicy {
            allowed: vec!["22222222-2222-2222-2222-222222222222".to_owned()],
            ..CallerPolicy::default()
        };
        assert_eq!(listed.admit(Some(&caller)), Ok(()));
        assert_eq!(
            listed.admit(None).unwrap_err().code,
            ErrorCode::UnauthenticatedCaller
        );
        let other = CallerPolicy {
            require_authenticated: true,
            allowed: vec!["33333333-3333-3333-3333-333333333333".to_owned()],
            ..CallerPolicy::default()
        };
        assert_eq!(
            other.admit(Some(&caller)).unwrap_err().code,
            ErrorCode::CallerNotAllowed
        );
    }

    #[test]
    fn the_client_application_and_the_principal_must_both_be_allowed() {
        let admin = Caller::from_principal(&principal(&[
            ("oid", "11111111-1111-1111-1111-111111111111"),
            ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("scp", "user_impersonation"),
        ]))
        .unwrap();
        let colleague = Caller::from_principal(&principal(&[
            ("oid", "44444444-4444-4444-4444-444444444444"),
            ("appid", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("scp", "user_impersonation"),
        ]))
        .unwrap();
        let policy = CallerPolicy {
            allowed: vec!["11111111-1111-1111-1111-111111111111".to_owned()],
            allowed_client_apps: vec!["04b07795-8ddb-461a-bbee-02f9e1bf7b46".to_owned()],
            ..CallerPolicy::default()
        };
        assert_eq!(policy.admit(Some(&admin)), Ok(()));
        let refused = policy.admit(Some(&colleague)).unwrap_err();
        assert_eq!(
            refused.code,
            ErrorCode::CallerNotAllowed,
            "same client, not listed"
        );
        let elsewhere = CallerPolicy {
            allowed_client_apps: vec!["55555555-5555-5555-5555-555555555555".to_owned()],
            ..policy.clone()
        };
        let refused = elsewhere.admit(Some(&admin)).unwrap_err();
        assert!(
            refused.message.contains("MFA_ALLOWED_CLIENT_APPS"),
            "{}",
            refused.message
        );
        assert_eq!(
            elsewhere.admit(None).unwrap_err().code,
            ErrorCode::UnauthenticatedCaller
        );
    }

    #[test]
    fn a_principal_without_an_object_id_is_no_caller() {
        assert_eq!(Caller::from_principal(&principal(&[("name", "x")])), None);
    }

    #[test]
    fn claim_values_are_bounded_and_cleaned() {
        let long = format!("{}\n{}", "a".repeat(300), "b");
        let caller = Caller::from_principal(&principal(&[
            ("oid", "11111111-1111-1111-1111-111111111111"),
            ("upn", &long),
        ]))
        .unwrap();
        let name = caller.name.unwrap();
        assert_eq!(name.chars().count(), MAX_CLAIM_CHARS);
        assert!(!name.contains('\n'));
    }
}
