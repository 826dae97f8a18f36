//! Take a base backup's files into the repository, in WAL-G's format. PostgreSQL's part (the
//! start and stop calls) belongs to the caller; this is what happens between and after:
//!
//! 1. [`upload_files`]: tar partitions (`tar_partitions/part_NNN.tar.<ext>`), several in flight
//!    drawing files from one queue ([`WorkQueue`]), each streamed read → tar → compress → multipart upload with bounded memory; then
//!    `pg_control.tar.<ext>`.
//! 2. The caller stops the backup.
//! 3. [`complete`]: `backup_label.tar.<ext>` (backup_label, tablespace_map), `files_metadata.json`,
//!    `metadata.json`, and last the sentinel, which makes the backup exist.

use crate::backup::files_metadata::{CorruptBlocks, FileMeta, FilesMetadata};
use crate::backup::tarball::{append_all, FileRecord};
use crate::backup::walk::{self, SourceFile, PG_CONTROL};
use crate::backup::work_queue::WorkQueue;
use crate::backup::{BackupName, Sentinel};
use crate::body::WriteStages;
use crate::compress::Compression;
use crate::layout::{
    backup_dir, files_metadata_key, metadata_key, partitions_dir, sentinel_key, tar_key, TarContent, TarFile,
};
use crate::lsn::Lsn;
use crate::monitor::backup::{BackupObserver, Unobserved};
use crate::storage::{stream, Storage};
use crate::timefmt::rfc3339;
use crate::wal::SegmentPos;
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub data_dir: PathBuf,
    pub compression: Compression,
    /// Uncompressed bytes per tar partition.
    pub partition_size: u64,
    /// Partitions uploaded at once.
    pub concurrency: usize,
    /// The cluster has data checksums on (`SHOW data_checksums`): verify every relation page
    /// read, as pg_basebackup does, and record the blocks that fail in files_metadata.json.
    pub data_checksums: bool,
    /// With `data_checksums`, fail the backup (no sentinel) when a page fails its checksum,
    /// instead of recording it and going on.
    pub fail_on_corrupt_pages: bool,
}

/// What the caller learnt from `pg_backup_start`.
#[derive(Debug, Clone)]
pub struct Started {
    pub name: BackupName,
    pub start_lsn: Lsn,
    pub start_time: SystemTime,
}

/// What the caller learnt from `pg_backup_stop`.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub finish_lsn: Lsn,
    pub backup_label: String,
    pub tablespace_map: String,
    pub finish_time: SystemTime,
}

/// Facts about the server recorded in the sentinel.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub pg_version: u32,
    pub system_identifier: Option<u64>,
    pub hostname: String,
    pub is_permanent: bool,
}

#[derive(Debug, Default)]
pub struct Uploaded {
    parts: Vec<(TarFile, Vec<FileRecord>)>,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
    pub notes: Vec<String>,
    /// (OID, location) of each tablespace backed up.
    pub tablespaces: Vec<(String, String)>,
}

/// A file with pages that failed their checksum while the backup read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptFile {
    pub rel: String,
    pub blocks: Vec<u32>,
}

impl Uploaded {
    /// Files whose pages failed their checksum, for the caller to WARN about, in path order.
    pub fn corrupt_files(&self) -> Vec<CorruptFile> {
        let mut out: Vec<CorruptFile> = self
            .parts
            .iter()
            .flat_map(|(_, records)| records)
            .filter(|r| !r.corrupt_blocks.is_empty())
            .map(|r| CorruptFile { rel: r.rel.clone(), blocks: r.corrupt_blocks.clone() })
            .collect();
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }
}

/// "base/1/1259 blocks 3, 9; global/1262 block 0", at most a few files and blocks.
fn describe(corrupt: &[CorruptFile]) -> String {
    let blocks = |b: &[u32]| {
        let shown: Vec<String> = b.iter().take(5).map(u32::to_string).collect();
        let more = if b.len() > 5 { format!(" and {} more", b.len() - 5) } else { String::new() };
        format!("block{} {}{more}", if b.len() == 1 { "" } else { "s" }, shown.join(", "))
    };
    let mut text: Vec<String> = corrupt.iter().take(5).map(|f| format!("{} {}", f.rel, blocks(&f.blocks))).collect();
    if corrupt.len() > 5 {
        text.push(format!("and {} more files", corrupt.len() - 5));
    }
    text.join("; ")
}

/// Upload every file of the data directory but `backup_label`, then `pg_control`.
pub async fn upload_files(storage: &Storage, req: &BackupRequest, started: &Started) -> Result<Uploaded> {
    upload_files_watched(storage, req, started, Arc::new(Unobserved)).await
}

/// As [`upload_files`], telling `observer` what is to be streamed, each file's bytes as they
/// are read, and each partition stored.
pub async fn upload_files_watched(
    storage: &Storage,
    req: &BackupRequest,
    started: &Started,
    observer: Arc<dyn BackupObserver>,
) -> Result<Uploaded> {
    let dir = req.data_dir.clone();
    let inv = super::blocking(move || walk::inventory(&dir)).await?;
    observer.planned(inv.files.len() as u64, inv.files.iter().map(|f| f.size).sum());
    clear_leftovers(storage, &started.name).await?;
    // One writer per partition in flight; each starts partitions until no file is left.
    let queue = WorkQueue::new(&inv.files, req.partition_size.max(1));
    let numbers = AtomicUsize::new(1);
    let writers = (0..req.concurrency.max(1)).map(|_| {
        let (queue, numbers, dirs, observer) = (&queue, &numbers, &inv.dirs, &observer);
        async move {
            let mut mine = vec![];
            while let Some(files) = queue.next_partition() {
                let n = numbers.fetch_add(1, Ordering::Relaxed);
                let file = TarFile::new(TarContent::Part(n as u32), req.compression);
                // The directories go into the first partition, so every other one is files only.
                let dirs = if n == 1 { dirs.clone() } else { vec![] };
                mine.push(upload_partition(storage, req, started, file, dirs, files, observer.clone()).await?);
            }
            Ok::<_, Error>(mine)
        }
    });
    let mut parts: Vec<(TarFile, Vec<FileRecord>, u64)> =
        futures::future::try_join_all(writers).await?.into_iter().flatten().collect();
    parts.sort_by_key(|(file, _, _)| file.content);

    let control = inv.files.iter().find(|f| f.rel == PG_CONTROL).cloned().expect("inventory checks pg_control");
    let control = std::iter::once(control);
    let pg_control = TarFile::new(TarContent::PgControl, req.compression);
    let (file, records, stored) =
        upload_partition(storage, req, started, pg_control, vec![], control, observer.clone()).await?;
    parts.push((file, records, stored));

    let mut out = Uploaded { notes: inv.notes, tablespaces: inv.tablespaces, ..Default::default() };
    for (file, records, stored) in parts {
        out.uncompressed_bytes += records.iter().map(|r| r.size).sum::<u64>();
        out.compressed_bytes += stored;
        out.parts.push((file, records));
    }
    let corrupt = out.corrupt_files();
    if req.fail_on_corrupt_pages && !corrupt.is_empty() {
        let pages: usize = corrupt.iter().map(|f| f.blocks.len()).sum();
        return Err(Error::corrupt(format!(
            "backup {}: {pages} page(s) in {} file(s) fail their checksum: {}",
            started.name,
            corrupt.len(),
            describe(&corrupt)
        ))
        .with_hint("the data files are damaged on disk: restore the relations from an older backup or rebuild them; no sentinel was written"));
    }
    Ok(out)
}

/// Remove what a failed attempt under the same name left behind; refuse to touch a complete backup.
async fn clear_leftovers(storage: &Storage, name: &BackupName) -> Result<()> {
    if storage.exists(&sentinel_key(name)).await? {
        return Err(Error::new(ErrorKind::Conflict, format!("a complete backup named {name} already exists"))
            .with_hint("a new backup must start in a later WAL segment; run SELECT pg_switch_wal() and try again"));
    }
    for object in storage.list(&backup_dir(name)).await? {
        storage.delete(&object.key).await?;
    }
    Ok(())
}

/// One partition: a blocking thread writes tar → body stages → channel; the upload consumes it.
async fn upload_partition(
    storage: &Storage,
    req: &BackupRequest,
    started: &Started,
    file: TarFile,
    dirs: Vec<String>,
    files: impl Iterator<Item = SourceFile> + Send + 'static,
    observer: Arc<dyn BackupObserver>,
) -> Result<(TarFile, Vec<FileRecord>, u64)> {
    let (writer, rx) = stream::channel();
    let (data_dir, stages) = (req.data_dir.clone(), storage.write_stages(req.compression));
    let verify_pages = req.data_checksums.then_some(started.start_lsn);
    let watcher = observer.clone();
    let producer = super::blocking(move || -> Result<Vec<FileRecord>> {
        let mut tar = tar::Builder::new(stages.into_writer(writer)?);
        let records = append_all(&mut tar, &data_dir, &dirs, files, verify_pages, &*watcher)?;
        let finish = |e: std::io::Error| Error::local_io("cannot finish a backup partition", &e);
        let (upload, _) = tar.into_inner().map_err(finish)?.finish().map_err(finish)?;
        upload.finish().map_err(finish)?;
        Ok(records)
    });
    let key = tar_key(&started.name, &file);
    let (records, stored) = tokio::join!(producer, storage.put_stream(&key, rx));
    let records = records?; // a producer error explains an upload error: report it first
    let stored = stored?;
    observer.partition_uploaded();
    Ok((file, records, stored))
}

/// Store `backup_label`, the metadata, and last the sentinel.
pub async fn complete(
    storage: &Storage,
    req: &BackupRequest,
    started: &Started,
    uploaded: &Uploaded,
    stopped: &Stopped,
    facts: &ServerFacts,
) -> Result<Sentinel> {
    let name = &started.name;
    let (label, map, c) = (stopped.backup_label.clone(), stopped.tablespace_map.clone(), req.compression);
    let stages = storage.write_stages(c);
    let label_tar =
        super::blocking(move || small_tar(&[("backup_label", label), ("tablespace_map", map)], stages)).await?;
    storage.put(&tar_key(name, &TarFile::new(TarContent::BackupLabel, c)), Bytes::from(label_tar)).await?;

    let mut files = FilesMetadata::default();
    for (part, records) in &uploaded.parts {
        files.tar_file_sets.insert(part.file_name(), records.iter().map(|r| r.rel.clone()).collect());
        for r in records {
            let meta = FileMeta {
                mtime: r.mtime.clone(),
                size: Some(r.size),
                crc32: Some(format!("{:08x}", r.crc32)),
                corrupt_blocks: CorruptBlocks::of(&r.corrupt_blocks),
                ..Default::default()
            };
            files.files.insert(r.rel.clone(), meta);
        }
    }
    storage.put(&files_metadata_key(name), json(&files)?).await?;

    let (start, finish) = (rfc3339(started.start_time, true), rfc3339(stopped.finish_time, true));
    let data_dir = req.data_dir.display().to_string();
    let metadata = serde_json::json!({
        "start_time": start, "finish_time": finish, "date_fmt": "%Y-%m-%dT%H:%M:%S.%fZ",
        "hostname": facts.hostname, "data_dir": data_dir, "pg_version": facts.pg_version,
        "start_lsn": started.start_lsn.0, "finish_lsn": stopped.finish_lsn.0, "is_permanent": facts.is_permanent,
        "system_identifier": facts.system_identifier, "uncompressed_size": uploaded.uncompressed_bytes,
        "compressed_size": uploaded.compressed_bytes, "user_data": null,
    });
    storage.put(&metadata_key(name), json(&metadata)?).await?;

    let sentinel = Sentinel {
        lsn: started.start_lsn.0,
        finish_lsn: stopped.finish_lsn.0,
        pg_version: facts.pg_version,
        system_identifier: facts.system_identifier,
        uncompressed_size: uploaded.uncompressed_bytes as i64,
        compressed_size: uploaded.compressed_bytes as i64,
        version: 2,
        start_time: Some(start),
        finish_time: Some(finish),
        date_fmt: Some("%Y-%m-%dT%H:%M:%S.%fZ".into()),
        hostname: Some(facts.hostname.clone()),
        data_dir: Some(data_dir),
        is_permanent: facts.is_permanent,
        spec: tablespace_spec(&req.data_dir, &uploaded.tablespaces),
        ..Default::default()
    };
    confirm_objects(storage, name, uploaded, c).await?;
    storage.put(&sentinel_key(name), json(&sentinel)?).await?;
    Ok(sentinel)
}

/// The sentinel says "complete": every partition it records, `backup_label` and `pg_control`
/// must still be in storage when it is written. Something may have removed them since their
/// upload (a retention run that took the folder for a leftover, an operator).
async fn confirm_objects(storage: &Storage, name: &BackupName, uploaded: &Uploaded, c: Compression) -> Result<()> {
    let metadata = files_metadata_key(name);
    if !storage.exists(&metadata).await? {
        return Err(Error::corrupt(format!("backup {name} is not complete: {metadata} vanished after its upload"))
            .with_hint(
                "no sentinel was written; something deleted objects of a running backup, then take the backup again",
            ));
    }
    let stored: std::collections::BTreeSet<String> =
        storage.list(&partitions_dir(name)).await?.into_iter().map(|o| o.key).collect();
    let label = TarFile::new(TarContent::BackupLabel, c);
    let missing: Vec<String> = uploaded
        .parts
        .iter()
        .map(|(part, _)| part)
        .chain(std::iter::once(&label))
        .map(|part| tar_key(name, part))
        .filter(|key| !stored.contains(key))
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(Error::corrupt(format!(
            "backup {name} is not complete: {} of its objects vanished from storage after their upload, the first {first}",
            missing.len()
        ))
        .with_hint("no sentinel was written; something deleted objects of a running backup (check retention jobs), then take the backup again")),
    }
}

/// WAL-G's `TablespaceSpec`: base prefix, the OIDs, and for each its location and link.
fn tablespace_spec(data_dir: &std::path::Path, tablespaces: &[(String, String)]) -> Option<serde_json::Value> {
    if tablespaces.is_empty() {
        return None;
    }
    let mut spec = serde_json::Map::new();
    spec.insert("base_prefix".into(), data_dir.display().to_string().into());
    spec.insert("tablespaces".into(), tablespaces.iter().map(|(oid, _)| oid.clone()).collect::<Vec<_>>().into());
    for (oid, location) in tablespaces {
        spec.insert(
            oid.clone(),
            serde_json::json!({ "loc": format!("{location}/"), "link": format!("pg_tblspc/{oid}") }),
        );
    }
    Some(spec.into())
}

fn small_tar(entries: &[(&str, String)], stages: WriteStages) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(stages.into_writer(Vec::new())?);
    let fail = |e: std::io::Error| Error::local_io("cannot build backup_label.tar", &e);
    for (path, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(body.len() as u64);
        tar.append_data(&mut h, path, body.as_bytes()).map_err(fail)?;
    }
    tar.into_inner().map_err(fail)?.finish().map(|(stored, _)| stored).map_err(fail)
}

fn json<T: serde::Serialize>(value: &T) -> Result<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("cannot encode JSON: {e}")))
}

/// The backup name for a start LSN: `base_` and the WAL file name of that LSN.
pub fn backup_name(timeline: u32, start_lsn: Lsn, segment_size: u64) -> Result<BackupName> {
    let start = SegmentPos::of_lsn(timeline, start_lsn, segment_size).ok_or_else(|| {
        Error::invalid_input(format!("{segment_size} bytes is not a WAL segment size"))
            .with_hint("PostgreSQL's segments are a power of two from 1 MB to 1 GB")
    })?;
    Ok(BackupName::parse(&format!("base_{start}")).expect("well-formed"))
}
