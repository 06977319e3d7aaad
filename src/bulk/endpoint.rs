//! Delivers the operations, either to the HTTP trigger (with a function key, and an Entra token
//! for the API's audience from the admin's own sign-in), which answers request by request, or
//! to the request queue ([`super::queued`]). What comes back is a handler's result, a pause
//! asked for, a refusal that no retry changes, or (through the queue) no result yet.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;
use url::Url;

pub(crate) use super::delivery::Delivery;
use super::queued::QueueEndpoint;
use crate::graph::parse_retry_after;

/// How long one request may take: the handler answers within its own budget.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Where a run's operations go.
pub enum Endpoint {
    Http(HttpEndpoint),
    Queue(QueueEndpoint),
}

impl Endpoint {
    /// Delivers one request and waits for its outcome.
    pub(crate) async fn deliver(&self, request_id: &str, body: &Value) -> Delivery {
        match self {
            Endpoint::Http(http) => http.deliver(body).await,
            Endpoint::Queue(queue) => queue.deliver(request_id, body).await,
        }
    }

    /// Ends the run's use of the way in; for the queue, this shows other producers' messages
    /// again.
    pub(crate) async fn close(&self) {
        if let Endpoint::Queue(queue) = self {
            queue.close().await;
        }
    }

    /// Waits for the outcome of a request an earlier run sent, where the way in keeps
    /// outcomes (the queue); `None` where it does not (over HTTP the request is sent again,
    /// because the handler's changes are idempotent).
    pub(crate) async fn await_sent(&self, request_id: &str, body: &Value) -> Option<Delivery> {
        match self {
            Endpoint::Http(_) => None,
            Endpoint::Queue(queue) => Some(queue.await_sent(request_id, body).await),
        }
    }
}

/// The HTTP trigger.
pub struct HttpEndpoint {
    client: reqwest::Client,
    url: Url,
    function_key: Option<String>,
    token: Option<(Arc<dyn TokenCredential>, String)>,
}

impl HttpEndpoint {
    /// Makes the endpoint for the HTTP trigger at `url`, with a function key and, for
    /// `audience`, Entra tokens from `credential`.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub(crate) fn http(
        url: Url,
        function_key: Option<String>,
        token: Option<(Arc<dyn TokenCredential>, String)>,
    ) -> Result<HttpEndpoint, String> {
        // The key and the token are secrets, and over plain http anyone on the way can read
        // them.
        if (function_key.is_some() || token.is_some()) && !carries_secrets(&url) {
            return Err(format!(
                "refusing to send the function key or a token to {url} over plain http: use \
                 https (http is allowed only to this machine: localhost, 127.0.0.1, [::1])"
            ));
        }
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "mfa-phone-handler-bulk/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|error| format!("could not build the HTTP client: {error}"))?;
        Ok(HttpEndpoint {
            client,
            url,
            function_key,
            token: token.map(|(credential, audience)| {
                let scope = format!("{}/.default", audience.trim_end_matches('/'));
                (credential, scope)
            }),
        })
    }

    /// Makes the endpoint for the HTTP trigger at `url` with `function_key` and, when an
    /// `audience` is given (not empty), Entra tokens for it from the admin's own sign-in.
    ///
    /// # Errors
    ///
    /// No sign-in, or the HTTP client cannot be built.
    pub(crate) fn signed_in(
        url: Url,
        function_key: Option<String>,
        audience: Option<&str>,
    ) -> Result<HttpEndpoint, String> {
        let token = match audience.filter(|audience| !audience.trim().is_empty()) {
            Some(audience) => Some((crate::credential::developer_sign_in()?, audience.to_owned())),
            None => None,
        };
        HttpEndpoint::http(url, function_key, token)
    }

    /// Delivers one request.
    pub(crate) async fn deliver(&self, body: &Value) -> Delivery {
        let request = match self.request(body).await {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        let unreachable = |error: reqwest::Error, retry_after| Delivery::Transient {
            retry_after,
            code: "endpointUnreachable".to_owned(),
            detail: first_line(&error.without_url().to_string()),
            result: None,
            pause_all: true,
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return unreachable(error, None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        let result = match response.bytes().await {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
                .ok()
                .filter(|value| value.get("status").is_some()),
            Err(error) => return unreachable(error, retry_after),
        };
        // A failure that names no request at all (the endpoint refused before reading it) is
        // read by its status alone; any other result counts for the row only when it answers
        // the row's request.
        let result = result.filter(|result| {
            super::echo::names_a_request(result) || crate::report::Status::succeeded(result)
        });
        if let Some(result) = &result
            && let Some(detail) = unmatched(body, result)
        {
            return Delivery::Unmatched { detail };
        }
        classify(status, retry_after, result)
    }

    /// Builds the request with its credentials; `Err` when no token could be had.
    async fn request(&self, body: &Value) -> Result<reqwest::RequestBuilder, Delivery> {
        let mut request = self.client.post(self.url.clone()).json(body);
        if let Some(key) = &self.function_key {
            request = request.header("x-functions-key", key);
        }
        if let Some((credential, scope)) = &self.token {
            match credential.get_token(&[scope.as_str()], None).await {
                Ok(token) => request = request.bearer_auth(token.token.secret()),
                Err(error) => {
                    return Err(Delivery::Refused {
                        code: "signInFailed".to_owned(),
                        detail: format!(
                            "no token for {scope} from your sign-in (az login?): {}",
                            first_line(&error.to_string())
                        ),
                    });
                }
            }
        }
        Ok(request)
    }
}

/// Decides what an answer of `status` with `result` (the row's, or none) comes to.
fn classify(status: u16, retry_after: Option<Duration>, result: Option<Value>) -> Delivery {
    let transient_status = matches!(status, 429 | 500 | 502 | 503 | 504);
    match result {
        Some(result) if !transient_status => Delivery::Result(result),
        Some(result) => {
            let code = result["error"]["code"].as_str().unwrap_or("").to_owned();
            let transient = status != 500 || code == "graphUnavailable";
            if !transient {
                return Delivery::Result(result);
            }
            Delivery::Transient {
                retry_after,
                pause_all: status == 429 || code == "graphUnavailable",
                detail: result["error"]["message"].as_str().unwrap_or("").to_owned(),
                code,
                result: Some(result),
            }
        }
        None if transient_status => Delivery::Transient {
            retry_after,
            code: format!("http{status}"),
            detail: format!("the endpoint answered {status} without a result"),
            result: None,
            pause_all: true,
        },
        None => Delivery::Refused {
            code: format!("http{status}"),
            detail: match status {
                401 | 403 => format!(
                    "the endpoint refused the call ({status}): check the function key \
                     (MFA_FUNCTION_KEY or --function-key-file), the audience (--audience) and \
                     that you hold the MfaPhone.ReadWrite app role"
                ),
                404 => "the endpoint answered 404: is the URL the HTTP trigger's \
                        (…/api/SetOrRemoveMobilePhoneMfa)?"
                    .to_owned(),
                _ => format!("the endpoint answered {status} without a result"),
            },
        },
    }
}

/// Why `result` is not the result of `request`, as the row's message says it.
fn unmatched(request: &Value, result: &Value) -> Option<String> {
    super::echo::check(request, result).err().map(|mismatch| {
        format!(
            "the endpoint answered with {}: is --endpoint the handler's HTTP trigger, with \
             nothing in between that answers for it? whether this row was changed is unknown; \
             it waits, and a later run sends it again",
            mismatch.0
        )
    })
}

/// Whether a credential may go to `url`: over https, or to this machine.
pub(crate) fn carries_secrets(url: &Url) -> bool {
    url.scheme() == "https" || super::queued::is_local(url)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_tokens_go_only_over_https_or_to_this_machine() {
        let endpoint = |url: &str| {
            HttpEndpoint::http(
                Url::parse(url).expect("a URL"),
                Some("s3cret".to_owned()),
                None,
            )
        };
        let refused = endpoint("http://contoso-mfa.azurewebsites.net/api/x")
            .err()
            .expect("plain http to another machine");
        assert!(refused.contains("https"), "{refused}");
        assert!(endpoint("https://contoso-mfa.azurewebsites.net/api/x").is_ok());
        assert!(endpoint("http://127.0.0.1:7071/api/x").is_ok());
        assert!(endpoint("http://localhost:7071/api/x").is_ok());
        assert!(endpoint("http://[::1]:7071/api/x").is_ok());
        assert!(
            HttpEndpoint::http(
                Url::parse("http://example.com/").expect("a URL"),
                None,
                None
            )
            .is_ok(),
            "nothing secret, nothing refused"
        );
    }
}
