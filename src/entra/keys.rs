//! Reads the tenant's published signing keys: the OpenID configuration's `jwks_uri`, and the
//! RSA keys it lists, kept as App Service authentication keeps them. Pure: the fetching is the
//! parent's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use url::Url;

use super::jwt::PublicKey;

/// The most keys kept from one JWKS (Entra publishes a handful).
const MAX_KEYS: usize = 64;

/// Reads `jwks_uri` from an OpenID configuration document, when it is on the authority's own
/// origin (a document that sends us elsewhere for keys is not trusted).
///
/// # Errors
///
/// Why the document cannot be used, in words for the log.
pub fn jwks_uri(document: &Value, authority: &Url) -> Result<Url, String> {
    let uri = document
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("the OpenID configuration names no jwks_uri")?;
    let uri = Url::parse(uri).map_err(|_| "the OpenID configuration's jwks_uri is not a URL")?;
    if uri.origin() != authority.origin() {
        return Err(format!(
            "the OpenID configuration's jwks_uri is not on {} (MFA_ENTRA_AUTHORITY)",
            authority.origin().ascii_serialization()
        ));
    }
    Ok(uri)
}

/// Reads the RSA signature keys of a JWKS document (`use` `sig` or unstated); others are
/// skipped.
///
/// # Errors
///
/// When the document has no `keys` list.
pub fn rsa_keys(document: &Value) -> Result<Vec<PublicKey>, String> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS document has no keys")?;
    Ok(keys
        .iter()
        .filter(|key| key.get("kty").and_then(Value::as_str) == Some("RSA"))
        .filter(|key| {
            key.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|key| {
            let field = |name: &str| {
                key.get(name)
                    .and_then(Value::as_str)
                    .and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
            };
            Some(PublicKey {
                kid: key.get("kid").and_then(Value::as_str)?.to_owned(),
                n: field("n")?,
                e: field("e")?,
            })
        })
        .take(MAX_KEYS)
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_taken_from_the_authoritys_origin_only() {
        let authority = Url::parse("https://login.microsoftonline.com").unwrap();
        let own = json!({"jwks_uri": "https://login.microsoftonline.com/t/discovery/v2.0/keys"});
        assert!(jwks_uri(&own, &authority).is_ok());
        let elsewhere = json!({"jwks_uri": "https://attacker.example/keys"});
        assert!(jwks_uri(&elsewhere, &authority).is_err());
        assert!(jwks_uri(&json!({}), &authority).is_err());
    }

    #[test]
    fn only_rsa_signature_keys_are_kept() {
        let document = json!({"keys": [
            {"kty": "RSA", "use": "sig", "kid": "a", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "use": "enc", "kid": "b", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "c", "x": "AQAB"},
            {"kty": "RSA", "kid": "d", "n": "not base64!", "e": "AQAB"},
        ]});
        let keys = rsa_keys(&document).unwrap();
        assert_eq!(
            keys.iter().map(|key| key.kid.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        assert!(rsa_keys(&json!({"nokeys": []})).is_err());
    }
}
