//! Gets bearer tokens (for Graph, and for ARM's audience for the protection check) from the
//! process's one credential, within a bounded wait.
//!
//! azure_identity refreshes a token five minutes before it expires, under a lock every caller
//! waits on; an identity endpoint that accepts the connection and never answers would hold
//! every invocation. So each caller waits at most [`RetrySettings::token_wait`]; when the
//! refresh does not come in time but the token last obtained is still valid for a while, that
//! one is used, and otherwise the call fails as `Credential` (the caller answers
//! `identityUnavailable`, which a retry can cure).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use azure_core::time::OffsetDateTime;

/// How long a token must still be valid to stand in for one a refresh did not deliver.
const STILL_GOOD_FOR: Duration = Duration::from_secs(60);

/// Tokens for one scope, each obtained within a bounded wait.
pub struct TokenSource {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    wait: Duration,
    /// The token last obtained, for when a refresh hangs.
    last: Mutex<Option<AccessToken>>,
}

impl TokenSource {
    pub fn new(credential: Arc<dyn TokenCredential>, scope: String, wait: Duration) -> Self {
        TokenSource {
            credential,
            scope,
            wait,
            last: Mutex::new(None),
        }
    }

    /// Returns a token, or why none could be had (in one line, with no secret).
    pub async fn get(&self) -> Result<AccessToken, String> {
        let fetched = tokio::time::timeout(
            self.wait,
            self.credential.get_token(&[self.scope.as_str()], None),
        )
        .await;
        let reason = match fetched {
            Ok(Ok(token)) => {
                *self.last() = Some(token.clone());
                return Ok(token);
            }
            Ok(Err(error)) => first_line(&error.to_string()),
            Err(_) => format!(
                "the identity endpoint did not answer within {} s",
                self.wait.as_secs_f64()
            ),
        };
        let still_good = OffsetDateTime::now_utc() + STILL_GOOD_FOR;
        if let Some(token) = self
            .last()
            .clone()
            .filter(|token| token.expires_on > still_good)
        {
            tracing::warn!(
                "could not refresh the token for {} ({reason}); using the one still valid",
                self.scope
            );
            return Ok(token);
        }
        Err(reason)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<AccessToken>> {
        crate::mutex::lock(&self.last)
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Reads the application permissions (`roles`) a Graph access token grants from its payload.
/// These are the token's own claims: no signature is checked here, because Graph checks it.
/// `None` when the token is not a JWT or its payload cannot be read; an empty list when it
/// grants none.
pub fn roles_in(token: &str) -> Option<Vec<String>> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if !claims.is_object() {
        return None;
    }
    Some(
        claims["roles"]
            .as_array()
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(|role| role.chars().take(200).collect())
                    .take(500)
                    .collect()
            })
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn token(claims: &serde_json::Value) -> String {
        let encode = |value: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!(
            "{}.{}.signature",
            encode(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            encode(claims)
        )
    }

    #[test]
    fn the_roles_of_a_token_are_read_from_its_payload() {
        let roles = roles_in(&token(&serde_json::json!({
            "aud": "https://graph.microsoft.com",
            "roles": ["User.Read.All", "UserAuthMethod-Phone.ReadWrite.All"],
        })));
        assert_eq!(
            roles,
            Some(vec![
                "User.Read.All".to_owned(),
                "UserAuthMethod-Phone.ReadWrite.All".to_owned()
            ])
        );
        assert_eq!(
            roles_in(&token(&serde_json::json!({"aud": "x"}))),
            Some(Vec::new())
        );
        assert_eq!(roles_in("not-a-jwt"), None);
        assert_eq!(roles_in("a.%%%.c"), None);
    }
}
