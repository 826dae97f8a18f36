//! What a repository holds, read once: complete backups, partial ones (objects but no sentinel)
//! and WAL files. Retention plans against this snapshot, so objects stored after it was taken
//! (new WAL, a backup that starts meanwhile) are never touched.

use crate::backup::{BackupInfo, BackupName, BACKUP_DIR, SENTINEL_SUFFIX};
use crate::layout::WAL_DIR;
use crate::storage::{ObjectInfo, Storage};
use crate::wal::WalFileName;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Complete backups, oldest first.
    pub backups: Vec<BackupInfo>,
    /// Every object under each backup's folder (not its sentinel), by backup name.
    pub backup_objects: BTreeMap<BackupName, Vec<String>>,
    /// Folders with objects but no sentinel: failed, interrupted or still being written.
    pub partial: Vec<PartialBackup>,
    pub wal: Vec<WalObject>,
    /// Sentinels that could not be read: retention refuses to plan while there are any.
    pub problems: Vec<Error>,
    /// Whether a backup of this repository is being written right now, when the caller knows
    /// (the extension does: one backup at a time, under a lock). Unknown (the CLI): a partial
    /// backup written to recently is taken to be in progress.
    pub backup_running: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartialBackup {
    pub name: BackupName,
    pub keys: Vec<String>,
    /// The newest object's time: a backup still being written keeps adding objects.
    pub last_write: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WalObject {
    pub name: WalFileName,
    pub key: String,
    /// When the storage says the object was stored: tells WAL still uploading from WAL lost.
    pub modified: DateTime<Utc>,
}

impl Snapshot {
    pub async fn load(storage: &Storage) -> Result<Snapshot> {
        let backup_dir = storage.list(BACKUP_DIR).await?;
        let (backups, problems) = crate::backup::catalog::read_complete(storage, &backup_dir).await?;
        // Uploads a crash cut short on a file:// repository: unlisted, but they are leftovers.
        let staged: Vec<ObjectInfo> = storage
            .staging_files(BACKUP_DIR)
            .into_iter()
            .map(|(key, modified)| ObjectInfo { key, size: 0, modified })
            .collect();
        let mut folders: BTreeMap<BackupName, Vec<&ObjectInfo>> = BTreeMap::new();
        for object in backup_dir.iter().chain(&staged) {
            if let Some(name) = folder_of(&object.key) {
                folders.entry(name).or_default().push(object);
            }
        }
        // A sentinel that exists but cannot be read makes its backup neither complete nor partial:
        // it is left alone.
        let with_sentinel: std::collections::BTreeSet<BackupName> =
            backup_dir.iter().filter_map(|o| sentinel_of(&o.key)).collect();
        let mut backup_objects = BTreeMap::new();
        let mut partial = Vec::new();
        for (name, objects) in folders {
            let keys = objects.iter().map(|o| o.key.clone()).collect();
            if with_sentinel.contains(&name) {
                backup_objects.insert(name, keys);
            } else {
                let last_write = objects.iter().map(|o| o.modified).max().expect("a folder has objects");
                partial.push(PartialBackup { name, keys, last_write });
            }
        }
        let wal = storage.list(WAL_DIR).await?.into_iter().filter_map(wal_object).collect();
        Ok(Snapshot { backups, backup_objects, partial, wal, problems, backup_running: None })
    }
}

/// The backup whose folder holds `key` (`basebackups_005/<name>/...`); sentinels are not in it.
fn folder_of(key: &str) -> Option<BackupName> {
    let rest = key.strip_prefix(BACKUP_DIR)?.strip_prefix('/')?;
    let (name, inner) = rest.split_once('/')?;
    (!inner.is_empty() && !rest.ends_with(SENTINEL_SUFFIX)).then(|| BackupName::parse(name).ok())?
}

/// The backup whose sentinel `key` is.
fn sentinel_of(key: &str) -> Option<BackupName> {
    let name = key.strip_prefix(BACKUP_DIR)?.strip_prefix('/')?.strip_suffix(SENTINEL_SUFFIX)?;
    BackupName::parse(name).ok()
}

/// A WAL file's object: `wal_005/<name>[.<ext>]`. Anything else there (another tool's files) is
/// left alone by never being part of the snapshot.
fn wal_object(object: ObjectInfo) -> Option<WalObject> {
    let ObjectInfo { key, modified, .. } = object;
    let file = key.strip_prefix(WAL_DIR)?.strip_prefix('/')?;
    if file.contains('/') {
        return None;
    }
    let bare = crate::compress::READ_ORDER
        .iter()
        .map(|c| c.extension())
        .filter(|ext| !ext.is_empty())
        .find_map(|ext| file.strip_suffix(&format!(".{ext}")))
        .unwrap_or(file);
    let name = WalFileName::parse(bare).ok()?;
    Some(WalObject { name, key, modified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_into_folders_and_wal() {
        assert_eq!(
            folder_of("basebackups_005/base_000000010000000000000002/tar_partitions/part_001.tar.lz4")
                .unwrap()
                .as_str(),
            "base_000000010000000000000002"
        );
        assert_eq!(folder_of("basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json"), None);
        assert_eq!(folder_of("basebackups_005/junk/x"), None);
        let at = |key: &str| ObjectInfo { key: key.into(), size: 1, modified: DateTime::UNIX_EPOCH };
        let w = wal_object(at("wal_005/000000010000000000000003.lz4")).unwrap();
        assert_eq!(w.name.as_str(), "000000010000000000000003");
        assert_eq!(wal_object(at("wal_005/00000002.history.zst")).unwrap().name.as_str(), "00000002.history");
        assert_eq!(wal_object(at("wal_005/000000010000000000000003")).unwrap().key, "wal_005/000000010000000000000003");
        assert_eq!(wal_object(at("wal_005/.wal-g/prefetch/x")), None);
        assert_eq!(wal_object(at("wal_005/README")), None);
    }
}
