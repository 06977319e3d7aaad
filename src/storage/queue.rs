//! Sends, receives, renews and settles the messages of one storage queue. Message text goes as
//! it is (the crate sends no base64), which is what the Functions host reads and writes with
//! `messageEncoding: none` (host.json); [`Encoding::Base64`] is there for a host left at its
//! default.

use std::time::Duration;

use azure_core::http::{RequestContent, headers::HeaderName};
use azure_storage_queue::QueueClient;
use azure_storage_queue::models::{
    QueueClientPeekMessagesOptions, QueueClientReceiveMessagesOptions,
    QueueClientSendMessageOptions, QueueClientUpdateMessageOptions, QueueMessage,
};
use base64::Engine;

use super::{StorageAccount, StorageError, describe_error};

/// How message text is written to the queue (host.json `extensions.queues.messageEncoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The text as it is.
    None,
    /// Base64 of the UTF-8 text: the host's default.
    Base64,
}

impl Encoding {
    /// Reads the encoding host.json names (`none` or `base64`, any case).
    #[cfg(feature = "simulator")]
    pub(crate) fn parse(text: &str) -> Option<Encoding> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Encoding::None),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }

    fn encode(self, text: &str) -> String {
        match self {
            Encoding::None => text.to_owned(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(text),
        }
    }

    /// Decodes the text of a message as stored; `None` when it is not valid in this encoding
    /// (the host moves such a message to the poison queue).
    fn decode(self, stored: &str) -> Option<String> {
        match self {
            Encoding::None => Some(stored.to_owned()),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(stored.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok()),
        }
    }
}

/// A queue of the account.
#[derive(Clone)]
pub struct Queue {
    name: String,
    client: std::sync::Arc<QueueClient>,
    encoding: Encoding,
}

/// A message as received: its text (decoded; `None` when it could not be) and what settling it
/// needs.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub pop_receipt: String,
    pub dequeue_count: u64,
    /// The text as stored in the queue.
    pub stored: String,
    /// The text, decoded by the queue's encoding.
    pub text: Option<String>,
    #[cfg(feature = "simulator")]
    pub(crate) insertion_time: Option<azure_core::time::OffsetDateTime>,
    #[cfg(feature = "simulator")]
    pub(crate) expiration_time: Option<azure_core::time::OffsetDateTime>,
    #[cfg(feature = "simulator")]
    pub(crate) next_visible_time: Option<azure_core::time::OffsetDateTime>,
}

impl Queue {
    /// Opens the queue `name` of `account`, whose messages are written with `encoding`.
    ///
    /// # Errors
    ///
    /// When the account has no queue service.
    pub fn new(
        account: &StorageAccount,
        name: &str,
        encoding: Encoding,
    ) -> Result<Queue, StorageError> {
        Ok(Queue {
            name: name.to_owned(),
            client: std::sync::Arc::new(account.queue(name)?),
            encoding,
        })
    }

    /// Creates the queue unless it is there (creating an existing queue succeeds).
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn create_if_missing(&self) -> Result<(), StorageError> {
        self.client
            .create(None)
            .await
            .map(|_| ())
            .map_err(|error| self.failed("create", &error))
    }

    /// Puts `text` on the queue and returns its message id.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn send(&self, text: &str) -> Result<String, StorageError> {
        let message = QueueMessage {
            message_text: Some(self.encoding.encode(text)),
        };
        let content: RequestContent<QueueMessage, _> = message
            .try_into()
            .map_err(|error| self.failed("send to", &error))?;
        let sent = self
            .client
            .send_message(
                content,
                Some(QueueClientSendMessageOptions {
                    visibility_timeout: Some(0),
                    ..QueueClientSendMessageOptions::default()
                }),
            )
            .await
            .and_then(|response| response.into_model())
            .and_then(|list| list.into_message())
            .map_err(|error| self.failed("send to", &error))?;
        Ok(sent.message_id.unwrap_or_default())
    }

    /// Puts a message on the queue whose stored text is `stored`, not encoded again (a message
    /// copied from another queue as it was, as the host copies one to a poison queue).
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    #[cfg(feature = "simulator")]
    pub(crate) async fn send_stored(&self, stored: &str) -> Result<String, StorageError> {
        let raw = Queue {
            encoding: Encoding::None,
            ..self.clone()
        };
        raw.send(stored).await
    }

    /// Takes up to `count` (1 to 32) visible messages, which stay invisible to others for
    /// `visibility`.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn receive(
        &self,
        count: u32,
        visibility: Duration,
    ) -> Result<Vec<Received>, StorageError> {
        let received = self
            .client
            .receive_messages(Some(QueueClientReceiveMessagesOptions {
                number_of_messages: Some(count.clamp(1, 32) as i32),
                visibility_timeout: Some(seconds(visibility).max(1)),
                ..QueueClientReceiveMessagesOptions::default()
            }))
            .await
            .and_then(|response| response.into_model())
            .map_err(|error| self.failed("receive from", &error))?;
        Ok(received
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| {
                let stored = message.message_text.unwrap_or_default();
                Some(Received {
                    id: message.message_id?,
                    pop_receipt: message.pop_receipt?,
                    dequeue_count: message
                        .dequeue_count
                        .and_then(|count| u64::try_from(count).ok())
                        .unwrap_or(1),
                    text: self.encoding.decode(&stored),
                    stored,
                    #[cfg(feature = "simulator")]
                    insertion_time: message.insertion_time,
                    #[cfg(feature = "simulator")]
                    expiration_time: message.expiration_time,
                    #[cfg(feature = "simulator")]
                    next_visible_time: message.time_next_visible,
                })
            })
            .collect())
    }

    /// Reads the texts of up to `count` visible messages, leaving them in place.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn peek(&self, count: u32) -> Result<Vec<String>, StorageError> {
        let peeked = self
            .client
            .peek_messages(Some(QueueClientPeekMessagesOptions {
                number_of_messages: Some(count.clamp(1, 32) as i32),
                ..QueueClientPeekMessagesOptions::default()
            }))
            .await
            .and_then(|response| response.into_model())
            .map_err(|error| self.failed("peek into", &error))?;
        Ok(peeked
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| message.message_text)
            .map(|stored| self.encoding.decode(&stored).unwrap_or(stored))
            .collect())
    }

    /// Makes the message visible again after `visibility` (or keeps it invisible that long),
    /// and returns the new pop receipt.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue (a stale pop receipt: `PopReceiptMismatch`).
    pub async fn set_visibility(
        &self,
        id: &str,
        pop_receipt: &str,
        visibility: Duration,
    ) -> Result<String, StorageError> {
        let response = self
            .client
            .update_message(
                id,
                pop_receipt,
                seconds(visibility),
                None::<QueueClientUpdateMessageOptions<'_>>,
            )
            .await
            .map_err(|error| self.failed("update a message of", &error))?;
        Ok(response
            .headers()
            .get_optional_string(&HeaderName::from_static("x-ms-popreceipt"))
            .unwrap_or_else(|| pop_receipt.to_owned()))
    }

    /// Counts the messages the queue holds, visible or not (the service's count is never lower
    /// than the true one).
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn approximate_count(&self) -> Result<u64, StorageError> {
        use azure_storage_queue::models::QueueClientGetPropertiesResultHeaders;
        let properties = self
            .client
            .get_properties(None)
            .await
            .map_err(|error| self.failed("read the properties of", &error))?;
        Ok(properties
            .approximate_messages_count()
            .ok()
            .flatten()
            .and_then(|count| u64::try_from(count).ok())
            .unwrap_or(0))
    }

    /// Deletes the message.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] naming the queue.
    pub async fn delete(&self, id: &str, pop_receipt: &str) -> Result<(), StorageError> {
        self.client
            .delete_message(id, pop_receipt, None)
            .await
            .map(|_| ())
            .map_err(|error| self.failed("delete a message of", &error))
    }

    fn failed(&self, what: &str, error: &azure_core::Error) -> StorageError {
        StorageError(format!(
            "could not {what} the queue {}: {}",
            self.name,
            describe_error(error)
        ))
    }
}

/// Truncates to whole seconds, as the queue service takes them, within its range (up to 7
/// days).
fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().min(604_800)).unwrap_or(604_800)
}

/// Reads a result message as a reader takes it, whatever the host wrote: JSON text (indented or
/// not, as the host writes an object) or, under the host's default encoding, base64 of it.
pub fn read_json(stored: &str) -> Option<serde_json::Value> {
    serde_json::from_str(stored).ok().or_else(|| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored.trim())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    })
}
