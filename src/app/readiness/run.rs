//! Runs one readiness scan in the Function App, from the scan lease to the kept files. The scan
//! writes its files to a directory of its own under the temporary directory (rows streamed, as
//! on the command line); the kept scans of the retention period give the trend of `phoneOnly`;
//! then the files go to the storage account as the latest and as this scan's folder, scans
//! older than the retention period are deleted, and the lease is let go. What a run started
//! over HTTP is doing is recorded as it goes (`runs/<id>.json`) for its caller.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;

use super::Readiness;
use crate::readiness::classify::Category;
use crate::readiness::output::{
    CLEANUP_CSV, DirectorySink, READINESS_CSV, READINESS_HTML, READINESS_JSON,
};
use crate::readiness::pacer::REPORTS_LIMIT;
use crate::readiness::summary::{Summary, iso};
use crate::readiness::trend::{self, Point};
use crate::readiness::{ScanSettings, scan};
use crate::runbook::Services;

/// How many `$batch` requests are in flight at once for per-user reads.
const BATCHES_IN_FLIGHT: usize = 4;
/// How many kept scans' `readiness.json` files are read at once for the trend.
const TREND_READS_IN_FLIGHT: usize = 8;
/// The most the trend's reads may take: a slow storage account costs the dashboard its trend,
/// not the scan.
const TREND_BUDGET: Duration = Duration::from_secs(60);

/// What a run is doing, as its caller reads it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    pub scan: String,
    /// `queued`, `running`, `done`, `failed` or `skipped`.
    pub status: &'static str,
    pub requested_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The scan's folder (`scans/<folder>/` in the container), once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_only: Option<u64>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scan that was running instead (skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_scan: Option<String>,
}

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    /// The files are kept in `folder`; the scans deleted as too old.
    Done {
        folder: String,
        summary: Box<Summary>,
        pruned: Vec<String>,
    },
    /// Another scan held the lease (its run, as it wrote it).
    Busy(String),
    /// The scan could not be made or kept.
    Failed(String),
}

/// Returns the seconds since the epoch, now.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0))
}

/// The folder of a scan that started at `scanned_at` (ISO 8601, `2026-12-07T05:00:00Z`):
/// `2026-12-07T050000Z`, which sorts by time and needs no escaping.
pub fn folder_of(scanned_at: &str) -> String {
    scanned_at.replace(':', "")
}

/// Whether `text` is a folder name [`folder_of`] makes (a caller may name one).
pub fn is_folder(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 18
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            17 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        })
}

/// Runs one scan as `holder` (a run id, or the timer's), keeping its files.
pub async fn run(services: &Services, readiness: &Readiness, holder: &str) -> Ended {
    let lock = match readiness.store.lock(holder).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            let running = readiness
                .store
                .running()
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            return Ended::Busy(running);
        }
        Err(error) => return Ended::Failed(error.to_string()),
    };
    let directory = std::env::temp_dir().join(format!("mfa-readiness-{}", uuid::Uuid::new_v4()));
    let ended = scan_and_keep(services, readiness, &directory, &lock).await;
    lock.release().await;
    if let Err(error) = std::fs::remove_dir_all(&directory)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove the scan's temporary files: {error}");
    }
    ended
}

async fn scan_and_keep(
    services: &Services,
    readiness: &Readiness,
    directory: &Path,
    lock: &crate::storage::scans::ScanLock,
) -> Ended {
    let settings = ScanSettings {
        per_user: readiness.settings.per_user,
        cleanup: vec![Category::PhoneAndPhishingResistant],
        cleanup_key: readiness.cleanup_key.clone().ok_or_else(|| {
            "MFA_CLEANUP_KEY is not set: the app's secret setting (DEPLOY.md says how to make one) keys \
             cleanup.csv's fingerprints; without it there is no cleanup.csv"
                .to_owned()
        }),
        reports_limit: REPORTS_LIMIT,
        batches_in_flight: BATCHES_IN_FLIGHT,
    };
    let mut sink = match DirectorySink::create(
        directory,
        settings.cleanup_key.is_ok(),
        Box::new(|_, _, _| {}),
    ) {
        Ok(sink) => sink,
        Err(error) => return Ended::Failed(format!("could not write the scan's files: {error}")),
    };
    let budget = readiness.settings.budget;
    let scanned = tokio::time::timeout(
        budget,
        scan(&services.graph, &services.protection, &settings, &mut sink),
    )
    .await;
    let mut summary = match scanned {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => return Ended::Failed(error.to_string()),
        Err(_) => {
            return Ended::Failed(format!(
                "the scan took longer than MFA_READINESS_BUDGET_SECONDS ({} s) and was stopped; \
                 nothing was kept",
                budget.as_secs()
            ));
        }
    };
    summary.set_trend(earlier_points(readiness).await);
    if let Err(error) = sink.finish(&summary) {
        return Ended::Failed(format!("could not write {READINESS_JSON}: {error}"));
    }
    let mut files = Vec::new();
    for name in [READINESS_CSV, READINESS_JSON, CLEANUP_CSV, READINESS_HTML] {
        match std::fs::read(directory.join(name)) {
            Ok(content) => files.push((name.to_owned(), Bytes::from(content))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Ended::Failed(format!("could not read {name}: {error}")),
        }
    }
    if !lock.held() {
        return Ended::Failed(
            "the scan lock could not be renewed, so another scan may have started: this scan's \
             files were not kept"
                .to_owned(),
        );
    }
    let folder = folder_of(&summary.scanned_at);
    if let Err(error) = readiness.store.save(&folder, files).await {
        return Ended::Failed(error.to_string());
    }
    let pruned = prune(readiness).await;
    Ended::Done {
        folder,
        summary: Box::new(summary),
        pruned,
    }
}

/// The `phoneOnly` points of the kept scans of the retention period (at most the newest
/// [`trend::MOST_POINTS`] but one), from each one's `readiness.json`. What cannot be read in
/// [`TREND_BUDGET`] is left out, with a warning: the trend is the dashboard's, the scan stands.
async fn earlier_points(readiness: &Readiness) -> Vec<Point> {
    let cutoff = cutoff(readiness);
    let reading =
        async {
            let folders = readiness.store.folders().await?;
            let kept: Vec<String> = folders
                .into_iter()
                .filter(|folder| is_folder(folder) && *folder >= cutoff)
                .collect();
            let newest = &kept[kept.len().saturating_sub(trend::MOST_POINTS - 1)..];
            let reads =
                futures_util::stream::iter(newest.iter().cloned().map(|folder| async move {
                    readiness.store.file(&folder, READINESS_JSON).await
                }))
                .buffered(TREND_READS_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await;
            let mut points = Vec::with_capacity(reads.len());
            for read in reads {
                if let Some(point) = read?.as_deref().and_then(trend::point_of) {
                    points.push(point);
                }
            }
            Ok::<_, crate::storage::StorageError>(points)
        };
    match tokio::time::timeout(TREND_BUDGET, reading).await {
        Ok(Ok(points)) => points,
        Ok(Err(error)) => {
            tracing::warn!("the trend leaves out the kept scans, which could not be read: {error}");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!(
                "the trend leaves out the kept scans: reading them took longer than {} s",
                TREND_BUDGET.as_secs()
            );
            Vec::new()
        }
    }
}

/// The folder name before which scans are older than the retention period.
fn cutoff(readiness: &Readiness) -> String {
    let retention = u64::from(readiness.settings.retention_days) * 86_400;
    folder_of(&iso(
        now_seconds() - i64::try_from(retention).unwrap_or(i64::MAX / 2)
    ))
}

/// Deletes the kept scans older than the retention period and names them; failing to delete
/// only warns, because the scan just kept is already safe.
async fn prune(readiness: &Readiness) -> Vec<String> {
    match readiness.store.prune(&cutoff(readiness)).await {
        Ok(pruned) => pruned,
        Err(error) => {
            tracing::warn!("could not delete the scans older than the retention period: {error}");
            Vec::new()
        }
    }
}

/// Records `status` for its caller; a failure to record costs only the caller's view.
pub async fn record(readiness: &Readiness, status: &RunStatus) {
    let json = serde_json::to_vec(status).unwrap_or_default();
    if let Err(error) = readiness
        .store
        .set_run(&status.scan, Bytes::from(json))
        .await
    {
        tracing::warn!("could not record the scan's status: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_named_by_time_and_only_those_names_are_folders() {
        let folder = folder_of("2026-12-07T05:00:00Z");
        assert_eq!(folder, "2026-12-07T050000Z");
        assert!(is_folder(&folder));
        assert!(folder_of("2026-11-30T23:59:59Z") < folder);
        for text in [
            "",
            "../latest",
            "2026-12-07T05:00:00Z",
            "2026-12-07T050000Z/x",
        ] {
            assert!(!is_folder(text), "{text}");
        }
    }
}
