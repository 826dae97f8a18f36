//! `delete`: plan retention against a fresh snapshot of the repository and carry it out.
//!
//! Each backup loses its sentinel before anything else, so an interrupted delete leaves at worst
//! a partial backup (never listed, removed by `delete garbage`), never a listed backup with
//! missing parts. WAL goes after the backups that needed it.

use super::{OnProgress, Progress};
use crate::layout::{parse_wal_key, wal_checksum_key};
use crate::retention::{plan, Decision, Plan, Policy};
use crate::snapshot::Snapshot;
use crate::storage::Storage;
use crate::Result;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

/// Objects deleted at once.
const DELETE_CONCURRENCY: usize = 16;

#[derive(Debug, Clone)]
pub struct DeleteReport {
    pub plan: Plan,
    /// False for a dry run: nothing was deleted.
    pub executed: bool,
}

impl DeleteReport {
    pub fn deleted(&self) -> &[Decision] {
        &self.plan.delete
    }
}

/// `backup_running`: whether a backup is being written now, if the caller knows (see
/// [`Snapshot::backup_running`]).
pub async fn delete(
    storage: &Storage,
    policy: &Policy,
    now: DateTime<Utc>,
    dry_run: bool,
    backup_running: Option<bool>,
) -> Result<DeleteReport> {
    delete_with(storage, policy, now, dry_run, backup_running, &|_| {}).await
}

/// As [`delete`]; `progress` hears a report before the first item and after each item (a
/// backup, or a WAL file with its checksum) deleted.
pub async fn delete_with(
    storage: &Storage,
    policy: &Policy,
    now: DateTime<Utc>,
    dry_run: bool,
    backup_running: Option<bool>,
    progress: OnProgress<'_>,
) -> Result<DeleteReport> {
    let mut snapshot = Snapshot::load(storage).await?;
    snapshot.backup_running = backup_running;
    let plan = plan(&snapshot, policy, now)?;
    if !dry_run {
        execute(storage, &plan, progress).await?;
    }
    Ok(DeleteReport { plan, executed: !dry_run })
}

async fn execute(storage: &Storage, plan: &Plan, progress: OnProgress<'_>) -> Result<()> {
    let mut counted = Progress::of_objects(plan.delete.len() as u64);
    progress(&counted);
    let (backups, wal): (Vec<&Decision>, Vec<&Decision>) =
        plan.delete.iter().partition(|d| d.kind != crate::retention::ItemKind::Wal);
    for backup in backups {
        // A complete backup's sentinel goes first. Staging files (`#N`, file:// only) are not
        // objects: the folder cleanup below removes them.
        let keys: Vec<&String> = backup.keys.iter().filter(|k| !k.contains('#')).collect();
        if let Some((first, rest)) = keys.split_first() {
            storage.delete(first).await?;
            delete_all(storage, rest.iter().copied()).await?;
        }
        // Decisions name backups the planner took from a snapshot: they always parse.
        if let Ok(name) = crate::backup::BackupName::parse(&backup.name) {
            storage.remove_leftover_folder(&crate::layout::backup_dir(&name));
        }
        counted.finished(&backup.name, 0, 0, None);
        progress(&counted);
    }
    let mut deleted = futures::stream::iter(wal.iter().map(|d| async move {
        let checksum = checksum_of(d);
        for key in d.keys.iter().chain(checksum.as_ref()) {
            storage.delete(key).await?;
        }
        Ok::<_, crate::Error>(d)
    }))
    .buffer_unordered(DELETE_CONCURRENCY);
    while let Some(d) = deleted.next().await {
        counted.finished(&d?.name, 0, 0, None);
        progress(&counted);
    }
    Ok(())
}

/// The checksum walrs keeps beside a WAL object stored uncompressed or with brotli (see
/// `wal_checksum`): it goes with the object. Deleting one that is not there is no error.
fn checksum_of(wal: &Decision) -> Option<String> {
    let has_one = wal.keys.iter().filter_map(|k| parse_wal_key(k)).any(|(_, c)| super::wal_checksum::needed(c));
    let name = crate::wal::WalFileName::parse(&wal.name).ok()?;
    has_one.then(|| wal_checksum_key(&name))
}

async fn delete_all(storage: &Storage, keys: impl Iterator<Item = &String>) -> Result<()> {
    futures::stream::iter(keys.map(|k| storage.delete(k))).buffer_unordered(DELETE_CONCURRENCY).try_collect().await
}
