//! The WAL segment size of a repository, which nothing in it records: measured from a stored
//! segment, else inferred from the backups.

use super::Snapshot;
use crate::ops::{with_decoded, MAX_SEGMENT};
use crate::retention::infer_segment_size;
use crate::storage::Storage;
use crate::wal::{is_valid_segment_size, WalFileKind};

/// The WAL segment size: the length of a stored segment, decompressed; else inferred from the
/// backups (see [`infer_segment_size`]), with a note saying so.
pub async fn segment_size(storage: &Storage, snap: &Snapshot) -> (u64, Option<String>) {
    let inferred = infer_segment_size(&snap.backups);
    let Some(sample) = snap.wal.iter().rev().find(|w| w.name.kind() == WalFileKind::Segment) else {
        return (inferred, None);
    };
    let counted = with_decoded(storage, storage.read_stages(sample.compression(), &sample.key), |decoded| {
        std::io::copy(&mut std::io::Read::take(decoded, MAX_SEGMENT + 1), &mut std::io::sink())
            .map_err(|e| crate::Error::corrupt(format!("cannot read a WAL segment: {e}")))
    })
    .await;
    match counted {
        Ok(Some(len)) if is_valid_segment_size(len) => (len, None),
        Ok(Some(len)) => (inferred, Some(format!("{} holds {len} bytes, not a segment size", sample.key))),
        Ok(None) => (inferred, None),
        Err(e) => (inferred, Some(format!("segment size inferred from the backups; measuring one failed: {e}"))),
    }
}
