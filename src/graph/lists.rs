//! Reads many users at once: with `$batch` (whose items are classified like direct answers),
//! and through the paged lists the owner search takes its candidates from.

use std::time::SystemTime;

use reqwest::{Method, Url};

use super::send::{self, Idempotence, decode, decode_value, malformed};
use super::{
    BatchItem, CandidateList, CandidatePage, GraphClient, GraphError, GraphOperation, ListedUser,
    name, parse_retry_after, phone_method, wire,
};
use crate::phone::PhoneMethod;
use crate::user::{DirectoryUser, UserRef};

impl GraphClient {
    /// `POST /$batch` of at most 20 GETs. The batch itself is retried like any request; the
    /// items' own statuses (an inner 429 with its `Retry-After`) are the caller's to handle.
    ///
    /// # Errors
    ///
    /// A [`GraphError`] when the batch as a whole failed.
    pub async fn batch_get(&self, items: Vec<(String, Url)>) -> Result<Vec<BatchItem>, GraphError> {
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
            .map(|item| BatchItem {
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
        list: CandidateList,
        url: Url,
    ) -> Result<CandidatePage, GraphError> {
        let operation = match list {
            CandidateList::RegistrationReport => GraphOperation::ReadRegistrationReport,
            CandidateList::Users => GraphOperation::ListUsers,
        };
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        let users = match list {
            CandidateList::RegistrationReport => {
                let page: wire::Page<wire::RegistrationDetail> = decode(operation, &answer.body)?;
                (
                    page.value
                        .into_iter()
                        .map(|row| ListedUser {
                            id: row.id,
                            user_principal_name: row.user_principal_name.map(|upn| name(&upn)),
                            display_name: row.user_display_name.map(|display| name(&display)),
                        })
                        .collect(),
                    page.next_link,
                )
            }
            CandidateList::Users => {
                let page: wire::Page<wire::User> = decode(operation, &answer.body)?;
                (
                    page.value
                        .into_iter()
                        .map(|user| ListedUser {
                            id: user.id,
                            user_principal_name: user.user_principal_name.map(|upn| name(&upn)),
                            display_name: user.display_name.map(|display| name(&display)),
                        })
                        .collect(),
                    page.next_link,
                )
            }
        };
        let next = self.next_page(operation, users.1)?;
        Ok(CandidatePage {
            users: users.0,
            next,
        })
    }

    /// Reads the phone methods of up to 20 users in one `$batch`; each user's answer is
    /// classified like a direct read. Users Graph's answer leaves out are missing from the
    /// result (the caller counts them as unread).
    ///
    /// # Errors
    ///
    /// A [`GraphError`] when the batch as a whole failed.
    pub async fn batch_phone_methods(
        &self,
        users: &[UserRef],
    ) -> Result<Vec<(usize, Result<Vec<PhoneMethod>, GraphError>)>, GraphError> {
        self.batch_per_user(users, |user| self.phone_methods_url(user), phone_methods_of)
            .await
    }

    /// Asks one `$batch` item per user (at most 20 users), at the address `url_of` gives for
    /// each, and reads each answer with `read`. An answer comes back with the index of its
    /// user in `users`; an item Graph's answer leaves out, or one whose id is not an index
    /// asked for, is missing from the result.
    pub(super) async fn batch_per_user<T>(
        &self,
        users: &[UserRef],
        url_of: impl Fn(&UserRef) -> Url,
        read: fn(BatchItem) -> Result<T, GraphError>,
    ) -> Result<Vec<(usize, Result<T, GraphError>)>, GraphError> {
        let items = users
            .iter()
            .enumerate()
            .map(|(index, user)| (index.to_string(), url_of(user)))
            .collect();
        let answers = self.batch_get(items).await?;
        Ok(answers
            .into_iter()
            .filter_map(|item| {
                let index = item
                    .id
                    .parse::<usize>()
                    .ok()
                    .filter(|index| *index < users.len())?;
                Some((index, read(item)))
            })
            .collect())
    }
}

/// The user a `$batch` item read, or its failure classified like a direct answer.
///
/// # Errors
///
/// A [`GraphError`] as [`GraphClient::user`] gives it.
pub fn user_of(item: BatchItem) -> Result<DirectoryUser, GraphError> {
    let operation = GraphOperation::ReadUser;
    let user: wire::User = decode_value(operation, item_body(operation, item)?)?;
    Ok(user.into())
}

/// The phone methods a `$batch` item read, or its failure classified like a direct answer.
///
/// # Errors
///
/// A [`GraphError`] as [`GraphClient::phone_methods`] gives it.
pub fn phone_methods_of(item: BatchItem) -> Result<Vec<PhoneMethod>, GraphError> {
    let operation = GraphOperation::ReadPhoneMethods;
    let page: wire::Page<wire::PhoneMethod> = decode_value(operation, item_body(operation, item)?)?;
    Ok(page.value.into_iter().filter_map(phone_method).collect())
}

/// The body of a batch item that succeeded, or its status classified like a direct answer.
pub(super) fn item_body(
    operation: GraphOperation,
    item: BatchItem,
) -> Result<serde_json::Value, GraphError> {
    if (200..300).contains(&item.status) {
        return Ok(item.body);
    }
    let body = serde_json::to_vec(&item.body).unwrap_or_default();
    Err(GraphError {
        operation,
        kind: send::classify(item.status, &body, item.retry_after),
    })
}
