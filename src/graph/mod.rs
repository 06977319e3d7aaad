//! The Microsoft Graph client: the only module that knows Graph's URLs, JSON, statuses and
//! error codes.
//!
//! Every request carries a bearer token from the process's one credential and a
//! `client-request-id`; the token is attached only to URLs on the configured Graph endpoint.
//! [`send`] carries one request to its end (retries, classification); [`error`] says what a
//! failure means; [`wire`] holds Graph's JSON; [`retry`] does the retry arithmetic. The calls here
//! convert Graph's JSON into the product's types ([`DirectoryUser`], [`PhoneMethod`]) and
//! never hand Graph's text to anyone to match on.

mod applications;
mod convert;
mod error;
mod lists;
mod readiness;
mod retry;
mod roles;
mod send;
mod token;
mod wire;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use reqwest::{Method, Url};

use self::send::{Idempotence, decode, malformed};
use crate::claim::WriteWindow;
use crate::methods::AuthenticationMethods;
use crate::phone::{PhoneMethod, PhoneNumber, PhoneType};
use crate::user::{DirectoryUser, UserRef};

pub(crate) use self::applications::{Owner, ServicePrincipal};
use self::convert::{method_kind, name, phone_method};
pub(crate) use self::error::{Denial, EndpointError, GraphOperation, Rejection};
pub use self::error::{GraphError, GraphErrorKind};
pub use self::lists::{phone_methods_of, user_of};
pub(crate) use self::readiness::{ListedAccount, RegistrationRow, throttled_for};
pub use self::retry::{RetrySettings, parse_retry_after};
pub(crate) use self::roles::{PrincipalKind, PrivilegedRole, RoleHolder};
pub(crate) use self::token::TokenSource;

/// The Graph client. Cheap to share behind an `Arc`; its connection pool and the credential's
/// token cache are shared by every invocation.
pub struct GraphClient {
    http: reqwest::Client,
    /// `{endpoint}/v1.0/`: every URL we build starts here.
    root: Url,
    /// The token goes to this origin and no other.
    origin: url::Origin,
    tokens: token::TokenSource,
    retry: RetrySettings,
}

/// A message to send through `sendMail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutgoingMail {
    pub(crate) to: String,
    pub(crate) subject: String,
    /// HTML; every value from the directory in it is already escaped.
    pub(crate) html: String,
}

/// One GET inside a `$batch`, answered; read it with [`user_of`] or [`phone_methods_of`].
#[derive(Debug)]
pub struct BatchItem {
    pub id: String,
    status: u16,
    retry_after: Option<std::time::Duration>,
    body: serde_json::Value,
}

/// One page of candidates for the owner search: rows of the registration details report, or
/// of the plain user list.
#[derive(Debug)]
pub struct CandidatePage {
    pub users: Vec<ListedUser>,
    /// The next page, verbatim from Graph; already checked to be on our endpoint.
    pub next: Option<Url>,
}

/// A user as a list names them (the registration report or the user list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    pub id: String,
    pub(crate) user_principal_name: Option<String>,
    pub(crate) display_name: Option<String>,
}

/// Where the owner search takes candidates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateList {
    /// Users with a mobile phone registered, from the registration details report.
    RegistrationReport,
    /// Every user.
    Users,
}

/// The user's fields every read asks for.
const USER_FIELDS: &str =
    "id,userPrincipalName,displayName,userType,accountEnabled,mail,usageLocation";

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
    ) -> Result<GraphClient, EndpointError> {
        let mut root = endpoint.clone();
        if root.cannot_be_a_base() {
            return Err(EndpointError {
                endpoint: endpoint.clone(),
            });
        }
        root.set_path(&format!("{}/v1.0/", endpoint.path().trim_end_matches('/')));
        root.set_query(None);
        root.set_fragment(None);
        let scope = format!("{}/.default", endpoint.as_str().trim_end_matches('/'));
        Ok(GraphClient {
            http,
            origin: root.origin(),
            root,
            tokens: token::TokenSource::new(credential, scope, retry.token_wait),
            retry,
        })
    }

    /// Obtains a token now, within the bounded wait, so the first invocation finds one cached.
    /// Never fails: a failure is logged, and invocations try again.
    pub(crate) async fn prefetch_token(&self) {
        match self.tokens.get().await {
            Ok(_) => tracing::info!("obtained a Graph token for the identity"),
            Err(reason) => {
                tracing::warn!(
                    "could not obtain a Graph token yet (invocations will retry): {reason}"
                )
            }
        }
    }

    /// The application permissions the identity's current Graph token grants; `Ok(None)`
    /// when the token does not say (not a JWT).
    ///
    /// # Errors
    ///
    /// When no token could be had; the error gives the reason in one line.
    pub(crate) async fn granted_roles(&self) -> Result<Option<Vec<String>>, String> {
        let token = self.tokens.get().await?;
        Ok(token::roles_in(token.token.secret()))
    }

    /// Reads the user: `GET /users/{user}?$select=…`.
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

    /// Reads the user's phone methods with `GET /users/{user}/authentication/phoneMethods`,
    /// unfiltered: Graph does not document `$filter` here, so we filter by type ourselves.
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

    /// Reads every method of the user, phones included, with `GET
    /// /users/{user}/authentication/methods`. Phone entries carry the phone fields, and
    /// `smsSignInState` too as the docs' tutorial shows it (`None` where Graph leaves it out).
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub(crate) async fn authentication_methods(
        &self,
        user: &UserRef,
    ) -> Result<AuthenticationMethods, GraphError> {
        let operation = GraphOperation::ReadMethods;
        let url = self.user_url(user, &["authentication", "methods"]);
        let methods: Vec<wire::AuthenticationMethod> = self.all_pages(operation, url).await?;
        let mut all = AuthenticationMethods::default();
        for method in methods {
            let kind = method
                .odata_type
                .as_deref()
                .unwrap_or_default()
                .trim_start_matches("#microsoft.graph.")
                .to_owned();
            if kind.eq_ignore_ascii_case("phoneAuthenticationMethod") {
                all.phone.extend(phone_method(wire::PhoneMethod {
                    phone_number: method.phone_number,
                    phone_type: method.phone_type,
                    sms_sign_in_state: method.sms_sign_in_state,
                }));
            } else {
                all.other.push(method_kind(kind));
            }
        }
        Ok(all)
    }

    /// Reads the user and every authentication method in one round trip of latency, as two
    /// concurrent GETs.
    pub(crate) async fn user_and_methods(
        &self,
        user: &UserRef,
    ) -> (
        Result<DirectoryUser, GraphError>,
        Result<AuthenticationMethods, GraphError>,
    ) {
        tokio::join!(self.user(user), self.authentication_methods(user))
    }

    /// Reads the user and their phone methods in one round trip of latency, as two concurrent
    /// GETs.
    pub async fn user_and_phone_methods(
        &self,
        user: &UserRef,
    ) -> (
        Result<DirectoryUser, GraphError>,
        Result<Vec<PhoneMethod>, GraphError>,
    ) {
        tokio::join!(self.user(user), self.phone_methods(user))
    }

    /// Adds a phone method with `POST /users/{id}/authentication/phoneMethods` and returns the
    /// method Graph created.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]. `Unavailable` means the method may or may not exist now.
    pub(crate) async fn add_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
        number: &PhoneNumber,
        window: Option<WriteWindow>,
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
            .send_within(
                operation,
                Method::POST,
                url,
                Some(body),
                Idempotence::Unsafe,
                window,
            )
            .await?;
        if answer.body.is_empty() {
            return Ok(None);
        }
        let method: wire::PhoneMethod = decode(operation, &answer.body)?;
        Ok(phone_method(method))
    }

    /// Changes the number of the user's phone method of a type: `PATCH
    /// /users/{id}/authentication/phoneMethods/{fixed id of the type}`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub(crate) async fn update_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
        number: &PhoneNumber,
        window: Option<WriteWindow>,
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
        self.send_within(
            operation,
            Method::PATCH,
            url,
            Some(body),
            Idempotence::Safe,
            window,
        )
        .await?;
        Ok(())
    }

    /// Removes the user's phone method of a type: `DELETE
    /// /users/{id}/authentication/phoneMethods/{fixed id of the type}`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; `NotFound` when there is no method of the type (any more).
    pub(crate) async fn remove_phone_method(
        &self,
        user_id: &UserRef,
        phone_type: PhoneType,
        window: Option<WriteWindow>,
    ) -> Result<(), GraphError> {
        let operation = GraphOperation::RemovePhoneMethod;
        let url = self.user_url(
            user_id,
            &["authentication", "phoneMethods", phone_type.method_id()],
        );
        // The DELETE is not repeated blindly: had the first one taken effect and someone set a
        // new number meanwhile, a repeat would remove that one. The runbook reads back instead.
        self.send_within(
            operation,
            Method::DELETE,
            url,
            None,
            Idempotence::Unsafe,
            window,
        )
        .await?;
        Ok(())
    }

    /// Turns SMS sign-in on or off: `POST …/phoneMethods/{mobile id}/enableSmsSignIn` or
    /// `…/disableSmsSignIn`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub(crate) async fn set_sms_sign_in(
        &self,
        user_id: &UserRef,
        enable: bool,
        window: Option<WriteWindow>,
    ) -> Result<(), GraphError> {
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
        self.send_within(
            operation,
            Method::POST,
            url,
            None,
            Idempotence::Safe,
            window,
        )
        .await?;
        Ok(())
    }

    /// Reads the tenant's name for the notification: `GET /organization?$select=displayName`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub(crate) async fn organization_name(&self) -> Result<Option<String>, GraphError> {
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
            .map(|display| name(&display))
            .filter(|name| !name.trim().is_empty()))
    }

    /// Sends a mail as `sender` (`POST /users/{sender}/sendMail`), saved to the sender's Sent
    /// Items as the service desk's record. Graph answers 202: it accepted the mail and delivers
    /// it later.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]. The request is repeated only after a 429, so a lost answer never
    /// sends the mail twice.
    pub(crate) async fn send_mail(
        &self,
        sender: &UserRef,
        mail: &OutgoingMail,
    ) -> Result<(), GraphError> {
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

    /// The URL that reads a user with the fields every read of a user asks for
    /// (`/users/{user}?$select=…`).
    pub fn user_read_url(&self, user: &UserRef) -> Url {
        let mut url = self.user_url(user, &[]);
        url.query_pairs_mut().append_pair("$select", USER_FIELDS);
        url
    }

    /// The next page of a collection: Graph's link, verbatim, once it is checked to be on
    /// our endpoint (the token goes nowhere else).
    fn next_page(
        &self,
        operation: GraphOperation,
        link: Option<String>,
    ) -> Result<Option<Url>, GraphError> {
        let Some(link) = link else {
            return Ok(None);
        };
        let url = Url::parse(&link).map_err(|error| malformed(operation, error))?;
        if url.origin() != self.origin {
            return Err(malformed(
                operation,
                "the next page link points away from the Graph endpoint",
            ));
        }
        Ok(Some(url))
    }

    /// Builds `{root}/{segments}`, encoding each segment.
    fn user_free_url(&self, segments: &[&str]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// Builds `{endpoint}/beta/{segments}`, for what Graph offers only in beta.
    fn beta_url(&self, segments: &[&str]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.pop();
            path.push("beta");
            path.extend(segments);
        }
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
}
