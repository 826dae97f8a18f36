//! How a backup worker hands its outcome to the session that started it: a small JSON file in
//! `pg_stat_tmp` (never backed up), written atomically, named by a key the caller made for
//! this one request. A PID would not do: PIDs are reused, and a file left by an earlier worker
//! whose caller went away could be read as the success of a later backup that failed.

use std::path::PathBuf;
use walrs_core::{Error, ErrorKind};

type Outcome = Result<String, Error>;

/// A key no other request shares: the caller's PID and the time, to the nanosecond.
pub fn new_key(caller_pid: i32) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{caller_pid}-{nanos}")
}

/// Only keys [`new_key`] makes name a file: nothing else reaches the path.
fn path(key: &str) -> Result<PathBuf, Error> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(Error::new(ErrorKind::LocalIo, format!("malformed backup request key \"{}\"", key.escape_debug())));
    }
    Ok(PathBuf::from(format!("pg_stat_tmp/walrs-backup-{key}.json")))
}

/// Written by the worker (the process's working directory is the data directory).
pub fn write(key: &str, outcome: &Outcome) -> std::io::Result<()> {
    let path = path(key).map_err(|e| std::io::Error::other(e.message))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(outcome)?)?;
    std::fs::rename(&tmp, &path)
}

/// Read and remove the outcome of the request `key`.
pub fn take(key: &str) -> Outcome {
    let path = path(key)?;
    let text = std::fs::read(&path).map_err(|_| {
        Error::new(ErrorKind::LocalIo, "the backup worker ended without reporting a result")
            .with_hint("see the server log for what stopped it")
    })?;
    let _ = std::fs::remove_file(&path); // already read; a leftover file is harmless
    serde_json::from_slice::<Outcome>(&text)
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("unreadable backup worker result: {e}")))?
}
