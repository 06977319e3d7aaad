//! The Microsoft Graph client: the only module that knows Graph's URLs and JSON.
//!
//! Every request carries a bearer token from the process's one credential and a
//! `client-request-id`; the token is attached only to URLs on the configured Graph endpoint.
//! Throttling (429) and unavailability (503, 504) are retried with Graph's `Retry-After` or
//! jittered exponential backoff, bounded in attempts and in time. A POST is never repeated
//! after an answer that leaves its outcome unknown: the caller re-reads and decides again.
//! Errors are classified by HTTP status and Graph's `error.code`, never by message text.

mod retry;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use azure_core::credentials::TokenCredential;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::phone::{PhoneMethod, PhoneNumber, PhoneType, RegisteredNumber};
use crate::user::UserRef;

pub use retry::{RetrySettings, parse_retry_after};

/// The Graph client. Cheap to share behind an `Arc`; its connection pool and the credential's
/// token cache are shared by every invocation.
pub struct GraphClient {
    http: reqwest::Client,
    /// `{endpoint}/v1.0/`: every URL we build starts here.
    root: Url,
    /// The token goes to this origin and no other.
    origin: url::Origin,
    scope: String,
    credential: Arc<dyn TokenCredential>,
    retry: RetrySettings,
}

/// A user as the directory describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    /// `Member` or `Guest`; old objects may have none.
    pub user_type: Option<String>,
    pub account_enabled: Option<bool>,
    /// The user's mail address; `None` when they have no mailbox.
    pub mail: Option<String>,
    /// Two letters (`DE`), when set.
    pub usage_location: Option<String>,
}

impl From<wire::User> for DirectoryUser {
    fn from(user: wire::User) -> DirectoryUser {
        DirectoryUser {
            id: user.id,
            user_principal_name: user.user_principal_name,
            display_name: user.display_name,
            user_type: user.user_type,
            account_enabled: user.account_enabled,
            mail: user.mail.filter(|mail| !mail.trim().is_empty()),
            usage_location: user.usage_location,
        }
    }
}

/// A message to send through `sendMail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    /// HTML; every value from the directory in it is already escaped.
    pub html: String,
}

impl DirectoryUser {
    pub fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|user_type| user_type.eq_ignore_ascii_case("guest"))
    }
}

/// A Graph call that failed, and what kind of failure it was.
#[derive(Debug, thiserror::Error)]
#[error("failed to {}: {kind}", operation.describe())]
pub struct GraphError {
    pub operation: GraphOperation,
    pub kind: GraphErrorKind,
}

/// Failures grouped by what the caller does about them.
#[derive(Debug, thiserror::Error)]
pub enum GraphErrorKind {
    /// 404: the user, or the method, does not exist.
    #[error("Graph answered {status} {code}")]
    NotFound { status: u16, code: String },
    /// 401 or 403: our identity lacks a permission (or a licence).
    #[error("Graph refused our identity ({status} {code})")]
    Forbidden { status: u16, code: String },
    /// Any other 4xx: Graph will not do this as asked. `message` is Graph's text, kept for the
    /// caller's result and never matched on.
    #[error("Graph rejected the request ({status} {code})")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// Throttled or unavailable after our retries, or an answer we never got. A write may or
    /// may not have happened.
    #[error("Graph is throttling or unavailable ({detail})")]
    Unavailable {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// No token could be obtained.
    #[error("no token could be obtained for Graph ({detail})")]
    Credential { detail: String },
    /// Graph answered, but not with anything we can read.
    #[error("Graph's answer could not be read ({detail})")]
    Malformed { detail: String },
}

/// The Graph calls we make, for messages and for naming the permission a 403 points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphOperation {
    ReadUser,
    ListUsers,
    ReadPhoneMethods,
    AddPhoneMethod,
    UpdatePhoneMethod,
    RemovePhoneMethod,
    EnableSmsSignIn,
    DisableSmsSignIn,
    ReadRegistrationReport,
    Batch,
    ReadOrganization,
    SendMail,
}

impl GraphOperation {
    pub fn describe(self) -> &'static str {
        match self {
            GraphOperation::ReadUser => "read the user",
            GraphOperation::ListUsers => "list users",
            GraphOperation::ReadPhoneMethods => "read the user's phone methods",
            GraphOperation::AddPhoneMethod => "add the phone method",
            GraphOperation::UpdatePhoneMethod => "update the phone method",
            GraphOperation::RemovePhoneMethod => "remove the phone method",
            GraphOperation::EnableSmsSignIn => "enable SMS sign-in",
            GraphOperation::DisableSmsSignIn => "disable SMS sign-in",
            GraphOperation::ReadRegistrationReport => "read the registration details report",
            GraphOperation::Batch => "send a batch",
            GraphOperation::ReadOrganization => "read the organization's name",
            GraphOperation::SendMail => "send the notification e-mail",
        }
    }

    /// The least-privileged application permission the call needs.
    pub fn permission(self) -> &'static str {
        match self {
            GraphOperation::ReadUser | GraphOperation::ListUsers => "User.Read.All",
            GraphOperation::ReadPhoneMethods | GraphOperation::Batch => {
                "UserAuthenticationMethod.Read.All (or .ReadWrite.All)"
            }
            GraphOperation::AddPhoneMethod
            | GraphOperation::UpdatePhoneMethod
            | GraphOperation::RemovePhoneMethod
            | GraphOperation::EnableSmsSignIn
            | GraphOperation::DisableSmsSignIn => "UserAuthenticationMethod.ReadWrite.All",
            GraphOperation::ReadRegistrationReport => {
                "AuditLog.Read.All (and an Entra ID P1 or P2 licence)"
            }
            GraphOperation::ReadOrganization => "Organization.Read.All",
            GraphOperation::SendMail => {
                "Mail.Send (the Entra app role, or an Exchange Online RBAC for Applications grant \
                 scoped to the sender mailbox)"
            }
        }
    }
}

/// One GET inside a `$batch`, answered.
#[derive(Debug)]
pub struct BatchAnswer {
    pub id: String,
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: serde_json::Value,
}

/// One page of the registration details report.
#[derive(Debug)]
pub struct RegistrationPage {
    pub users: Vec<RegisteredUser>,
    /// The next page, verbatim from Graph; already checked to be on our endpoint.
    pub next: Option<Url>,
}

/// A user the registration report (or the user list) names as a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredUser {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
}

/// The user's fields every read asks for.
const USER_FIELDS: &str =
    "id,userPrincipalName,displayName,userType,accountEnabled,mail,usageLocation";

/// How a request may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idempotence {
    /// GET, PATCH to a fixed value: repeating it cannot do harm.
    Safe,
    /// POST and DELETE: repeat only when Graph surely did not act (429, or never sent).
    Unsafe,
}

/// What Graph answered with a 2xx status.
struct Answer {
    body: bytes::Bytes,
}

impl GraphClient {
    /// Builds the client for `endpoint` (e.g. `https://graph.microsoft.com`).
    ///
    /// # Errors
    ///
    /// When the endpoint is not a URL that can have a path.
    pub fn new(
        http: reqwest::Client,
        endpoint: &Url,
        credential: Arc<dyn TokenCredential>,
        retry: RetrySettings,
    ) -> Result<GraphClient, String> {
        let mut root = endpoint.clone();
        if root.cannot_be_a_base() {
            return Err(format!("{endpoint} cannot be a base URL"));
        }
        root.set_path(&format!("{}/v1.0/", endpoint.path().trim_end_matches('/')));
        root.set_query(None);
        root.set_fragment(None);
        Ok(GraphClient {
            http,
            origin: root.origin(),
            root,
            scope: format!("{}/.default", endpoint.as_str().trim_end_matches('/')),
            credential,
            retry,
        })
    }

    /// The OAuth scope tokens are requested for: `{endpoint}/.default`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// `GET /users/{user}?$select=…`
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; `NotFound` when there is no such user.
    pub async fn user(&self, user: &UserRef) -> Result<DirectoryUser, GraphError> {
        let operation = GraphOperation::ReadUser;
        let url = self.user_read_url(user);
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let user: wire::User = decode(operation, &answer.body)?;
        Ok(user.into())
    }

    /// `GET /users/{user}/authentication/phoneMethods`, unfiltered: Graph does not document
    /// `$filter` here, so we filter by type ourselves.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn phone_methods(&self, user: &UserRef) -> Result<Vec<PhoneMethod>, GraphError> {
        let operation = GraphOperation::ReadPhoneMethods;
        let url = self.user_url(user, &["authentication", "phoneMethods"]);
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let page: wire::Page<wire::PhoneMethod> = decode(operation, &answer.body)?;
        Ok(page.value.into_iter().filter_map(phone_method).collect())
    }

    /// The user and their phone methods in one round trip of latency, as two concurrent GETs.
    pub async fn user_and_phone_methods(
        &self,
        user: &UserRef,
    ) -> (
        Result<DirectoryUser, GraphError>,
        Result<Vec<PhoneMethod>, GraphError>,
    ) {
        tokio::join!(self.user(user), self.phone_methods(user))
    }

    /// The user and their phone methods as one `$batch` of two GETs. Kept for the benchmark
    /// that compares it with [`GraphClient::user_and_phone_methods`].
    pub async fn user_and_phone_methods_batched(
        &self,
        user: &UserRef,
    ) -> (
        Result<DirectoryUser, GraphError>,
        Result<Vec<PhoneMethod>, GraphError>,
    ) {
        let user_url = self.user_read_url(user);
        let methods_url = self.user_url(user, &["authentication", "phoneMethods"]);
        let answers = match self
            .batch_get(vec![
                ("user".to_owned(), user_url),
                ("methods".to_owned(), methods_url),
            ])
            .await
        {
            Ok(answers) => answers,
            Err(error) => {
                let again = GraphError {
                    operation: error.operation,
                    kind: GraphErrorKind::Unavailable {
                        retry_after: None,
                        detail: error.kind.to_string(),
                    },
                };
                return (Err(error), Err(again));
            }
        };
        let find = |id: &str| answers.iter().find(|answer| answer.id == id);
        let user = match find("user") {
            Some(answer) => item_result(GraphOperation::ReadUser, answer).and_then(|body| {
                let user: wire::User = decode_value(GraphOperation::ReadUser, body)?;
                Ok(user.into())
            }),
            None => Err(missing_item(GraphOperation::ReadUser)),
        };
        let methods = match find("methods") {
            Some(answer) => item_result(GraphOperation::ReadPhoneMethods, answer)
                .and_then(|body| self.phone_methods_from_batch(body)),
            None => Err(missing_item(GraphOperation::ReadPhoneMethods)),
        };
        (user, methods)
    }

    /// `POST /users/{id}/authentication/phoneMethods`; returns the method Graph created.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]. `Unavailable` means the method may or may not exist now.
    pub async fn add_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
        number: &PhoneNumber,
    ) -> Result<Option<PhoneMethod>, GraphError> {
        let operation = GraphOperation::AddPhoneMethod;
        let url = self.user_url(user_id, &["authentication", "phoneMethods"]);
        let graph_number = number.graph_format();
        let body = serde_json::to_vec(&wire::PhoneMethodWrite {
            phone_number: &graph_number,
            phone_type: phone_type.as_str(),
        })
        .map_err(|error| malformed(operation, error))?;
        let answer = self
            .send(
                operation,
                Method::POST,
                url,
                Some(body),
                Idempotence::Unsafe,
            )
            .await?;
        if answer.body.is_empty() {
            return Ok(None);
        }
        let method: wire::PhoneMethod = decode(operation, &answer.body)?;
        Ok(phone_method(method))
    }

    /// `PATCH /users/{id}/authentication/phoneMethods/{fixed id of the type}`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn update_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
        number: &PhoneNumber,
    ) -> Result<(), GraphError> {
        let operation = GraphOperation::UpdatePhoneMethod;
        let url = self.user_url(
            user_id,
            &["authentication", "phoneMethods", phone_type.method_id()],
        );
        let graph_number = number.graph_format();
        let body = serde_json::to_vec(&wire::PhoneMethodWrite {
            phone_number: &graph_number,
            phone_type: phone_type.as_str(),
        })
        .map_err(|error| malformed(operation, error))?;
        self.send(operation, Method::PATCH, url, Some(body), Idempotence::Safe)
            .await?;
        Ok(())
    }

    /// `DELETE /users/{id}/authentication/phoneMethods/{fixed id of the type}`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; `NotFound` when there is no method of the type (any more).
    pub async fn remove_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
    ) -> Result<(), GraphError> {
        let operation = GraphOperation::RemovePhoneMethod;
        let url = self.user_url(
            user_id,
            &["authentication", "phoneMethods", phone_type.method_id()],
        );
        // Not repeated blindly: had the first DELETE taken effect and someone set a new number
        // meanwhile, a repeat would remove that one. The runbook reads back instead.
        self.send(operation, Method::DELETE, url, None, Idempotence::Unsafe)
            .await?;
        Ok(())
    }

    /// `POST …/phoneMethods/{mobile id}/enableSmsSignIn` or `…/disableSmsSignIn`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn set_sms_sign_in(&self, user_id: &UserRef, enable: bool) -> Result<(), GraphError> {
        let (operation, action) = if enable {
            (GraphOperation::EnableSmsSignIn, "enableSmsSignIn")
        } else {
            (GraphOperation::DisableSmsSignIn, "disableSmsSignIn")
        };
        let url = self.user_url(
            user_id,
            &[
                "authentication",
                "phoneMethods",
                PhoneType::Mobile.method_id(),
                action,
            ],
        );
        // Switching to a fixed state is idempotent, so retrying it is safe.
        self.send(operation, Method::POST, url, None, Idempotence::Safe)
            .await?;
        Ok(())
    }

    /// `GET /organization?$select=displayName`: the tenant's name, for the notification.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn organization_name(&self) -> Result<Option<String>, GraphError> {
        let operation = GraphOperation::ReadOrganization;
        let mut url = self.root.clone();
        url.set_path(&format!("{}organization", self.root.path()));
        url.query_pairs_mut().append_pair("$select", "displayName");
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let page: wire::Page<wire::Organization> = decode(operation, &answer.body)?;
        Ok(page
            .value
            .into_iter()
            .find_map(|organization| organization.display_name)
            .filter(|name| !name.trim().is_empty()))
    }

    /// `POST /users/{sender}/sendMail`, saved to the sender's Sent Items as the service desk's
    /// record. Graph answers 202: accepted, delivered later.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]. Repeated only after a 429, so a lost answer never sends twice.
    pub async fn send_mail(&self, sender: &UserRef, mail: &OutgoingMail) -> Result<(), GraphError> {
        let operation = GraphOperation::SendMail;
        let url = self.user_url(sender, &["sendMail"]);
        let body = serde_json::to_vec(&wire::SendMail {
            message: wire::MailMessage {
                subject: &mail.subject,
                body: wire::MailBody {
                    content_type: "HTML",
                    content: &mail.html,
                },
                to_recipients: vec![wire::Recipient {
                    email_address: wire::EmailAddress { address: &mail.to },
                }],
            },
            save_to_sent_items: true,
        })
        .map_err(|error| malformed(operation, error))?;
        self.send(
            operation,
            Method::POST,
            url,
            Some(body),
            Idempotence::Unsafe,
        )
        .await?;
        Ok(())
    }

    /// The URL of a user's phone methods, for a `$batch` item.
    pub fn phone_methods_url(&self, user: &UserRef) -> Url {
        self.user_url(user, &["authentication", "phoneMethods"])
    }

    /// `POST /$batch` of at most 20 GETs. The batch itself is retried like any request; the
    /// items' own statuses (an inner 429 with its `Retry-After`) are the caller's to handle.
    ///
    /// # Errors
    ///
    /// A [`GraphError`] when the batch as a whole failed.
    pub async fn batch_get(
        &self,
        items: Vec<(String, Url)>,
    ) -> Result<Vec<BatchAnswer>, GraphError> {
        let operation = GraphOperation::Batch;
        let root = self.root.as_str().trim_end_matches('/');
        let mut requests = Vec::with_capacity(items.len());
        for (id, url) in items {
            let Some(relative) = url.as_str().strip_prefix(root) else {
                return Err(malformed(
                    operation,
                    "a batch item is not on the Graph endpoint",
                ));
            };
            requests.push(wire::BatchItem {
                id,
                method: "GET",
                url: relative.to_owned(),
            });
        }
        let body = serde_json::to_vec(&wire::BatchRequest { requests })
            .map_err(|error| malformed(operation, error))?;
        let mut url = self.root.clone();
        url.set_path(&format!("{}$batch", self.root.path()));
        // A batch of GETs reads only, so repeating it is safe.
        let answer = self
            .send(operation, Method::POST, url, Some(body), Idempotence::Safe)
            .await?;
        let response: wire::BatchResponse = decode(operation, &answer.body)?;
        let now = SystemTime::now();
        Ok(response
            .responses
            .into_iter()
            .map(|item| BatchAnswer {
                retry_after: item
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
                    .and_then(|(_, value)| match value {
                        serde_json::Value::String(text) => parse_retry_after(text, now),
                        serde_json::Value::Number(number) => {
                            parse_retry_after(&number.to_string(), now)
                        }
                        _ => None,
                    }),
                id: item.id,
                status: item.status,
                body: item.body,
            })
            .collect())
    }

    /// Reads a phone methods answer from a `$batch` item.
    ///
    /// # Errors
    ///
    /// When the body is not a collection of phone methods.
    pub fn phone_methods_from_batch(
        &self,
        body: serde_json::Value,
    ) -> Result<Vec<PhoneMethod>, GraphError> {
        let page: wire::Page<wire::PhoneMethod> =
            decode_value(GraphOperation::ReadPhoneMethods, body)?;
        Ok(page.value.into_iter().filter_map(phone_method).collect())
    }

    /// The first page of users with a mobile phone registered, from the registration details
    /// report (needs AuditLog.Read.All and an Entra ID P1/P2 licence).
    pub fn registration_report_url(&self) -> Url {
        let mut url = self.root.clone();
        url.set_path(&format!(
            "{}reports/authenticationMethods/userRegistrationDetails",
            self.root.path()
        ));
        url.query_pairs_mut()
            .append_pair("$filter", "methodsRegistered/any(t: t eq 'mobilePhone')")
            .append_pair("$select", "id,userPrincipalName,userDisplayName");
        url
    }

    /// The first page of all users, for the owner search when the report is unavailable.
    pub fn users_url(&self) -> Url {
        let mut url = self.root.clone();
        url.set_path(&format!("{}users", self.root.path()));
        url.query_pairs_mut()
            .append_pair("$select", "id,userPrincipalName,displayName")
            .append_pair("$top", "999");
        url
    }

    /// Reads one page of the registration report or of the user list.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; the next link is refused when it leaves our endpoint.
    pub async fn candidate_page(
        &self,
        operation: GraphOperation,
        url: Url,
    ) -> Result<RegistrationPage, GraphError> {
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let users = match operation {
            GraphOperation::ReadRegistrationReport => {
                let page: wire::Page<wire::RegistrationDetail> = decode(operation, &answer.body)?;
                (
                    page.value
                        .into_iter()
                        .map(|row| RegisteredUser {
                            id: row.id,
                            user_principal_name: row.user_principal_name,
                            display_name: row.user_display_name,
                        })
                        .collect(),
                    page.next_link,
                )
            }
            _ => {
                let page: wire::Page<wire::User> = decode(operation, &answer.body)?;
                (
                    page.value
                        .into_iter()
                        .map(|user| RegisteredUser {
                            id: user.id,
                            user_principal_name: user.user_principal_name,
                            display_name: user.display_name,
                        })
                        .collect(),
                    page.next_link,
                )
            }
        };
        let next = match users.1 {
            None => None,
            Some(link) => {
                let url = Url::parse(&link).map_err(|error| malformed(operation, error))?;
                if url.origin() != self.origin {
                    return Err(malformed(
                        operation,
                        "the next page link points away from the Graph endpoint",
                    ));
                }
                Some(url)
            }
        };
        Ok(RegistrationPage {
            users: users.0,
            next,
        })
    }

    /// `/users/{user}?$select=` the fields every read of a user asks for.
    fn user_read_url(&self, user: &UserRef) -> Url {
        let mut url = self.user_url(user, &[]);
        url.query_pairs_mut().append_pair("$select", USER_FIELDS);
        url
    }

    fn user_url(&self, user: &UserRef, rest: &[&str]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            match user {
                // `/users/$x@y` reads as a system segment; Graph's key syntax avoids that.
                UserRef::PrincipalName(name) if name.starts_with('$') => {
                    segments.push(&format!("users('{}')", name.replace('\'', "''")));
                }
                _ => {
                    segments.push("users");
                    segments.push(user.as_str());
                }
            }
            segments.extend(rest);
        }
        url
    }

    async fn send(
        &self,
        operation: GraphOperation,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotence: Idempotence,
    ) -> Result<Answer, GraphError> {
        if url.origin() != self.origin {
            return Err(malformed(
                operation,
                "refusing to send the token to a host other than the Graph endpoint",
            ));
        }
        let error = |kind| GraphError { operation, kind };
        let started = Instant::now();
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self
                .credential
                .get_token(&[self.scope.as_str()], None)
                .await
                .map_err(|failure| {
                    error(GraphErrorKind::Credential {
                        detail: first_line(&failure.to_string()),
                    })
                })?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.token.secret())
                .header("client-request-id", &client_request_id)
                .header(ACCEPT, "application/json")
                .timeout(self.retry.attempt_timeout);
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (retry_after, detail) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| parse_retry_after(value, SystemTime::now()));
                    match response.bytes().await {
                        Ok(body) if (200..300).contains(&status) => return Ok(Answer { body }),
                        Ok(body) => {
                            let kind = classify(status, &body, retry_after);
                            // Throttled requests were not carried out; the others only when
                            // repeating them is safe. (500 and 502 are not retried here.)
                            let retryable = match &kind {
                                GraphErrorKind::Unavailable { .. } if status == 429 => true,
                                GraphErrorKind::Unavailable { .. } => {
                                    idempotence == Idempotence::Safe
                                        && matches!(status, 409 | 503 | 504)
                                }
                                _ => false,
                            };
                            let GraphErrorKind::Unavailable { detail, .. } = kind else {
                                return Err(error(kind));
                            };
                            if !retryable {
                                return Err(error(GraphErrorKind::Unavailable {
                                    retry_after,
                                    detail,
                                }));
                            }
                            (retry_after, with_throttle_information(detail, &headers))
                        }
                        Err(failure) if idempotence == Idempotence::Safe => {
                            (None, first_line(&failure.without_url().to_string()))
                        }
                        Err(failure) => {
                            return Err(error(GraphErrorKind::Unavailable {
                                retry_after: None,
                                detail: first_line(&failure.without_url().to_string()),
                            }));
                        }
                    }
                }
                Err(failure) if idempotence == Idempotence::Safe || failure.is_connect() => {
                    (None, describe_transport(&failure))
                }
                Err(failure) => {
                    return Err(error(GraphErrorKind::Unavailable {
                        retry_after: None,
                        detail: describe_transport(&failure),
                    }));
                }
            };
            let wait = retry::wait_before_retry(&self.retry, attempt, retry_after, rand::random());
            if attempt >= self.retry.max_attempts || started.elapsed() + wait > self.retry.budget {
                return Err(error(GraphErrorKind::Unavailable {
                    retry_after: Some(retry_after.unwrap_or(wait)),
                    detail: format!("{detail}; gave up after {attempt} attempts"),
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

/// Decides what a non-retried error status means, from the status and `error.code` only.
fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> GraphErrorKind {
    let detail = serde_json::from_slice::<wire::ErrorBody>(body)
        .map(|body| body.error)
        .unwrap_or(wire::ErrorDetail {
            code: String::new(),
            message: String::new(),
        });
    let code = if detail.code.is_empty() {
        "(no code)".to_owned()
    } else {
        detail.code
    };
    match status {
        401 | 403 => GraphErrorKind::Forbidden { status, code },
        404 => GraphErrorKind::NotFound { status, code },
        // The directory's optimistic concurrency: another writer got there first; try later.
        409 if code == CONCURRENCY_VIOLATION => GraphErrorKind::Unavailable {
            retry_after,
            detail: format!("{status} {code}"),
        },
        429 | 500..=599 => GraphErrorKind::Unavailable {
            retry_after,
            detail: format!("{status} {code}"),
        },
        _ => GraphErrorKind::Rejected {
            status,
            code,
            message: detail.message.chars().take(400).collect(),
        },
    }
}

/// Graph's code for a directory write that lost a concurrency race (retry with backoff).
const CONCURRENCY_VIOLATION: &str = "Directory_ConcurrencyViolation";

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

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn phone_method(method: wire::PhoneMethod) -> Option<PhoneMethod> {
    Some(PhoneMethod {
        phone_type: PhoneType::parse(method.phone_type.as_deref()?)?,
        number: RegisteredNumber::new(method.phone_number?),
        sms_sign_in_state: method.sms_sign_in_state,
    })
}

fn decode<T: DeserializeOwned>(operation: GraphOperation, body: &[u8]) -> Result<T, GraphError> {
    serde_json::from_slice(body).map_err(|error| malformed(operation, error))
}

fn decode_value<T: DeserializeOwned>(
    operation: GraphOperation,
    body: serde_json::Value,
) -> Result<T, GraphError> {
    serde_json::from_value(body).map_err(|error| malformed(operation, error))
}

fn malformed(operation: GraphOperation, detail: impl std::fmt::Display) -> GraphError {
    GraphError {
        operation,
        kind: GraphErrorKind::Malformed {
            detail: first_line(&detail.to_string()),
        },
    }
}

fn missing_item(operation: GraphOperation) -> GraphError {
    malformed(
        operation,
        "the batch answer has no response for this request",
    )
}

/// The body of a batch item that succeeded, or its status classified like a direct answer.
fn item_result(
    operation: GraphOperation,
    answer: &BatchAnswer,
) -> Result<serde_json::Value, GraphError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer.body.clone());
    }
    let body = serde_json::to_vec(&answer.body).unwrap_or_default();
    Err(GraphError {
        operation,
        kind: classify(answer.status, &body, answer.retry_after),
    })
}
