//! Restore one WAL file from the repository to a local path, as `restore_command` does.

use super::{blocking, candidate_keys, size_limit};
use crate::compress::Compression;
use crate::storage::Storage;
use crate::wal::{is_valid_segment_size, WalFileKind, WalFileName};
use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    pub key: String,
    pub bytes: u64,
}

/// Fetch `name` into `dest`. `dest` appears whole or not at all. A missing file is an error of
/// kind [`ErrorKind::NotFound`].
pub async fn wal_fetch(
    storage: &Storage,
    name: &WalFileName,
    dest: &Path,
    preferred: Compression,
) -> Result<FetchOutcome> {
    for (key, method) in candidate_keys(name, preferred) {
        let Some(stored) = storage.get(&key).await? else {
            continue;
        };
        let limit = size_limit(name);
        let kind = name.kind();
        let dest = dest.to_path_buf();
        let what = key.clone();
        let bytes = blocking(move || -> Result<u64> {
            let data = method.decompress(&stored, limit, &what)?;
            let len = data.len() as u64;
            if matches!(kind, WalFileKind::Segment | WalFileKind::Partial) && !is_valid_segment_size(len) {
                return Err(Error::corrupt(format!("{what} holds {len} bytes, which is not a WAL segment size")));
            }
            write_atomically(&dest, &data)?;
            Ok(len)
        })
        .await?;
        return Ok(FetchOutcome { key, bytes });
    }
    Err(Error::not_found(format!("{name} is not in the repository {}", storage.location())))
}

/// Write to a temporary name beside `dest`, then rename, so PostgreSQL never sees a partial file.
/// No fsync: PostgreSQL fetches the file again if it crashes before using it.
fn write_atomically(dest: &Path, data: &[u8]) -> Result<()> {
    let mut tmp: PathBuf = dest.as_os_str().to_owned().into();
    tmp.as_mut_os_string().push(".walrs-tmp");
    let written =
        std::fs::File::create(&tmp).and_then(|mut f| f.write_all(data)).and_then(|()| std::fs::rename(&tmp, dest));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp); // best effort; the original error is what matters
        Error::local_io(format!("cannot write {}", dest.display()), &e)
    })
}
