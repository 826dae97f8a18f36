//! How a backup worker hands its outcome to the session that started it: a small JSON file in
//! `pg_stat_tmp` (never backed up), named by the worker's PID, written atomically.

use serde_json::json;
use std::path::PathBuf;
use walrs_core::{Error, ErrorKind};

fn path(worker_pid: i32) -> PathBuf {
    PathBuf::from(format!("pg_stat_tmp/walrs-backup-{worker_pid}.json"))
}

/// Written by the worker (the process's working directory is the data directory).
pub fn write(outcome: &Result<String, Error>) -> std::io::Result<()> {
    let body = match outcome {
        Ok(name) => json!({ "ok": true, "backup_name": name }),
        Err(e) => json!({ "ok": false, "kind": format!("{:?}", e.kind), "message": e.message, "hint": e.hint }),
    };
    let path = path(std::process::id() as i32);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string())?;
    std::fs::rename(&tmp, &path)
}

/// Read and remove the worker's outcome.
pub fn take(worker_pid: i32) -> Result<String, Error> {
    let path = path(worker_pid);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::new(ErrorKind::LocalIo, "the backup worker ended without reporting a result")
            .with_hint("see the server log for what stopped it")
    })?;
    let _ = std::fs::remove_file(&path); // already read; a leftover file is harmless
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("unreadable backup worker result: {e}")))?;
    if v["ok"].as_bool() == Some(true) {
        return Ok(v["backup_name"].as_str().unwrap_or_default().to_string());
    }
    let kind = match v["kind"].as_str().unwrap_or("") {
        "Config" => ErrorKind::Config,
        "InvalidInput" => ErrorKind::InvalidInput,
        "NotFound" => ErrorKind::NotFound,
        "Conflict" => ErrorKind::Conflict,
        "Corrupt" => ErrorKind::Corrupt,
        "Storage" => ErrorKind::Storage,
        "Busy" => ErrorKind::Busy,
        "Timeout" => ErrorKind::Timeout,
        _ => ErrorKind::LocalIo,
    };
    let mut err = Error::new(kind, v["message"].as_str().unwrap_or("the backup failed"));
    if let Some(hint) = v["hint"].as_str() {
        err = err.with_hint(hint);
    }
    Err(err)
}
