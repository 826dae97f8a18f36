//! Where things live in a repository: WAL-G's layout, as `docs/repository-format.md` describes
//! it. Every key walrs writes is built here and every key it lists is parsed here, so the
//! folder names, suffixes and file names exist once.
//!
//! ```text
//! wal_005/<WAL file name>[.<ext>]                              WAL, history, backup history
//! walrs_wal_checksums/<WAL file name>.json                     walrs's checksums (none, brotli)
//! basebackups_005/<backup>/tar_partitions/part_NNN.tar[.<ext>] the data directory
//! basebackups_005/<backup>/tar_partitions/pg_control.tar[.<ext>]
//! basebackups_005/<backup>/tar_partitions/backup_label.tar[.<ext>]
//! basebackups_005/<backup>/files_metadata.json
//! basebackups_005/<backup>/metadata.json
//! basebackups_005/<backup>_backup_stop_sentinel.json           stored last
//! ```

use crate::backup::BackupName;
use crate::compress::{Compression, READ_ORDER};
use crate::wal::WalFileName;

/// Folder of archived WAL, timeline history and backup history files.
pub const WAL_DIR: &str = "wal_005";

/// Folder of base backups.
pub const BACKUP_DIR: &str = "basebackups_005";

/// Folder of walrs's own checksums of archived WAL files stored in a format without one
/// (uncompressed, brotli). WAL-G never looks here: the objects in `wal_005/` stay exactly
/// WAL-G's, and WAL-G reads them as ever.
pub const WAL_CHECKSUM_DIR: &str = "walrs_wal_checksums";

/// Suffix of the object whose presence makes a backup complete.
const SENTINEL_SUFFIX: &str = "_backup_stop_sentinel.json";
/// A backup's tar objects live in this folder of the backup's folder.
const PARTITIONS_DIR: &str = "tar_partitions";

/// The key of an archived WAL file: `wal_005/<name>.<ext>` (no suffix when uncompressed).
pub fn wal_key(name: &WalFileName, compression: Compression) -> String {
    with_extension(format!("{WAL_DIR}/{name}"), compression)
}

/// The key of the checksum of WAL file `name`: `walrs_wal_checksums/<name>.json`.
pub fn wal_checksum_key(name: &WalFileName) -> String {
    format!("{WAL_CHECKSUM_DIR}/{name}.json")
}

/// The WAL file a key of `wal_005/` holds and its compression; None for anything else there
/// (another tool's files, folders), which walrs then never touches.
pub fn parse_wal_key(key: &str) -> Option<(WalFileName, Compression)> {
    let file = key.strip_prefix(WAL_DIR)?.strip_prefix('/')?;
    if file.contains('/') {
        return None;
    }
    let compressed = READ_ORDER
        .into_iter()
        .filter(|c| !c.extension().is_empty())
        .find_map(|c| file.strip_suffix(c.extension())?.strip_suffix('.').map(|bare| (bare, c)));
    let (bare, compression) = compressed.unwrap_or((file, Compression::None));
    Some((WalFileName::parse(bare).ok()?, compression))
}

/// The folder of a backup's objects: `basebackups_005/<name>`.
pub fn backup_dir(name: &BackupName) -> String {
    format!("{BACKUP_DIR}/{name}")
}

/// The key of a backup's sentinel, stored last: `basebackups_005/<name>_backup_stop_sentinel.json`.
pub fn sentinel_key(name: &BackupName) -> String {
    format!("{BACKUP_DIR}/{name}{SENTINEL_SUFFIX}")
}

/// The folder of a backup's tar objects: `basebackups_005/<name>/tar_partitions`.
pub fn partitions_dir(name: &BackupName) -> String {
    format!("{BACKUP_DIR}/{name}/{PARTITIONS_DIR}")
}

/// The key of one of a backup's tar objects: `basebackups_005/<name>/tar_partitions/<file>`.
pub fn tar_key(name: &BackupName, file: &TarFile) -> String {
    format!("{}/{}", partitions_dir(name), file.file_name())
}

/// The key of a backup's list of files: `basebackups_005/<name>/files_metadata.json`.
pub fn files_metadata_key(name: &BackupName) -> String {
    format!("{BACKUP_DIR}/{name}/files_metadata.json")
}

/// The key of a backup's user metadata (`is_permanent`, …): `basebackups_005/<name>/metadata.json`.
pub fn metadata_key(name: &BackupName) -> String {
    format!("{BACKUP_DIR}/{name}/metadata.json")
}

/// The backup whose sentinel `key` is.
pub fn parse_sentinel_key(key: &str) -> Option<BackupName> {
    let name = key.strip_prefix(BACKUP_DIR)?.strip_prefix('/')?.strip_suffix(SENTINEL_SUFFIX)?;
    BackupName::parse(name).ok()
}

/// The backup whose folder holds `key` (`basebackups_005/<name>/...`); sentinels are not in it.
pub fn backup_of(key: &str) -> Option<BackupName> {
    let rest = key.strip_prefix(BACKUP_DIR)?.strip_prefix('/')?;
    let (name, inner) = rest.split_once('/')?;
    (!inner.is_empty() && !rest.ends_with(SENTINEL_SUFFIX)).then(|| BackupName::parse(name).ok())?
}

/// What a backup's tar object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TarContent {
    /// `part_NNN`: files of the data directory and tablespaces, numbered from 1.
    Part(u32),
    /// `backup_label`: `backup_label` and `tablespace_map` from `pg_backup_stop`.
    BackupLabel,
    /// `pg_control`: `global/pg_control`, stored after every part.
    PgControl,
}

/// A backup's tar object by name: what it holds and how it is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarFile {
    pub content: TarContent,
    pub compression: Compression,
}

impl TarFile {
    pub fn new(content: TarContent, compression: Compression) -> TarFile {
        TarFile { content, compression }
    }

    /// `part_001`, `backup_label` or `pg_control`: the name WAL-G's `TarFileSets` use without
    /// the suffixes.
    pub fn stem(&self) -> String {
        match self.content {
            TarContent::Part(n) => format!("part_{n:03}"),
            TarContent::BackupLabel => "backup_label".to_string(),
            TarContent::PgControl => "pg_control".to_string(),
        }
    }

    /// `part_001.tar.lz4` (`part_001.tar` uncompressed).
    pub fn file_name(&self) -> String {
        with_extension(format!("{}.tar", self.stem()), self.compression)
    }

    /// A tar object's file name (`part_001.tar.lz4`, or the last part of its key); None for
    /// anything that is not one of a backup's tar objects.
    pub fn parse(file: &str) -> Option<TarFile> {
        let file = file.rsplit('/').next().unwrap_or(file);
        let (stem, ext) = match file.split_once(".tar") {
            Some((stem, "")) => (stem, ""),
            Some((stem, rest)) => (stem, rest.strip_prefix('.')?),
            None => return None,
        };
        let content = match stem {
            "backup_label" => TarContent::BackupLabel,
            "pg_control" => TarContent::PgControl,
            _ => {
                let digits =
                    stem.strip_prefix("part_").filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))?;
                TarContent::Part(digits.parse().ok()?)
            }
        };
        Some(TarFile { content, compression: Compression::from_extension(ext)? })
    }
}

/// A partition's stem as `TarFileSets` names it (`part_003.tar.lz4` → `part_003`).
pub fn tar_stem(listed: &str) -> &str {
    listed.split(".tar").next().unwrap_or(listed)
}

fn with_extension(base: String, compression: Compression) -> String {
    match compression.extension() {
        "" => base,
        ext => format!("{base}.{ext}"),
    }
}

#[cfg(test)]
mod tests;
