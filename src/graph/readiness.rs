//! Reads what the readiness scan needs from Graph: the registration details report's rows
//! (their free-text `methodsRegistered` turned into `retirement::Method`s, unknown names kept),
//! the whole authentication methods policy (every configuration the classification needs, with
//! the telecom provider settings of SMS and voice, as `retirement::MethodsPolicy`), the users
//! of a targeted group (transitively), the guests and whether each is external, and for
//! `--per-user` the users and each one's methods in `$batch`.

use std::collections::HashMap;

use reqwest::{Method, Url};
use serde::Deserialize;

use super::send::{Idempotence, decode, decode_value};
use super::{BatchItem, GraphClient, GraphError, GraphOperation, method_kind, name, phone_method};
use crate::method_policy::ChannelPolicy;
use crate::methods::AuthenticationMethods;
use crate::phone::PhoneType;
use crate::retirement::{Configuration, Method as Registered, MethodsPolicy, Provider};
use crate::user::UserRef;

/// One row of the registration details report, as the scan needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationRow {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub guest: bool,
    pub methods: Vec<Registered>,
    /// `methodsRegistered` values this product does not know.
    pub unknown: Vec<String>,
    /// When the report's row was last refreshed (Graph's text).
    pub last_updated: Option<String>,
}

/// A page of the report.
#[derive(Debug)]
pub struct RegistrationPage {
    pub rows: Vec<RegistrationRow>,
    pub next: Option<Url>,
}

/// A user of the plain user list, for `--per-user`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedAccount {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub guest: bool,
    /// A B2B user: invited from another organisation or a social identity.
    pub external: bool,
    pub enabled: bool,
}

/// A page of the user list.
#[derive(Debug)]
pub struct AccountPage {
    pub accounts: Vec<ListedAccount>,
    pub next: Option<Url>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportRow {
    id: String,
    user_principal_name: Option<String>,
    user_display_name: Option<String>,
    user_type: Option<String>,
    #[serde(default)]
    methods_registered: Vec<String>,
    last_updated_date_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    id: String,
    user_principal_name: Option<String>,
    display_name: Option<String>,
    user_type: Option<String>,
    account_enabled: Option<bool>,
    external_user_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Configured {
    state: Option<String>,
    #[serde(default)]
    include_targets: Vec<super::wire::MethodTarget>,
    #[serde(default)]
    exclude_targets: Vec<super::wire::MethodTarget>,
    is_office_phone_allowed: Option<bool>,
    telecom_provider_settings: Option<Telecom>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Telecom {
    migration_percentage: Option<i64>,
    is_evaluation_mode_enabled: Option<bool>,
}

/// The report's names for the methods, as the classification sees them.
const REPORT_METHODS: [(&str, Registered); 20] = [
    ("mobilePhone", Registered::Phone(PhoneType::Mobile)),
    (
        "alternateMobilePhone",
        Registered::Phone(PhoneType::AlternateMobile),
    ),
    ("officePhone", Registered::Phone(PhoneType::Office)),
    ("microsoftAuthenticatorPush", Registered::Authenticator),
    (
        "microsoftAuthenticatorPasswordless",
        Registered::Authenticator,
    ),
    ("softwareOneTimePasscode", Registered::SoftwareOath),
    ("hardwareOneTimePasscode", Registered::HardwareOath),
    ("passKeyDeviceBound", Registered::Passkey),
    ("passKeyDeviceBoundAuthenticator", Registered::Passkey),
    ("passKeyDeviceBoundWindowsHello", Registered::Passkey),
    ("passKeySynced", Registered::Passkey),
    ("fido2SecurityKey", Registered::Passkey),
    ("fido2", Registered::Passkey),
    ("windowsHelloForBusiness", Registered::WindowsHello),
    ("macOsSecureEnclaveKey", Registered::PlatformCredential),
    ("temporaryAccessPass", Registered::NotMfa),
    ("email", Registered::NotMfa),
    ("securityQuestion", Registered::NotMfa),
    ("externalAuthenticationMethod", Registered::External),
    ("x509Certificate", Registered::Certificate),
];

/// The policy's configuration ids the classification reads besides SMS and voice.
const CONFIGURATIONS: [(&str, Configuration); 5] = [
    (
        "MicrosoftAuthenticator",
        Configuration::MicrosoftAuthenticator,
    ),
    ("Fido2", Configuration::Fido2),
    ("SoftwareOath", Configuration::SoftwareOath),
    ("HardwareOath", Configuration::HardwareOath),
    ("X509Certificate", Configuration::X509Certificate),
];

/// The most pages any list is read to; 100,000,000 users at 999 a page would need fewer.
const MAX_PAGES: usize = 200_000;

impl GraphClient {
    /// The first page of the report's users with a mobile, alternate mobile or office phone,
    /// 999 a page.
    pub fn readiness_report_url(&self) -> Url {
        let mut url = self.user_free_url(&[
            "reports",
            "authenticationMethods",
            "userRegistrationDetails",
        ]);
        let filter = ["mobilePhone", "alternateMobilePhone", "officePhone"]
            .map(|method| format!("methodsRegistered/any(m:m eq '{method}')"))
            .join(" or ");
        url.query_pairs_mut()
            .append_pair("$filter", &filter)
            .append_pair(
                "$select",
                "id,userPrincipalName,userDisplayName,userType,methodsRegistered,lastUpdatedDateTime",
            )
            .append_pair("$top", "999");
        url
    }

    /// One page of the report.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]: a licence denial (`Denial::Licence`) without Entra ID P1/P2.
    pub async fn registration_rows(&self, url: Url) -> Result<RegistrationPage, GraphError> {
        let operation = GraphOperation::ReadRegistrationReport;
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let page: super::wire::Page<ReportRow> = decode(operation, &answer.body)?;
        let rows = page
            .value
            .into_iter()
            .map(|row| {
                let mut methods = Vec::new();
                let mut unknown = Vec::new();
                for value in row.methods_registered {
                    match REPORT_METHODS
                        .iter()
                        .find(|(known, _)| known.eq_ignore_ascii_case(value.trim()))
                    {
                        Some((_, method)) => methods.push(*method),
                        None => unknown.push(name(&value)),
                    }
                }
                RegistrationRow {
                    id: row.id,
                    user_principal_name: row.user_principal_name.map(|upn| name(&upn)),
                    display_name: row.user_display_name.map(|display| name(&display)),
                    guest: is_guest(row.user_type.as_deref()),
                    methods,
                    unknown,
                    last_updated: row.last_updated_date_time.map(|at| name(&at)),
                }
            })
            .collect();
        let next = self.next_page(operation, page.next_link)?;
        Ok(RegistrationPage { rows, next })
    }

    /// The authentication methods policy as the classification reads it: SMS and voice, and
    /// the configurations of the other MFA methods (one Graph does not have counts as none).
    ///
    /// # Errors
    ///
    /// A [`GraphError`] from reading SMS's or voice's configuration, or from reading another
    /// configuration unless Graph says it is not found.
    pub async fn readiness_policy(&self) -> Result<MethodsPolicy, GraphError> {
        let (sms, voice) = tokio::join!(self.configuration("Sms"), self.configuration("Voice"));
        let (Some(sms), Some(voice)) = (sms?, voice?) else {
            return Err(super::send::malformed(
                GraphOperation::ReadMethodPolicy,
                "the policy has no SMS or no voice configuration",
            ));
        };
        let mut others = HashMap::new();
        for (id, configuration) in CONFIGURATIONS {
            if let Some(found) = self.configuration(id).await? {
                others.insert(configuration, channel(&found));
            }
        }
        let provider = |configured: &Configured| {
            configured
                .telecom_provider_settings
                .as_ref()
                .map(|telecom| Provider {
                    migration_percentage: telecom
                        .migration_percentage
                        .unwrap_or(0)
                        .clamp(0, 100)
                        .try_into()
                        .unwrap_or(0),
                    evaluation_mode: telecom.is_evaluation_mode_enabled.unwrap_or(false),
                })
        };
        Ok(MethodsPolicy {
            sms: channel(&sms),
            voice: channel(&voice),
            office_phone_allowed: voice.is_office_phone_allowed.unwrap_or(false),
            others,
            sms_provider: provider(&sms),
            voice_provider: provider(&voice),
        })
    }

    async fn configuration(&self, id: &str) -> Result<Option<Configured>, GraphError> {
        let operation = GraphOperation::ReadMethodPolicy;
        let url = self.user_free_url(&[
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            id,
        ]);
        match self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await
        {
            Ok(answer) => Ok(Some(decode(operation, &answer.body)?)),
            Err(GraphError {
                kind: super::GraphErrorKind::NotFound { .. },
                ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The ids (lowercase) of the users in `group_id`, directly or through nested groups.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn transitive_user_members(&self, group_id: &str) -> Result<Vec<String>, GraphError> {
        let mut url = self.user_free_url(&[
            "groups",
            group_id,
            "transitiveMembers",
            "microsoft.graph.user",
        ]);
        url.query_pairs_mut()
            .append_pair("$select", "id")
            .append_pair("$top", "999");
        let operation = GraphOperation::ReadGroupUsers;
        let mut members = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let answer = self
                .send(operation, Method::GET, url, None, Idempotence::Safe)
                .await?;
            let page: super::wire::Page<super::wire::IdOnly> = decode(operation, &answer.body)?;
            members.extend(
                page.value
                    .into_iter()
                    .map(|member| member.id.to_ascii_lowercase()),
            );
            if pages < MAX_PAGES {
                next = self.next_page(operation, page.next_link)?;
            }
        }
        Ok(members)
    }

    /// The first page of users for the scan: every user, or only guests.
    pub fn accounts_url(&self, guests_only: bool) -> Url {
        let mut url = self.user_free_url(&["users"]);
        if guests_only {
            url.query_pairs_mut()
                .append_pair("$filter", "userType eq 'Guest'");
        }
        url.query_pairs_mut()
            .append_pair(
                "$select",
                "id,userPrincipalName,displayName,userType,accountEnabled,externalUserState",
            )
            .append_pair("$top", "999");
        url
    }

    /// One page of users.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn accounts_page(&self, url: Url) -> Result<AccountPage, GraphError> {
        let operation = GraphOperation::ListUsers;
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let page: super::wire::Page<Account> = decode(operation, &answer.body)?;
        let accounts = page
            .value
            .into_iter()
            .map(|account| ListedAccount {
                guest: is_guest(account.user_type.as_deref()),
                // A B2B user has an invitation state; an internal guest has none.
                external: account
                    .external_user_state
                    .is_some_and(|state| !state.trim().is_empty()),
                enabled: account.account_enabled.unwrap_or(true),
                id: account.id,
                user_principal_name: account.user_principal_name.map(|upn| name(&upn)),
                display_name: account.display_name.map(|display| name(&display)),
            })
            .collect();
        let next = self.next_page(operation, page.next_link)?;
        Ok(AccountPage { accounts, next })
    }

    /// Reads every page of a list of users, for the guests, up to [`MAX_PAGES`] pages.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn all_accounts(&self, first: Url) -> Result<Vec<ListedAccount>, GraphError> {
        let mut all = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let page = self.accounts_page(url).await?;
            all.extend(page.accounts);
            if pages < MAX_PAGES {
                next = page.next;
            }
        }
        Ok(all)
    }

    /// Reads every method of up to 20 users in one `$batch`, each user's answer classified like
    /// a direct read; users the answer leaves out are missing from the result.
    ///
    /// # Errors
    ///
    /// A [`GraphError`] when the batch as a whole failed.
    pub async fn batch_methods(
        &self,
        users: &[UserRef],
    ) -> Result<Vec<(usize, Result<AuthenticationMethods, GraphError>)>, GraphError> {
        self.batch_per_user(
            users,
            |user| self.user_url(user, &["authentication", "methods"]),
            methods_of,
        )
        .await
    }
}

/// How long a `$batch` item asked to wait, when Graph throttled it.
pub fn throttled_for(error: &GraphError) -> Option<std::time::Duration> {
    match &error.kind {
        super::GraphErrorKind::Unavailable { retry_after, .. } => *retry_after,
        _ => None,
    }
}

fn methods_of(item: BatchItem) -> Result<AuthenticationMethods, GraphError> {
    let operation = GraphOperation::ReadMethods;
    let body = super::lists::item_body(operation, item)?;
    let page: super::wire::Page<super::wire::AuthenticationMethod> = decode_value(operation, body)?;
    let mut all = AuthenticationMethods::default();
    for method in page.value {
        let kind = method
            .odata_type
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("#microsoft.graph.")
            .to_owned();
        if kind.eq_ignore_ascii_case("phoneAuthenticationMethod") {
            all.phone.extend(phone_method(super::wire::PhoneMethod {
                phone_number: method.phone_number,
                phone_type: method.phone_type,
                sms_sign_in_state: method.sms_sign_in_state,
            }));
        } else {
            all.other.push(method_kind(kind));
        }
    }
    Ok(all)
}

fn is_guest(user_type: Option<&str>) -> bool {
    user_type.is_some_and(|kind| kind.trim().eq_ignore_ascii_case("guest"))
}

fn channel(configured: &Configured) -> ChannelPolicy {
    super::roles::channel_of(
        configured.state.as_deref(),
        &configured.include_targets,
        &configured.exclude_targets,
    )
}
