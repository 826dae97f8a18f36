//! Restore one WAL file from the repository to a local path, as `restore_command` does.

use super::{candidate_keys, size_limit, with_decoded};
use crate::compress::Compression;
use crate::storage::Storage;
use crate::wal::{is_valid_segment_size, WalFileKind, WalFileName};
use crate::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    pub key: String,
    pub bytes: u64,
}

/// Fetch `name` into `dest`. `dest` appears whole or not at all. A missing file is an error of
/// kind [`ErrorKind::NotFound`]. The object is decompressed straight into the file (memory
/// stays small whatever the segment size).
pub async fn wal_fetch(
    storage: &Storage,
    name: &WalFileName,
    dest: &Path,
    preferred: Compression,
) -> Result<FetchOutcome> {
    for (key, method) in candidate_keys(name, preferred) {
        let (limit, kind, dest, what) = (size_limit(name), name.kind(), dest.to_path_buf(), key.clone());
        let written = with_decoded(storage, &key, method, move |decoded| {
            write_atomically(&dest, decoded, &what, method, limit, |len| {
                if matches!(kind, WalFileKind::Segment | WalFileKind::Partial) && !is_valid_segment_size(len) {
                    return Err(Error::corrupt(format!("{what} holds {len} bytes, which is not a WAL segment size")));
                }
                Ok(())
            })
        })
        .await?;
        if let Some(bytes) = written {
            return Ok(FetchOutcome { key, bytes });
        }
    }
    Err(Error::not_found(format!("{name} is not in the repository {}", storage.location())))
}

/// Copy `decoded` (at most `limit` bytes) to a temporary name beside `dest`, let `check` judge
/// the length, then rename,
/// so PostgreSQL never sees a partial or wrong file. No fsync: PostgreSQL fetches the file
/// again if it crashes before using it.
fn write_atomically(
    dest: &Path,
    decoded: &mut dyn Read,
    what: &str,
    method: Compression,
    limit: u64,
    check: impl Fn(u64) -> Result<()>,
) -> Result<u64> {
    let mut tmp: PathBuf = dest.as_os_str().to_owned().into();
    tmp.as_mut_os_string().push(".walrs-tmp");
    let written = copy_to(&tmp, decoded, what, method, limit).and_then(|len| check(len).map(|()| len));
    let renamed = written.and_then(|len| {
        std::fs::rename(&tmp, dest).map_err(|e| Error::local_io(format!("cannot write {}", dest.display()), &e))?;
        Ok(len)
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp); // best effort; the original error is what matters
    }
    renamed
}

/// Read errors are the object's fault (it does not decompress); write errors the disk's.
fn copy_to(tmp: &Path, decoded: &mut dyn Read, what: &str, method: Compression, limit: u64) -> Result<u64> {
    let write_err = |e: std::io::Error| Error::local_io(format!("cannot write {}", tmp.display()), &e);
    let mut file = std::fs::File::create(tmp).map_err(write_err)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match decoded.read(&mut buf) {
            Ok(0) => return Ok(len),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::corrupt(format!("{what} does not decompress as {}: {e}", method.name()))
                    .with_hint("the object is damaged or was written by another tool under the wrong name"))
            }
        };
        len += n as u64;
        if len > limit {
            return Err(Error::corrupt(format!("{what} decompresses to more than {limit} bytes")));
        }
        file.write_all(&buf[..n]).map_err(write_err)?;
    }
}
