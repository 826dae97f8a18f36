//! Restore a base backup into an empty directory: every tar partition, then `backup_label`,
//! then `pg_control` last, so a restore that fails midway leaves a directory PostgreSQL
//! refuses to start rather than one that looks valid.

use super::{OnProgress, Progress};
use crate::backup::files_metadata::FilesMetadata;
use crate::backup::BackupInfo;
use crate::compress::Compression;
use crate::layout::{files_metadata_key, partitions_dir};
use crate::restore::sync::{EarlySync, Submitter};
use crate::restore::untar::{self, Expected, Extracted};
use crate::snapshot::backup_objects;
use crate::storage::Storage;
use crate::{Error, Result};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where tablespaces go on restore, by OID or by their old location; others go back where they were.
pub type TablespaceMapping = BTreeMap<String, PathBuf>;

/// Directories PostgreSQL needs that backups leave out or leave empty.
const REQUIRED_DIRS: &[&str] = &[
    "pg_wal",
    "pg_wal/archive_status",
    "pg_tblspc",
    "pg_replslot",
    "pg_notify",
    "pg_serial",
    "pg_snapshots",
    "pg_stat_tmp",
    "pg_subtrans",
    "pg_dynshmem",
    "pg_logical/snapshots",
    "pg_logical/mappings",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    pub objects: u32,
    pub files: u64,
    pub bytes: u64,
    /// Each tablespace's OID and the directory it was restored into.
    pub tablespaces: Vec<(String, PathBuf)>,
}

/// Fetch `backup` into `dest`, which must be missing or empty. `progress` hears a report before
/// the first object and after each object restored.
pub async fn backup_fetch(
    storage: &Storage,
    backup: &BackupInfo,
    dest: &Path,
    progress: OnProgress<'_>,
) -> Result<FetchReport> {
    backup_fetch_with(storage, backup, dest, &TablespaceMapping::new(), progress).await
}

/// As [`backup_fetch`], with tablespaces placed per `mapping`.
pub async fn backup_fetch_with(
    storage: &Storage,
    backup: &BackupInfo,
    dest: &Path,
    mapping: &TablespaceMapping,
    progress: OnProgress<'_>,
) -> Result<FetchReport> {
    check_version(backup)?;
    if backup.name.is_delta() {
        return Err(Error::invalid_input(format!(
            "{} is a delta backup; walrs restores full backups only",
            backup.name
        )));
    }
    let tablespaces = place_tablespaces(backup, mapping)?;
    for (_, target) in &tablespaces {
        check_empty(target)?;
    }
    // Everything the backup recorded must be in storage before anything is written.
    let objects = backup_objects(storage, backup).await?;
    if objects.control.is_none() {
        return Err(Error::corrupt(format!(
            "{} has no pg_control archive in {}",
            backup.name,
            partitions_dir(&backup.name)
        ))
        .with_hint("the backup is damaged or incomplete; restore another one"));
    }
    if let Some(first) = objects.missing_parts.first() {
        return Err(Error::corrupt(format!(
            "{} is incomplete: {} of the partitions its files_metadata.json lists are not in storage, the first {}/{first}",
            backup.name,
            objects.missing_parts.len(),
            partitions_dir(&backup.name)
        ))
        .with_hint("the backup is damaged (a partition was deleted); restore another one"));
    }
    prepare_empty(dest)?;
    link_tablespaces(dest, &tablespaces)?;

    let expected = Arc::new(objects.listed.as_ref().map(FilesMetadata::checksums).unwrap_or_default());
    // Partitions several at a time (each streams with bounded memory), then backup_label,
    // then pg_control last.
    // Large files are synced as soon as they are written, so the disk works while the rest
    // is decompressed; the caller's final sync then finds little left to write.
    let early = EarlySync::start(restore_parallelism());
    let mut counted = Progress::of_backup(backup, &objects);
    progress(&counted);
    let mut extracted = futures::stream::iter(objects.parts.iter().map(|(key, method)| {
        let (expected, early) = (expected.clone(), early.submitter());
        async move { extract_object(storage, key, *method, dest, expected, early).await.map(|got| (key, got)) }
    }))
    .buffer_unordered(restore_parallelism());
    while let Some(result) = extracted.next().await {
        let (key, got) = result?;
        counted.finished(key, got.files, got.bytes, None);
        progress(&counted);
    }
    drop(extracted);
    for (key, method) in objects.label.iter().chain(objects.control.iter()) {
        let got = extract_object(storage, key, *method, dest, expected.clone(), early.submitter()).await?;
        counted.finished(key, got.files, got.bytes, None);
        progress(&counted);
    }
    super::blocking(move || early.finish()).await?;
    let report = FetchReport {
        // A backup has at most a few thousand objects: the count fits.
        objects: u32::try_from(counted.objects_done).unwrap_or(u32::MAX),
        files: counted.files_done,
        bytes: counted.bytes_done,
        tablespaces: tablespaces.clone(),
    };
    if let Some(listed) = &objects.listed {
        check_all_restored(listed, backup, dest)?;
    }
    rewrite_tablespace_map(dest, &tablespaces)?;
    for d in REQUIRED_DIRS {
        std::fs::create_dir_all(dest.join(d))
            .map_err(|e| Error::local_io(format!("cannot create {}/{d}", dest.display()), &e))?;
    }
    Ok(report)
}

/// Partitions restored at once: two per core (a partition waits for downloads and for the
/// disk as often as it decompresses), at least two, at most eight.
fn restore_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2).clamp(2, 8)
}

/// PostgreSQL major versions walrs restores.
pub const SUPPORTED_MAJORS: [u32; 4] = [15, 16, 17, 18];

/// Refuse a backup of a PostgreSQL version walrs does not know, before anything is written.
fn check_version(backup: &BackupInfo) -> Result<()> {
    let major = backup.sentinel.pg_version / 10000;
    if SUPPORTED_MAJORS.contains(&major) {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "{} is a backup of PostgreSQL {} (server_version_num {}); walrs restores PostgreSQL 15, 16, 17 and 18",
        backup.name,
        if major == 0 { "of unknown version".to_string() } else { major.to_string() },
        backup.sentinel.pg_version
    ))
    .with_hint("restore it with a tool that supports that version"))
}

/// Each tablespace of the backup: its OID and the directory it is restored into.
fn place_tablespaces(backup: &BackupInfo, mapping: &TablespaceMapping) -> Result<Vec<(String, PathBuf)>> {
    let specs = backup.sentinel.tablespaces();
    for key in mapping.keys() {
        if !specs.iter().any(|t| &t.oid == key || t.location == key.trim_end_matches('/')) {
            return Err(Error::invalid_input(format!(
                "tablespace mapping \"{key}\" matches no tablespace of {}",
                backup.name
            ))
            .with_hint("map a tablespace by its OID or by its old location"));
        }
    }
    specs
        .into_iter()
        .map(|t| {
            if t.oid.is_empty() || !t.oid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::corrupt(format!(
                    "{} records a tablespace with the bad OID \"{}\"",
                    backup.name, t.oid
                )));
            }
            let target = mapping
                .get(&t.oid)
                .or_else(|| mapping.iter().find(|(k, _)| k.trim_end_matches('/') == t.location).map(|(_, v)| v))
                .cloned()
                .unwrap_or_else(|| PathBuf::from(&t.location));
            // The location comes from the sentinel, which anyone who can write the repository
            // can write: a relative or `..` path could put files anywhere.
            // (Path::components hides a `.` in the middle, so the words are looked at.)
            let plain =
                target.is_absolute() && target.to_string_lossy().split('/').all(|word| word != "." && word != "..");
            if !plain {
                return Err(Error::invalid_input(format!(
                    "tablespace {} would go to {}, which is not a plain absolute path (no . or ..)",
                    t.oid,
                    target.display()
                ))
                .with_hint("give it a place with --tablespace-mapping OID=/absolute/path"));
            }
            Ok((t.oid, target))
        })
        .collect()
}

/// Create each tablespace directory and its link in `pg_tblspc` before anything is extracted.
fn link_tablespaces(dest: &Path, tablespaces: &[(String, PathBuf)]) -> Result<()> {
    for (oid, target) in tablespaces {
        prepare_empty(target)?;
        let dir = dest.join("pg_tblspc");
        std::fs::create_dir_all(&dir).map_err(|e| Error::local_io(format!("cannot create {}", dir.display()), &e))?;
        let link = dir.join(oid);
        std::os::unix::fs::symlink(target, &link)
            .map_err(|e| Error::local_io(format!("cannot create the link {}", link.display()), &e))?;
    }
    Ok(())
}

/// PostgreSQL recreates tablespace links from `tablespace_map` at startup: point it at where
/// the tablespaces were restored.
fn rewrite_tablespace_map(dest: &Path, tablespaces: &[(String, PathBuf)]) -> Result<()> {
    let path = dest.join("tablespace_map");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let rewritten: String = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let oid = line.split(' ').next().unwrap_or("");
            match tablespaces.iter().find(|(o, _)| o == oid) {
                Some((_, target)) => format!("{oid} {}\n", target.display()),
                None => format!("{line}\n"),
            }
        })
        .collect();
    std::fs::write(&path, rewritten).map_err(|e| Error::local_io(format!("cannot write {}", path.display()), &e))
}

/// Refuse a directory that exists and holds anything.
fn check_empty(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(Error::invalid_input(format!("{} is not empty", dir.display()))
            .with_hint("restore into an empty or new directory; walrs never overwrites existing files")),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::local_io(format!("cannot read {}", dir.display()), &e)),
    }
}

fn prepare_empty(dest: &Path) -> Result<()> {
    check_empty(dest)?;
    std::fs::create_dir_all(dest).map_err(|e| Error::local_io(format!("cannot create {}", dest.display()), &e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::local_io(format!("cannot set the mode of {}", dest.display()), &e))
}

/// Stream one object: download, decompress and untar in a blocking thread, memory bounded.
async fn extract_object(
    storage: &Storage,
    key: &str,
    method: Compression,
    dest: &Path,
    expected: Arc<Expected>,
    early: Submitter,
) -> Result<Extracted> {
    let (what, dest) = (key.to_string(), dest.to_path_buf());
    super::with_decoded(storage, storage.read_stages(method, key), move |decoded| {
        untar::extract_syncing(decoded, &dest, &what, &expected, early)
    })
    .await?
    .ok_or_else(|| Error::corrupt(format!("{key} vanished from the repository during the restore")))
}

/// Every file the backup's files_metadata.json lists must have been restored.
fn check_all_restored(listed: &FilesMetadata, backup: &BackupInfo, dest: &Path) -> Result<()> {
    let missing: Vec<&String> = listed
        .files
        .iter()
        .filter(|(path, m)| !m.is_skipped && !dest.join(path.trim_start_matches('/')).exists())
        .map(|(path, _)| path)
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(Error::corrupt(format!(
            "{} files listed in {} are missing from the restore, the first {first}",
            missing.len(),
            files_metadata_key(&backup.name)
        ))
        .with_hint("the backup's tar partitions are incomplete; restore another backup")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_versions_are_refused() {
        let mut b = BackupInfo {
            name: crate::backup::BackupName::parse("base_000000010000000000000002").unwrap(),
            sentinel: Default::default(),
            sentinel_modified: None,
        };
        for (v, ok) in [(150020, true), (160015, true), (180006, true), (140010, false), (190000, false), (0, false)] {
            b.sentinel.pg_version = v;
            assert_eq!(check_version(&b).is_ok(), ok, "{v}");
        }
        b.sentinel.pg_version = 140010;
        assert!(check_version(&b).unwrap_err().message.contains("PostgreSQL 14"));
    }

    fn with_tablespace(location: &str) -> BackupInfo {
        let mut b = BackupInfo {
            name: crate::backup::BackupName::parse("base_000000010000000000000002").unwrap(),
            sentinel: Default::default(),
            sentinel_modified: None,
        };
        b.sentinel.spec = Some(serde_json::json!({
            "base_prefix": "/data", "tablespaces": ["16384"],
            "16384": { "loc": location, "link": "pg_tblspc/16384" }
        }));
        b
    }

    #[test]
    fn tablespace_locations_from_the_sentinel_must_be_plain_absolute_paths() {
        let none = TablespaceMapping::new();
        let placed = place_tablespaces(&with_tablespace("/srv/ts1/"), &none).unwrap();
        assert_eq!(placed, vec![("16384".to_string(), PathBuf::from("/srv/ts1"))]);
        for bad in ["srv/ts1/", "/srv/../etc/", "/srv/./ts1/", "../../etc/"] {
            let err = place_tablespaces(&with_tablespace(bad), &none).unwrap_err();
            assert!(err.message.contains("16384"), "{bad}: {}", err.message);
        }
        // A mapping to a path with `..` is refused as well.
        let mapping: TablespaceMapping = [("16384".to_string(), PathBuf::from("/restore/../etc"))].into();
        assert!(place_tablespaces(&with_tablespace("/srv/ts1/"), &mapping).is_err());
    }
}
