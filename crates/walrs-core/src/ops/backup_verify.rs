//! `backup-verify`: read a backup back as a restore would, without writing anything. Every tar
//! object is downloaded, decompressed and walked with the restore's own tar walker (same
//! refusals of unsafe entries, same size and CRC-32 checks against files_metadata.json); then
//! every file listed must have been seen, and the WAL from the backup's start to its finish
//! must be in the repository. Problems are collected, not stopped at, so one run names them all.
//!
//! Backups written by WAL-G record no per-file checksums: for those, decompression, the tar
//! structure and each file's length against its tar header are what can be checked.

use super::{with_decoded, OnProgress, Progress};
use crate::backup::files_metadata::FilesMetadata;
use crate::backup::walk::PG_CONTROL;
use crate::backup::BackupInfo;
use crate::layout::{files_metadata_key, partitions_dir, sentinel_key, WAL_DIR};
use crate::restore::untar::{self, Sink};
use crate::snapshot::{backup_objects, segment_size, Snapshot};
use crate::storage::Storage;
use crate::wal::{SegmentPos, WalFileKind};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// More segments than this between a backup's start and finish means a damaged sentinel.
const MAX_BACKUP_SEGMENTS: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupCheck {
    pub backup: String,
    pub objects: Vec<ObjectCheck>,
    pub files: u64,
    pub bytes: u64,
    /// Did files_metadata.json record a size and CRC-32 per file (walrs does, WAL-G does not)?
    pub checksums_recorded: bool,
    /// Files whose size and CRC-32 were compared with the record.
    pub files_checksummed: u64,
    /// The WAL segments needed to make the backup consistent.
    pub wal_first: String,
    pub wal_last: String,
    pub wal_missing: Vec<String>,
    /// Pages the backup itself recorded as failing their checksum when it read them
    /// (files_metadata.json `CorruptBlocks`): the backup holds them as they were on disk.
    pub recorded_corrupt_pages: u64,
    /// Everything wrong, each naming the object or file.
    pub problems: Vec<String>,
}

impl BackupCheck {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectCheck {
    pub key: String,
    pub files: u64,
    pub bytes: u64,
    pub problem: Option<String>,
}

/// Verify each of `backups`; `progress` hears a report before each backup's first object and
/// after each object read.
pub async fn backup_verify(
    storage: &Storage,
    backups: &[BackupInfo],
    progress: OnProgress<'_>,
) -> Result<Vec<BackupCheck>> {
    let snap = Snapshot::load(storage).await?;
    let (seg_size, _) = segment_size(storage, &snap).await;
    let mut out = Vec::with_capacity(backups.len());
    for b in backups {
        let mut check = check_wal(b, &snap, seg_size);
        check_objects(storage, b, &mut check, progress).await?;
        out.push(check);
    }
    Ok(out)
}

/// The segments from the backup's start to its finish must be stored, on its timeline or a later
/// one (a standby promoted while the backup ran continues on the next timeline).
fn check_wal(b: &BackupInfo, snap: &Snapshot, seg_size: u64) -> BackupCheck {
    let tli = b.timeline();
    let first = b.sentinel.lsn / seg_size;
    let last = (b.sentinel.finish_lsn / seg_size).max(first);
    // Numbers made by dividing an LSN by the segment size always name a segment.
    let name = |n: u64| {
        SegmentPos::from_number(tli, n, seg_size)
            .expect("segment_size() gives a usable size; an LSN's segment has a name")
            .to_string()
    };
    let mut check = BackupCheck {
        backup: b.name.to_string(),
        objects: vec![],
        files: 0,
        bytes: 0,
        checksums_recorded: false,
        files_checksummed: 0,
        wal_first: name(first),
        wal_last: name(last),
        wal_missing: vec![],
        recorded_corrupt_pages: 0,
        problems: vec![],
    };
    if b.sentinel.finish_lsn != 0 && b.sentinel.finish_lsn < b.sentinel.lsn {
        check.problems.push(format!(
            "{}: the finish LSN {} is before the start LSN {}",
            sentinel_key(&b.name),
            b.sentinel.finish_lsn(),
            b.sentinel.start_lsn()
        ));
        return check;
    }
    if last - first > MAX_BACKUP_SEGMENTS {
        check.problems.push(format!("{}: the backup spans {} segments", sentinel_key(&b.name), last - first + 1));
        return check;
    }
    let stored: BTreeSet<(u32, u64)> = snap
        .wal
        .iter()
        .filter(|w| w.name.kind() == WalFileKind::Segment)
        .filter_map(|w| SegmentPos::of_wal(&w.name))
        .filter_map(|p| Some((p.timeline, p.number(seg_size)?)))
        .collect();
    for n in first..=last {
        if !stored.iter().any(|&(t, s)| t >= tli && s == n) {
            check.wal_missing.push(name(n));
        }
    }
    if let Some(m) = check.wal_missing.first() {
        check.problems.push(format!(
            "{} WAL segment(s) needed to make the backup consistent are missing from {WAL_DIR}, the first {m}",
            check.wal_missing.len()
        ));
    }
    check
}

async fn check_objects(
    storage: &Storage,
    b: &BackupInfo,
    check: &mut BackupCheck,
    progress: OnProgress<'_>,
) -> Result<()> {
    let objects = match backup_objects(storage, b).await {
        Ok(o) => o,
        Err(e) if e.kind == crate::ErrorKind::Corrupt => {
            check.problems.push(e.message);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if objects.control.is_none() {
        check.problems.push(format!("{} has no pg_control.tar object", partitions_dir(&b.name)));
    }
    for part in &objects.missing_parts {
        check.problems.push(format!("{} lists {part}, which is not in storage", files_metadata_key(&b.name)));
    }
    let expected = Arc::new(objects.listed.as_ref().map(FilesMetadata::checksums).unwrap_or_default());
    check.checksums_recorded = !expected.is_empty();
    let mut seen = BTreeSet::new();
    let mut counted = Progress::of_backup(b, &objects);
    progress(&counted);
    for (key, method) in objects.in_restore_order() {
        let (what, exp) = (key.clone(), expected.clone());
        let got = with_decoded(storage, storage.read_stages(*method, key), move |decoded| {
            let mut sink = Checker::default();
            let walked = untar::walk(decoded, &what, &exp, &mut sink);
            Ok((walked, sink))
        })
        .await;
        let mut object = ObjectCheck { key: key.clone(), files: 0, bytes: 0, problem: None };
        match got {
            Ok(Some((walked, sink))) => {
                object.files = sink.seen.len() as u64;
                object.bytes = sink.bytes;
                check.files_checksummed += sink.checksummed;
                check.problems.extend(sink.mismatches.into_iter().map(|e| e.message));
                seen.extend(sink.seen);
                if let Err(e) = walked {
                    object.problem = Some(e.message.clone());
                    check.problems.push(e.message);
                }
            }
            Ok(None) => {
                let gone = format!("{key} vanished from the repository while it was verified");
                object.problem = Some(gone.clone());
                check.problems.push(gone);
            }
            Err(e) if matches!(e.kind, crate::ErrorKind::Corrupt) => {
                object.problem = Some(e.message.clone());
                check.problems.push(e.message);
            }
            Err(e) => return Err(e),
        }
        counted.finished(key, object.files, object.bytes, object.problem.clone());
        progress(&counted);
        check.files += object.files;
        check.bytes += object.bytes;
        check.objects.push(object);
    }
    if let Some(listed) = &objects.listed {
        check.recorded_corrupt_pages =
            listed.files.values().filter_map(|m| m.corrupt_blocks.as_ref()).map(|c| c.corrupt_blocks_count).sum();
        let missing: Vec<&String> = listed
            .files
            .iter()
            .filter(|(path, m)| !m.is_skipped && !seen.contains(path.trim_start_matches('/')))
            .map(|(path, _)| path)
            .collect();
        if let Some(first) = missing.first() {
            check.problems.push(format!(
                "{} file(s) listed in {} are in no object, the first {first}",
                missing.len(),
                files_metadata_key(&b.name)
            ));
        }
    }
    for needed in ["backup_label", PG_CONTROL] {
        if !seen.contains(needed) {
            check.problems.push(format!("{needed} is in no object of {}", b.name));
        }
    }
    Ok(())
}

/// A sink that writes nothing and remembers what it saw; a file that does not match its record
/// is noted and the walk goes on.
#[derive(Default)]
struct Checker {
    seen: BTreeSet<String>,
    bytes: u64,
    checksummed: u64,
    mismatches: Vec<Error>,
}

impl Sink for Checker {
    fn directory(&mut self, _rel: &Path) -> Result<()> {
        Ok(())
    }

    fn file(&mut self, _rel: &Path, _mode: u32) -> Result<Box<dyn io::Write>> {
        Ok(Box::new(io::sink()))
    }

    fn write_error(&self, rel: &Path, err: io::Error) -> Error {
        Error::new(crate::ErrorKind::LocalIo, format!("{}: {err}", rel.display()))
    }

    fn mismatch(&mut self, err: Error) -> Result<()> {
        self.mismatches.push(err);
        Ok(())
    }

    fn done(&mut self, rel: &Path, size: u64, checked: bool) {
        self.seen.insert(rel.to_string_lossy().into_owned());
        self.bytes += size;
        self.checksummed += u64::from(checked);
    }
}
