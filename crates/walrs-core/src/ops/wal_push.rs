//! Archive one WAL file: compress, store create-only, and treat an existing copy as success
//! only if its content is identical.

use super::wal_checksum::{self, Recorded};
use super::{blocking, find_archived, size_limit};
use crate::body::{Counted, WriteStages};
use crate::compress::Compression;
use crate::layout::wal_key;
use crate::storage::Storage;
use crate::wal::header::check_file_start;
use crate::wal::{is_valid_segment_size, WalFileKind, WalFileName};
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Uploaded now; durable when this is returned.
    Stored { key: String, original_bytes: u64, stored_bytes: u64 },
    /// The repository already held identical content.
    AlreadyArchived { key: String },
}

/// Archive the file at `path` (as PostgreSQL passes it) under its name `name`. A segment must
/// start with its own page header, and with `system_id` (the server's) when one is given.
pub async fn wal_push(
    storage: &Storage,
    name: &WalFileName,
    path: &Path,
    compression: Compression,
    system_id: Option<u64>,
) -> Result<PushOutcome> {
    let what = path.display().to_string();
    let len = tokio::fs::metadata(path).await.map_err(|e| Error::local_io(format!("cannot read {what}"), &e))?.len();
    if matches!(name.kind(), WalFileKind::Segment | WalFileKind::Partial) && !is_valid_segment_size(len) {
        return Err(Error::invalid_input(format!(
            "{what} is {len} bytes, not a whole WAL segment: refusing to archive it"
        )));
    }

    // A damaged or foreign file archived under this name would be restored as if it were the
    // WAL PostgreSQL wrote: refuse a segment whose first page is not its own.
    let (checked, source) = (name.clone(), path.to_path_buf());
    blocking(move || check_file_start(&source, &checked, len, system_id)).await.map_err(|e| {
        e.context(format!("refusing to archive {what}")).with_hint(
            "the file in pg_wal is damaged or is not this cluster's; archiving stops here until it is replaced",
        )
    })?;

    if let Some((key, method)) = find_archived(storage, name, compression).await? {
        return same_content(storage, name, &key, method, path).await.map(|()| PushOutcome::AlreadyArchived { key });
    }

    let key = wal_key(name, compression);
    // Compressed straight from the file: only the compressed copy is held in memory, which
    // keeps look-ahead uploads (several segments at once) small.
    let source = path.to_path_buf();
    let stages = storage.write_stages(compression).checksummed();
    let (packed, counted) = blocking(move || compress_file(&source, len, stages)).await?;
    let stored_bytes = packed.len() as u64;
    if storage.put_if_absent(&key, Bytes::from(packed)).await? {
        // After the object, never before: a checksum must only ever describe a stored object.
        // If this fails, PostgreSQL pushes the segment again, and the identical copy found
        // then gets its checksum.
        if wal_checksum::needed(compression) {
            wal_checksum::store(storage, name, Recorded::of(counted)).await?;
        }
        return Ok(PushOutcome::Stored { key, original_bytes: len, stored_bytes });
    }
    // Another pusher got there between our look-up and our write.
    same_content(storage, name, &key, compression, path).await.map(|()| PushOutcome::AlreadyArchived { key })
}

/// The file through `stages` (compressed, and sealed if the repository is encrypted), and
/// the size and CRC-32 of what was compressed.
fn compress_file(path: &Path, len: u64, stages: WriteStages) -> Result<(Vec<u8>, Counted)> {
    let fail = |e: std::io::Error| Error::local_io(format!("cannot compress {}", path.display()), &e);
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut body = stages.into_writer(Vec::with_capacity(len as usize / 4 + 64))?;
    // io::copy hands a BufReader's own buffer to the writer: no copy on the way in.
    let copied = std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, file), &mut body).map_err(fail)?;
    if copied != len {
        let what = format!("{} changed size while it was being archived ({len}, then {copied} bytes)", path.display());
        return Err(Error::new(ErrorKind::LocalIo, what).retryable(true));
    }
    body.finish().map_err(fail)
}

/// Succeeds if the object at `key` decompresses to exactly the file at `path`; refuses loudly
/// otherwise.
async fn same_content(
    storage: &Storage,
    name: &WalFileName,
    key: &str,
    method: Compression,
    path: &Path,
) -> Result<()> {
    let data =
        tokio::fs::read(path).await.map_err(|e| Error::local_io(format!("cannot read {}", path.display()), &e))?;
    let Some(stored) = storage.get(key).await? else {
        return Err(
            Error::new(ErrorKind::Storage, format!("{key} vanished while it was being compared")).retryable(true)
        );
    };
    let stages = storage.read_stages(method, key).limit(size_limit(name));
    // The CRC-32 is only recorded beside formats without a checksum of their own.
    let stages = if wal_checksum::needed(method) { stages.checksummed() } else { stages };
    let (existing, counted) = blocking(move || stages.decode(&stored)).await.map_err(|e| {
        e.context(format!("{name} is already archived but the stored copy cannot be read"))
            .with_hint("inspect the object; if it is damaged, delete it and archiving will store it again")
    })?;
    if existing == data {
        // The stored object is this segment: its checksum must say so. It may be missing (an
        // earlier push ended before writing it) or describe another object (one stored under
        // this name by another tool after walrs wrote the checksum).
        if wal_checksum::needed(method) {
            let recorded = Recorded::of(counted);
            if wal_checksum::load(storage, name).await.ok().flatten() != Some(recorded) {
                wal_checksum::store(storage, name, recorded).await?;
            }
        }
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Conflict,
        format!("{key} already holds different content for {name}: refusing to overwrite it"),
    )
    .with_hint(
        "two clusters may be archiving to the same repository, or a restored cluster kept the old walrs.storage; \
         give each cluster its own prefix",
    ))
}
