//! One user's changes on one instance at a time, across the Function App: a blob lease on
//! `mfa-phone-locks/{objectId}` in the app's storage account, held while the user is read,
//! planned and written, renewed while held, released after the last write.
//!
//! The invariant: a write is planned from a read made while this instance held the user's
//! lease, or one proved to show every change another instance made. The lease is asked for
//! alongside the first read (no round trip of its own) and the read stands only when
//! ([`UserLease::read_stands`]):
//! - the lease came at the first asking (nobody held it, and nobody's lapsed lease was just
//!   taken over), and
//! - the lease blob was last changed (the last holder marks it after its writes, before it lets
//!   the lease go) more than [`CLOCK_MARGIN`] before the read was sent, or by this instance
//!   itself (its own mark, by ETag: its own writes ended before its read began, since the
//!   instance's lock of the user is kept until the lease is let go), or this instance made the
//!   blob a moment ago (nobody held a lease on the user before).
//!
//! Why that is enough: another instance writes only while it holds the lease, and only while
//! its last renewal is younger than the lease's duration less [`WRITE_MARGIN`]
//! ([`UserLease::ready_to_write`]). If it let the lease go, it marked the blob after its last
//! write, so a write after our read was sent would have marked the blob after that too. If its
//! lease lapsed (it stopped), its last write was sent at least `WRITE_MARGIN` before the lease
//! became free, so before our read was sent, as long as Graph applies a write within
//! `WRITE_MARGIN` of its sending (a request older than the attempt timeout, 15 s, was
//! abandoned). Otherwise the user is read again under the lease: one round trip more, only
//! when another instance was at the same user. Blob leases carry no fencing token, so a holder
//! stopped between that check and its write could still write late: that is the residue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use azure_core::http::RequestContent;
use azure_storage_blob::BlobClient;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResultHeaders,
    BlockBlobClientUploadOptions,
};
use tokio::sync::OnceCell;

use super::{StorageAccount, StorageError, describe_error, status_and_code};

/// The container the leases live in.
pub const CONTAINER: &str = "mfa-phone-locks";
/// How long a lease lasts without renewal (the service allows 15 to 60 s).
const DURATION: Duration = Duration::from_secs(60);
/// How often a held lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(15);
/// No write is sent later than this before the lease would lapse unrenewed.
const WRITE_MARGIN: Duration = Duration::from_secs(20);
/// How far the storage service's clock (its Last-Modified) may be from ours, and the second it
/// rounds to.
const CLOCK_MARGIN: Duration = Duration::from_secs(5);
/// How many users' marks an instance remembers (then it forgets them all and reads again).
const MARKS_REMEMBERED: usize = 10_000;
/// The first pause before asking again for a lease another instance holds; it doubles.
const FIRST_WAIT: Duration = Duration::from_millis(100);
const LONGEST_WAIT: Duration = Duration::from_secs(2);

/// The leases of the app's storage account.
pub struct UserLeases {
    account: StorageAccount,
    container_ready: OnceCell<()>,
    /// The ETag of this instance's last mark on each user's lease blob.
    own_marks: Arc<Mutex<HashMap<String, String>>>,
}

/// A user's lease, held until [`UserLease::release`].
pub struct UserLease {
    blob: Arc<BlobClient>,
    id: String,
    /// When the lease was last acquired or renewed (taken before the request was sent).
    renewed: Arc<Mutex<Instant>>,
    /// When the lease blob was last changed, as the service said at acquisition.
    last_change: Option<SystemTime>,
    /// Whether that last change was this instance's own mark, or this instance made the blob.
    own_last_change: bool,
    /// Where this instance's marks are remembered, and under which name.
    own_marks: Arc<Mutex<HashMap<String, String>>>,
    name: String,
    /// Whether another instance held the lease when it was first asked for, or the blob had to
    /// be made.
    contended: bool,
    /// Whether a write was (or may have been) sent under the lease.
    wrote: std::sync::atomic::AtomicBool,
    renewer: tokio::task::JoinHandle<()>,
}

/// Why no lease could be had.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another instance held the user's lease for all of the time there was.
    #[error("another instance held the user's lease for the {} s this invocation could wait", .waited.as_secs())]
    Busy { waited: Duration },
    /// The storage account did not give it (unreachable, refused).
    #[error("the storage account did not give the user's lease: {0}")]
    Unavailable(String),
}

impl UserLeases {
    pub fn new(account: StorageAccount) -> UserLeases {
        UserLeases {
            account,
            container_ready: OnceCell::new(),
            own_marks: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Where the leases are, for the start-up log.
    pub fn describe(&self) -> String {
        format!("{} in {}", CONTAINER, self.account.describe())
    }

    /// The lease of the user with `object_id`, waiting for another instance's until `until`.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Busy`] when another instance kept it, [`LeaseError::Unavailable`] when the
    /// storage account did not answer as it should.
    pub async fn acquire(&self, object_id: &str, until: Instant) -> Result<UserLease, LeaseError> {
        let started = Instant::now();
        let service = self
            .account
            .blob_service()
            .map_err(|StorageError(error)| LeaseError::Unavailable(error))?;
        let container = service.blob_container_client(CONTAINER);
        let name = object_id.to_ascii_lowercase();
        let blob = Arc::new(container.blob_client(&name));
        let id = uuid::Uuid::new_v4().to_string();
        let mut contended = false;
        let mut fresh = false;
        let mut wait = FIRST_WAIT;
        loop {
            let sent = Instant::now();
            let asked = blob
                .acquire_lease(
                    i32::try_from(DURATION.as_secs()).unwrap_or(60),
                    Some(BlobClientAcquireLeaseOptions {
                        proposed_lease_id: Some(id.clone()),
                        ..BlobClientAcquireLeaseOptions::default()
                    }),
                )
                .await;
            let error = match asked {
                Ok(response) => {
                    let last_change = response
                        .last_modified()
                        .ok()
                        .flatten()
                        .map(SystemTime::from);
                    let etag = response.etag().ok().flatten().map(|etag| etag.to_string());
                    let own_mark =
                        etag.is_some() && lock(&self.own_marks).get(&name) == etag.as_ref();
                    let renewed = Arc::new(Mutex::new(sent));
                    let renewer = tokio::spawn(renew(blob.clone(), id.clone(), renewed.clone()));
                    return Ok(UserLease {
                        blob,
                        id,
                        renewed,
                        last_change,
                        own_last_change: own_mark || fresh,
                        own_marks: self.own_marks.clone(),
                        name,
                        contended,
                        wrote: std::sync::atomic::AtomicBool::new(false),
                        renewer,
                    });
                }
                Err(error) => error,
            };
            match status_and_code(&error) {
                (Some(409), Some("LeaseAlreadyPresent")) => {
                    contended = true;
                    if Instant::now() + wait > until {
                        return Err(LeaseError::Busy {
                            waited: started.elapsed(),
                        });
                    }
                    let jitter = wait.mul_f64(rand::random::<f64>() * 0.5);
                    tokio::time::sleep(wait + jitter).await;
                    wait = (wait * 2).min(LONGEST_WAIT);
                }
                (Some(404), Some("ContainerNotFound")) => {
                    self.container_ready
                        .get_or_try_init(|| async {
                            match container.create(None).await {
                                Ok(_) => Ok(()),
                                Err(error)
                                    if status_and_code(&error).1
                                        == Some("ContainerAlreadyExists") =>
                                {
                                    Ok(())
                                }
                                Err(error) => Err(LeaseError::Unavailable(format!(
                                    "could not create the container {CONTAINER}: {}",
                                    describe_error(&error)
                                ))),
                            }
                        })
                        .await?;
                }
                (Some(404), Some("BlobNotFound")) => {
                    // The user's first lease: make the blob. Made by us, nobody held a lease on
                    // the user before; made by someone else a moment ago, read again.
                    let made = blob
                        .upload(
                            RequestContent::from(Vec::<u8>::new()),
                            Some(BlockBlobClientUploadOptions::default().if_not_exists()),
                        )
                        .await;
                    match made {
                        Ok(_) => fresh = true,
                        Err(error) if matches!(status_and_code(&error), (Some(409 | 412), _)) => {
                            contended = true;
                        }
                        Err(error) => {
                            return Err(LeaseError::Unavailable(format!(
                                "could not create the lease blob: {}",
                                describe_error(&error)
                            )));
                        }
                    }
                }
                _ => return Err(LeaseError::Unavailable(describe_error(&error))),
            }
            if Instant::now() >= until {
                return Err(LeaseError::Busy {
                    waited: started.elapsed(),
                });
            }
        }
    }
}

impl UserLease {
    /// Whether a read of the user sent at `sent`, before the lease was had, shows every change
    /// another instance made (see the module's proof); otherwise read again.
    pub fn read_stands(&self, sent: SystemTime) -> bool {
        !self.contended
            && (self.own_last_change
                || self
                    .last_change
                    .is_some_and(|changed| changed + CLOCK_MARGIN < sent))
    }

    /// Whether another instance held the lease when it was asked for.
    pub fn was_contended(&self) -> bool {
        self.contended
    }

    /// Makes sure a write may be sent now: the lease is renewed at once when its last renewal
    /// is older than the duration less [`WRITE_MARGIN`].
    ///
    /// # Errors
    ///
    /// [`LeaseError::Unavailable`] when it cannot be renewed: the lease may be lost, and
    /// nothing may be written.
    pub async fn ready_to_write(&self) -> Result<(), LeaseError> {
        let last = *self
            .renewed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.elapsed() + WRITE_MARGIN < DURATION {
            self.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok(());
        }
        let sent = Instant::now();
        self.blob
            .renew_lease(self.id.clone(), None)
            .await
            .map_err(|error| {
                LeaseError::Unavailable(format!(
                    "the user's lease could not be renewed before a write: {}",
                    describe_error(&error)
                ))
            })?;
        *self
            .renewed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = sent;
        self.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Lets the lease go: after a write, first marks the blob (its Last-Modified says when this
    /// holder's writes ended), then releases. A failure only costs others a wait for the lease
    /// to lapse.
    pub async fn release(self) {
        self.renewer.abort();
        if self.wrote.load(std::sync::atomic::Ordering::SeqCst) {
            let marked = self
                .blob
                .upload(
                    RequestContent::from(Vec::<u8>::new()),
                    Some(BlockBlobClientUploadOptions {
                        lease_id: Some(self.id.clone()),
                        ..BlockBlobClientUploadOptions::default()
                    }),
                )
                .await;
            match marked {
                Ok(mark) => {
                    let mut marks = lock(&self.own_marks);
                    if marks.len() > MARKS_REMEMBERED {
                        marks.clear();
                    }
                    match mark.etag {
                        Some(etag) => marks.insert(self.name.clone(), etag.to_string()),
                        None => marks.remove(&self.name),
                    };
                }
                Err(error) => {
                    // Not released unmarked: the lease lapses instead, which readers treat as
                    // a change they must read again after.
                    tracing::warn!(
                        "could not mark the user's lease blob after a write ({}); leaving the \
                         lease to lapse",
                        describe_error(&error)
                    );
                    return;
                }
            }
        }
        if let Err(error) = self.blob.release_lease(self.id.clone(), None).await {
            tracing::warn!(
                "could not release the user's lease ({}); it lapses within {} s",
                describe_error(&error),
                DURATION.as_secs()
            );
        }
    }
}

/// Renews the lease every [`RENEW_EVERY`] until the task is stopped or a renewal fails.
async fn renew(blob: Arc<BlobClient>, id: String, renewed: Arc<Mutex<Instant>>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let sent = Instant::now();
        match blob.renew_lease(id.clone(), None).await {
            Ok(_) => {
                *renewed
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = sent;
            }
            Err(error) => {
                tracing::warn!(
                    "could not renew a user's lease ({}); writes wait for a renewal",
                    describe_error(&error)
                );
                return;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
