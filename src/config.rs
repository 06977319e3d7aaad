//! The handler's configuration, read once from the environment (Functions app settings are
//! environment variables) and passed explicitly from there on.
//!
//! Reading never touches the process environment directly: [`Config::from_lookup`] takes a
//! lookup function, so tests build configurations without mutating global state. Every
//! problem is reported at once, naming the variable.

use std::time::Duration;

use azure_core::credentials::Secret;
use url::Url;

use crate::caller::CallerPolicy;
use crate::credential::CredentialSource;
use crate::entra::{DEFAULT_AUTHORITY, TokenSettings};
use crate::graph::RetrySettings;
use crate::notify::{NotifySettings, ServiceDesk};
use crate::owner::OwnerSearchSettings;
use crate::protection::{AzureSettings, DEFAULT_ARM_ENDPOINT, ProtectionSettings};
use crate::runbook::Safeguards;
use crate::storage::AccountSettings;
use crate::user::UserRef;

pub(crate) mod env;

use env::Env;

/// Everything the handler needs to know before it serves.
#[derive(Debug)]
pub struct Config {
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`; 0 picks a free port (tests and the demo).
    pub(crate) port: u16,
    /// `GRAPH_ENDPOINT`: the Graph root for the cloud, without the version.
    pub(crate) graph_endpoint: Url,
    pub(crate) credential: CredentialSource,
    pub(crate) retry: RetrySettings,
    /// The host's `maxDequeueCount`: on that attempt a transient failure becomes a result.
    pub(crate) max_dequeue_count: u64,
    /// How many users are worked on at once; more invocations wait.
    pub(crate) max_concurrent_users: usize,
    /// The most a queue-triggered invocation may take (inside host.json's `functionTimeout`).
    pub(crate) invocation_budget: Duration,
    /// The most an HTTP-triggered invocation may take: its caller must get an answer (Logic
    /// Apps abandons an outbound call after 120 s; the front end after ~230 s).
    pub(crate) http_budget: Duration,
    /// Requests from a caller of this name panic (simulator builds only), to test that a
    /// panic costs one invocation.
    #[cfg(feature = "simulator")]
    pub(crate) test_panic_caller: Option<String>,
    /// How long to keep re-reading a write's outcome before deciding (after a 409
    /// `phoneNumberNotUnique`, or a refusal the tenant's state does not explain).
    pub(crate) verification: Duration,
    pub(crate) owner_search: OwnerSearchSettings,
    /// The e-mail to the user that `NotifyUser` asks for.
    pub(crate) notify: NotifySettings,
    /// Who may call the HTTP trigger, beyond the function key.
    pub(crate) callers: CallerPolicy,
    /// Who may send to the request queue, and how their tokens are checked.
    pub(crate) queue_tokens: TokenSettings,
    /// Whose methods are never changed.
    pub(crate) protection: ProtectionSettings,
    /// How the whole MFA picture is weighed (`MFA_TELEPHONY`, `MFA_LAST_METHOD_REMOVAL`).
    pub(crate) safeguards: Safeguards,
    /// How often the Authentication methods policy is read again.
    pub(crate) policy_refresh: Duration,
    /// Whether the policy is read at all (`MFA_METHOD_POLICY_CHECK`): off for deployments that
    /// do not grant its permission, which would otherwise warn `policyUnknown` every time.
    pub(crate) policy_check: bool,
    /// The app's storage account (`AzureWebJobsStorage`, as the host's bindings read it), for
    /// the per-user leases; `None` when none is configured or `MFA_USER_LEASES=false`.
    pub(crate) leases: Option<AccountSettings>,
    /// How long an invocation waits for a user's lease another instance holds
    /// (`MFA_LEASE_WAIT_SECONDS`).
    pub(crate) lease_wait: Duration,
    /// `MFA_CLEANUP_KEY`: the secret the readiness scan keys `cleanup.csv`'s number
    /// fingerprints with, and the handler checks them with.
    pub(crate) cleanup_key: Option<crate::phone::CleanupKey>,
    /// The readiness scans the Function App runs (timer, queue) and serves (HTTP).
    pub(crate) readiness: crate::app::readiness::ReadinessSettings,
}

/// Configuration problems, each naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", problems.join("\n  - "))]
pub struct ConfigError {
    pub(crate) problems: Vec<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] listing every variable that is missing or malformed.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] listing every variable that is missing or malformed.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env = Env {
            lookup: &|name| lookup(name).filter(|value| !value.trim().is_empty()),
            problems: std::cell::RefCell::new(Vec::new()),
        };
        // The settings are read in this order so that the problems are listed in it.
        let port = port(&env);
        let graph = graph(&env);
        let invocations = invocations(&env);
        let owner_search = owner_search(&env);
        let notify = notify(&env);
        let callers = callers(&env);
        let queue_tokens = queue_tokens(&env, callers.tenant_id.clone());
        let protection = protection(&env);
        let safeguards = safeguards(&env);
        let policy_refresh = env.seconds("MFA_POLICY_REFRESH_SECONDS", 300.0, 10.0, 3600.0);
        let policy_check = env.flag("MFA_METHOD_POLICY_CHECK", true);
        let leases = leases(&env);
        let cleanup_key = cleanup_key(&env);
        let readiness = readiness(&env);
        let problems = env.problems.into_inner();
        match graph.endpoint {
            Some(graph_endpoint) if problems.is_empty() => Ok(Config {
                port,
                graph_endpoint,
                credential: graph.credential,
                retry: graph.retry,
                max_dequeue_count: invocations.max_dequeue_count,
                max_concurrent_users: invocations.max_concurrent_users,
                invocation_budget: invocations.invocation_budget,
                http_budget: invocations.http_budget,
                #[cfg(feature = "simulator")]
                test_panic_caller: invocations.test_panic_caller,
                verification: invocations.verification,
                owner_search,
                notify,
                callers,
                queue_tokens,
                protection,
                safeguards,
                policy_refresh,
                policy_check,
                leases: leases.account,
                lease_wait: leases.wait,
                cleanup_key,
                readiness,
            }),
            _ => Err(ConfigError { problems }),
        }
    }
}

/// Reads the port the Functions host tells the handler to listen on.
fn port(env: &Env<'_>) -> u16 {
    let port = match env
        .get("FUNCTIONS_CUSTOMHANDLER_PORT")
        .or_else(|| env.get("FUNCTIONS_HTTPWORKER_PORT"))
    {
        Some(value) => env.parse_number("FUNCTIONS_CUSTOMHANDLER_PORT", &value, 0, 65535),
        None => {
            env.problem(
                "FUNCTIONS_CUSTOMHANDLER_PORT is not set: the Functions host sets it; for a \
                 local run set it yourself, or run `mfa-phone-handler demo`",
            );
            0
        }
    };
    u16::try_from(port).unwrap_or(0)
}

/// How the handler reaches Graph.
struct GraphAccess {
    /// `None` when `GRAPH_ENDPOINT` is malformed (its problem is recorded).
    endpoint: Option<Url>,
    credential: CredentialSource,
    retry: RetrySettings,
}

/// Reads where Graph is, the credential the handler gets its tokens with, and how its requests
/// are bounded and retried.
fn graph(env: &Env<'_>) -> GraphAccess {
    GraphAccess {
        endpoint: graph_endpoint(env),
        credential: credential(env),
        retry: RetrySettings {
            max_attempts: env.number("MFA_GRAPH_MAX_ATTEMPTS", 5, 1, 20),
            budget: env.seconds("MFA_GRAPH_RETRY_BUDGET_SECONDS", 30.0, 0.0, 600.0),
            attempt_timeout: env.seconds("MFA_GRAPH_TIMEOUT_SECONDS", 15.0, 0.1, 120.0),
            token_wait: env.seconds("MFA_TOKEN_TIMEOUT_SECONDS", 5.0, 0.1, 60.0),
            backoff_base: env.seconds("MFA_GRAPH_BACKOFF_SECONDS", 0.5, 0.0, 60.0),
            backoff_cap: env.seconds("MFA_GRAPH_BACKOFF_CAP_SECONDS", 8.0, 0.0, 300.0),
        },
    }
}

/// How much one invocation may take, and how many run at once: the fields of [`Config`] of the
/// same names.
struct Invocations {
    max_dequeue_count: u64,
    max_concurrent_users: usize,
    invocation_budget: Duration,
    http_budget: Duration,
    #[cfg(feature = "simulator")]
    test_panic_caller: Option<String>,
    verification: Duration,
}

/// Reads the limits on one invocation and on how many run at once.
fn invocations(env: &Env<'_>) -> Invocations {
    Invocations {
        max_dequeue_count: env.number("MFA_QUEUE_MAX_DEQUEUE_COUNT", 5, 1, 1000),
        max_concurrent_users: env.number("MFA_MAX_CONCURRENT_USERS", 16, 1, 1024),
        invocation_budget: env.seconds("MFA_INVOCATION_BUDGET_SECONDS", 200.0, 5.0, 3600.0),
        http_budget: env.seconds("MFA_HTTP_BUDGET_SECONDS", 100.0, 5.0, 225.0),
        #[cfg(feature = "simulator")]
        test_panic_caller: env.get("MFA_TEST_PANIC_CALLER"),
        verification: env.seconds("MFA_VERIFY_SECONDS", 4.0, 0.0, 60.0),
    }
}

/// Reads how the owners of a number are searched for.
fn owner_search(env: &Env<'_>) -> OwnerSearchSettings {
    OwnerSearchSettings {
        enabled: env.flag("MFA_OWNER_SEARCH", true),
        budget: env.seconds("MFA_OWNER_SEARCH_BUDGET_SECONDS", 90.0, 1.0, 3600.0),
        max_batches_in_flight: env.number("MFA_OWNER_SEARCH_BATCHES", 16, 1, 64),
        remember_for: env.seconds("MFA_OWNER_CACHE_SECONDS", 900.0, 0.0, 86_400.0),
    }
}

/// Reads who sends the e-mail to the user and what it says about the organisation.
fn notify(env: &Env<'_>) -> NotifySettings {
    NotifySettings {
        sender: env.get("MFA_NOTIFY_SENDER").and_then(|value| {
            UserRef::parse(&value)
                .map_err(|error| {
                    env.problem(format!(
                        "MFA_NOTIFY_SENDER must be the sending mailbox's address or object id: {error}"
                    ));
                })
                .ok()
        }),
        organization_name: env.text("MFA_NOTIFY_ORGANIZATION_NAME"),
        service_desk: ServiceDesk {
            name: env.text("MFA_NOTIFY_SERVICE_DESK_NAME"),
            email: env.text("MFA_NOTIFY_SERVICE_DESK_EMAIL"),
            phone: env.text("MFA_NOTIFY_SERVICE_DESK_PHONE"),
        },
    }
}

/// Reads who may call the HTTP trigger, beyond the function key.
fn callers(env: &Env<'_>) -> CallerPolicy {
    CallerPolicy {
        require_authenticated: env.flag("MFA_REQUIRE_AUTHENTICATED_CALLER", false),
        require_app_role: env.flag("MFA_REQUIRE_APP_ROLE", true),
        tenant_id: env.id("MFA_TENANT_ID"),
        allowed: env.id_list("MFA_ALLOWED_CALLERS"),
        allowed_client_apps: env.id_list("MFA_ALLOWED_CLIENT_APPS"),
        allow_key_only: env.flag("MFA_ALLOW_KEY_ONLY_CALLERS", false),
        allow_guests: env.flag("MFA_ALLOW_GUEST_CALLERS", false),
    }
}

/// Reads who may send to the request queue; their tokens come from the callers' tenant.
fn queue_tokens(env: &Env<'_>, tenant_id: Option<String>) -> TokenSettings {
    TokenSettings {
        require_caller: env.flag("MFA_QUEUE_REQUIRE_CALLER", false),
        authority: entra_authority(env),
        tenant_id,
        api_client_id: env.id("MFA_API_CLIENT_ID"),
    }
}

/// Reads whose methods are never changed, in the tenant and on the Azure side.
fn protection(env: &Env<'_>) -> ProtectionSettings {
    ProtectionSettings {
        check_roles: !env.flag("MFA_ALLOW_PRIVILEGED_TARGETS", false),
        protected_groups: env.id_list("MFA_PROTECTED_GROUP_IDS"),
        refresh_every: env.seconds("MFA_PROTECTION_REFRESH_SECONDS", 300.0, 10.0, 3600.0),
        azure: azure_control(env),
    }
}

/// Reads how the whole MFA picture is weighed before a change.
fn safeguards(env: &Env<'_>) -> Safeguards {
    Safeguards {
        customer_managed_telephony: env.choice(
            "MFA_TELEPHONY",
            &["microsoft", "customermanaged"],
            "microsoft",
        ) == "customermanaged",
        refuse_last_method_removal: env.choice(
            "MFA_LAST_METHOD_REMOVAL",
            &["warn", "refuse"],
            "warn",
        ) == "refuse",
    }
}

/// The per-user leases: the fields `leases` and `lease_wait` of [`Config`].
struct Leases {
    account: Option<AccountSettings>,
    wait: Duration,
}

/// Reads the storage account the per-user leases are kept in, unless `MFA_USER_LEASES=false`,
/// and how long an invocation waits for a lease another instance holds.
fn leases(env: &Env<'_>) -> Leases {
    let account = match AccountSettings::from_lookup(|name| env.get(name)) {
        Ok(account) => account.filter(|_| env.flag("MFA_USER_LEASES", true)),
        Err(problem) => {
            env.problem(problem);
            None
        }
    };
    Leases {
        account,
        wait: env.seconds("MFA_LEASE_WAIT_SECONDS", 30.0, 1.0, 180.0),
    }
}

/// Reads the secret the readiness scan keys its number fingerprints with.
fn cleanup_key(env: &Env<'_>) -> Option<crate::phone::CleanupKey> {
    env.get("MFA_CLEANUP_KEY").and_then(|key| {
        crate::phone::CleanupKey::new(&key)
            .map_err(|problem| env.problem(problem))
            .ok()
    })
}

/// Reads the readiness scans' settings. Their storage is the app's own account; a problem
/// with it is reported once, by [`leases`].
fn readiness(env: &Env<'_>) -> crate::app::readiness::ReadinessSettings {
    crate::app::readiness::ReadinessSettings {
        storage: AccountSettings::from_lookup(|name| env.get(name))
            .ok()
            .flatten(),
        retention_days: env.number("MFA_READINESS_RETENTION_DAYS", 90, 1, 3650),
        per_user: env.flag("MFA_READINESS_PER_USER", false),
        budget: env.seconds("MFA_READINESS_BUDGET_SECONDS", 3300.0, 60.0, 86_400.0),
    }
}

/// The default Graph endpoint, the global cloud.
pub(crate) const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com";

fn graph_endpoint(env: &Env<'_>) -> Option<Url> {
    let parsed = endpoint(
        env,
        "GRAPH_ENDPOINT",
        DEFAULT_GRAPH_ENDPOINT,
        "https://graph.microsoft.us",
    )?;
    if parsed.path().trim_end_matches('/').ends_with("/v1.0") {
        env.problem("GRAPH_ENDPOINT must not include the API version: leave out /v1.0");
    }
    Some(parsed)
}

/// Reads a service's root URL from `name` (`default` when unset). It must be https (plain http
/// only on loopback, for the simulator), with no query, fragment or user.
fn endpoint(env: &Env<'_>, name: &str, default: &str, example: &str) -> Option<Url> {
    let value = env.get(name).unwrap_or_else(|| default.to_owned());
    let parsed = match Url::parse(value.trim()) {
        Ok(url) => url,
        Err(error) => {
            env.problem(format!("{name} is not a URL: {error}"));
            return None;
        }
    };
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let acceptable = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
    if !acceptable {
        env.problem(format!(
            "{name} must use https (plain http is accepted only on loopback, for the simulator)"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        env.problem(format!("{name} must be a bare origin such as {example}"));
    }
    Some(parsed)
}

/// Microsoft Entra's login hosts, one per cloud (global, US Government, 21Vianet's two names):
/// the queue's caller tokens are checked against keys read from one of them, never from a host
/// a setting names at will (whoever served the keys would choose the callers).
const ENTRA_LOGIN_HOSTS: [&str; 5] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
];

/// Reads `MFA_ENTRA_AUTHORITY`: Microsoft Entra's login endpoint for the cloud, where the
/// tenant's token signing keys are published.
fn entra_authority(env: &Env<'_>) -> Url {
    let fallback = || Url::parse(DEFAULT_AUTHORITY).unwrap_or_else(|_| unreachable!());
    let Some(value) = env.get("MFA_ENTRA_AUTHORITY") else {
        return fallback();
    };
    let Ok(parsed) = Url::parse(value.trim()) else {
        env.problem("MFA_ENTRA_AUTHORITY is not a URL (e.g. https://login.microsoftonline.us)");
        return fallback();
    };
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let entra = parsed
        .host_str()
        .is_some_and(|host| ENTRA_LOGIN_HOSTS.contains(&host.to_ascii_lowercase().as_str()));
    if !((parsed.scheme() == "https" && (entra || loopback))
        || (parsed.scheme() == "http" && loopback))
        || parsed.query().is_some()
        || !parsed.username().is_empty()
        || !parsed.path().trim_matches('/').is_empty()
    {
        env.problem(format!(
            "MFA_ENTRA_AUTHORITY must be Microsoft Entra's login endpoint of a cloud ({}), an \
             https origin (plain http and other hosts only on loopback, for the simulator)",
            ENTRA_LOGIN_HOSTS
                .map(|host| format!("https://{host}"))
                .join(", ")
        ));
        return fallback();
    }
    parsed
}

/// Reads the Azure side's settings: `None` when `MFA_AZURE_CONTROL_SCOPES` is unset or empty.
fn azure_control(env: &Env<'_>) -> Option<AzureSettings> {
    let arm = endpoint(
        env,
        "ARM_ENDPOINT",
        DEFAULT_ARM_ENDPOINT,
        "https://management.usgovcloudapi.net",
    );
    let scopes = env
        .get("MFA_AZURE_CONTROL_SCOPES")
        .filter(|value| !value.trim().is_empty())?;
    match crate::azure_rbac::parse_scopes(&scopes) {
        Ok(scopes) => Some(AzureSettings {
            endpoint: arm?,
            scopes,
        }),
        Err(problem) => {
            env.problem(format!("MFA_AZURE_CONTROL_SCOPES {problem}"));
            None
        }
    }
}

fn credential(env: &Env<'_>) -> CredentialSource {
    let client_id = env.get("AZURE_CLIENT_ID");
    let has_identity_endpoint =
        env.get("IDENTITY_ENDPOINT").is_some() && env.get("IDENTITY_HEADER").is_some();
    let secret_parts = (
        env.get("AZURE_TENANT_ID"),
        env.get("AZURE_CLIENT_ID"),
        env.get("AZURE_CLIENT_SECRET"),
    );
    let managed_identity = || CredentialSource::ManagedIdentity {
        client_id: client_id.clone(),
    };
    let mode = env
        .get("MFA_CREDENTIAL")
        .unwrap_or_else(|| "auto".to_owned());
    match mode.trim().to_ascii_lowercase().as_str() {
        "auto" => {
            if has_identity_endpoint {
                return managed_identity();
            }
            if let (Some(tenant_id), Some(client_id), Some(secret)) = secret_parts {
                return CredentialSource::ClientSecret {
                    tenant_id,
                    client_id,
                    secret: Secret::new(secret),
                };
            }
            let legacy = if env.get("MSI_ENDPOINT").is_some() {
                " (MSI_ENDPOINT is set, but that legacy protocol is not supported: use a \
                 current Functions runtime)"
            } else {
                ""
            };
            env.problem(format!(
                "no credential is configured{legacy}: on Azure, give the Function App a managed \
                 identity (the platform then sets IDENTITY_ENDPOINT and IDENTITY_HEADER); \
                 elsewhere set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or \
                 MFA_CREDENTIAL=developerTools to use your Azure CLI login; or run \
                 `mfa-phone-handler demo`"
            ));
            managed_identity()
        }
        "managedidentity" => {
            if !has_identity_endpoint {
                env.problem(
                    "MFA_CREDENTIAL is managedIdentity, but IDENTITY_ENDPOINT and \
                     IDENTITY_HEADER are not set: the Functions platform sets them when the \
                     app has a managed identity",
                );
            }
            managed_identity()
        }
        "clientsecret" => match secret_parts {
            (Some(tenant_id), Some(client_id), Some(secret)) => CredentialSource::ClientSecret {
                tenant_id,
                client_id,
                secret: Secret::new(secret),
            },
            _ => {
                env.problem(
                    "MFA_CREDENTIAL is clientSecret, but AZURE_TENANT_ID, AZURE_CLIENT_ID and \
                     AZURE_CLIENT_SECRET are not all set",
                );
                managed_identity()
            }
        },
        "developertools" => CredentialSource::DeveloperTools,
        _ => {
            env.problem(
                "MFA_CREDENTIAL must be auto, managedIdentity, clientSecret or developerTools",
            );
            managed_identity()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const MI: [(&str, &str); 3] = [
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "7000"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
        ("IDENTITY_HEADER", "secret"),
    ];

    #[test]
    fn defaults_apply_under_managed_identity() {
        let config = config(&MI).unwrap();
        assert_eq!(config.port, 7000);
        assert_eq!(
            config.graph_endpoint.as_str(),
            "https://graph.microsoft.com/"
        );
        assert!(matches!(
            config.credential,
            CredentialSource::ManagedIdentity { client_id: None }
        ));
        assert_eq!(config.retry.max_attempts, 5);
        assert_eq!(config.max_dequeue_count, 5);
    }

    #[test]
    fn the_entra_authority_is_a_clouds_login_endpoint_or_loopback() {
        for (value, accepted) in [
            ("https://login.microsoftonline.us/", true),
            ("https://login.chinacloudapi.cn", true),
            ("http://127.0.0.1:9", true),
            ("https://evil.example", false),
            ("http://login.microsoftonline.com", false),
            ("https://login.microsoftonline.com.evil.example", false),
        ] {
            let mut pairs = MI.to_vec();
            pairs.push(("MFA_ENTRA_AUTHORITY", value));
            let result = config(&pairs);
            assert_eq!(result.is_ok(), accepted, "{value}");
            if let Err(error) = result {
                assert!(error.to_string().contains("MFA_ENTRA_AUTHORITY"), "{error}");
            }
        }
    }

    #[test]
    fn a_user_assigned_identity_is_picked_by_client_id() {
        let mut pairs = MI.to_vec();
        pairs.push(("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"));
        let config = config(&pairs).unwrap();
        assert!(matches!(
            config.credential,
            CredentialSource::ManagedIdentity { client_id: Some(_) }
        ));
    }

    #[test]
    fn nothing_configured_is_a_clear_error_not_an_imds_wait() {
        let error = config(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7000")]).unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert!(error.problems[0].starts_with("no credential is configured"));
    }

    #[test]
    fn client_secret_is_used_when_complete_and_never_printed() {
        let config = config(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "7000"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "hunter2"),
        ])
        .unwrap();
        assert!(matches!(
            config.credential,
            CredentialSource::ClientSecret { .. }
        ));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn every_problem_is_reported_naming_its_variable() {
        let error = config(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "70000"),
            ("GRAPH_ENDPOINT", "http://graph.example.com/v1.0"),
            ("MFA_CREDENTIAL", "managedIdentity"),
            ("MFA_GRAPH_MAX_ATTEMPTS", "many"),
            ("MFA_OWNER_SEARCH", "perhaps"),
        ])
        .unwrap_err();
        let text = error.to_string();
        for expected in [
            "FUNCTIONS_CUSTOMHANDLER_PORT must be",
            "GRAPH_ENDPOINT must use https",
            "GRAPH_ENDPOINT must not include the API version",
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are not set",
            "MFA_GRAPH_MAX_ATTEMPTS must be",
            "MFA_OWNER_SEARCH must be true or false",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
    }

    #[test]
    fn notification_settings_are_read_and_checked() {
        let mut pairs = MI.to_vec();
        pairs.extend([
            ("MFA_NOTIFY_SENDER", "it-notify@contoso.example"),
            ("MFA_NOTIFY_SERVICE_DESK_PHONE", "+49 30 1234567"),
        ]);
        let read = config(&pairs).unwrap();
        assert_eq!(
            read.notify.sender,
            Some(UserRef::PrincipalName(
                "it-notify@contoso.example".to_owned()
            ))
        );
        assert_eq!(
            read.notify.service_desk.phone.as_deref(),
            Some("+49 30 1234567")
        );
        assert_eq!(read.notify.organization_name, None);
        let mut pairs = MI.to_vec();
        pairs.extend([
            ("MFA_NOTIFY_SENDER", "https://evil.example/x"),
            ("MFA_NOTIFY_ORGANIZATION_NAME", "Contoso\nBcc: x"),
        ]);
        let text = config(&pairs).unwrap_err().to_string();
        assert!(text.contains("MFA_NOTIFY_SENDER must be"), "{text}");
        assert!(
            text.contains("MFA_NOTIFY_ORGANIZATION_NAME must be one line"),
            "{text}"
        );
    }

    #[test]
    fn the_azure_side_is_read_from_its_scopes_and_the_arm_endpoint_checked() {
        let site = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1/resourceGroups/rg\
                    /providers/Microsoft.Web/sites/func";
        let scopes = format!("[\"{site}\"]");
        let mut pairs = MI.to_vec();
        pairs.push(("MFA_AZURE_CONTROL_SCOPES", &scopes));
        let azure = config(&pairs).unwrap().protection.azure.unwrap();
        assert_eq!(azure.endpoint.as_str(), "https://management.azure.com/");
        assert_eq!(azure.scopes[0].as_str(), site);
        let mut pairs = MI.to_vec();
        pairs.push(("MFA_AZURE_CONTROL_SCOPES", " "));
        assert!(config(&pairs).unwrap().protection.azure.is_none(), "unset");
        let mut pairs = MI.to_vec();
        pairs.extend([
            ("MFA_AZURE_CONTROL_SCOPES", "/subscriptions/x"),
            ("ARM_ENDPOINT", "http://management.example.com"),
        ]);
        let text = config(&pairs).unwrap_err().to_string();
        assert!(
            text.contains("MFA_AZURE_CONTROL_SCOPES must be a JSON array"),
            "{text}"
        );
        assert!(text.contains("ARM_ENDPOINT must use https"), "{text}");
    }

    #[test]
    fn national_clouds_and_loopback_simulators_are_accepted() {
        let mut pairs = MI.to_vec();
        pairs.push(("GRAPH_ENDPOINT", "https://graph.microsoft.us"));
        assert_eq!(
            config(&pairs).unwrap().graph_endpoint.as_str(),
            "https://graph.microsoft.us/"
        );
        let mut pairs = MI.to_vec();
        pairs.push(("GRAPH_ENDPOINT", "http://127.0.0.1:9999"));
        assert!(config(&pairs).is_ok());
    }
}
