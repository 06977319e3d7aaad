//! Builds the handler from its configuration: the HTTP client, the credential, the Graph
//! client, the shared state, and the listener. `main` and the tests both start here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::readiness::Readiness;
use crate::app::{self, AppState};
use crate::claim::Claims;
use crate::config::Config;
use crate::credential;
use crate::credential::CredentialSource;
use crate::graph::{EndpointError, GraphClient};
use crate::notify::Notifier;
use crate::owner::OwnerSearch;
use crate::policy::Policies;
use crate::protection::{AzureReader, Protection};
use crate::runbook::Services;
use crate::storage::leases::UserLeases;
use crate::storage::{AccountAuth, AccountSettings, StorageAccount};

/// How long connecting to the identity endpoint may take (it runs on the same host).
const IDENTITY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A handler, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
}

/// Why the handler could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("could not build the credential")]
    Credential(#[source] azure_core::Error),
    #[error("could not build the Graph client")]
    Graph(#[source] EndpointError),
    #[error("could not listen on 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

impl StartupError {
    /// The error with its causes, for the one line the process logs before it exits.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&error.to_string());
            cause = error.source();
        }
        text
    }
}

impl Application {
    /// Builds everything and binds `127.0.0.1:{config.port}`. Quick: the numbering plan
    /// and the first token are fetched in the background, so the host's readiness probe is
    /// answered at once.
    ///
    /// # Errors
    ///
    /// A [`StartupError`] saying which part failed.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        crate::install_crypto_provider();
        let clients = HttpClients::new(&config)?;
        let credential = credential::build(
            &config.credential,
            &config.graph_endpoint,
            clients.identity.clone(),
        )
        .map_err(StartupError::Credential)?;
        let readiness = readiness(&config, &credential, clients.identity.clone())?;
        let leases = leases(&config, &credential, clients.identity)?;
        let protection = protection(&config, clients.graph.clone(), credential.clone());
        let graph = GraphClient::new(
            clients.graph,
            &config.graph_endpoint,
            credential,
            config.retry.clone(),
        )
        .map_err(StartupError::Graph)?;
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| StartupError::Bind {
                port: config.port,
                source,
            })?;
        log_configuration(&config, leases.as_ref());
        tokio::task::spawn_blocking(crate::phone::warm_up);
        let state = Arc::new(AppState {
            services: services(&config, graph, protection, leases),
            max_dequeue_count: config.max_dequeue_count,
            http_budget: config.http_budget,
            callers: config.callers.clone(),
            tokens: crate::entra::TokenChecker::new(config.queue_tokens.clone(), clients.keys),
            queue_budget: config.invocation_budget,
            replays: crate::replay::Replays::default(),
            grants: std::sync::Mutex::new(crate::permissions::Review::default()),
            readiness,
        });
        keep_fresh(state.clone(), &config);
        Ok(Application { listener, state })
    }

    /// The address the handler listens on.
    ///
    /// # Errors
    ///
    /// When the socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; invocations in progress finish first.
    ///
    /// # Errors
    ///
    /// When the listener fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        app::serve(self.listener, self.state, shutdown).await
    }
}

/// The HTTP clients the handler talks through.
struct HttpClients {
    /// For Graph and Azure Resource Manager.
    graph: reqwest::Client,
    /// For the tenant's token signing keys (queue callers), the same client as Graph's; each
    /// reading is bounded by entra's own wait.
    keys: reqwest::Client,
    /// For the identity endpoint, with every request bounded: one that accepts the connection
    /// and never answers must not hold the token for long.
    identity: reqwest::Client,
}

impl HttpClients {
    /// Builds the clients; none follows a redirect, so that a token never leaves its origin.
    fn new(config: &Config) -> Result<HttpClients, StartupError> {
        let graph = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("mfa-phone-handler/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(StartupError::HttpClient)?;
        let identity = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(IDENTITY_CONNECT_TIMEOUT)
            .timeout(config.retry.token_wait)
            .user_agent(concat!("mfa-phone-handler/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(StartupError::HttpClient)?;
        Ok(HttpClients {
            keys: graph.clone(),
            graph,
            identity,
        })
    }
}

/// Sets up the readiness scans' storage when a storage account with blob and queue endpoints
/// is configured. When the scans cannot be kept the handler still starts, and says so in the
/// log.
fn readiness(
    config: &Config,
    credential: &Arc<dyn azure_core::credentials::TokenCredential>,
    identity_http: reqwest::Client,
) -> Result<Option<Readiness>, StartupError> {
    let account = match &config.readiness.storage {
        Some(account) if account.blob.is_some() && account.queue.is_some() => account,
        _ => return Ok(None),
    };
    let account = storage_account(config, account, credential, identity_http)?;
    match Readiness::new(
        config.readiness.clone(),
        account,
        config.cleanup_key.clone(),
    ) {
        Ok(readiness) => Ok(Some(readiness)),
        Err(error) => {
            tracing::warn!("the readiness scans cannot be kept: {error}");
            Ok(None)
        }
    }
}

/// Sets up the per-user leases in the storage account when it has a blob endpoint; without
/// one, work for one user is serialised on this instance only.
fn leases(
    config: &Config,
    credential: &Arc<dyn azure_core::credentials::TokenCredential>,
    identity_http: reqwest::Client,
) -> Result<Option<UserLeases>, StartupError> {
    match &config.leases {
        Some(account) if account.blob.is_some() => Ok(Some(UserLeases::new(storage_account(
            config,
            account,
            credential,
            identity_http,
        )?))),
        Some(_) => {
            tracing::warn!(
                "the storage account is configured without a blob endpoint \
                 (AzureWebJobsStorage__blobServiceUri): the per-user leases need one"
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Sets up the protected accounts, reading the Azure side's role assignments when
/// MFA_AZURE_CONTROL_SCOPES names the app's resources; the log says which.
fn protection(
    config: &Config,
    http: reqwest::Client,
    credential: Arc<dyn azure_core::credentials::TokenCredential>,
) -> Protection {
    let protection = Protection::new(config.protection.clone());
    match &config.protection.azure {
        Some(azure) => {
            tracing::info!(
                arm = %azure.endpoint,
                "whoever controls the app on the Azure side is protected: the role \
                 assignments and PIM eligibilities at, above and below {} scopes \
                 (MFA_AZURE_CONTROL_SCOPES) are read",
                azure.scopes.len()
            );
            protection.with_azure(AzureReader::new(
                http,
                azure,
                credential,
                config.retry.clone(),
            ))
        }
        None => {
            tracing::warn!(
                "MFA_AZURE_CONTROL_SCOPES is not set: the Azure side is not protected (an \
                 Owner, Contributor or Website Contributor of the Function App, or a blob \
                 writer on its storage, can still have their phone set); every result says so"
            );
            protection
        }
    }
}

/// Says in the log how the handler is configured, warning of every setting that weakens a
/// safeguard, so that an operator reading the start-up lines sees it.
fn log_configuration(config: &Config, leases: Option<&UserLeases>) {
    tracing::info!(
        graph = %config.graph_endpoint,
        credential = %credential::describe(&config.credential),
        "configured"
    );
    if !config.callers.require_app_role {
        tracing::warn!(
            "MFA_REQUIRE_APP_ROLE=false: any caller Microsoft Entra authenticated for the API \
             may change phone methods; every result and log says so"
        );
    }
    if config.callers.require_app_role {
        if config.callers.allow_key_only {
            tracing::warn!(
                "MFA_ALLOW_KEY_ONLY_CALLERS=true: a request with the function key alone (no \
                 caller Microsoft Entra authenticated) is carried out, unseen"
            );
        } else {
            tracing::info!(
                "MFA_ALLOW_KEY_ONLY_CALLERS=false: a request with the function key alone is \
                 refused (unauthenticatedCaller); callers need a token with the API's app role"
            );
        }
    }
    if config.callers.allow_guests {
        tracing::warn!("MFA_ALLOW_GUEST_CALLERS=true: B2B guests of the tenant count as callers");
    }
    if config.queue_tokens.require_caller {
        tracing::info!("{}", config.queue_tokens.describe());
    } else {
        tracing::warn!("{}", config.queue_tokens.describe());
    }
    if config.callers.require_authenticated && config.callers.tenant_id.is_none() {
        tracing::warn!(
            "MFA_TENANT_ID is not set: a caller's tenant is not checked (App Service \
             authentication's issuer still is)"
        );
    }
    match leases {
        Some(leases) => tracing::info!(
            "work for one user is serialised across instances by leases in {}",
            leases.describe()
        ),
        None => tracing::warn!(
            "no storage account is configured for leases (AzureWebJobsStorage with a blob \
             endpoint, or MFA_USER_LEASES=false): work for one user is serialised on this \
             instance only"
        ),
    }
}

/// Assembles what the runbook works with: the Graph client, the protected accounts and the
/// leases built before it, and the rest from the configuration.
fn services(
    config: &Config,
    graph: GraphClient,
    protection: Protection,
    leases: Option<UserLeases>,
) -> Services {
    Services {
        graph,
        claims: Claims::new(leases, config.lease_wait),
        concurrency: tokio::sync::Semaphore::new(config.max_concurrent_users),
        verification: config.verification,
        owner_search: OwnerSearch::new(config.owner_search.clone()),
        notifier: Notifier::new(config.notify.clone()),
        protection,
        policies: Policies::new(config.policy_refresh, config.policy_check),
        cleanup_key: config.cleanup_key.clone(),
        safeguards: config.safeguards,
        #[cfg(feature = "simulator")]
        test_panic_caller: config.test_panic_caller.clone(),
    }
}

/// Starts the background work that keeps the handler's view of the tenant fresh: the first
/// token, the review of the identity's Graph grants, the protected accounts and the method
/// policies. It runs in the background so that `build` returns at once and the host's
/// readiness probe is answered.
fn keep_fresh(state: Arc<AppState>, config: &Config) {
    let review_every = config.protection.refresh_every;
    let features = crate::permissions::Features {
        owner_search: config.owner_search.enabled,
        notifications: config.notify.sender.is_some(),
        organization_name_from_graph: config.notify.organization_name.is_none(),
        privileged_roles: config.protection.check_roles,
        protected_groups: !config.protection.protected_groups.is_empty(),
        method_policy: config.policy_check,
    };
    tokio::spawn(async move {
        let services = &state.services;
        services.graph.prefetch_token().await;
        tokio::join!(
            keep_reviewing_grants(&state, features, review_every),
            services.protection.keep_fresh(&services.graph),
            services.policies.keep_fresh(&services.graph)
        );
    });
}

/// Connects to the storage account `account` names (for the per-user leases and the readiness
/// scans). Its tokens come from its managed identity (or the process's credential when it names
/// none), and each request is bounded to 10 s.
fn storage_account(
    config: &Config,
    account: &AccountSettings,
    credential: &Arc<dyn azure_core::credentials::TokenCredential>,
    identity_http: reqwest::Client,
) -> Result<StorageAccount, StartupError> {
    let storage_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(STORAGE_REQUEST_TIMEOUT)
        .user_agent(concat!("mfa-phone-handler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(StartupError::HttpClient)?;
    let storage_credential = match &account.auth {
        AccountAuth::Token {
            managed_identity: Some(identity),
        } => Some(
            credential::build(
                &CredentialSource::ManagedIdentity {
                    client_id: identity.client_id.clone(),
                },
                &config.graph_endpoint,
                identity_http,
            )
            .map_err(StartupError::Credential)?,
        ),
        AccountAuth::Token {
            managed_identity: None,
        } => Some(credential.clone()),
        AccountAuth::SharedKey { .. } | AccountAuth::Sas { .. } => None,
    };
    Ok(StorageAccount::new(
        account.clone(),
        storage_http,
        storage_credential,
    ))
}

/// The longest one request to the storage account may take.
const STORAGE_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the Graph roles the identity's token grants at start-up and again every `every` (the
/// token is renewed now and then, with the grants made since), and says in the log, when the
/// answer is new, which the settings need and it lacks and which broader method rights it
/// holds (every result warns of those while it does).
async fn keep_reviewing_grants(
    state: &AppState,
    features: crate::permissions::Features,
    every: Duration,
) {
    let mut last = None;
    loop {
        review_grants(state, features, &mut last).await;
        tokio::time::sleep(every).await;
    }
}

/// Reviews the grants once, and logs the review only when it differs from `last`.
async fn review_grants(
    state: &AppState,
    features: crate::permissions::Features,
    last: &mut Option<crate::permissions::Review>,
) {
    let granted = match state.services.graph.granted_roles().await {
        Ok(Some(granted)) => granted,
        Ok(None) => {
            tracing::info!("the Graph token does not list its roles: the grants are not checked");
            return;
        }
        Err(reason) => {
            tracing::warn!("the Graph token's roles could not be read: {reason}");
            return;
        }
    };
    let review = crate::permissions::review(&granted, features);
    if last.as_ref() == Some(&review) {
        return;
    }
    *last = Some(review.clone());
    // The review is kept before it is logged, so that a result after the log line already
    // warns.
    *crate::mutex::lock(&state.grants) = review.clone();
    if review.missing.is_empty() {
        tracing::info!(
            "the Graph token holds every permission the settings need ({} roles)",
            granted.len()
        );
    } else {
        let missing: Vec<String> = review
            .missing
            .iter()
            .map(|needed| format!("{} ({})", needed.role, needed.why))
            .collect();
        tracing::warn!(
            "the Graph token lacks {}: grant them to the app's managed identity (DEPLOY.md, \
             Granting the Graph roles separately); a token issued before the grants is kept by \
             the platform for up to 24 hours and gets them when it is renewed (a restart does \
             not help), and this log says so then",
            missing.join(", ")
        );
    }
    for needed in &review.maybe_elsewhere {
        tracing::info!(
            "the Graph token has no {} ({}): fine when it is granted in Exchange Online (RBAC for \
             Applications, scoped to the sender mailbox); otherwise grant it",
            needed.role,
            needed.why
        );
    }
    if !review.broader.is_empty() {
        tracing::warn!(
            "the Graph token holds {}, broader than this app needs (phone methods only): remove \
             it (DEPLOY.md, Removing the broad role an earlier deployment granted); every result \
             warns excessGraphPermissions until it is gone",
            review.broader.join(", ")
        );
    }
}
