//! What the archive callbacks do. `archive_file` never lets an error or panic escape: on any
//! failure it logs a WARNING with the cause and returns false, so PostgreSQL keeps the WAL
//! and tries again; the WARNING's DETAIL says whether the failure may be transient.
//!
//! Look-ahead: when PostgreSQL asks for a segment, the next `.ready` segments of its timeline
//! start uploading too (on the tokio runtime, at most `walrs.upload_concurrency` uploads in
//! all, each holding one segment and its compressed copy). When PostgreSQL later asks for one
//! of them, the callback waits for that upload's result; it never reports a segment archived
//! before its own upload finished. A failed look-ahead upload is simply done again; if the
//! archiver exits, unfinished ones are redone by the next archiver (stores are create-only,
//! and identical content counts as archived). The choice is `walrs_core::lookahead::plan`.
//!
//! Before its first segment into a repository, the archiver checks the repository is this
//! database system's (its backups' or WAL's system identifier), and archives nothing into
//! another's.

use crate::error::{from_caught, log_error, log_error_with_detail};
use crate::monitor::shmem;
use crate::{gucs, repo, runtime};
use parking_lot::Mutex;
use pgrx::{debug1, log, PgLogLevel, PgTryBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tokio::task::JoinHandle;
use walrs_core::chrono::Utc;
use walrs_core::compress::Compression;
use walrs_core::config::RepoConfig;
use walrs_core::env::Env;
use walrs_core::lookahead;
use walrs_core::monitor::{Failure, SegmentResult};
use walrs_core::ops::{check_owner, repository_owner, wal_push, PushOutcome};
use walrs_core::storage::{Location, Storage};
use walrs_core::wal::WalFileName;
use walrs_core::Error;

/// An upload started ahead, and the repository settings it was started with.
struct InFlight {
    target: (Location, Env, Compression),
    handle: JoinHandle<Result<PushOutcome, Error>>,
}

/// Uploads started ahead, by file name. Only the archiver's main thread touches this.
static IN_FLIGHT: Mutex<BTreeMap<String, InFlight>> = Mutex::new(BTreeMap::new());

/// The repository this archiver last found to be this server's (or nobody's yet), so it is
/// looked at once per archiver and repository rather than once per segment.
static OWNER_CHECKED: Mutex<Option<Location>> = Mutex::new(None);

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
    let result = PgTryBuilder::new(|| archive(file, path)).catch_others(|caught| Err(from_caught(caught))).execute();
    record_caught(file, &result);
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
            log_error_with_detail(PgLogLevel::WARNING, &format!("could not archive {file}"), &e, next_attempt(&e));
            false
        }
    }
}

/// [`record`], where nothing it does can stop archiving: an ERROR or panic here would take
/// the archiver down on PostgreSQL 15 and 16, so it becomes a WARNING and the result stands.
fn record_caught(file: &str, result: &Result<PushOutcome, Error>) {
    let recorded = PgTryBuilder::new(|| {
        record(file, result);
        Ok(())
    })
    .catch_others(|caught| Err(from_caught(caught)))
    .execute();
    if let Err(e) = recorded {
        log_error(PgLogLevel::WARNING, &format!("could not count {file} in walrs_stat_archiver"), &e);
    }
}

/// Count the result in the shared statistics (`walrs_stat_archiver`). Everything that may
/// take time (the message's redaction, counting the uploads in flight) is done before the
/// lock is taken.
fn record(file: &str, result: &Result<PushOutcome, Error>) {
    let failure;
    let counted = match result {
        Ok(PushOutcome::Stored { original_bytes, stored_bytes, .. }) => {
            SegmentResult::Stored { original_bytes: *original_bytes, stored_bytes: *stored_bytes }
        }
        Ok(PushOutcome::AlreadyArchived { .. }) => SegmentResult::AlreadyArchived,
        Err(e) => {
            // Storage errors come redacted already; this also covers the rest (a caught ERROR).
            // Settings that cannot be read hold no secrets walrs loaded: nothing to remove then.
            let secrets = gucs::repo_config().map(|(c, _)| c.env.secret_values()).unwrap_or_default();
            failure = Failure::new(&e.message, &secrets);
            SegmentResult::Failed(&failure)
        }
    };
    let in_flight = IN_FLIGHT.lock().values().filter(|f| !f.handle.is_finished()).count();
    let in_flight = u32::try_from(in_flight).unwrap_or(u32::MAX);
    let now = Utc::now();
    shmem::update_archiver(|stats| stats.record(file, counted, in_flight, now));
}

/// What the WARNING says happens next. PostgreSQL keeps the segment and asks again either
/// way; whether that attempt may succeed with nothing changed is what `retryable` says.
fn next_attempt(err: &Error) -> &'static str {
    if err.retryable {
        "The failure may be transient: PostgreSQL keeps the segment and archives it again shortly."
    } else {
        "PostgreSQL keeps the segment and tries again, but this fails until the cause is fixed."
    }
}

fn archive(file: &str, path: &str) -> Result<PushOutcome, Error> {
    let name = WalFileName::parse(file)?;
    let repo::Repo { config: cfg, storage } = repo::open()?;
    let path = Path::new(path);
    let target = (cfg.location.clone(), cfg.env.clone(), cfg.compression);
    let system_id = super::ffi::system_identifier();
    refuse_another_systems_repository(&storage, &cfg.location, system_id)?;

    // Uploads started with settings a reload has since changed finish first: otherwise the
    // upload below could store this segment a second time under another compression suffix
    // while the old one is still being written.
    finish_uploads_of_other_settings(&target);
    // An upload of this file started ahead (with the same settings: the others are done), if any.
    let ahead = IN_FLIGHT.lock().remove(name.as_str()).map(|f| f.handle);
    let pg_wal = path.parent().unwrap_or(Path::new("."));
    look_ahead(&name, pg_wal, &storage, &cfg, &target, system_id, ahead.is_some());

    if let Some(handle) = ahead {
        match runtime::block_on(handle)? {
            Ok(Ok(outcome)) => return Ok(outcome),
            // Whatever went wrong ahead, the upload below decides (and reports its own error).
            Ok(Err(e)) => debug1!("walrs: the look-ahead upload of {name} failed, archiving it again: {}", e.message),
            Err(e) => debug1!("walrs: the look-ahead upload of {name} did not finish, archiving it again: {e}"),
        }
    }
    runtime::block_on(wal_push(&storage, &name, path, cfg.compression, Some(system_id)))?
}

/// Fail while the repository holds another database system's backups or WAL (see
/// `walrs_core::ops::repository_owner`): nothing is stored, and PostgreSQL keeps the segment.
fn refuse_another_systems_repository(storage: &Storage, location: &Location, system_id: u64) -> Result<(), Error> {
    if OWNER_CHECKED.lock().as_ref() == Some(location) {
        return Ok(());
    }
    let owner = runtime::block_on(repository_owner(storage))??;
    check_owner(&owner, system_id, &location.to_string())?;
    debug1!("walrs: the repository {location} is this server's to archive into ({owner:?})");
    *OWNER_CHECKED.lock() = Some(location.clone());
    Ok(())
}

/// Wait for the look-ahead uploads started with other settings than `target`, and forget them.
/// Their results do not matter: a segment they stored is found (and compared) by the next push.
fn finish_uploads_of_other_settings(target: &(Location, Env, Compression)) {
    let stale: Vec<(String, InFlight)> = {
        let mut in_flight = IN_FLIGHT.lock();
        let names = lookahead::started_with_other_settings(in_flight.iter().map(|(n, f)| (n, &f.target)), target);
        names.into_iter().filter_map(|n| in_flight.remove(&n).map(|f| (n, f))).collect()
    };
    for (name, upload) in stale {
        let outcome = match runtime::block_on(upload.handle) {
            Ok(Ok(Ok(_))) => "finished".to_string(),
            Ok(Ok(Err(e))) => format!("failed: {}", e.message),
            Ok(Err(e)) => format!("stopped: {e}"),
            Err(e) => format!("could not be awaited: {}", e.message),
        };
        debug1!("walrs: the look-ahead upload of {name} under the previous settings {outcome}");
    }
}

/// Start uploads of the segments PostgreSQL will ask for next. Best effort: a failure here
/// only means no look-ahead this time.
fn look_ahead(
    name: &WalFileName,
    pg_wal: &Path,
    storage: &Storage,
    cfg: &RepoConfig,
    target: &(Location, Env, Compression),
    system_id: u64,
    requested_in_flight: bool,
) {
    let limit = gucs::upload_concurrency();
    if limit <= 1 {
        return;
    }
    let ready = match lookahead::ready_files(pg_wal) {
        Ok(r) => r,
        Err(e) => {
            debug1!("walrs: no look-ahead: cannot list {}/archive_status: {e}", pg_wal.display());
            return;
        }
    };
    let mut in_flight = IN_FLIGHT.lock();
    // Forget uploads PostgreSQL no longer needs from us (no longer .ready: archived by an
    // earlier archiver); they finish on their own, and nothing waits for them.
    let still_ready: BTreeSet<&str> = ready.iter().map(String::as_str).collect();
    in_flight.retain(|n, _| still_ready.contains(n.as_str()));
    let mut busy: BTreeSet<String> = in_flight.keys().cloned().collect();
    if requested_in_flight {
        busy.insert(name.to_string());
    }
    for next in lookahead::plan(name, ready.iter().map(String::as_str), &busy, limit) {
        let (storage, file, path, method) =
            (storage.clone(), next.clone(), pg_wal.join(next.as_str()), cfg.compression);
        let upload = async move { wal_push(&storage, &file, &path, method, Some(system_id)).await };
        match runtime::spawn(upload) {
            Ok(handle) => {
                in_flight.insert(next.to_string(), InFlight { target: target.clone(), handle });
            }
            Err(e) => {
                debug1!("walrs: no look-ahead: {}", e.message);
                return;
            }
        }
    }
}
