//! Which backups a repository holds: those with a sentinel, and nothing else.

use super::{BackupName, Sentinel};
use crate::layout::{parse_sentinel_key, sentinel_key, BACKUP_DIR};
use crate::storage::Storage;
use crate::{Error, Result};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct BackupInfo {
    pub name: BackupName,
    pub sentinel: Sentinel,
    /// When the sentinel was stored, where the listing said.
    pub sentinel_modified: Option<DateTime<Utc>>,
}

impl BackupInfo {
    /// The timeline the backup started on (from its name).
    pub fn timeline(&self) -> u32 {
        self.name.start_segment().timeline
    }

    /// When the backup started: the sentinel's start time, or (for sentinels without one) when
    /// the sentinel was stored.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        let recorded = self.sentinel.start_time.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        recorded.map(|t| t.with_timezone(&Utc)).or(self.sentinel_modified)
    }

    /// Backups order by when they started, then timeline, then start LSN; never by name alone,
    /// which puts a re-initialised cluster's (lower) names first.
    pub fn order_key(&self) -> (Option<DateTime<Utc>>, u32, u64) {
        (self.started_at(), self.timeline(), self.sentinel.lsn)
    }
}

/// Every complete backup, oldest first (by start time, then start LSN), and a description of
/// each sentinel that could not be read.
pub async fn list_backups(storage: &Storage) -> Result<(Vec<BackupInfo>, Vec<Error>)> {
    let objects = storage.list(BACKUP_DIR).await?;
    read_complete(storage, &objects).await
}

/// The complete backups among listed `objects` of [`BACKUP_DIR`], oldest first, and the
/// sentinels that could not be read.
pub(crate) async fn read_complete(
    storage: &Storage,
    objects: &[crate::storage::ObjectInfo],
) -> Result<(Vec<BackupInfo>, Vec<Error>)> {
    let sentinels = objects.iter().filter_map(|o| {
        let name = parse_sentinel_key(&o.key)?;
        Some((name, o.modified))
    });
    let mut backups = Vec::new();
    let mut problems = Vec::new();
    for (name, modified) in sentinels {
        match read_sentinel(storage, &name).await {
            Ok(Some(sentinel)) => backups.push(BackupInfo { name, sentinel, sentinel_modified: Some(modified) }),
            Ok(None) => {} // deleted while we listed
            Err(e) => problems.push(e),
        }
    }
    backups.sort_by_key(|b| b.order_key());
    Ok((backups, problems))
}

pub(crate) async fn read_sentinel(storage: &Storage, name: &BackupName) -> Result<Option<Sentinel>> {
    let key = sentinel_key(name);
    match storage.get_at_most(&key, super::MAX_SENTINEL_BYTES).await? {
        Some(bytes) => Sentinel::parse(&bytes, &key).map(Some),
        None => Ok(None),
    }
}

/// The backup `which` names: `LATEST` (the one that started last) or a backup name. Only
/// complete backups (with a sentinel) are found.
pub async fn find_backup(storage: &Storage, which: &str) -> Result<BackupInfo> {
    if which.eq_ignore_ascii_case("LATEST") {
        let (mut backups, problems) = list_backups(storage).await?;
        return match backups.pop() {
            Some(b) => Ok(b),
            None => Err(Error::not_found(format!("there are no complete backups in {}", storage.location()))
                .with_hint(match problems.first() {
                    Some(p) => format!("a sentinel could not be read: {p}"),
                    None => "take one with SELECT walrs_backup_push(), or check the repository URL".to_string(),
                })),
        };
    }
    let name = BackupName::parse(which)?;
    match read_sentinel(storage, &name).await? {
        Some(sentinel) => Ok(BackupInfo { name, sentinel, sentinel_modified: None }),
        None => Err(Error::not_found(format!(
            "backup {name} is not complete in {}: it has no sentinel",
            storage.location()
        ))
        .with_hint("an incomplete backup cannot be restored; `walrs backup-list` shows complete ones")),
    }
}
