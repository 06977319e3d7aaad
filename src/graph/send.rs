//! One Graph request, carried to its end: the token, the headers, the retry loop, and the
//! classification of whatever Graph answered into a [`GraphError`].
//!
//! Throttling (429) is always retried: Graph did not carry the request out. Unavailability
//! (503, 504) and transport failures are retried only for requests that are safe to repeat;
//! a POST or DELETE whose outcome is unknown goes back to the caller, who reads and decides
//! again. The token is attached only to URLs on the configured Graph origin.

use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::error::{Denial, GraphError, GraphErrorKind, GraphOperation, Rejection};
use super::retry::{self, parse_retry_after};
use super::{GraphClient, wire};
use crate::claim::WriteWindow;
use crate::phone::printable;

/// How a request may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Idempotence {
    /// GET, PATCH to a fixed value: repeating it cannot do harm.
    Safe,
    /// POST and DELETE: repeat only when Graph surely did not act (429, or never sent).
    Unsafe,
}

/// The body of a 2xx answer.
pub(super) struct Success {
    pub body: bytes::Bytes,
}

impl GraphClient {
    pub(super) async fn send(
        &self,
        operation: GraphOperation,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotence: Idempotence,
    ) -> Result<Success, GraphError> {
        self.send_within(operation, method, url, body, idempotence, None)
            .await
    }

    /// [`GraphClient::send`], every attempt started within `window` when one is given. The
    /// retry budget is kept on tokio's clock, as the waits it adds up are, so that paused time
    /// in a test spends it.
    pub(super) async fn send_within(
        &self,
        operation: GraphOperation,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotence: Idempotence,
        window: Option<WriteWindow>,
    ) -> Result<Success, GraphError> {
        if url.origin() != self.origin {
            return Err(malformed(
                operation,
                "refusing to send the token to a host other than the Graph endpoint",
            ));
        }
        let error = |kind| GraphError { operation, kind };
        let started = tokio::time::Instant::now();
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0;
        let attempt_timeout = window
            .as_ref()
            .map_or(self.retry.attempt_timeout, |window| {
                window.attempt_timeout().min(self.retry.attempt_timeout)
            });
        let mut doubt = Doubt::new(window.as_ref());
        let mut every_attempt_throttled = true;
        loop {
            attempt += 1;
            doubt.in_time().map_err(|()| error(window_passed()))?;
            let token = self
                .tokens
                .get()
                .await
                .map_err(|detail| error(GraphErrorKind::Credential { detail }))?;
            // The token may have taken a while: the window is looked at again right before
            // the attempt goes out.
            doubt.sending().map_err(|()| error(window_passed()))?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.token.secret())
                .header("client-request-id", &client_request_id)
                .header(ACCEPT, "application/json")
                .timeout(attempt_timeout);
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (retry_after, detail) =
                match one_attempt(operation, request, idempotence, &mut doubt).await {
                    Attempt::Finished(result) => return result,
                    Attempt::Retry {
                        retry_after,
                        detail,
                        throttled,
                    } => {
                        every_attempt_throttled &= throttled;
                        (retry_after, detail)
                    }
                };
            let wait = retry::wait_before_retry(&self.retry, attempt, retry_after, rand::random());
            if attempt >= self.retry.max_attempts || started.elapsed() + wait > self.retry.budget {
                return Err(error(GraphErrorKind::Unavailable {
                    retry_after: Some(retry_after.unwrap_or(wait)),
                    detail: format!("{detail}; gave up after {attempt} attempts"),
                    // Throttled every time: Graph carried none of them out.
                    throttled: every_attempt_throttled,
                }));
            }
            tracing::info!(
                operation = operation.describe(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                client_request_id,
                "Graph answered {detail}; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// The error for a write whose window passed before an attempt could go out.
fn window_passed() -> GraphErrorKind {
    GraphErrorKind::Unavailable {
        retry_after: None,
        detail: "not sent: the user's lease was not renewed in time".to_owned(),
        throttled: false,
    }
}

/// The write window's doubt, as this request's attempts leave it. The window's flag is set
/// when an attempt goes out, and cleared only by a definite answer when no attempt before it
/// (of this write or an earlier one) went unanswered.
struct Doubt<'w> {
    window: Option<&'w WriteWindow>,
    /// Whether an attempt of an earlier write, or of this one, went unanswered.
    uncertain: bool,
}

impl<'w> Doubt<'w> {
    fn new(window: Option<&'w WriteWindow>) -> Self {
        let uncertain = window.is_some_and(WriteWindow::in_doubt);
        Self { window, uncertain }
    }

    /// `Err` when the window has passed: no attempt may start.
    fn in_time(&self) -> Result<(), ()> {
        match self.window {
            Some(window) if window.passed() => Err(()),
            _ => Ok(()),
        }
    }

    /// An attempt goes out now (`Err`: the window has passed, it may not).
    fn sending(&self) -> Result<(), ()> {
        self.in_time()?;
        if let Some(window) = self.window {
            window.attempt_sent();
        }
        Ok(())
    }

    /// The attempt was answered: `definite` when the answer says whether Graph acted.
    fn answered(&mut self, definite: bool) {
        if !definite {
            self.uncertain = true;
        }
        if let Some(window) = self.window
            && !self.uncertain
        {
            window.outcome_known();
        }
    }
}

/// How one attempt ended: with the request's result, or with a reason to try again.
enum Attempt {
    Finished(Result<Success, GraphError>),
    Retry {
        retry_after: Option<Duration>,
        detail: String,
        /// Whether Graph throttled it (and so surely did not carry it out).
        throttled: bool,
    },
}

/// Sends one attempt and reads what it came to.
async fn one_attempt(
    operation: GraphOperation,
    request: reqwest::RequestBuilder,
    idempotence: Idempotence,
    doubt: &mut Doubt<'_>,
) -> Attempt {
    let error = |kind| Attempt::Finished(Err(GraphError { operation, kind }));
    match request.send().await {
        Ok(response) => answer(operation, response, idempotence, doubt).await,
        Err(failure) if idempotence == Idempotence::Safe || failure.is_connect() => {
            // A connection never made carried nothing out.
            doubt.answered(failure.is_connect());
            Attempt::Retry {
                retry_after: None,
                detail: describe_transport(&failure),
                throttled: false,
            }
        }
        Err(failure) => {
            doubt.answered(false);
            error(GraphErrorKind::Unavailable {
                retry_after: None,
                detail: describe_transport(&failure),
                throttled: false,
            })
        }
    }
}

/// What an answer means: success, a final error, or one worth another attempt.
async fn answer(
    operation: GraphOperation,
    response: reqwest::Response,
    idempotence: Idempotence,
    doubt: &mut Doubt<'_>,
) -> Attempt {
    let error = |kind| Attempt::Finished(Err(GraphError { operation, kind }));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
    match read_answer(response).await {
        Err(AnswerError::TooLarge) => Attempt::Finished(Err(malformed(
            operation,
            format!(
                "the answer is larger than {} MiB, more than any answer this handler asks for",
                MAX_ANSWER_BYTES / (1024 * 1024)
            ),
        ))),
        Ok(body) if (200..300).contains(&status) => {
            doubt.answered(true);
            Attempt::Finished(Ok(Success { body }))
        }
        Ok(body) => {
            let kind = classify(status, &body, retry_after);
            // A 5xx may or may not have been carried out; any other answer (429 included)
            // says what happened.
            doubt.answered(status < 500);
            // Throttled requests were not carried out; the others only when repeating them is
            // safe. (500 and 502 are not retried here.)
            let retryable = match &kind {
                GraphErrorKind::Unavailable { throttled, .. } => {
                    *throttled
                        || (idempotence == Idempotence::Safe && matches!(status, 409 | 503 | 504))
                }
                _ => false,
            };
            match kind {
                GraphErrorKind::Unavailable {
                    detail, throttled, ..
                } if retryable => Attempt::Retry {
                    retry_after,
                    detail: with_throttle_information(detail, &headers),
                    throttled,
                },
                kind => error(kind),
            }
        }
        Err(AnswerError::Transport(failure)) if idempotence == Idempotence::Safe => {
            doubt.answered(false);
            Attempt::Retry {
                retry_after: None,
                detail: first_line(&failure.without_url().to_string()),
                throttled: false,
            }
        }
        Err(AnswerError::Transport(failure)) => {
            doubt.answered(false);
            error(GraphErrorKind::Unavailable {
                retry_after: None,
                detail: first_line(&failure.without_url().to_string()),
                throttled: false,
            })
        }
    }
}

/// The most of one answer that is read: the largest answer the handler asks for (a page of 999
/// users, of 999 permission grants) is well under 1 MiB.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Why an answer's body could not be read.
enum AnswerError {
    /// It is larger than [`MAX_ANSWER_BYTES`]; the rest is not read.
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads an answer's body, at most [`MAX_ANSWER_BYTES`] of it: a larger one (announced or not)
/// is refused without being held in memory.
async fn read_answer(mut response: reqwest::Response) -> Result<bytes::Bytes, AnswerError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(AnswerError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(AnswerError::Transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(AnswerError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Decides what an error status means, from the status and `error.code` only.
pub(super) fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> GraphErrorKind {
    let detail = serde_json::from_slice::<wire::ErrorBody>(body)
        .map(|body| body.error)
        .unwrap_or(wire::ErrorDetail {
            code: String::new(),
            message: String::new(),
        });
    // Graph's words reach messages and log lines: one printable line, bounded, numbers masked.
    let code = if detail.code.is_empty() {
        "(no code)".to_owned()
    } else {
        printable(&detail.code, 64)
    };
    let unavailable = |code: &str| GraphErrorKind::Unavailable {
        retry_after,
        detail: format!("{status} {code}"),
        throttled: status == 429,
    };
    // Graph's codes are camelCase by convention, but services differ (`PhoneNumberNotUnique`
    // has been seen): compare them without case.
    let is = |known: &str| code.eq_ignore_ascii_case(known);
    match status {
        401 | 403 => GraphErrorKind::Forbidden {
            status,
            denial: if is(NO_PREMIUM_LICENCE) || is(PREMIUM_LICENCE_REQUIRED) {
                Denial::Licence
            } else {
                Denial::Permission
            },
            code,
        },
        404 => GraphErrorKind::NotFound { status, code },
        // The directory's optimistic concurrency: another writer got there first; try later.
        409 if is(CONCURRENCY_VIOLATION) => unavailable(&code),
        429 | 500..=599 => unavailable(&code),
        _ => GraphErrorKind::Rejected {
            status,
            rejection: match status {
                409 if is(PHONE_NUMBER_NOT_UNIQUE) => Rejection::PhoneNumberNotUnique,
                400 if is(INVALID_PHONE_NUMBER) => Rejection::InvalidPhoneNumber,
                400 => Rejection::BadRequest,
                _ => Rejection::Other,
            },
            code,
            message: printable(&detail.message, 400),
        },
    }
}

/// Graph's code for a directory write that lost a concurrency race (retry with backoff).
const CONCURRENCY_VIOLATION: &str = "Directory_ConcurrencyViolation";
/// Graph's code for a number another user holds for SMS sign-in.
const PHONE_NUMBER_NOT_UNIQUE: &str = "phoneNumberNotUnique";
/// Graph's code for a number it does not accept.
const INVALID_PHONE_NUMBER: &str = "invalidPhoneNumber";
/// Graph's code when the tenant has no Entra ID P1/P2 licence (the reports need one).
const NO_PREMIUM_LICENCE: &str = "Authentication_RequestFromNonPremiumTenantOrB2CTenant";
/// The code PIM's endpoints are reported to answer without an Entra ID P2 licence
/// [UNVERIFIED: not documented; the simulator plays it].
const PREMIUM_LICENCE_REQUIRED: &str = "AadPremiumLicenseRequired";

/// Adds Graph's reason for throttling (`x-ms-throttle-information`) to a retry's log line.
fn with_throttle_information(detail: String, headers: &HeaderMap) -> String {
    match headers
        .get("x-ms-throttle-information")
        .and_then(|value| value.to_str().ok())
    {
        Some(information) => format!("{detail} ({information})"),
        None => detail,
    }
}

fn describe_transport(failure: &reqwest::Error) -> String {
    let what = if failure.is_timeout() {
        "timed out"
    } else if failure.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut text = failure.to_string();
    if let Some(url) = failure.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{what}: {}", first_line(&text))
}

/// The first line of a transport or parse error, as a log line may hold it (a parse error may
/// quote what Graph sent).
pub(super) fn first_line(text: &str) -> String {
    printable(text.lines().next().unwrap_or_default(), 300)
}

pub(super) fn decode<T: DeserializeOwned>(
    operation: GraphOperation,
    body: &[u8],
) -> Result<T, GraphError> {
    serde_json::from_slice(body).map_err(|error| malformed(operation, error))
}

pub(super) fn decode_value<T: DeserializeOwned>(
    operation: GraphOperation,
    body: serde_json::Value,
) -> Result<T, GraphError> {
    serde_json::from_value(body).map_err(|error| malformed(operation, error))
}

pub(super) fn malformed(operation: GraphOperation, detail: impl std::fmt::Display) -> GraphError {
    GraphError {
        operation,
        kind: GraphErrorKind::Malformed {
            detail: first_line(&detail.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": code, "message": "m"}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn codes_are_compared_without_case() {
        for code in [
            "phoneNumberNotUnique",
            "PhoneNumberNotUnique",
            "PHONENUMBERNOTUNIQUE",
        ] {
            assert!(
                matches!(
                    classify(409, &body(code), None),
                    GraphErrorKind::Rejected {
                        rejection: Rejection::PhoneNumberNotUnique,
                        ..
                    }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            classify(400, &body("InvalidPhoneNumber"), None),
            GraphErrorKind::Rejected {
                rejection: Rejection::InvalidPhoneNumber,
                ..
            }
        ));
        assert!(matches!(
            classify(409, &body("directory_concurrencyviolation"), None),
            GraphErrorKind::Unavailable {
                throttled: false,
                ..
            }
        ));
        assert!(matches!(
            classify(
                403,
                &body("authentication_requestfromnonpremiumtenantorb2ctenant"),
                None
            ),
            GraphErrorKind::Forbidden {
                denial: Denial::Licence,
                ..
            }
        ));
    }

    #[test]
    fn statuses_decide_the_kind_and_throttling_is_told_apart() {
        assert!(classify(429, &body("TooManyRequests"), None).is_throttled());
        assert!(!classify(503, &body("serviceNotAvailable"), None).is_throttled());
        assert!(matches!(
            classify(404, b"not json", None),
            GraphErrorKind::NotFound { .. }
        ));
        assert!(matches!(
            classify(409, &body("somethingElse"), None),
            GraphErrorKind::Rejected {
                rejection: Rejection::Other,
                ..
            }
        ));
    }
}
