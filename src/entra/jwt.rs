//! Checks an Entra access token without IO: it reads the compact JWS, verifies its RS256
//! signature with one of the tenant's published keys, and holds its claims (issuer, tenant,
//! audience, validity at a given moment) against what this deployment accepts. The claims then
//! become a [`Principal`], as App Service authentication hands an HTTP caller's over, so that
//! one reader (`caller`) decides who called either way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::caller::Principal;

/// The longest token read: Entra's access tokens are a few KiB, even with group claims.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a token must say to be this deployment's caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The app's tenant (lowercase), as `tid` must name it.
    pub tenant_id: String,
    /// The issuers accepted (v1 and v2 forms of the tenant's).
    pub issuers: Vec<String>,
    /// The audiences accepted (the API's app id URI and its client id).
    pub audiences: Vec<String>,
    /// How far the clocks of Entra and the storage service may disagree.
    pub skew: Duration,
}

/// A public key the tenant publishes (one JWKS entry of type RSA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// The modulus and exponent, big-endian.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// A token read but not yet verified.
#[derive(Debug)]
pub struct Unverified<'a> {
    signed: &'a str,
    signature: Vec<u8>,
    /// The key it names (`kid`).
    pub kid: String,
    claims: Map<String, Value>,
}

/// Why a token does not make its bearer a caller. The words never include the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("it is not a signed JWT ({0})")]
    Malformed(&'static str),
    #[error("it is signed with {0}, not RS256 as Microsoft Entra signs access tokens")]
    Algorithm(String),
    #[error("it names a signing key (kid {0}) the tenant does not publish")]
    UnknownKey(String),
    #[error("its signature does not verify with the tenant's published key")]
    BadSignature,
    #[error("it was issued by {0}, not by this app's tenant")]
    Issuer(String),
    #[error("it is for tenant {0}, not this app's (MFA_TENANT_ID)")]
    Tenant(String),
    #[error("it is for the audience {0}, not this API (MFA_API_CLIENT_ID)")]
    Audience(String),
    #[error("it had expired when the message was put on the queue ({0} s before)")]
    Expired(u64),
    #[error("it was not yet valid when the message was put on the queue")]
    NotYetValid,
}

/// Reads the compact form `header.payload.signature`.
///
/// # Errors
///
/// [`Refusal::Malformed`] or [`Refusal::Algorithm`].
pub fn read(token: &str) -> Result<Unverified<'_>, Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Malformed("longer than any access token"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed("not three dot-separated parts"));
    };
    let object = |part: &str, what: &'static str| -> Result<Map<String, Value>, Refusal> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Refusal::Malformed(what))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(object)) => Ok(object),
            _ => Err(Refusal::Malformed(what)),
        }
    };
    let header_fields = object(header, "the header is not base64url JSON")?;
    // Only RS256 is accepted: a token that names another algorithm (`none`, HS256 with the
    // public key as the secret) is refused before any key is looked at.
    match header_fields.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        Some(other) => return Err(Refusal::Algorithm(printable(other))),
        None => return Err(Refusal::Malformed("the header names no algorithm")),
    }
    let kid = header_fields
        .get("kid")
        .and_then(Value::as_str)
        .filter(|kid| !kid.is_empty())
        .ok_or(Refusal::Malformed("the header names no key (kid)"))?;
    let claims = object(payload, "the payload is not base64url JSON")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refusal::Malformed("the signature is not base64url"))?;
    Ok(Unverified {
        signed: &token[..header.len() + 1 + payload.len()],
        signature,
        kid: printable(kid),
        claims,
    })
}

impl Unverified<'_> {
    /// Verifies the signature with `key` and the claims against `expected` at `at` (the
    /// message's insertion time), and returns the principal the claims describe.
    ///
    /// # Errors
    ///
    /// The first check that fails.
    pub fn verify(
        self,
        key: &PublicKey,
        expected: &Expected,
        at: SystemTime,
    ) -> Result<Principal, Refusal> {
        let public = ring::signature::RsaPublicKeyComponents {
            n: &key.n,
            e: &key.e,
        };
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                self.signed.as_bytes(),
                &self.signature,
            )
            .map_err(|_| Refusal::BadSignature)?;
        check_claims(&self.claims, expected, at)?;
        Ok(principal(&self.claims))
    }
}

/// Checks the issuer, tenant, audience and lifetime, in that order.
fn check_claims(
    claims: &Map<String, Value>,
    expected: &Expected,
    at: SystemTime,
) -> Result<(), Refusal> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let issuer = text("iss");
    if !expected.issuers.iter().any(|accepted| accepted == issuer) {
        return Err(Refusal::Issuer(printable_or_none(issuer)));
    }
    let tenant = text("tid");
    if !tenant.eq_ignore_ascii_case(&expected.tenant_id) {
        return Err(Refusal::Tenant(printable_or_none(tenant)));
    }
    // `aud` is one string in Entra's tokens; the JWT form allows a list, of which one must match.
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|audience| {
        expected
            .audiences
            .iter()
            .any(|accepted| accepted.eq_ignore_ascii_case(audience))
    }) {
        return Err(Refusal::Audience(printable_or_none(&audiences.join(", "))));
    }
    let at = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let skew = expected.skew.as_secs();
    let seconds = |name: &str| claims.get(name).and_then(Value::as_u64);
    // A token without an expiry is no access token Entra issues.
    let expires = seconds("exp").ok_or(Refusal::Malformed("it has no expiry (exp)"))?;
    if at > expires.saturating_add(skew) {
        return Err(Refusal::Expired(at - expires));
    }
    if seconds("nbf").is_some_and(|not_before| at.saturating_add(skew) < not_before) {
        return Err(Refusal::NotYetValid);
    }
    Ok(())
}

/// Turns the claims into a principal as the host hands an identity's over: one entry per
/// value, lists flattened.
fn principal(claims: &Map<String, Value>) -> Principal {
    let mut flat = Vec::new();
    for (name, value) in claims {
        match value {
            Value::String(text) => flat.push((name.clone(), text.clone())),
            Value::Number(number) => flat.push((name.clone(), number.to_string())),
            Value::Array(values) => flat.extend(
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|text| (name.clone(), text.to_owned())),
            ),
            _ => {}
        }
    }
    Principal {
        authentication_type: "aad".to_owned(),
        claims: flat,
    }
}

/// Makes a value from a token fit for a log line: bounded, printable ASCII only.
fn printable(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

fn printable_or_none(value: &str) -> String {
    match printable(value) {
        empty if empty.is_empty() => "none named".to_owned(),
        named => named,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(header: &Value, payload: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    #[test]
    fn only_an_rs256_token_naming_its_key_is_read() {
        let claims = json!({"aud": "x"});
        let read_kid = |header: Value| read(&token(&header, &claims)).map(|token| token.kid);
        assert_eq!(
            read_kid(json!({"alg": "RS256", "kid": "k1"})),
            Ok("k1".to_owned())
        );
        assert_eq!(
            read_kid(json!({"alg": "none", "kid": "k1"})),
            Err(Refusal::Algorithm("none".to_owned()))
        );
        assert_eq!(
            read_kid(json!({"alg": "HS256", "kid": "k1"})),
            Err(Refusal::Algorithm("HS256".to_owned()))
        );
        assert!(matches!(
            read_kid(json!({"alg": "RS256"})),
            Err(Refusal::Malformed(_))
        ));
        for broken in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.c2ln",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(
                matches!(read(broken), Err(Refusal::Malformed(_))),
                "{broken:.20}"
            );
        }
    }

    #[test]
    fn claims_are_held_against_the_tenant_the_audience_and_the_time() {
        let expected = Expected {
            tenant_id: "t1".to_owned(),
            issuers: vec!["https://sts.windows.net/t1/".to_owned()],
            audiences: vec!["api://a1".to_owned(), "a1".to_owned()],
            skew: Duration::from_secs(120),
        };
        let good = json!({"iss": "https://sts.windows.net/t1/", "tid": "T1", "aud": "api://a1",
                          "nbf": 1000, "exp": 5000});
        let at = |seconds: u64| UNIX_EPOCH + Duration::from_secs(seconds);
        let check = |claims: &Value, seconds: u64| {
            check_claims(claims.as_object().unwrap(), &expected, at(seconds))
        };
        assert_eq!(check(&good, 2000), Ok(()));
        assert_eq!(check(&good, 5100), Ok(()), "within the skew");
        assert_eq!(check(&good, 5200), Err(Refusal::Expired(200)));
        assert_eq!(check(&good, 800), Err(Refusal::NotYetValid));
        let mut other = good.clone();
        other["aud"] = json!(["https://graph.microsoft.com", "a1"]);
        assert_eq!(check(&other, 2000), Ok(()), "one of a list");
        other["aud"] = json!("a2");
        assert!(matches!(check(&other, 2000), Err(Refusal::Audience(_))));
        let mut other = good.clone();
        other["tid"] = json!("t2");
        assert!(matches!(check(&other, 2000), Err(Refusal::Tenant(_))));
        let mut other = good.clone();
        other["iss"] = json!("https://sts.windows.net/t2/");
        assert!(matches!(check(&other, 2000), Err(Refusal::Issuer(_))));
        let mut other = good;
        other.as_object_mut().unwrap().remove("exp");
        assert!(matches!(check(&other, 2000), Err(Refusal::Malformed(_))));
    }
}
