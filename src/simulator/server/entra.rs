//! Plays Microsoft Entra for callers' access tokens: it serves the tenant's OpenID
//! configuration and its published keys (JWKS), and makes the RS256 tokens the tests give queue
//! callers, signed with the simulator's own key (`signing_key`), good or deliberately bad.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::json::{Reply, ok, to_http};
use super::log;
use super::signing_key::SIMULATOR_SIGNING_KEY;
use crate::simulator::{LoggedRequest, Shared, lock};

/// The simulated tenant's id.
pub const TENANT_ID: &str = "6b1f3c2e-4a5d-4e8f-9b0a-1c2d3e4f5a6b";
/// The API app registration's client id (its app id URI is `api://` and this).
pub const API_CLIENT_ID: &str = "3d9a7c51-2b4e-4f60-8a1d-5e6f7a8b9c0d";
/// The key id the simulator publishes its key under.
pub const KEY_ID: &str = "sim-signing-key-1";
/// Azure CLI's client id, which an admin's token for the API is issued to.
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// A caller's access token to make: a good one by default, each field changeable to make a bad
/// one.
#[derive(Clone, Debug)]
pub struct CallerToken {
    pub object_id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub tenant_id: String,
    pub issuer: Option<String>,
    pub audience: String,
    pub not_before: SystemTime,
    pub expires: SystemTime,
    pub key_id: String,
    /// More claims (`idp`, `acct`, …).
    pub extra: Vec<(String, Value)>,
}

impl CallerToken {
    /// Makes a user's token for the API, valid for an hour from now, with `roles`.
    pub fn user(object_id: &str, name: &str, roles: &[&str]) -> CallerToken {
        let now = SystemTime::now();
        CallerToken {
            object_id: object_id.to_owned(),
            name: name.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            tenant_id: TENANT_ID.to_owned(),
            issuer: None,
            audience: format!("api://{API_CLIENT_ID}"),
            not_before: now - Duration::from_secs(300),
            expires: now + Duration::from_secs(3600),
            key_id: KEY_ID.to_owned(),
            extra: Vec::new(),
        }
    }

    /// Signs the token, with the simulator's authority at `authority` (v2 form) as its issuer.
    pub fn sign(&self, authority: &str) -> String {
        let seconds = |at: SystemTime| {
            at.duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs())
        };
        let mut claims = json!({
            "aud": self.audience,
            "iss": self.issuer.clone().unwrap_or_else(|| format!("{authority}/{}/v2.0", self.tenant_id)),
            "iat": seconds(self.not_before),
            "nbf": seconds(self.not_before),
            "exp": seconds(self.expires),
            "azp": AZURE_CLI,
            "idtyp": "user",
            "name": self.name,
            "preferred_username": self.name,
            "oid": self.object_id,
            "sub": self.object_id,
            "tid": self.tenant_id,
            "roles": self.roles,
            "scp": "user_impersonation",
            "ver": "2.0",
        });
        for (name, value) in &self.extra {
            claims[name] = value.clone();
        }
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.key_id});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = key_pair();
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap_or_else(|_| panic!("the simulator's key signs"));
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn key_pair() -> ring::rsa::KeyPair {
    let body: String = SIMULATOR_SIGNING_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body)
        .unwrap_or_else(|_| panic!("the simulator's key is base64"));
    ring::rsa::KeyPair::from_pkcs8(&der).unwrap_or_else(|_| panic!("the simulator's key is PKCS#8"))
}

/// Answers `/{tenant}/v2.0/.well-known/openid-configuration` and `/{tenant}/discovery/v2.0/keys`;
/// `None` for any other path.
pub(super) fn answer(
    shared: &Shared,
    method: &Method,
    raw_path: &str,
    started: Instant,
) -> Option<Response<Body>> {
    let rest = raw_path.strip_prefix('/')?;
    let (tenant, what) = rest.split_once('/')?;
    let reply = match what {
        "v2.0/.well-known/openid-configuration" => configuration(shared, tenant),
        "discovery/v2.0/keys" => keys(shared, tenant),
        _ => return None,
    };
    let reply = if *method == Method::GET {
        reply
    } else {
        ok(405, json!({"error": "method not allowed"}))
    };
    log(
        shared,
        LoggedRequest {
            method: method.to_string(),
            path: raw_path.to_owned(),
            raw_path: raw_path.to_owned(),
            query: Vec::new(),
            client_request_id: None,
            authorized: false,
            in_batch: false,
            status: reply.status,
            retry_after: None,
            body: None,
            started,
            at: Instant::now(),
        },
    );
    Some(to_http(reply))
}

fn configuration(shared: &Shared, tenant: &str) -> Reply {
    if tenant != TENANT_ID {
        return ok(400, json!({"error": "invalid_tenant"}));
    }
    let base = &shared.base_url;
    ok(
        200,
        json!({
            "issuer": format!("{base}/{tenant}/v2.0"),
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        }),
    )
}

fn keys(shared: &Shared, tenant: &str) -> Reply {
    if tenant != TENANT_ID {
        return ok(400, json!({"error": "invalid_tenant"}));
    }
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key_pair().public());
    ok(
        200,
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": lock(&shared.options).signing_key_id.clone(),
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        }]}),
    )
}
