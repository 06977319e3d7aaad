//! Checks the Microsoft Entra access tokens that queue messages carry (`CallerToken`) as App
//! Service authentication checks an HTTP caller's bearer token: the RS256 signature against the
//! keys the tenant publishes (its OpenID configuration's `jwks_uri`, fetched once, kept, fetched
//! again for a key it does not know yet), the issuer, the tenant, the audience (the API), and
//! the validity at the moment the message was put on the queue. The caller it yields is then
//! admitted by `caller`'s policy like an HTTP caller (app roles, allow-lists).
//!
//! A queue message may wait longer than a token lives, so the time that counts is the storage
//! service's `InsertionTime`, which the sender cannot choose. The token itself is never logged
//! nor echoed.

mod jwt;
mod keys;

use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use self::jwt::{Expected, PublicKey, Refusal};
use crate::caller::Principal;

/// The queue message's field that carries the caller's access token.
pub const TOKEN_FIELD: &str = "CallerToken";
/// Microsoft Entra's authority in the global cloud.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// How far the clocks of Entra and the storage service may disagree (App Service and
/// Microsoft.IdentityModel allow five minutes; a queue's insertion time is the storage
/// service's own clock, so less is enough).
const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// How long the keys are kept before they are read again (Entra rolls keys over weeks, and a
/// key it has just started to use is fetched as soon as a token names it). Twelve hours, as
/// Microsoft.IdentityModel's `ConfigurationManager.DefaultAutomaticRefreshInterval`.
const KEYS_KEPT: Duration = Duration::from_secs(12 * 3600);
/// The most one reading of the keys (both documents) may take.
const KEYS_WAIT: Duration = Duration::from_secs(10);
/// How many unknown key ids may each cause one more reading within [`UNKNOWN_KIDS_WINDOW`]: a
/// rolled-over key is found at once, and a sender naming made-up key ids cannot make the
/// handler read the keys for every message.
const MAX_UNKNOWN_KIDS_TRIED: usize = 16;
/// How long the unknown key ids' budget lasts from its first use. A sender who spends it on
/// made-up ids delays a genuine new key by at most this (Microsoft.IdentityModel likewise reads
/// the keys again on request at most every five minutes: `ConfigurationManager`'s
/// `DefaultRefreshInterval`), never until the next regular reading.
const UNKNOWN_KIDS_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The longest OpenID document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Who may send to the request queue (`MFA_QUEUE_REQUIRE_CALLER`) and how their tokens are
/// checked (`MFA_TENANT_ID`, `MFA_API_CLIENT_ID`, `MFA_ENTRA_AUTHORITY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSettings {
    /// Refuse a message that carries no valid token (`callerNotAllowed`).
    pub require_caller: bool,
    /// Microsoft Entra's authority (the cloud's login endpoint).
    pub authority: Url,
    /// The app's tenant (lowercase); without it no token can be checked.
    pub tenant_id: Option<String>,
    /// The API app registration's client id; without it no token can be checked.
    pub api_client_id: Option<String>,
}

/// The issuers of the tenant's tokens in the authority's cloud: v2 tokens name the cloud's
/// v2 issuer, v1 tokens (the API registration's default, accessTokenAcceptedVersion null or 1)
/// its security token service. They differ by cloud (Microsoft Q&A, "What are the token
/// issuers for the sovereign cloud", 1190472): the global cloud and US Government issue v1
/// tokens as `sts.windows.net`; 21Vianet's issues v1 as `sts.chinacloudapi.cn` and v2 as
/// `login.partner.microsoftonline.cn`, not as its authority `login.chinacloudapi.cn`.
fn issuers(authority: &Url, tenant: &str) -> Vec<String> {
    let authority_text = authority.as_str().trim_end_matches('/');
    let (v2, v1) = match authority.host_str() {
        Some("login.chinacloudapi.cn" | "login.partner.microsoftonline.cn") => (
            "https://login.partner.microsoftonline.cn".to_owned(),
            "https://sts.chinacloudapi.cn",
        ),
        _ => (authority_text.to_owned(), "https://sts.windows.net"),
    };
    vec![format!("{v2}/{tenant}/v2.0"), format!("{v1}/{tenant}/")]
}

impl TokenSettings {
    /// What a token must say, when the settings allow checking one at all.
    pub fn expected(&self) -> Option<Expected> {
        let tenant = self.tenant_id.as_ref()?;
        let api = self.api_client_id.as_ref()?;
        Some(Expected {
            tenant_id: tenant.clone(),
            issuers: issuers(&self.authority, tenant),
            // v1 tokens carry the app id URI asked for, v2 tokens the client id.
            audiences: vec![format!("api://{api}"), api.clone()],
            skew: CLOCK_SKEW,
        })
    }

    /// The start-up log line that says how queue senders are treated.
    pub fn describe(&self) -> String {
        let said = self.say_how();
        if self.expected().is_some() {
            format!(
                "{said}; signing keys from {}",
                self.authority.as_str().trim_end_matches('/')
            )
        } else {
            said
        }
    }

    fn say_how(&self) -> String {
        match (self.require_caller, self.expected().is_some()) {
            (true, true) => "MFA_QUEUE_REQUIRE_CALLER=true: a queue message is carried out only \
                             with a valid CallerToken (an Entra access token for the API)"
                .to_owned(),
            (true, false) => "MFA_QUEUE_REQUIRE_CALLER=true but MFA_TENANT_ID or \
                              MFA_API_CLIENT_ID is not set: no token can be checked, so every \
                              queue message is refused"
                .to_owned(),
            (false, true) => "MFA_QUEUE_REQUIRE_CALLER=false: a queue message without a \
                              CallerToken is carried out on the word of whoever could send it; \
                              a token it carries is checked"
                .to_owned(),
            (false, false) => "MFA_QUEUE_REQUIRE_CALLER=false and MFA_TENANT_ID or \
                               MFA_API_CLIENT_ID not set: queue messages are carried out on the \
                               word of whoever could send them, and one carrying a CallerToken is \
                               refused (it cannot be checked)"
                .to_owned(),
        }
    }
}

/// Why a queue message's token made no caller.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    /// The token is not a valid token of this tenant for this API.
    #[error("the CallerToken was refused: {0}")]
    Refused(#[from] Refusal),
    /// The tenant's keys could not be read: the message may be tried again.
    #[error(
        "the tenant's signing keys could not be read ({0}), so the CallerToken could not be checked"
    )]
    KeysUnavailable(String),
    /// The deployment cannot check tokens.
    #[error(
        "this deployment cannot check a CallerToken: MFA_TENANT_ID and MFA_API_CLIENT_ID must \
         both be set"
    )]
    NotConfigured,
}

/// Checks queue callers' tokens, keeping the tenant's keys between messages.
pub struct TokenChecker {
    settings: TokenSettings,
    expected: Option<Expected>,
    http: reqwest::Client,
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    known: Vec<PublicKey>,
    read_at: Option<Instant>,
    unknown: UnknownKids,
}

/// The key ids not found in the keys that caused one more reading, within the current window.
#[derive(Default)]
struct UnknownKids {
    tried: Vec<String>,
    /// When the first of them was tried (`None` when none was yet in this window).
    since: Option<Instant>,
}

impl UnknownKids {
    /// Whether `kid`, unknown, is worth one more reading at `now`: not tried in this window and
    /// the window's budget not spent. A window [`UNKNOWN_KIDS_WINDOW`] old is over.
    fn worth_reading(&mut self, kid: &str, now: Instant) -> bool {
        if self
            .since
            .is_some_and(|since| now.saturating_duration_since(since) >= UNKNOWN_KIDS_WINDOW)
        {
            *self = UnknownKids::default();
        }
        self.tried.len() < MAX_UNKNOWN_KIDS_TRIED && !self.tried.iter().any(|tried| tried == kid)
    }

    /// Records that `kid` was read for at `now` and still not found.
    fn tried(&mut self, kid: &str, now: Instant) {
        self.since.get_or_insert(now);
        self.tried.push(kid.to_owned());
    }
}

impl TokenChecker {
    pub fn new(settings: TokenSettings, http: reqwest::Client) -> TokenChecker {
        TokenChecker {
            expected: settings.expected(),
            settings,
            http,
            keys: Mutex::new(Keys::default()),
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Returns the principal `token` proves, as of `inserted` (the message's insertion time).
    ///
    /// # Errors
    ///
    /// A [`TokenFailure`]: refused, keys unreadable (worth another delivery), or not
    /// configured.
    pub async fn check(
        &self,
        token: &str,
        inserted: SystemTime,
    ) -> Result<Principal, TokenFailure> {
        let expected = self.expected.as_ref().ok_or(TokenFailure::NotConfigured)?;
        let unverified = jwt::read(token.trim())?;
        let key = self.key(&unverified.kid).await?;
        Ok(unverified.verify(&key, expected, inserted)?)
    }

    /// Returns the published key `kid`, reading the keys when they are old, or when a key id
    /// not tried before is unknown. Only one reading runs at a time; the others wait for it.
    async fn key(&self, kid: &str) -> Result<PublicKey, TokenFailure> {
        let mut keys = self.keys.lock().await;
        let stale = keys
            .read_at
            .is_none_or(|read_at| read_at.elapsed() >= KEYS_KEPT);
        let find = |keys: &Keys| keys.known.iter().find(|key| key.kid == kid).cloned();
        if !stale && let Some(key) = find(&keys) {
            return Ok(key);
        }
        let worth_reading = stale || keys.unknown.worth_reading(kid, Instant::now());
        if worth_reading {
            let fresh = tokio::time::timeout(KEYS_WAIT, self.read_keys())
                .await
                .map_err(|_| {
                    TokenFailure::KeysUnavailable(format!(
                        "no answer within {} s",
                        KEYS_WAIT.as_secs()
                    ))
                })?
                .map_err(TokenFailure::KeysUnavailable)?;
            tracing::info!(keys = fresh.len(), "read the tenant's token signing keys");
            if stale {
                keys.unknown = UnknownKids::default();
            }
            keys.known = fresh;
            keys.read_at = Some(Instant::now());
            if find(&keys).is_none() {
                keys.unknown.tried(kid, Instant::now());
            }
        }
        find(&keys).ok_or_else(|| Refusal::UnknownKey(kid.to_owned()).into())
    }

    /// Reads the OpenID configuration, then the keys it points to.
    async fn read_keys(&self) -> Result<Vec<PublicKey>, String> {
        let tenant = self.settings.tenant_id.as_deref().unwrap_or_default();
        let mut configuration = self.settings.authority.clone();
        configuration
            .path_segments_mut()
            .map_err(|()| "MFA_ENTRA_AUTHORITY cannot hold a path".to_owned())?
            .pop_if_empty()
            .extend([tenant, "v2.0", ".well-known", "openid-configuration"]);
        let document = self.get_json(configuration).await?;
        let jwks = keys::jwks_uri(&document, &self.settings.authority)?;
        keys::rsa_keys(&self.get_json(jwks).await?)
    }

    async fn get_json(&self, url: Url) -> Result<Value, String> {
        let shown = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let answer = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| format!("{shown}: {}", without_url(&error)))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("{shown} answered {status}"));
        }
        let body = answer
            .bytes()
            .await
            .map_err(|error| format!("{shown}: {}", without_url(&error)))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "{shown} answered with more than any key document holds"
            ));
        }
        serde_json::from_slice(&body).map_err(|_| format!("{shown} answered with no JSON"))
    }
}

fn without_url(error: &reqwest::Error) -> String {
    let mut error_text = error.to_string();
    if let Some(url) = error.url() {
        error_text = error_text.replace(url.as_str(), "");
    }
    error_text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::{MAX_UNKNOWN_KIDS_TRIED, UNKNOWN_KIDS_WINDOW, UnknownKids, issuers};

    #[test]
    fn each_cloud_has_its_own_issuers() {
        let url = |text: &str| url::Url::parse(text).expect("a URL");
        assert_eq!(
            issuers(&url("https://login.microsoftonline.com"), "t1"),
            [
                "https://login.microsoftonline.com/t1/v2.0",
                "https://sts.windows.net/t1/"
            ]
        );
        assert_eq!(
            issuers(&url("https://login.microsoftonline.us/"), "t1"),
            [
                "https://login.microsoftonline.us/t1/v2.0",
                "https://sts.windows.net/t1/"
            ]
        );
        assert_eq!(
            issuers(&url("https://login.chinacloudapi.cn"), "t1"),
            [
                "https://login.partner.microsoftonline.cn/t1/v2.0",
                "https://sts.chinacloudapi.cn/t1/"
            ]
        );
    }

    #[test]
    fn made_up_key_ids_spend_a_budget_that_comes_back_with_time() {
        let start = Instant::now();
        let mut unknown = UnknownKids::default();
        for index in 0..MAX_UNKNOWN_KIDS_TRIED {
            let kid = format!("made-up-{index}");
            assert!(unknown.worth_reading(&kid, start), "{kid}");
            unknown.tried(&kid, start);
        }
        assert!(
            !unknown.worth_reading("made-up-0", start),
            "an id tried already is not read for again"
        );
        let a_minute = start + Duration::from_secs(60);
        assert!(
            !unknown.worth_reading("rolled-over", a_minute),
            "the budget is spent: a genuine new key waits"
        );
        let window_over = start + UNKNOWN_KIDS_WINDOW;
        assert!(
            unknown.worth_reading("rolled-over", window_over),
            "a new window: a key Entra started to use is read for within {} s at worst",
            UNKNOWN_KIDS_WINDOW.as_secs()
        );
        unknown.tried("made-up-again", window_over);
        assert!(
            !unknown.worth_reading("made-up-again", window_over + Duration::from_secs(1)),
            "the new window remembers its own tries"
        );
    }
}
