//! Restore a base backup into an empty directory: every tar partition, then `backup_label`,
//! then `pg_control` last, so a restore that fails midway leaves a directory PostgreSQL
//! refuses to start rather than one that looks valid.

use crate::backup::files_metadata::FilesMetadata;
use crate::backup::BackupInfo;
use crate::body::ReadStages;
use crate::compress::Compression;
use crate::restore::early_sync::{EarlySync, Submitter};
use crate::restore::untar::{self, Expected, Extracted};
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

/// Fetch `backup` into `dest`, which must be missing or empty. `progress` hears one line per
/// object restored.
pub async fn backup_fetch(
    storage: &Storage,
    backup: &BackupInfo,
    dest: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<FetchReport> {
    backup_fetch_with(storage, backup, dest, &TablespaceMapping::new(), progress).await
}

/// As [`backup_fetch`], with tablespaces placed per `mapping`.
pub async fn backup_fetch_with(
    storage: &Storage,
    backup: &BackupInfo,
    dest: &Path,
    mapping: &TablespaceMapping,
    progress: &(dyn Fn(&str) + Sync),
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
            "{} has no pg_control archive in {}/tar_partitions",
            backup.name,
            backup.name.dir()
        ))
        .with_hint("the backup is damaged or incomplete; restore another one"));
    }
    if let Some(first) = objects.missing_parts.first() {
        return Err(Error::corrupt(format!(
            "{} is incomplete: {} of the partitions its files_metadata.json lists are not in storage, the first {}/tar_partitions/{first}",
            backup.name,
            objects.missing_parts.len(),
            backup.name.dir()
        ))
        .with_hint("the backup is damaged (a partition was deleted); restore another one"));
    }
    prepare_empty(dest)?;
    link_tablespaces(dest, &tablespaces)?;

    let expected = Arc::new(objects.listed.as_ref().map(FilesMetadata::checksums).unwrap_or_default());
    let mut report = FetchReport { objects: 0, files: 0, bytes: 0, tablespaces: tablespaces.clone() };
    // Partitions several at a time (each streams with bounded memory), then backup_label,
    // then pg_control last.
    // Large files are synced as soon as they are written, so the disk works while the rest
    // is decompressed; the caller's final sync then finds little left to write.
    let early = EarlySync::start(restore_parallelism());
    let mut extracted = futures::stream::iter(objects.parts.iter().map(|(key, method)| {
        let (expected, early) = (expected.clone(), early.submitter());
        async move { extract_object(storage, key, *method, dest, expected, early).await.map(|got| (key, got)) }
    }))
    .buffer_unordered(restore_parallelism());
    let mut done = Vec::new();
    while let Some(result) = extracted.next().await {
        done.push(result?);
    }
    drop(extracted);
    for (key, method) in objects.label.iter().chain(objects.control.iter()) {
        done.push((key, extract_object(storage, key, *method, dest, expected.clone(), early.submitter()).await?));
    }
    super::blocking(move || early.finish()).await?;
    for (key, got) in done {
        report.objects += 1;
        report.files += got.files;
        report.bytes += got.bytes;
        progress(&format!("{key}: {} files, {} bytes", got.files, got.bytes));
    }
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

/// The stored objects a restore reads, and the backup's file list.
pub(super) struct BackupObjects {
    /// Tar partitions, in name order, with their compression.
    pub parts: Vec<(String, Compression)>,
    pub label: Option<(String, Compression)>,
    /// `pg_control.tar`: a backup without it cannot be restored.
    pub control: Option<(String, Compression)>,
    /// files_metadata.json, unless the backup has none.
    pub listed: Option<FilesMetadata>,
    /// Partitions files_metadata.json lists that are not in storage (`part_003.tar`).
    pub missing_parts: Vec<String>,
}

impl BackupObjects {
    /// Partitions, then `backup_label`, then `pg_control` last.
    pub fn in_restore_order(&self) -> impl Iterator<Item = (&String, &Compression)> {
        self.parts.iter().chain(self.label.iter()).chain(self.control.iter()).map(|(k, m)| (k, m))
    }
}

/// List `backup`'s tar objects and read its files_metadata.json.
pub(super) async fn backup_objects(storage: &Storage, backup: &BackupInfo) -> Result<BackupObjects> {
    let dir = backup.name.dir();
    let objects = storage.list(&format!("{dir}/tar_partitions")).await?;
    let mut parts = Vec::new();
    let (mut label, mut control) = (None, None);
    for o in &objects {
        let file = o.key.rsplit('/').next().unwrap_or("");
        let Some((stem, method)) = tar_name(file) else { continue };
        match stem {
            "pg_control" => control = Some((o.key.clone(), method)),
            "backup_label" => label = Some((o.key.clone(), method)),
            s if s.starts_with("part_") => parts.push((o.key.clone(), method)),
            _ => {}
        }
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let listed = files_metadata(storage, backup).await?;
    let mut missing_parts = Vec::new();
    // Partitions the backup recorded; anything else under its name is a failed attempt's leftover.
    if let Some(sets) = listed.as_ref().map(|l| &l.tar_file_sets).filter(|s| !s.is_empty()) {
        let stems: Vec<&str> = sets.keys().filter_map(|k| k.split(".tar").next()).collect();
        let stem_of = |key: &str| tar_name(key.rsplit('/').next().unwrap_or("")).map(|(stem, _)| stem.to_string());
        parts.retain(|(key, _)| stem_of(key).is_some_and(|stem| stems.contains(&stem.as_str())));
        let present: Vec<String> = parts.iter().filter_map(|(key, _)| stem_of(key)).collect();
        missing_parts = sets
            .keys()
            .filter(|k| {
                let stem = k.split(".tar").next().unwrap_or("");
                stem.starts_with("part_") && !present.iter().any(|p| p == stem)
            })
            .cloned()
            .collect();
    }
    Ok(BackupObjects { parts, label, control, listed, missing_parts })
}

/// `part_001.tar.lz4` → (`part_001`, lz4); None for anything that is not a tar object.
fn tar_name(file: &str) -> Option<(&str, Compression)> {
    let (stem, ext) = match file.split_once(".tar") {
        Some((stem, "")) => (stem, ""),
        Some((stem, rest)) => (stem, rest.strip_prefix('.')?),
        None => return None,
    };
    Some((stem, Compression::from_extension(ext)?))
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
    super::with_decoded(storage, ReadStages::new(method, key), move |decoded| {
        untar::extract_syncing(decoded, &dest, &what, &expected, early)
    })
    .await?
    .ok_or_else(|| Error::corrupt(format!("{key} vanished from the repository during the restore")))
}

/// The backup's files_metadata.json; None only when its sentinel says it was written without
/// one (`FilesMetadataDisabled`), or by a tool that wrote none (sentinels before `Version` 2:
/// WAL-E and WAL-G before 2.0). Missing otherwise, it is damage: without it nothing can say
/// which partitions and files the backup holds.
pub(super) async fn files_metadata(storage: &Storage, backup: &BackupInfo) -> Result<Option<FilesMetadata>> {
    if backup.sentinel.files_metadata_disabled || backup.sentinel.version < 2 {
        return Ok(None);
    }
    let key = format!("{}/files_metadata.json", backup.name.dir());
    match storage.get_at_most(&key, crate::backup::files_metadata::MAX_BYTES).await? {
        Some(bytes) => FilesMetadata::parse(&bytes, &key).map(Some),
        None => Err(Error::corrupt(format!(
            "{key} is missing, and the sentinel of {} does not say it was written without one",
            backup.name
        ))
        .with_hint("the backup is damaged or incomplete; restore another one")),
    }
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
            "{} files listed in {}/files_metadata.json are missing from the restore, the first {first}",
            missing.len(),
            backup.name.dir()
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

    #[test]
    fn tar_object_names() {
        assert_eq!(tar_name("part_001.tar.lz4"), Some(("part_001", Compression::Lz4)));
        assert_eq!(tar_name("pg_control.tar.zst"), Some(("pg_control", Compression::Zstd)));
        assert_eq!(tar_name("backup_label.tar"), Some(("backup_label", Compression::None)));
        assert_eq!(tar_name("part_002.tar.br"), Some(("part_002", Compression::Brotli)));
        assert_eq!(tar_name("part_002.tar.lzo"), None);
        assert_eq!(tar_name("metadata.json"), None);
    }
}
