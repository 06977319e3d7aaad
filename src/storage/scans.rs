//! Keeps the readiness scans the Function App makes in its storage account, in the container
//! `mfa-phone-readiness`: `latest/<file>` (the files of the newest finished scan),
//! `scans/<folder>/<file>` (one folder per scan, named by when it started, kept for the
//! retention period: the trend reads them), `runs/<id>.json` (what a scan started over HTTP is
//! doing, for its caller to follow) and `scan.lock`, whose blob lease lets one scan run at a
//! time across the app. Nothing here knows Graph or what the files mean.

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::RequestContent;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientGetPropertiesResultHeaders,
    BlobContainerClientListBlobsOptions, BlockBlobClientUploadOptions, LeaseState,
};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::{StorageAccount, StorageError, describe_error, status_and_code};

/// The container the scans live in.
pub(crate) const CONTAINER: &str = "mfa-phone-readiness";
/// The folder of the newest scan's files.
const LATEST: &str = "latest/";
/// The folders of every kept scan.
const SCANS: &str = "scans/";
/// What scans started over HTTP are doing.
const RUNS: &str = "runs/";
/// The blob whose lease is held while a scan runs.
const LOCK: &str = "scan.lock";
/// How long the scan lease lasts unrenewed (the service allows 15 to 60 s).
const LOCK_DURATION: Duration = Duration::from_secs(60);
/// How often the scan lease is renewed.
const LOCK_RENEW_EVERY: Duration = Duration::from_secs(15);

/// The scans of the app's storage account.
#[derive(Clone)]
pub struct ScanStore {
    account: StorageAccount,
}

/// The lease that lets one scan run; it is renewed until released or dropped.
pub(crate) struct ScanLock {
    blob: Arc<BlobClient>,
    id: String,
    stop: watch::Sender<bool>,
    /// Set by the renewer when a renewal failed: another scan may have started since.
    lost: watch::Receiver<bool>,
}

impl ScanStore {
    pub fn new(account: StorageAccount) -> ScanStore {
        ScanStore { account }
    }

    fn container(&self) -> Result<BlobContainerClient, StorageError> {
        Ok(self
            .account
            .blob_service()?
            .blob_container_client(CONTAINER))
    }

    /// Creates the container unless it is there.
    async fn ensure_container(&self) -> Result<(), StorageError> {
        match self.container()?.create(None).await {
            Ok(_) => Ok(()),
            Err(error) if status_and_code(&error).1 == Some("ContainerAlreadyExists") => Ok(()),
            Err(error) => Err(failed("create the container", &error)),
        }
    }

    /// Keeps a finished scan's `files` in `scans/<folder>/` and as the latest; a file the
    /// latest had that this scan did not make (a `cleanup.csv` without the key) is removed
    /// from it, so that it cannot be taken for this scan's.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when a file could not be written.
    pub async fn save(
        &self,
        folder: &str,
        files: Vec<(String, Bytes)>,
    ) -> Result<(), StorageError> {
        self.ensure_container().await?;
        let container = self.container()?;
        for (name, content) in &files {
            put(
                &container,
                &format!("{SCANS}{folder}/{name}"),
                content.clone(),
            )
            .await?;
        }
        for (name, content) in &files {
            put(&container, &format!("{LATEST}{name}"), content.clone()).await?;
        }
        let names: Vec<String> = files.into_iter().map(|(name, _)| name).collect();
        for stale in list(&container, LATEST).await? {
            let name = stale.trim_start_matches(LATEST);
            if !names.iter().any(|kept| kept == name) {
                delete(&container, &stale).await?;
            }
        }
        Ok(())
    }

    /// Reads the latest scan's file `name`; `None` when there is none.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when the storage account did not answer as it should.
    pub async fn latest(&self, name: &str) -> Result<Option<Bytes>, StorageError> {
        get(&self.container()?, &format!("{LATEST}{name}")).await
    }

    /// Reads the file `name` of the kept scan `folder`.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when the storage account did not answer as it should.
    pub async fn file(&self, folder: &str, name: &str) -> Result<Option<Bytes>, StorageError> {
        get(&self.container()?, &format!("{SCANS}{folder}/{name}")).await
    }

    /// Lists the kept scans' folders, oldest first.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when they could not be listed.
    pub async fn folders(&self) -> Result<Vec<String>, StorageError> {
        let mut folders: Vec<String> = list(&self.container()?, SCANS)
            .await?
            .iter()
            .filter_map(|name| name.strip_prefix(SCANS)?.split_once('/'))
            .map(|(folder, _)| folder.to_owned())
            .collect();
        folders.sort();
        folders.dedup();
        Ok(folders)
    }

    /// Deletes the scans whose folder sorts before `cutoff` (folders are named by time), and
    /// the runs recorded before it, and returns the folders deleted.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when they could not be listed or deleted.
    pub(crate) async fn prune(&self, cutoff: &str) -> Result<Vec<String>, StorageError> {
        let container = self.container()?;
        let mut deleted = Vec::new();
        for name in list(&container, SCANS).await? {
            let Some((folder, _)) = name.trim_start_matches(SCANS).split_once('/') else {
                continue;
            };
            if folder < cutoff {
                delete(&container, &name).await?;
                if deleted.last().is_none_or(|last: &String| last != folder) {
                    deleted.push(folder.to_owned());
                }
            }
        }
        for name in list(&container, RUNS).await? {
            if name.trim_start_matches(RUNS) < cutoff {
                delete(&container, &name).await?;
            }
        }
        Ok(deleted)
    }

    /// Records what the run `id` is doing (`status`: a JSON document).
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when it could not be written.
    pub(crate) async fn set_run(&self, id: &str, status: Bytes) -> Result<(), StorageError> {
        self.ensure_container().await?;
        put(&self.container()?, &format!("{RUNS}{id}.json"), status).await
    }

    /// Reads what the run `id` is doing, as last recorded.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when the storage account did not answer as it should.
    pub(crate) async fn run(&self, id: &str) -> Result<Option<Bytes>, StorageError> {
        get(&self.container()?, &format!("{RUNS}{id}.json")).await
    }

    /// Takes the scan lease, unless another scan holds it (`None`); `holder` is written into the
    /// lock blob so that others can tell which run is under way.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when the storage account did not answer as it should.
    pub(crate) async fn lock(&self, holder: &str) -> Result<Option<ScanLock>, StorageError> {
        self.ensure_container().await?;
        let blob = Arc::new(self.container()?.blob_client(LOCK));
        let id = uuid::Uuid::new_v4().to_string();
        for _ in 0..2 {
            let asked = blob
                .acquire_lease(
                    i32::try_from(LOCK_DURATION.as_secs()).unwrap_or(60),
                    Some(BlobClientAcquireLeaseOptions {
                        proposed_lease_id: Some(id.clone()),
                        ..BlobClientAcquireLeaseOptions::default()
                    }),
                )
                .await;
            match asked {
                Ok(_) => {
                    blob.upload(
                        RequestContent::from(holder.as_bytes().to_vec()),
                        Some(BlockBlobClientUploadOptions {
                            lease_id: Some(id.clone()),
                            ..BlockBlobClientUploadOptions::default()
                        }),
                    )
                    .await
                    .map_err(|error| failed("write the scan lock", &error))?;
                    let (stop, stopped) = watch::channel(false);
                    let (lose, lost) = watch::channel(false);
                    tokio::spawn(renew(blob.clone(), id.clone(), stopped, lose));
                    return Ok(Some(ScanLock {
                        blob,
                        id,
                        stop,
                        lost,
                    }));
                }
                Err(error) => match status_and_code(&error) {
                    (Some(409), Some("LeaseAlreadyPresent")) => return Ok(None),
                    (Some(404), Some("BlobNotFound")) => {
                        match blob
                            .upload(
                                RequestContent::from(Vec::<u8>::new()),
                                Some(BlockBlobClientUploadOptions::default().if_not_exists()),
                            )
                            .await
                        {
                            Ok(_) => {}
                            Err(error)
                                if matches!(status_and_code(&error), (Some(409 | 412), _)) => {}
                            Err(error) => return Err(failed("create the scan lock", &error)),
                        }
                    }
                    _ => return Err(failed("take the scan lock", &error)),
                },
            }
        }
        Err(StorageError(
            "could not take the scan lock: its blob vanished while it was made".to_owned(),
        ))
    }

    /// Reads which run holds the scan lease now, when one does.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] when the storage account did not answer as it should.
    pub(crate) async fn running(&self) -> Result<Option<String>, StorageError> {
        let blob = self.container()?.blob_client(LOCK);
        let properties = match blob.get_properties(None).await {
            Ok(properties) => properties,
            Err(error) if status_and_code(&error).0 == Some(404) => return Ok(None),
            Err(error) => return Err(failed("read the scan lock", &error)),
        };
        let leased = matches!(properties.lease_state(), Ok(Some(LeaseState::Leased)));
        if !leased {
            return Ok(None);
        }
        let holder = get(&self.container()?, LOCK).await?.unwrap_or_default();
        Ok(Some(String::from_utf8_lossy(&holder).into_owned()))
    }
}

impl ScanLock {
    /// Whether the lease is still surely held (no renewal has failed).
    pub(crate) fn held(&self) -> bool {
        !*self.lost.borrow()
    }

    /// Lets the lease go (it lapses within a minute if that fails).
    pub(crate) async fn release(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.blob.release_lease(self.id.clone(), None).await {
            tracing::warn!(
                "could not release the scan lock ({}); it lapses within {} s",
                describe_error(&error),
                LOCK_DURATION.as_secs()
            );
        }
    }
}

impl Drop for ScanLock {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn renew(
    blob: Arc<BlobClient>,
    id: String,
    mut stop: watch::Receiver<bool>,
    lost: watch::Sender<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LOCK_RENEW_EVERY) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if let Err(error) = blob.renew_lease(id.clone(), None).await {
            tracing::warn!("could not renew the scan lock: {}", describe_error(&error));
            // The lease may lapse before the next try, and then the scan's files are not kept.
            let _ = lost.send(true);
        }
    }
}

async fn put(
    container: &BlobContainerClient,
    name: &str,
    content: Bytes,
) -> Result<(), StorageError> {
    container
        .blob_client(name)
        .upload(RequestContent::from(content.to_vec()), None)
        .await
        .map(|_| ())
        .map_err(|error| failed(&format!("write {name}"), &error))
}

async fn get(container: &BlobContainerClient, name: &str) -> Result<Option<Bytes>, StorageError> {
    match container.blob_client(name).download(None).await {
        Ok(download) => download
            .body
            .collect()
            .await
            .map(Some)
            .map_err(|error| failed(&format!("read {name}"), &error)),
        Err(error) if status_and_code(&error).0 == Some(404) => Ok(None),
        Err(error) => Err(failed(&format!("read {name}"), &error)),
    }
}

async fn delete(container: &BlobContainerClient, name: &str) -> Result<(), StorageError> {
    match container.blob_client(name).delete(None).await {
        Ok(_) => Ok(()),
        Err(error) if status_and_code(&error).0 == Some(404) => Ok(()),
        Err(error) => Err(failed(&format!("delete {name}"), &error)),
    }
}

/// Lists the names of the blobs under `prefix`; none when the container is not there yet. The
/// future is boxed as `Send` because the crate's pager future is `Send` only for one lifetime,
/// which an axum handler's future cannot name.
fn list<'a>(
    container: &'a BlobContainerClient,
    prefix: &'a str,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<String>, StorageError>> + Send + 'a>,
> {
    Box::pin(async move {
        let mut pager = container
            .list_blobs(Some(BlobContainerClientListBlobsOptions {
                prefix: Some(prefix.to_owned()),
                ..BlobContainerClientListBlobsOptions::default()
            }))
            .map_err(|error| failed("list the scans", &error))?;
        let mut names = Vec::new();
        while let Some(item) = pager.next().await {
            match item {
                Ok(item) => names.extend(item.name),
                Err(error) if status_and_code(&error).0 == Some(404) => return Ok(Vec::new()),
                Err(error) => return Err(failed("list the scans", &error)),
            }
        }
        Ok(names)
    })
}

fn failed(what: &str, error: &azure_core::Error) -> StorageError {
    StorageError(format!(
        "could not {what} in the storage account ({CONTAINER}): {}",
        describe_error(error)
    ))
}
