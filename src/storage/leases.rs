//! One user's changes on one instance at a time, across the Function App: a blob lease on
//! `mfa-phone-locks/{objectId}` in the app's storage account, held while the user is read,
//! planned and written, renewed while held, released after the last write.
//!
//! The invariant: a write is planned from a read made while this instance held the user's
//! lease, or one proved to show every change another instance made. The lease is asked for
//! alongside the first read (no round trip of its own) and the read stands only when
//! ([`UserLease::read_stands`]):
//! - the lease came at the first asking (nobody held it), within [`GRANT_WITHIN`] of the
//!   read's sending,
//! - the storage service's clock (the grant's `Date`) agrees with ours within
//!   [`CLOCK_SKEW`] and the second `Date` rounds to ([`clocks_agree`]): the next condition compares the service's Last-Modified with our clock, and
//!   [`CLOCK_MARGIN`] covers only that much disagreement, and
//! - the lease blob was last changed (the last holder marks it after its writes, before it lets
//!   the lease go) more than [`CLOCK_MARGIN`] before the read was sent, or by this instance
//!   itself (its own mark, by ETag: its own writes ended before its read began, since the
//!   instance's lock of the user is kept until the lease is let go). A blob this instance has
//!   just made is not its mark: the blob may be missing because it was deleted, and whoever
//!   held the lease before may have written after the read was sent, so that read is made again.
//!
//! Why that is enough: another instance writes only while it holds the lease, and starts a
//! write attempt only while a renewal made right before it is younger than the lease's duration
//! less [`WRITE_MARGIN`] ([`UserLease::ready_to_write`] renews and says until when an attempt
//! may start, [`Renewed`]: a lease lost since the last renewal is found out then, not
//! trusted), each attempt
//! abandoned after [`WRITE_ATTEMPT_TIMEOUT`]. If it let the lease go, every write of its was
//! answered and it marked the blob after the last one, so a write after our read was sent would
//! have marked the blob after that too. If its lease lapsed (it stopped, lost the storage
//! account, or had a write whose outcome it never learnt: then it lets the lease lapse on
//! purpose), its last attempt was sent at least `WRITE_MARGIN` before the lease became free;
//! the lease became free before the service granted it to us, at most `GRANT_WITHIN` after our
//! read was sent; so that attempt was sent more than `WRITE_MARGIN - GRANT_WITHIN` (17 s)
//! before our read, and Graph had applied it by then as long as Graph applies a write within
//! that time of its sending (the attempt timeout is 15 s). Otherwise the user is read again
//! under the lease: one round trip more, only when another instance was at the same user a
//! moment ago, the clocks disagree, or the blob was just made (the user's first change through
//! the storage account, or the first after the blob was deleted). Blob
//! leases carry no fencing token, so a holder paused for longer than `WRITE_MARGIN` between
//! its check and its sending could still write late: that is the residue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use azure_core::http::headers::HeaderName;
use azure_core::http::{NoFormat, RequestContent, Response};
use azure_core::time::parse_rfc7231;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResult,
    BlobClientAcquireLeaseResultHeaders, BlockBlobClientUploadOptions,
};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use tokio::sync::watch;

use super::{StorageAccount, StorageError, describe_error, status_and_code};
use crate::backoff::Backoff;
use crate::mutex::lock;

/// The container the leases live in.
pub const CONTAINER: &str = "mfa-phone-locks";
/// How long a lease lasts without renewal (the service allows 15 to 60 s).
const DURATION: Duration = Duration::from_secs(60);
/// How often a held lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// The pause before a failed renewal is tried again.
const RENEW_RETRY: Duration = Duration::from_secs(2);
/// No write attempt starts later than this before the lease would lapse unrenewed.
const WRITE_MARGIN: Duration = Duration::from_secs(20);
/// The longest one write attempt under a lease may take before it is abandoned.
pub const WRITE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// A read sent alongside the lease's asking stands only when the lease was granted within this
/// of the read's sending.
const GRANT_WITHIN: Duration = Duration::from_secs(3);
/// How far the storage service's clock (its Last-Modified) may be from ours, and the second it
/// rounds to.
const CLOCK_MARGIN: Duration = Duration::from_secs(5);
/// How far the service's `Date` may be from our clock, beyond the second it rounds down to,
/// for a read to stand: more, and [`CLOCK_MARGIN`] no longer covers the disagreement.
const CLOCK_SKEW: Duration = Duration::from_secs(2);
/// How many users' marks an instance remembers (then it forgets them all and reads again).
const MARKS_REMEMBERED: usize = 10_000;
/// The pauses before asking again for a lease another instance holds: from 100 ms, doubling,
/// up to 2 s, each stretched by up to half again.
const WAITS: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));

/// The leases of the app's storage account.
pub struct UserLeases {
    account: StorageAccount,
    /// The ETag of this instance's last mark on each user's lease blob.
    own_marks: Arc<Mutex<HashMap<String, String>>>,
    /// Whether the log has said that the service's clock and ours disagree (said once).
    said_clock_skew: AtomicBool,
}

/// A user's lease, held until [`UserLease::release`].
pub struct UserLease {
    blob: Arc<BlobClient>,
    id: String,
    /// When the lease was last acquired or renewed (taken before the request was sent).
    renewed: Arc<Mutex<Instant>>,
    /// What the read's proof looks at.
    grant: Grant,
    /// Where this instance's marks are remembered, and under which name.
    own_marks: Arc<Mutex<HashMap<String, String>>>,
    name: String,
    /// Whether a write was (or may have been) sent under the lease.
    wrote: AtomicBool,
    /// Whether a write's outcome is unknown (an attempt under way, abandoned, cancelled with
    /// its invocation, or answered 5xx: the attempts keep it through [`Renewed::doubt`]): Graph
    /// may still apply it, so the lease is left to lapse rather than released.
    in_doubt: Arc<AtomicBool>,
    /// Stops the renewer when sent to or dropped (a renewal under way is finished first).
    stop_renewing: watch::Sender<bool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// What the service's grant of a lease says about the reads sent alongside its asking: the
/// facts [`Grant::read_stands`] (the module's proof) decides from.
#[derive(Clone, Copy, Debug)]
struct Grant {
    /// When the successful asking was sent, and when its answer came.
    asked: Instant,
    granted: Instant,
    /// When the lease blob was last changed, as the service said at acquisition.
    last_change: Option<SystemTime>,
    /// Whether the service's clock agreed with ours when it granted the lease ([`clocks_agree`]).
    clocks_agree: bool,
    /// Whether that last change was this instance's own mark (not a blob it has just made).
    own_last_change: bool,
    /// Whether another instance held the lease when it was first asked for, or made the blob
    /// while this one tried to.
    contended: bool,
}

impl Grant {
    /// Whether a read sent at `sent` shows every change another instance made (see the
    /// module's proof). Pure: it looks at no clock.
    fn read_stands(&self, sent: Moment) -> bool {
        !self.contended
            && self.asked >= sent.monotonic
            && self.granted.saturating_duration_since(sent.monotonic) <= GRANT_WITHIN
            && self.clocks_agree
            && (self.own_last_change
                || self
                    .last_change
                    .is_some_and(|changed| changed + CLOCK_MARGIN < sent.wall))
    }
}

/// Whether the service's `Date` on an answer (whole seconds, rounded down) agrees within
/// [`CLOCK_SKEW`] with our clock between the asking's sending (`asked`) and its answer
/// (`answered`). Pure. No `Date` is no agreement. Each bound takes the end of the exchange
/// that is worse for it: a service clock behind ours (the unsafe side: its Last-Modified looks
/// older than it is) is measured against the answer's arrival, one ahead against the sending.
fn clocks_agree(service_date: Option<SystemTime>, asked: SystemTime, answered: SystemTime) -> bool {
    service_date.is_some_and(|date| {
        date + Duration::from_secs(1) + CLOCK_SKEW >= answered && date <= asked + CLOCK_SKEW
    })
}

/// A moment, by the wall clock (compared with the storage service's Last-Modified) and by the
/// monotonic one.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    pub wall: SystemTime,
    pub monotonic: Instant,
}

impl Moment {
    pub fn now() -> Moment {
        Moment {
            wall: SystemTime::now(),
            monotonic: Instant::now(),
        }
    }
}

/// What a renewal right before a write says: the last instant a write attempt may start under
/// the lease, how long one attempt may take, and the lease's flag of a write whose outcome is
/// unknown, which the attempts set when they go out and clear on a definite answer (the claim
/// makes the write's window of it). `start_by` is on the monotonic clock, not tokio's: the
/// lease lapses on the storage service's real time, which a paused clock in a test does not
/// stop.
#[derive(Clone, Debug)]
pub struct Renewed {
    start_by: Instant,
    attempt_timeout: Duration,
    doubt: Arc<AtomicBool>,
}

impl Renewed {
    /// When a write attempt must start by, how long one may take, and the flag a write in doubt
    /// sets. Only a renewal makes a `Renewed`: no write window can be had without one.
    pub fn into_parts(self) -> (Instant, Duration, Arc<AtomicBool>) {
        (self.start_by, self.attempt_timeout, self.doubt)
    }
}

/// Why no lease could be had.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another instance held the user's lease for all of the time there was.
    #[error("another instance held the user's lease for the {:.1} s this invocation could wait", .waited.as_secs_f64())]
    Busy { waited: Duration },
    /// The storage account did not give it (unreachable, refused).
    #[error("the storage account did not give the user's lease: {0}")]
    Unavailable(String),
}

impl UserLeases {
    pub fn new(account: StorageAccount) -> UserLeases {
        UserLeases {
            account,
            own_marks: Arc::new(Mutex::new(HashMap::new())),
            said_clock_skew: AtomicBool::new(false),
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
        let busy = || LeaseError::Busy {
            waited: started.elapsed(),
        };
        let mut contended = false;
        let mut made_container = false;
        let mut failures = 0;
        let mut wait = WAITS.half_jitter(failures, rand::random::<f64>());
        loop {
            let sent = Moment::now();
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
                    let asking = Asking {
                        blob,
                        id,
                        name,
                        sent,
                        contended,
                    };
                    return Ok(self.granted(asking, &response));
                }
                Err(error) => error,
            };
            match status_and_code(&error) {
                (Some(409), Some("LeaseAlreadyPresent")) => {
                    contended = true;
                    if Instant::now() + wait > until {
                        return Err(busy());
                    }
                    tokio::time::sleep(wait).await;
                    failures += 1;
                    wait = WAITS.half_jitter(failures, rand::random::<f64>());
                }
                (Some(404), Some("ContainerNotFound")) if !made_container => {
                    // Made once per asking: a container that is gone again is not ours to chase.
                    made_container = true;
                    create_container(&container).await?;
                }
                (Some(404), Some("BlobNotFound")) => {
                    contended |= self.make_blob(&blob).await?;
                }
                _ => return Err(LeaseError::Unavailable(describe_error(&error))),
            }
            if Instant::now() >= until {
                return Err(busy());
            }
        }
    }

    /// The lease the service granted to `asking`, with its renewer started.
    fn granted(
        &self,
        asking: Asking,
        response: &Response<BlobClientAcquireLeaseResult, NoFormat>,
    ) -> UserLease {
        let Asking {
            blob,
            id,
            name,
            sent,
            contended,
        } = asking;
        let last_change = response
            .last_modified()
            .ok()
            .flatten()
            .map(SystemTime::from);
        let service_date = response
            .headers()
            .get_optional_str(&HeaderName::from_static("date"))
            .and_then(|date| parse_rfc7231(date).ok())
            .map(SystemTime::from);
        let clocks_agree = clocks_agree(service_date, sent.wall, SystemTime::now());
        if !clocks_agree && !self.said_clock_skew.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the storage account's clock (Date: {}) is more than {} s from this instance's: \
                 every change reads the user again under the lease until they agree",
                service_date.map_or_else(|| "none".to_owned(), |date| format!("{date:?}")),
                CLOCK_SKEW.as_secs()
            );
        }
        let etag = response.etag().ok().flatten().map(|etag| etag.to_string());
        let own_mark = etag.is_some() && lock(&self.own_marks).get(&name) == etag.as_ref();
        let renewed = Arc::new(Mutex::new(sent.monotonic));
        let (stop_renewing, stop) = watch::channel(false);
        let renewer = tokio::spawn(renew(blob.clone(), id.clone(), renewed.clone(), stop));
        UserLease {
            blob,
            id,
            renewed,
            grant: Grant {
                asked: sent.monotonic,
                granted: Instant::now(),
                last_change,
                clocks_agree,
                own_last_change: own_mark,
                contended,
            },
            own_marks: self.own_marks.clone(),
            name,
            wrote: AtomicBool::new(false),
            in_doubt: Arc::new(AtomicBool::new(false)),
            stop_renewing,
            renewer: Some(renewer),
        }
    }

    /// Makes the user's lease blob, then it is asked for again. Made by someone else a moment
    /// ago, `Ok(true)`: contended. Made by us, it is still not our mark: a missing blob may have
    /// been deleted after another instance's writes, so the read alongside is made again.
    async fn make_blob(&self, blob: &BlobClient) -> Result<bool, LeaseError> {
        let made = blob
            .upload(
                RequestContent::from(Vec::<u8>::new()),
                Some(BlockBlobClientUploadOptions::default().if_not_exists()),
            )
            .await;
        match made {
            Ok(_) => Ok(false),
            Err(error) if matches!(status_and_code(&error), (Some(409 | 412), _)) => Ok(true),
            Err(error) => Err(LeaseError::Unavailable(format!(
                "could not create the lease blob: {}",
                describe_error(&error)
            ))),
        }
    }
}

/// One successful asking for a user's lease.
struct Asking {
    blob: Arc<BlobClient>,
    id: String,
    name: String,
    /// When the asking that was granted was sent.
    sent: Moment,
    contended: bool,
}

/// Makes the leases' container (someone else having made it meanwhile is as good).
async fn create_container(container: &BlobContainerClient) -> Result<(), LeaseError> {
    match container.create(None).await {
        Ok(_) => Ok(()),
        Err(error) if status_and_code(&error).1 == Some("ContainerAlreadyExists") => Ok(()),
        Err(error) => Err(LeaseError::Unavailable(format!(
            "could not create the container {CONTAINER}: {}",
            describe_error(&error)
        ))),
    }
}

impl UserLease {
    /// Whether a read of the user sent at `sent`, alongside the lease's asking, shows every
    /// change another instance made (see the module's proof); otherwise read again.
    pub fn read_stands(&self, sent: Moment) -> bool {
        self.grant.read_stands(sent)
    }

    /// Whether another instance held the lease when it was asked for.
    pub fn was_contended(&self) -> bool {
        self.grant.contended
    }

    /// Until when a write may be attempted now: the lease is renewed first, every time, so
    /// that a lease lost since the renewer's last renewal (broken, or taken after a pause of
    /// this instance) is found out before the write rather than trusted.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Unavailable`] when it cannot be renewed: the lease may be lost, and
    /// nothing may be written.
    pub async fn ready_to_write(&self) -> Result<Renewed, LeaseError> {
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
        let last = {
            let mut renewed = lock(&self.renewed);
            *renewed = (*renewed).max(sent);
            *renewed
        };
        self.wrote.store(true, Ordering::SeqCst);
        Ok(Renewed {
            start_by: last + (DURATION - WRITE_MARGIN),
            attempt_timeout: WRITE_ATTEMPT_TIMEOUT,
            doubt: self.in_doubt.clone(),
        })
    }

    /// Says that a write's outcome is unknown: the lease will be left to lapse, not released.
    /// (Writes sent within the time [`UserLease::ready_to_write`] gives say so themselves,
    /// through [`Renewed::doubt`].)
    pub fn write_in_doubt(&self) {
        self.in_doubt.store(true, Ordering::SeqCst);
    }

    /// Lets the lease go: after a write, first marks the blob (its Last-Modified says when this
    /// holder's writes ended), then releases. After a write in doubt, or when the mark fails, the
    /// lease is left to lapse instead, which readers treat as a change to read again after. A
    /// failure only costs others a wait for the lease to lapse.
    pub async fn release(mut self) {
        // Stop the renewer and wait for a renewal under way: one arriving after the release
        // would take the lease again.
        let _ = self.stop_renewing.send(true);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
        if self.in_doubt.load(Ordering::SeqCst) {
            tracing::warn!(
                "a write's outcome under the user's lease is unknown; leaving the lease to lapse \
                 (within {} s) so that the next holder reads after it",
                DURATION.as_secs()
            );
            return;
        }
        if self.wrote.load(Ordering::SeqCst) {
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
                Ok(mark) => match mark.etag {
                    Some(etag) => remember(&self.own_marks, &self.name, etag.to_string()),
                    None => {
                        lock(&self.own_marks).remove(&self.name);
                    }
                },
                Err(error) => {
                    // Not released unmarked: the lease lapses instead.
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

/// A lease dropped without [`UserLease::release`] is no longer renewed (the renewer stops when
/// its sender is dropped) and lapses.
impl Drop for UserLease {
    fn drop(&mut self) {
        let _ = self.stop_renewing.send(true);
    }
}

/// Renews the lease every [`RENEW_EVERY`] (after a failure, again after [`RENEW_RETRY`]) until
/// told to stop; a renewal under way is finished first.
async fn renew(
    blob: Arc<BlobClient>,
    id: String,
    renewed: Arc<Mutex<Instant>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = RENEW_EVERY;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let sent = Instant::now();
        match blob.renew_lease(id.clone(), None).await {
            Ok(_) => {
                let mut last = lock(&renewed);
                *last = (*last).max(sent);
                wait = RENEW_EVERY;
            }
            Err(error) => {
                tracing::warn!(
                    "could not renew a user's lease ({}); trying again, and no write starts \
                     without a renewal",
                    describe_error(&error)
                );
                wait = RENEW_RETRY;
            }
        }
    }
}

/// Remembers `etag` as this instance's last mark on `name`'s blob.
fn remember(marks: &Mutex<HashMap<String, String>>, name: &str, etag: String) {
    let mut marks = lock(marks);
    if marks.len() >= MARKS_REMEMBERED {
        marks.clear();
    }
    marks.insert(name.to_owned(), etag);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::{CLOCK_MARGIN, CLOCK_SKEW, GRANT_WITHIN, Grant, Moment, clocks_agree};

    #[test]
    fn a_read_stands_only_when_the_proof_holds() {
        let sent = Moment {
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
            monotonic: Instant::now(),
        };
        let second = Duration::from_secs(1);
        let long_ago = Some(sent.wall - CLOCK_MARGIN - second);
        let just_now = Some(sent.wall - CLOCK_MARGIN + second);
        let clear = Grant {
            asked: sent.monotonic,
            granted: sent.monotonic + second,
            last_change: long_ago,
            clocks_agree: true,
            own_last_change: false,
            contended: false,
        };
        // (what differs from a clear grant, whether the read stands)
        let cases: [(&str, Grant, bool); 11] = [
            ("a first-asking grant after a long-quiet blob", clear, true),
            (
                "another instance held it",
                Grant {
                    contended: true,
                    ..clear
                },
                false,
            ),
            (
                "the asking went out before the read",
                Grant {
                    asked: sent.monotonic - second,
                    ..clear
                },
                false,
            ),
            (
                "granted exactly at the limit",
                Grant {
                    granted: sent.monotonic + GRANT_WITHIN,
                    ..clear
                },
                true,
            ),
            (
                "granted later than the limit",
                Grant {
                    granted: sent.monotonic + GRANT_WITHIN + second,
                    ..clear
                },
                false,
            ),
            (
                "the blob changed within the clock margin",
                Grant {
                    last_change: just_now,
                    ..clear
                },
                false,
            ),
            (
                "the blob changed within the margin, by this instance's own mark",
                Grant {
                    last_change: just_now,
                    own_last_change: true,
                    ..clear
                },
                true,
            ),
            (
                "no last change known",
                Grant {
                    last_change: None,
                    ..clear
                },
                false,
            ),
            (
                "the service's clock disagrees with ours",
                Grant {
                    clocks_agree: false,
                    ..clear
                },
                false,
            ),
            (
                "the service's clock disagrees, even with this instance's own mark",
                Grant {
                    clocks_agree: false,
                    own_last_change: true,
                    ..clear
                },
                false,
            ),
            (
                "contended, even with its own mark",
                Grant {
                    own_last_change: true,
                    contended: true,
                    ..clear
                },
                false,
            ),
        ];
        for (case, grant, stands) in cases {
            assert_eq!(grant.read_stands(sent), stands, "{case}");
        }
    }

    #[test]
    fn the_services_clock_agrees_with_ours_only_within_the_skew_allowed() {
        let asked = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000);
        let second = Duration::from_secs(1);
        let ms = Duration::from_millis;
        // (how long the exchange took, the service's Date, whether it agrees)
        let quick = asked + ms(300);
        let slow = asked + Duration::from_secs(2);
        let cases = [
            (quick, Some(asked), true),
            // Date rounds down to the second: up to a second before the answer is the same time.
            (quick, Some(quick - second + ms(1)), true),
            (quick, Some(quick - second - CLOCK_SKEW), true),
            (quick, Some(quick - second - CLOCK_SKEW - ms(1)), false),
            // Behind is measured from the answer: a slow exchange does not widen it.
            (slow, Some(slow - second - CLOCK_SKEW), true),
            (slow, Some(asked - second - CLOCK_SKEW), false),
            // Ahead is measured from the sending.
            (quick, Some(asked + CLOCK_SKEW), true),
            (quick, Some(asked + CLOCK_SKEW + ms(1)), false),
            (slow, Some(slow + CLOCK_SKEW), false),
            (quick, Some(asked + Duration::from_secs(30)), false),
            (quick, Some(asked - Duration::from_secs(30)), false),
            (quick, None, false),
        ];
        for (answered, date, agrees) in cases {
            assert_eq!(clocks_agree(date, asked, answered), agrees, "{date:?}");
        }
    }
}
