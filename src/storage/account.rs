//! Reads which storage account the app has, the way the Functions host's own bindings read it
//! from the app settings: `AzureWebJobsStorage` as a connection string (`UseDevelopmentStorage=
//! true`, or account name and key with the endpoints), or the identity-based settings
//! `AzureWebJobsStorage__blobServiceUri` / `__queueServiceUri` / `__accountName`, with
//! `__credential` and `__clientId` naming the managed identity. Pure: no IO, no credential.

use url::Url;

/// The storage account's endpoints and how to authenticate to them.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// The blob service, e.g. `https://acct.blob.core.windows.net/` or Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    pub(crate) blob: Option<Url>,
    /// The queue service.
    pub queue: Option<Url>,
    pub(crate) auth: AccountAuth,
}

/// How requests to the account are authorised.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum AccountAuth {
    /// Entra tokens (the account has shared keys off): a managed identity, by client id for a
    /// user-assigned one (`__clientId`), or the process's own credential when the settings name
    /// none (`__credential` absent).
    Token {
        managed_identity: Option<ManagedIdentity>,
    },
    /// The account key (a connection string, Azurite's development account): requests carry an
    /// account SAS signed with it, since the storage crates speak no SharedKey.
    SharedKey { account: String, key: String },
    /// A SAS the connection string gives (`SharedAccessSignature=`), used as it is.
    Sas { query: String },
}

/// A managed identity for the account (`AzureWebJobsStorage__credential=managedidentity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ManagedIdentity {
    pub(crate) client_id: Option<String>,
}

/// Azurite's (and the old emulator's) well-known development account and key, public by design.
pub(crate) const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
pub const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The setting the host's bindings read (`connection` in function.json).
const CONNECTION: &str = "AzureWebJobsStorage";

impl std::fmt::Debug for AccountSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            AccountAuth::Token { managed_identity } => format!("token {managed_identity:?}"),
            AccountAuth::SharedKey { account, .. } => format!("shared key of {account}"),
            AccountAuth::Sas { .. } => "a SAS".to_owned(),
        };
        formatter
            .debug_struct("AccountSettings")
            .field("blob", &self.blob.as_ref().map(Url::as_str))
            .field("queue", &self.queue.as_ref().map(Url::as_str))
            .field("auth", &auth)
            .finish()
    }
}

impl AccountSettings {
    /// Reads the account the settings name; `Ok(None)` when they name none.
    ///
    /// # Errors
    ///
    /// When a setting is there but cannot be read; the message names it and says why (never
    /// quoting a key).
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AccountSettings>, String> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if let Some(connection) = get(CONNECTION) {
            return connection_string(&connection).map(Some);
        }
        let identity = |suffix: &str| get(&format!("{CONNECTION}__{suffix}"));
        let endpoint = |suffix: &str| -> Result<Option<Url>, String> {
            identity(suffix)
                .map(|value| {
                    Url::parse(value.trim())
                        .map_err(|error| format!("{CONNECTION}__{suffix} is not a URL: {error}"))
                })
                .transpose()
        };
        let mut blob = endpoint("blobServiceUri")?;
        let mut queue = endpoint("queueServiceUri")?;
        if let Some(account) = identity("accountName") {
            let account = account.trim();
            let service =
                |kind: &str| Url::parse(&format!("https://{account}.{kind}.core.windows.net/"));
            blob = blob.or(service("blob").ok());
            queue = queue.or(service("queue").ok());
        }
        if blob.is_none() && queue.is_none() {
            return Ok(None);
        }
        let managed_identity = match identity("credential") {
            Some(credential) if credential.trim().eq_ignore_ascii_case("managedidentity") => {
                Some(ManagedIdentity {
                    client_id: identity("clientId").map(|id| id.trim().to_owned()),
                })
            }
            Some(other) => {
                return Err(format!(
                    "{CONNECTION}__credential is '{}': only managedidentity is understood (leave it \
                     out to use the app's own credential)",
                    other.chars().take(40).collect::<String>()
                ));
            }
            None => None,
        };
        Ok(Some(AccountSettings {
            blob,
            queue,
            auth: AccountAuth::Token { managed_identity },
        }))
    }

    /// Names Azurite's development account at `blob` and `queue` (`http://127.0.0.1:PORT`).
    #[cfg(feature = "simulator")]
    pub(crate) fn development(blob: &Url, queue: &Url) -> AccountSettings {
        let at = |service: &Url| {
            let mut url = service.clone();
            url.set_path(&format!("/{DEVELOPMENT_ACCOUNT}"));
            url
        };
        AccountSettings {
            blob: Some(at(blob)),
            queue: Some(at(queue)),
            auth: AccountAuth::SharedKey {
                account: DEVELOPMENT_ACCOUNT.to_owned(),
                key: DEVELOPMENT_KEY.to_owned(),
            },
        }
    }

    /// Writes the connection string that names this account as the host's settings do, for a
    /// child process (the demo's and the tests' handlers); `None` for token authentication,
    /// which has no connection string.
    pub fn connection_string(&self) -> Option<String> {
        let mut parts = Vec::new();
        match &self.auth {
            AccountAuth::SharedKey { account, key } => {
                parts.push(format!("AccountName={account}"));
                parts.push(format!("AccountKey={key}"));
            }
            AccountAuth::Sas { query } => parts.push(format!("SharedAccessSignature={query}")),
            AccountAuth::Token { .. } => return None,
        }
        if let Some(blob) = &self.blob {
            parts.push(format!(
                "BlobEndpoint={}",
                blob.as_str().trim_end_matches('/')
            ));
        }
        if let Some(queue) = &self.queue {
            parts.push(format!(
                "QueueEndpoint={}",
                queue.as_str().trim_end_matches('/')
            ));
        }
        Some(parts.join(";"))
    }
}

/// Reads a storage connection string: `UseDevelopmentStorage=true`, or `AccountName`,
/// `AccountKey` (or `SharedAccessSignature`) with `DefaultEndpointsProtocol`,
/// `EndpointSuffix`, `BlobEndpoint`, `QueueEndpoint`.
fn connection_string(text: &str) -> Result<AccountSettings, String> {
    let pairs = Pairs::read(text)?;
    if pairs
        .get("usedevelopmentstorage")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    {
        return development_storage(&pairs);
    }
    let account = pairs.get("accountname");
    let blob = service_endpoint(&pairs, "Blob", account.as_deref())?;
    let queue = service_endpoint(&pairs, "Queue", account.as_deref())?;
    let auth = connection_auth(&pairs, account)?;
    if blob.is_none() && queue.is_none() {
        return Err(format!(
            "{CONNECTION} names no account: give AccountName, or BlobEndpoint and QueueEndpoint"
        ));
    }
    Ok(AccountSettings { blob, queue, auth })
}

/// A connection string's `Name=value` parts, their names in lower case (the names are not
/// case-sensitive).
struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Splits `text` into its parts, or says that it is not a connection string.
    fn read(text: &str) -> Result<Pairs, String> {
        let mut pairs = Vec::new();
        for part in text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!(
                    "{CONNECTION} is not a connection string: a part has no '=' (expected \
                     Name=value;Name=value)"
                ));
            };
            pairs.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        Ok(Pairs(pairs))
    }

    /// Returns the value of the first part named `name` (in lower case).
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// Parses `value` as a URL, or says which part (`name`) it came from in the error.
fn connection_url(name: &str, value: String) -> Result<Url, String> {
    Url::parse(&value).map_err(|error| format!("{CONNECTION}: {name} is not a URL: {error}"))
}

/// Names Azurite's development account, at `DevelopmentStorageProxyUri` when one is given.
fn development_storage(pairs: &Pairs) -> Result<AccountSettings, String> {
    let host = pairs
        .get("developmentstorageproxyuri")
        .unwrap_or_else(|| "http://127.0.0.1".to_owned());
    let host = host.trim_end_matches('/');
    Ok(AccountSettings {
        blob: Some(connection_url(
            "DevelopmentStorageProxyUri",
            format!("{host}:10000/{DEVELOPMENT_ACCOUNT}"),
        )?),
        queue: Some(connection_url(
            "DevelopmentStorageProxyUri",
            format!("{host}:10001/{DEVELOPMENT_ACCOUNT}"),
        )?),
        auth: AccountAuth::SharedKey {
            account: DEVELOPMENT_ACCOUNT.to_owned(),
            key: DEVELOPMENT_KEY.to_owned(),
        },
    })
}

/// Finds the endpoint of the `kind` service (`Blob`, `Queue`): the one the string names, or the
/// one the account's name, `DefaultEndpointsProtocol` and `EndpointSuffix` make; `None` with
/// neither.
fn service_endpoint(
    pairs: &Pairs,
    kind: &str,
    account: Option<&str>,
) -> Result<Option<Url>, String> {
    let explicit = pairs.get(&format!("{}endpoint", kind.to_ascii_lowercase()));
    match (explicit, account) {
        (Some(endpoint), _) => connection_url(&format!("{kind}Endpoint"), endpoint).map(Some),
        (None, Some(account)) => {
            let protocol = pairs
                .get("defaultendpointsprotocol")
                .unwrap_or_else(|| "https".to_owned());
            let suffix = pairs
                .get("endpointsuffix")
                .unwrap_or_else(|| "core.windows.net".to_owned());
            connection_url(
                "AccountName",
                format!(
                    "{protocol}://{account}.{}.{suffix}/",
                    kind.to_ascii_lowercase()
                ),
            )
            .map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// Decides how requests to the account are signed: with its key (which needs the account's
/// name) or a shared access signature. A string with neither is refused, because Entra
/// authentication has settings of its own.
fn connection_auth(pairs: &Pairs, account: Option<String>) -> Result<AccountAuth, String> {
    match (
        pairs.get("accountkey"),
        pairs.get("sharedaccesssignature"),
        account,
    ) {
        (Some(key), _, Some(account)) => Ok(AccountAuth::SharedKey { account, key }),
        (Some(_), _, None) => Err(format!("{CONNECTION} has an AccountKey but no AccountName")),
        (None, Some(sas), _) => Ok(AccountAuth::Sas {
            query: sas.trim_start_matches('?').to_owned(),
        }),
        (None, None, _) => Err(format!(
            "{CONNECTION} names no AccountKey or SharedAccessSignature: for Entra \
             authentication use the identity-based settings ({CONNECTION}__blobServiceUri, \
             __queueServiceUri, __credential)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(settings: &[(&str, &str)]) -> Result<Option<AccountSettings>, String> {
        AccountSettings::from_lookup(|name| {
            settings
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn the_development_storage_and_azurites_explicit_endpoints() {
        let development = read(&[(CONNECTION, "UseDevelopmentStorage=true")])
            .unwrap()
            .unwrap();
        assert_eq!(
            development.blob.as_ref().map(Url::as_str),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert_eq!(
            development.queue.as_ref().map(Url::as_str),
            Some("http://127.0.0.1:10001/devstoreaccount1")
        );
        let explicit = format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};\
             BlobEndpoint=http://127.0.0.1:40001/devstoreaccount1;QueueEndpoint=http://127.0.0.1:40002/devstoreaccount1;"
        );
        let azurite = read(&[(CONNECTION, &explicit)]).unwrap().unwrap();
        assert_eq!(
            azurite.queue.as_ref().map(Url::as_str),
            Some("http://127.0.0.1:40002/devstoreaccount1")
        );
        assert!(matches!(azurite.auth, AccountAuth::SharedKey { .. }));
        let round_trip = read(&[(CONNECTION, &azurite.connection_string().unwrap())])
            .unwrap()
            .unwrap();
        assert!(round_trip == azurite);
        assert!(
            !format!("{azurite:?}").contains(DEVELOPMENT_KEY),
            "no key in Debug"
        );
    }

    #[test]
    fn identity_based_settings_as_the_infra_writes_them() {
        let account = read(&[
            ("AzureWebJobsStorage__credential", "managedidentity"),
            (
                "AzureWebJobsStorage__clientId",
                "11111111-2222-3333-4444-555555555555",
            ),
            (
                "AzureWebJobsStorage__blobServiceUri",
                "https://st.blob.core.windows.net",
            ),
            (
                "AzureWebJobsStorage__queueServiceUri",
                "https://st.queue.core.windows.net",
            ),
        ])
        .unwrap()
        .unwrap();
        assert!(
            account.auth
                == AccountAuth::Token {
                    managed_identity: Some(ManagedIdentity {
                        client_id: Some("11111111-2222-3333-4444-555555555555".to_owned())
                    })
                }
        );
        let by_name = read(&[("AzureWebJobsStorage__accountName", "st")])
            .unwrap()
            .unwrap();
        assert_eq!(
            by_name.blob.as_ref().map(Url::as_str),
            Some("https://st.blob.core.windows.net/")
        );
        assert!(read(&[]).unwrap().is_none());
    }

    #[test]
    fn unreadable_settings_name_the_setting_and_never_the_key() {
        for (settings, expected) in [
            (vec![(CONNECTION, "nonsense")], "not a connection string"),
            (
                vec![(CONNECTION, "AccountKey=secretsecret")],
                "no AccountName",
            ),
            (vec![(CONNECTION, "AccountName=st")], "no AccountKey"),
            (
                vec![("AzureWebJobsStorage__blobServiceUri", "not a url")],
                "blobServiceUri",
            ),
            (
                vec![
                    (
                        "AzureWebJobsStorage__blobServiceUri",
                        "https://st.blob.core.windows.net",
                    ),
                    ("AzureWebJobsStorage__credential", "certificate"),
                ],
                "managedidentity",
            ),
        ] {
            let error = read(&settings).unwrap_err();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("secretsecret"), "{error}");
        }
    }
}
