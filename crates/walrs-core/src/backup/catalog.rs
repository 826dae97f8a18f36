//! Which backups a repository holds: those with a sentinel, and nothing else.

use super::{BackupName, Sentinel, BACKUP_DIR, SENTINEL_SUFFIX};
use crate::storage::Storage;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct BackupInfo {
    pub name: BackupName,
    pub sentinel: Sentinel,
}

impl BackupInfo {
    /// The timeline the backup started on (from its name).
    pub fn timeline(&self) -> u32 {
        u32::from_str_radix(&self.name.as_str()[5..13], 16).expect("validated name")
    }
}

/// Every complete backup, oldest first (by start time, then start LSN), and a description of
/// each sentinel that could not be read.
pub async fn list_backups(storage: &Storage) -> Result<(Vec<BackupInfo>, Vec<Error>)> {
    let objects = storage.list(BACKUP_DIR).await?;
    let names: Vec<BackupName> = objects
        .iter()
        .filter_map(|o| o.key.strip_prefix(&format!("{BACKUP_DIR}/"))?.strip_suffix(SENTINEL_SUFFIX))
        .filter(|n| !n.contains('/'))
        .filter_map(|n| BackupName::parse(n).ok())
        .collect();
    let mut backups = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        match read_sentinel(storage, &name).await {
            Ok(Some(sentinel)) => backups.push(BackupInfo { name, sentinel }),
            Ok(None) => {} // deleted while we listed
            Err(e) => problems.push(e),
        }
    }
    backups.sort_by_key(|b| b.sentinel.order_key());
    Ok((backups, problems))
}

async fn read_sentinel(storage: &Storage, name: &BackupName) -> Result<Option<Sentinel>> {
    let key = name.sentinel_key();
    match storage.get(&key).await? {
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
        Some(sentinel) => Ok(BackupInfo { name, sentinel }),
        None => Err(Error::not_found(format!(
            "backup {name} is not complete in {}: it has no sentinel",
            storage.location()
        ))
        .with_hint("an incomplete backup cannot be restored; `walrs backup-list` shows complete ones")),
    }
}
