//! A read-only view of a repository, shared by retention, verification and restore: what it
//! holds, read once (complete backups, partial ones with objects but no sentinel, and WAL
//! files), the objects of one backup, and the WAL segment size. Retention plans against a
//! snapshot, so objects stored after it was taken (new WAL, a backup that starts meanwhile)
//! are never touched.

mod backup_objects;
mod segment_size;

pub use backup_objects::{backup_objects, files_metadata, BackupObjects};
pub use segment_size::segment_size;

use crate::backup::{BackupInfo, BackupName};
use crate::compress::Compression;
use crate::layout::{backup_of, parse_sentinel_key, parse_wal_key, BACKUP_DIR, WAL_DIR};
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
            if let Some(name) = backup_of(&object.key) {
                folders.entry(name).or_default().push(object);
            }
        }
        // A sentinel that exists but cannot be read makes its backup neither complete nor partial:
        // it is left alone.
        let with_sentinel: std::collections::BTreeSet<BackupName> =
            backup_dir.iter().filter_map(|o| parse_sentinel_key(&o.key)).collect();
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

impl WalObject {
    /// How the object is compressed, from its key's suffix.
    pub fn compression(&self) -> Compression {
        parse_wal_key(&self.key).map_or(Compression::None, |(_, c)| c)
    }
}

/// A WAL file's object (`layout::wal_key`). Anything else in the WAL folder (another tool's files) is
/// left alone by never being part of the snapshot.
fn wal_object(object: ObjectInfo) -> Option<WalObject> {
    let ObjectInfo { key, modified, .. } = object;
    let (name, _) = parse_wal_key(&key)?;
    Some(WalObject { name, key, modified })
}

#[cfg(test)]
mod tests;
