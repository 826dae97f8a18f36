//! What the archive callbacks do. `archive_file` never lets an error or panic escape: on any
//! failure it logs a WARNING with the cause and returns false, so PostgreSQL keeps the WAL
//! and tries again.

use crate::error::log_error;
use crate::{gucs, repo, runtime};
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{debug1, log, PgLogLevel, PgTryBuilder};
use std::path::Path;
use walrs_core::ops::{wal_push, PushOutcome};
use walrs_core::wal::WalFileName;
use walrs_core::{Error, ErrorKind};

pub fn check_configured() -> bool {
    match gucs::repo_config() {
        Ok(_) => true,
        Err(e) => {
            log_error(PgLogLevel::WARNING, "archiving is not configured", &e);
            false
        }
    }
}

pub fn archive_file(file: &str, path: &str) -> bool {
    let result = PgTryBuilder::new(|| archive(file, path)).catch_others(|caught| Err(unexpected(caught))).execute();
    match result {
        Ok(PushOutcome::Stored { key, original_bytes, stored_bytes }) => {
            debug1!("walrs: archived {file} as {key} ({original_bytes} bytes, {stored_bytes} stored)");
            true
        }
        Ok(PushOutcome::AlreadyArchived { key }) => {
            log!("walrs: {file} was already archived with identical content as {key}");
            true
        }
        Err(e) => {
            log_error(PgLogLevel::WARNING, &format!("could not archive {file}"), &e);
            false
        }
    }
}

fn archive(file: &str, path: &str) -> Result<PushOutcome, Error> {
    let name = WalFileName::parse(file)?;
    let (cfg, warnings) = gucs::repo_config()?;
    let storage = repo::storage(&cfg, &warnings)?;
    runtime::block_on(wal_push(&storage, &name, Path::new(path), cfg.compression))?
}

/// A PostgreSQL ERROR or a Rust panic caught during archiving, as a core error.
fn unexpected(caught: CaughtError) -> Error {
    let message = match &caught {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r.message().to_string(),
        CaughtError::RustPanic { ereport, .. } => format!("internal error: {}", ereport.message()),
    };
    Error::new(ErrorKind::LocalIo, message).retryable(true)
}
