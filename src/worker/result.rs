//! How a backup worker hands its outcome to the session that started it: a small JSON file in
//! `pg_stat_tmp` (never backed up), named by the worker's PID, written atomically.

use std::path::PathBuf;
use walrs_core::{Error, ErrorKind};

type Outcome = Result<String, Error>;

fn path(worker_pid: i32) -> PathBuf {
    PathBuf::from(format!("pg_stat_tmp/walrs-backup-{worker_pid}.json"))
}

/// Written by the worker (the process's working directory is the data directory).
pub fn write(outcome: &Outcome) -> std::io::Result<()> {
    let path = path(std::process::id() as i32);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(outcome)?)?;
    std::fs::rename(&tmp, &path)
}

/// Read and remove the worker's outcome.
pub fn take(worker_pid: i32) -> Outcome {
    let path = path(worker_pid);
    let text = std::fs::read(&path).map_err(|_| {
        Error::new(ErrorKind::LocalIo, "the backup worker ended without reporting a result")
            .with_hint("see the server log for what stopped it")
    })?;
    let _ = std::fs::remove_file(&path); // already read; a leftover file is harmless
    serde_json::from_slice::<Outcome>(&text)
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("unreadable backup worker result: {e}")))?
}
