//! The objects of one backup that a restore or a verification reads: its tar objects by kind,
//! and its list of files.

use crate::backup::files_metadata::FilesMetadata;
use crate::backup::BackupInfo;
use crate::compress::Compression;
use crate::layout::{files_metadata_key, partitions_dir, tar_stem, TarContent, TarFile};
use crate::storage::Storage;
use crate::{Error, Result};

/// The stored objects a restore reads, and the backup's file list.
pub struct BackupObjects {
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
pub async fn backup_objects(storage: &Storage, backup: &BackupInfo) -> Result<BackupObjects> {
    let objects = storage.list(&partitions_dir(&backup.name)).await?;
    let mut parts = Vec::new();
    let (mut label, mut control) = (None, None);
    for o in &objects {
        let Some(tar) = TarFile::parse(&o.key) else { continue };
        let found = Some((o.key.clone(), tar.compression));
        match tar.content {
            TarContent::PgControl => control = found,
            TarContent::BackupLabel => label = found,
            TarContent::Part(_) => parts.push((o.key.clone(), tar.compression)),
        }
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let listed = files_metadata(storage, backup).await?;
    let mut missing_parts = Vec::new();
    // Partitions the backup recorded; anything else under its name is a failed attempt's leftover.
    if let Some(sets) = listed.as_ref().map(|l| &l.tar_file_sets).filter(|s| !s.is_empty()) {
        let stems: Vec<&str> = sets.keys().map(|k| tar_stem(k)).collect();
        let stem_of = |key: &str| TarFile::parse(key).map(|t| t.stem());
        parts.retain(|(key, _)| stem_of(key).is_some_and(|stem| stems.contains(&stem.as_str())));
        let present: Vec<String> = parts.iter().filter_map(|(key, _)| stem_of(key)).collect();
        missing_parts = sets
            .keys()
            .filter(|k| {
                let stem = tar_stem(k);
                stem.starts_with("part_") && !present.iter().any(|p| p == stem)
            })
            .cloned()
            .collect();
    }
    Ok(BackupObjects { parts, label, control, listed, missing_parts })
}

/// The backup's files_metadata.json; None only when its sentinel says it was written without
/// one (`FilesMetadataDisabled`), or by a tool that wrote none (sentinels before `Version` 2:
/// WAL-E and WAL-G before 2.0). Missing otherwise, it is damage: without it nothing can say
/// which partitions and files the backup holds.
pub async fn files_metadata(storage: &Storage, backup: &BackupInfo) -> Result<Option<FilesMetadata>> {
    if backup.sentinel.files_metadata_disabled || backup.sentinel.version < 2 {
        return Ok(None);
    }
    let key = files_metadata_key(&backup.name);
    match storage.get_at_most(&key, crate::backup::files_metadata::MAX_BYTES).await? {
        Some(bytes) => FilesMetadata::parse(&bytes, &key).map(Some),
        None => Err(Error::corrupt(format!(
            "{key} is missing, and the sentinel of {} does not say it was written without one",
            backup.name
        ))
        .with_hint("the backup is damaged or incomplete; restore another one")),
    }
}
