//! The operations walrs performs, one file each. Each takes its configuration as arguments
//! and returns an outcome for the adapter to log or print.

mod backup_fetch;
mod backup_mark;
pub mod backup_push;
mod backup_verify;
mod delete;
mod progress;
mod repo_owner;
mod wal_checksum;
mod wal_fetch;
pub mod wal_prefetch;
mod wal_push;
pub mod wal_verify;

pub use backup_fetch::{backup_fetch, backup_fetch_with, FetchReport, TablespaceMapping};
pub use backup_mark::{backup_mark, MarkOutcome};
pub use backup_verify::{backup_verify, BackupCheck, ObjectCheck};
pub use delete::{delete, delete_with, DeleteReport};
pub use progress::{ObjectDone, OnProgress, Progress};
pub use repo_owner::{check_owner, repository_owner, Owner};
pub use wal_fetch::{wal_fetch, FetchOutcome};
pub use wal_push::{wal_push, PushOutcome};
pub use wal_verify::{verify_chain, wal_verify, WalReport};

use crate::body::{BodyReader, ReadStages};
use crate::compress::{Compression, READ_ORDER};
use crate::layout::wal_key;
use crate::storage::Storage;
use crate::wal::{WalFileKind, WalFileName};
use crate::Result;

/// Largest WAL segment PostgreSQL allows (`--wal-segsize=1024`).
pub(crate) const MAX_SEGMENT: u64 = 1 << 30;
/// History and backup history files are a few lines; anything near this is not one.
const MAX_SMALL_FILE: u64 = 64 << 20;

fn size_limit(name: &WalFileName) -> u64 {
    match name.kind() {
        WalFileKind::Segment | WalFileKind::Partial => MAX_SEGMENT,
        WalFileKind::History | WalFileKind::BackupHistory => MAX_SMALL_FILE,
    }
}

/// Every key a WAL file may be stored under, `first` method first.
fn candidate_keys(name: &WalFileName, first: Compression) -> Vec<(String, Compression)> {
    std::iter::once(first)
        .chain(READ_ORDER.into_iter().filter(move |c| *c != first))
        .map(|c| (wal_key(name, c), c))
        .collect()
}

/// Stream the stored object `stages` reads through them into `work`, on the blocking pool,
/// memory bounded. None when there is no such object.
pub(crate) async fn with_decoded<T: Send + 'static>(
    storage: &Storage,
    stages: ReadStages,
    work: impl FnOnce(&mut BodyReader<'static>) -> Result<T> + Send + 'static,
) -> Result<Option<T>> {
    let key = stages.key().to_string();
    // file:// objects are read straight from the file: one thread, large reads.
    if let Some(path) = storage.local_file(&key) {
        let got = blocking(move || match std::fs::File::open(&path) {
            Ok(file) => run(work, stages.open(std::io::BufReader::with_capacity(1 << 20, file))?).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::Error::local_io(format!("cannot read {key} ({})", path.display()), &e)),
        })
        .await?;
        // Absent only if the repository itself is there.
        return if got.is_none() { storage.check_root().map(|()| None) } else { Ok(got) };
    }
    let Some(reader) = storage.open_reader(&key).await? else { return Ok(None) };
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    blocking(move || run(work, stages.open(bridge)?)).await.map(Some)
}

/// `work` on `reader`; when it fails because the stages did (a seal that refused the object,
/// an object that looks encrypted), the stages' own error, which names the cause better than
/// what the consumer made of it.
fn run<T>(work: impl FnOnce(&mut BodyReader<'static>) -> Result<T>, mut reader: BodyReader<'static>) -> Result<T> {
    work(&mut reader).map_err(|e| reader.take_failure().unwrap_or(e))
}

/// Run CPU or file work on tokio's blocking pool, so async I/O threads stay free.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| crate::Error::new(crate::ErrorKind::LocalIo, format!("a worker thread failed: {e}")))?
}

/// Is `name` in the repository (under any compression)?
pub async fn wal_is_archived(storage: &Storage, name: &WalFileName) -> Result<bool> {
    Ok(find_archived(storage, name, Compression::Lz4).await?.is_some())
}

/// The key and method of the stored copy of `name`, if any (looked up concurrently).
async fn find_archived(
    storage: &Storage,
    name: &WalFileName,
    first: Compression,
) -> Result<Option<(String, Compression)>> {
    let candidates = candidate_keys(name, first);
    let found = futures::future::try_join_all(candidates.iter().map(|(key, _)| storage.exists(key))).await?;
    Ok(candidates.into_iter().zip(found).find_map(|(c, exists)| exists.then_some(c)))
}
