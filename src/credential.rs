//! Builds the process's one token credential, from azure_identity.
//!
//! It is built once at start-up and shared, so its token cache (refresh five minutes before
//! expiry, one request for concurrent misses) serves every invocation. Its HTTP retries are
//! kept short: a token endpoint that is down should surface as a transient failure within
//! seconds, not after azure_core's default minute. [`CredentialSource`] says where tokens come
//! from (`config` reads it from `MFA_CREDENTIAL`); the command-line tools' own sign-in is
//! [`developer_sign_in`].

use std::sync::Arc;

use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::Secret;
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use url::Url;

/// Where tokens come from.
pub enum CredentialSource {
    /// The Function App's managed identity (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`);
    /// `client_id` picks a user-assigned identity.
    ManagedIdentity { client_id: Option<String> },
    /// An app registration's client secret, for runs outside Azure.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: Secret,
    },
    /// The developer's Azure CLI (or azd) login, when asked for explicitly.
    DeveloperTools,
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
            CredentialSource::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            CredentialSource::DeveloperTools => f.write_str("DeveloperTools"),
        }
    }
}

/// Makes a credential from the admin's own sign-in (the Azure CLI's or azd's), for the
/// command-line tools: a token for the API's audience, or for the storage account.
///
/// # Errors
///
/// When no developer tool is there to sign in with (the message says what to run).
pub(crate) fn developer_sign_in() -> Result<Arc<dyn TokenCredential>, String> {
    let credential = DeveloperToolsCredential::new(None)
        .map_err(|error| format!("no developer sign-in available (az login?): {error}"))?;
    Ok(credential)
}

/// Builds the credential `source` describes, sending its HTTP through `http`.
///
/// # Errors
///
/// When azure_identity refuses the configuration (for example a malformed tenant id).
pub fn build(
    source: &CredentialSource,
    graph_endpoint: &Url,
    http: reqwest::Client,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 2,
            max_total_elapsed: azure_core::time::Duration::seconds(5),
            max_delay: azure_core::time::Duration::seconds(2),
        }),
        ..ClientOptions::default()
    };
    let credential: Arc<dyn TokenCredential> = match source {
        CredentialSource::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            }))?
        }
        CredentialSource::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => {
            let client_options = ClientOptions {
                cloud: cloud_for(graph_endpoint).map(Arc::new),
                ..client_options
            };
            ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                secret.clone(),
                Some(ClientSecretCredentialOptions { client_options }),
            )?
        }
        CredentialSource::DeveloperTools => DeveloperToolsCredential::new(None)?,
    };
    Ok(credential)
}

/// Finds the sovereign cloud whose sign-in authority matches a national Graph endpoint. `None`
/// leaves azure_identity's default (the global cloud, or `AZURE_AUTHORITY_HOST`).
fn cloud_for(graph_endpoint: &Url) -> Option<CloudConfiguration> {
    match graph_endpoint.host_str()? {
        "graph.microsoft.us" | "dod-graph.microsoft.us" => {
            Some(CloudConfiguration::AzureGovernment)
        }
        "microsoftgraph.chinacloudapi.cn" => Some(CloudConfiguration::AzureChina),
        _ => None,
    }
}

/// Describes the source in short for the start-up log line; never includes a secret.
pub(crate) fn describe(source: &CredentialSource) -> String {
    match source {
        CredentialSource::ManagedIdentity { client_id: None } => {
            "system-assigned managed identity".to_owned()
        }
        CredentialSource::ManagedIdentity {
            client_id: Some(client_id),
        } => format!("user-assigned managed identity (client id {client_id})"),
        CredentialSource::ClientSecret { client_id, .. } => {
            format!("client secret of app {client_id}")
        }
        CredentialSource::DeveloperTools => "developer tools (Azure CLI or azd)".to_owned(),
    }
}
