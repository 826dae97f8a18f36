//! Restore one WAL file from the repository to a local path, as `restore_command` does.

use super::wal_checksum::{self, Recorded};
use super::{candidate_keys, size_limit, with_decoded};
use crate::body::{BodyReader, Counted};
use crate::compress::Compression;
use crate::storage::Storage;
use crate::wal::header::{check_segment_start, LONG_HEADER_LEN};
use crate::wal::{is_valid_segment_size, WalFileKind, WalFileName};
use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    pub key: String,
    pub bytes: u64,
}

/// Fetch `name` into `dest`. `dest` appears whole or not at all (written under a temporary name,
/// then renamed; no fsync: PostgreSQL fetches the file again if it crashes before using it),
/// and a segment only if its first page says it is that segment (of the cluster `system_id`,
/// when given) and, for uncompressed and brotli objects, it matches the checksum recorded when
/// walrs archived it. A missing file
/// is an error of kind [`ErrorKind::NotFound`]. The object is decompressed straight into the
/// file (memory stays small whatever the segment size).
pub async fn wal_fetch(
    storage: &Storage,
    name: &WalFileName,
    dest: &Path,
    preferred: Compression,
    system_id: Option<u64>,
) -> Result<FetchOutcome> {
    remove_dead_writers_files(dest);
    for (key, method) in candidate_keys(name, preferred) {
        let (kind, tmp, what) = (name.kind(), temporary_name(dest), key.clone());
        let (checked, into) = (name.clone(), tmp.clone());
        let stages = storage.read_stages(method, &key).limit(size_limit(name)).checksummed();
        let written = with_decoded(storage, stages, move |decoded| {
            let (first, counted) = copy_to(&into, decoded)?;
            let len = counted.size;
            if matches!(kind, WalFileKind::Segment | WalFileKind::Partial) && !is_valid_segment_size(len) {
                return Err(Error::corrupt(format!("{what} holds {len} bytes, which is not a WAL segment size")));
            }
            check_segment_start(&first, &checked, len, system_id)
                .map_err(|e| e.context(format!("{what} cannot be restored")))?;
            Ok(Recorded::of(counted))
        })
        .await;
        let Some(got) = written.transpose() else { continue };
        let placed = match got {
            Ok(got) => checksum_matches(storage, name, &key, method, got).await.and_then(|()| {
                std::fs::rename(&tmp, dest)
                    .map_err(|e| Error::local_io(format!("cannot write {}", dest.display()), &e))?;
                Ok(got.size)
            }),
            Err(e) => Err(e),
        };
        if placed.is_err() {
            let _ = std::fs::remove_file(&tmp); // best effort; the original error is what matters
        }
        return placed.map(|bytes| FetchOutcome { key, bytes });
    }
    Err(Error::not_found(format!("{name} is not in the repository {}", storage.location())))
}

/// For formats without a checksum of their own, the one walrs recorded at archiving, if any.
async fn checksum_matches(
    storage: &Storage,
    name: &WalFileName,
    key: &str,
    method: Compression,
    got: Recorded,
) -> Result<()> {
    if !wal_checksum::needed(method) {
        return Ok(());
    }
    match wal_checksum::load(storage, name).await? {
        Some(recorded) => wal_checksum::check(key, recorded, got),
        None => Ok(()),
    }
}

/// Temporary files beside `dest` left by writers that died (killed by a fast shutdown of the
/// standby they fetched for, or by the OOM killer): PostgreSQL never removes names that are
/// not WAL names, and each can be a whole segment. Files of live writers stay.
fn remove_dead_writers_files(dest: &Path) {
    let (Some(dir), Some(base)) = (dest.parent(), dest.file_name().and_then(|n| n.to_str())) else { return };
    let prefix = format!("{base}.walrs-tmp.");
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)).and_then(|rest| rest.split('.').next())
        else {
            continue;
        };
        let dead = pid.parse::<u32>().is_ok_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
        if dead {
            let _ = std::fs::remove_file(entry.path()); // best effort: another fetch may remove it too
        }
    }
}

/// A temporary name beside `dest` that no other writer uses: two writers of one destination
/// (two processes, or two tasks of one) never write into each other's file, so the file that
/// is renamed into place is always one writer's whole work.
fn temporary_name(dest: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let mut tmp: PathBuf = dest.as_os_str().to_owned().into();
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    tmp.as_mut_os_string().push(format!(".walrs-tmp.{}.{n}", std::process::id()));
    tmp
}

/// Read errors are the object's fault (it does not decompress, or past the size limit); write
/// errors the disk's. The first bytes (for the page header check) and the counts come back.
fn copy_to(tmp: &Path, decoded: &mut BodyReader<'_>) -> Result<(Vec<u8>, Counted)> {
    let write_err = |e: std::io::Error| Error::local_io(format!("cannot write {}", tmp.display()), &e);
    // create_new: a name that exists belongs to someone else; never truncate it.
    let mut file = std::fs::File::options().write(true).create_new(true).open(tmp).map_err(write_err)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut first = Vec::with_capacity(LONG_HEADER_LEN);
    loop {
        let n = decoded.fill(&mut buf)?;
        if n == 0 {
            return Ok((first, decoded.counted()));
        }
        let wanted = LONG_HEADER_LEN.saturating_sub(first.len()).min(n);
        first.extend_from_slice(&buf[..wanted]);
        file.write_all(&buf[..n]).map_err(write_err)?;
    }
}
