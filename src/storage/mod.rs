//! Reaches the app's storage account: the one the Functions host keeps its queues and leases
//! in, found the way the host's bindings find it ([`AccountSettings`]), through the official
//! storage crates over the process's own reqwest client (one TLS stack). Against Azure,
//! requests carry Entra tokens from the managed identity (the account has shared keys off);
//! where a connection string gives a key (Azurite's development account), they carry an account
//! SAS signed with it.
//!
//! [`leases`] keeps one user's changes to one instance at a time across the Function App;
//! [`queue`] sends, receives and settles queue messages (the miniature host, the bulk tool);
//! [`scans`] keeps the readiness scans the Function App makes.
//! Nothing here knows Graph or the runbook.

pub mod account;
pub mod leases;
pub mod queue;
mod sas;
pub mod scans;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
use azure_storage_queue::{QueueClient, QueueServiceClient, QueueServiceClientOptions};
use url::Url;

pub(crate) use self::account::{AccountAuth, AccountSettings, ManagedIdentity};

/// How long a minted SAS is valid; clients are made per use, so this only has to outlast one.
const SAS_VALIDITY: Duration = Duration::from_secs(3_600);

/// The storage account, ready to make clients.
#[derive(Clone)]
pub struct StorageAccount {
    settings: AccountSettings,
    http: Arc<reqwest::Client>,
    /// For [`AccountAuth::Token`]: the managed identity (or the process's credential).
    credential: Option<Arc<dyn TokenCredential>>,
}

/// Why a storage client could not be made or a call failed, in words for the log and results.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

impl StorageAccount {
    /// Makes the account `settings` name, reached through `http`, with `credential` for token
    /// authentication.
    pub fn new(
        settings: AccountSettings,
        http: reqwest::Client,
        credential: Option<Arc<dyn TokenCredential>>,
    ) -> StorageAccount {
        StorageAccount {
            settings,
            http: Arc::new(http),
            credential,
        }
    }

    /// The settings the account was made from.
    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    /// Says where the account is, for a log line (no key, no signature).
    pub(crate) fn describe(&self) -> String {
        let endpoints: Vec<&str> = [&self.settings.blob, &self.settings.queue]
            .into_iter()
            .flatten()
            .map(Url::as_str)
            .collect();
        let auth = match &self.settings.auth {
            AccountAuth::Token { managed_identity } => match managed_identity {
                Some(ManagedIdentity {
                    client_id: Some(client_id),
                }) => format!("managed identity {client_id}"),
                Some(_) => "the system-assigned managed identity".to_owned(),
                None => "the app's credential".to_owned(),
            },
            AccountAuth::SharedKey { account, .. } => format!("the key of {account}"),
            AccountAuth::Sas { .. } => "a SAS".to_owned(),
        };
        format!("{} ({auth})", endpoints.join(", "))
    }

    /// Makes a client for the blob service.
    ///
    /// # Errors
    ///
    /// When the account has no blob endpoint, or the client cannot be made.
    pub fn blob_service(&self) -> Result<BlobServiceClient, StorageError> {
        let endpoint =
            self.settings.blob.as_ref().ok_or_else(|| {
                StorageError("the storage account has no blob endpoint".to_owned())
            })?;
        let (url, credential) = self.authorised(endpoint)?;
        BlobServiceClient::new(
            url,
            credential,
            Some(BlobServiceClientOptions {
                client_options: self.client_options(),
                ..BlobServiceClientOptions::default()
            }),
        )
        .map_err(|error| StorageError(format!("no blob client: {error}")))
    }

    /// Makes a client for the queue `name`.
    ///
    /// # Errors
    ///
    /// When the account has no queue endpoint, or the client cannot be made.
    pub(crate) fn queue(&self, name: &str) -> Result<QueueClient, StorageError> {
        let endpoint =
            self.settings.queue.as_ref().ok_or_else(|| {
                StorageError("the storage account has no queue endpoint".to_owned())
            })?;
        let (url, credential) = self.authorised(endpoint)?;
        QueueServiceClient::new(
            url,
            credential,
            Some(QueueServiceClientOptions {
                client_options: self.client_options(),
                ..QueueServiceClientOptions::default()
            }),
        )
        .and_then(|service| service.queue_client(name))
        .map_err(|error| StorageError(format!("no client for the queue {name}: {error}")))
    }

    /// Returns the endpoint with what authorises requests to it: a SAS in the query, or a
    /// credential.
    fn authorised(
        &self,
        endpoint: &Url,
    ) -> Result<(Url, Option<Arc<dyn TokenCredential>>), StorageError> {
        let mut url = endpoint.clone();
        match &self.settings.auth {
            AccountAuth::Token { .. } => {
                let credential = self.credential.clone().ok_or_else(|| {
                    StorageError("no credential for the storage account".to_owned())
                })?;
                Ok((url, Some(credential)))
            }
            AccountAuth::SharedKey { account, key } => {
                let sas = sas::account_sas(account, key, SystemTime::now(), SAS_VALIDITY).map_err(
                    |_| {
                        StorageError(
                            "the storage account key is not base64 (AccountKey)".to_owned(),
                        )
                    },
                )?;
                url.set_query(Some(&sas));
                Ok((url, None))
            }
            AccountAuth::Sas { query } => {
                url.set_query(Some(query));
                Ok((url, None))
            }
        }
    }

    /// Makes the client options: our HTTP client as the transport, and retries short enough
    /// that a storage account that does not answer costs seconds, not azure_core's default
    /// minute.
    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(Transport::new(self.http.clone())),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: azure_core::time::Duration::milliseconds(100),
                max_retries: 2,
                max_total_elapsed: azure_core::time::Duration::seconds(5),
                max_delay: azure_core::time::Duration::seconds(1),
            }),
            ..ClientOptions::default()
        }
    }
}

/// Reads the HTTP status and storage error code of a failed call, for the callers that act on
/// them (`409 LeaseAlreadyPresent`, `404 BlobNotFound`).
pub(crate) fn status_and_code(error: &azure_core::Error) -> (Option<u16>, Option<&str>) {
    match error.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            status, error_code, ..
        } => (Some(u16::from(*status)), error_code.as_deref()),
        _ => (None, None),
    }
}

/// Puts a storage failure into words: the status and code when the service answered, else the
/// first line of the error (never the URL, which may carry a SAS).
pub(crate) fn describe_error(error: &azure_core::Error) -> String {
    match status_and_code(error) {
        (Some(status), Some(code)) => format!("{status} {code}"),
        (Some(status), None) => format!("{status}"),
        _ => error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .split(" for url")
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}
