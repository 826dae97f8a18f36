//! One base backup, taken by a background worker:
//!
//! 1. `pg_backup_start` in a short transaction (the backup state lives in this session);
//! 2. the data directory streamed to the repository with no transaction or snapshot held;
//! 3. `pg_backup_stop(false)`, then a bounded wait until every WAL segment from the start to the
//!    stop is in the repository (PostgreSQL's own wait has no bound);
//! 4. backup_label, metadata and the sentinel.
//!
//! If anything fails, no sentinel is written and the session's exit aborts the backup.
//!
//! On a hot standby the same steps work with what recovery allows: `pg_backup_start` there
//! starts at the last restartpoint and writes nothing, `pg_backup_stop` ends at the standby's
//! minimum recovery point, and the WAL is archived by the primary (or by the standby itself
//! with `archive_mode = always`). PostgreSQL fails the stop if the standby was promoted during
//! the backup; walrs also fails it (as WAL-G does) if the standby moved to another timeline.

use crate::error::{from_caught, log_error};
use crate::monitor::backup_progress::Reporter;
use crate::{gucs, repo, runtime};
use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use walrs_core::backup::placement::Role;
use walrs_core::lsn::Lsn;
use walrs_core::monitor::backup::Phase;
use walrs_core::ops::backup_push::{
    backup_name, complete, upload_files_watched, BackupRequest, ServerFacts, Started, Stopped,
};
use walrs_core::ops::wal_is_archived;
use walrs_core::storage::Storage;
use walrs_core::wal::{SegmentPos, WalFileName};
use walrs_core::{Error, ErrorKind};

/// Entry point of the dynamic backup worker. `bgw_extra` holds its [`super::Request`].
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn walrs_backup_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let request = super::Request::from_extra(BackgroundWorker::get_extra());
    // Shown in walrs_stat_backup from here (a FATAL error connecting clears it on exit); gone
    // before the caller hears the outcome.
    let progress = Reporter::start();
    BackgroundWorker::connect_worker_to_spi(Some(&gucs::backup_database()), None);
    let outcome =
        PgTryBuilder::new(|| take_backup(request.permanent, &progress)).catch_others(|e| Err(from_caught(e))).execute();
    drop(progress);
    match &outcome {
        Ok(name) => log!("walrs: backup {name} is complete"),
        Err(e) => log_error(PgLogLevel::LOG, "backup failed", e),
    }
    if let Err(e) = super::result::write(&request.result_key, &outcome) {
        log!("walrs: could not hand the backup result to its caller: {e}");
    }
}

/// An SPI call that failed or answered in a shape the query cannot give: a defect, or a
/// PostgreSQL that does not behave as documented.
fn sql_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {e}"))
}

/// What a failure of the start and stop queries is called, as before.
const START_QUERY: &str = "pg_backup_start failed";
const STOP_QUERY: &str = "pg_backup_stop failed";

/// Column `ordinal` (named `name`) of the one row a query returned. PostgreSQL gives none of
/// them as NULL, so a NULL is an error that says where it came from, never a default that
/// would end up in the backup's metadata.
fn column<T: IntoDatum + FromDatum>(
    row: &pgrx::spi::SpiTupleTable<'_>,
    query: &str,
    ordinal: usize,
    name: &str,
) -> Result<T, Error> {
    let value = row.get::<T>(ordinal).map_err(|e| sql_error(&format!("{query}: column {name}"), e))?;
    not_null(value, query, name)
}

fn not_null<T>(value: Option<T>, query: &str, name: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::internal(format!("{query}: the query returned NULL for {name}")))
}

fn take_backup(permanent: bool, progress: &Reporter) -> Result<String, Error> {
    let repo::Repo { config: cfg, storage } = repo::open()?;
    take_backup_lock()?;

    let start_time = SystemTime::now();
    let (lsn, timeline, segment_size, pg_version, system_identifier, data_dir, checksums, in_recovery) =
        BackgroundWorker::transaction(|| {
            Spi::connect(|client| {
                let row = client
                    .select(
                        "SELECT b::text, (SELECT timeline_id FROM pg_control_checkpoint()), \
                     current_setting('wal_segment_size', false), current_setting('server_version_num')::int, \
                     (SELECT system_identifier FROM pg_control_system()), current_setting('data_directory'), \
                     current_setting('data_checksums') = 'on', pg_is_in_recovery() \
                     FROM pg_backup_start('walrs', true) AS b",
                        None,
                        &[],
                    )
                    .map_err(|e| sql_error(START_QUERY, e))?
                    .first();
                Ok::<_, Error>((
                    column::<String>(&row, START_QUERY, 1, "the start LSN")?,
                    column::<i32>(&row, START_QUERY, 2, "timeline_id")?,
                    column::<String>(&row, START_QUERY, 3, "wal_segment_size")?,
                    column::<i32>(&row, START_QUERY, 4, "server_version_num")?,
                    column::<i64>(&row, START_QUERY, 5, "system_identifier")?,
                    column::<String>(&row, START_QUERY, 6, "data_directory")?,
                    column::<bool>(&row, START_QUERY, 7, "data_checksums")?,
                    column::<bool>(&row, START_QUERY, 8, "pg_is_in_recovery")?,
                ))
            })
        })?;
    let start_lsn: Lsn = lsn.parse()?;
    let segment_size = parse_size(&segment_size)?;
    let name = backup_name(timeline as u32, start_lsn, segment_size)?;
    let role = Role::of(in_recovery);
    let from = if role == Role::Standby { " on this standby" } else { "" };
    log!("walrs: backup {name} started{from} at {start_lsn}");
    progress.set_name(&name.to_string());

    let req = BackupRequest {
        data_dir: data_dir.clone().into(),
        compression: cfg.compression,
        partition_size: gucs::backup_partition_bytes(),
        concurrency: gucs::upload_concurrency(),
        data_checksums: checksums,
        fail_on_corrupt_pages: gucs::backup_fail_on_checksum_error(),
    };
    let started = Started { name: name.clone(), start_lsn, start_time };
    progress.phase(Phase::StreamingFiles);
    let upload = upload_files_watched(&storage, &req, &started, progress.counters());
    let uploaded = runtime::block_on_interruptible(upload, || {
        progress.publish();
        still_wanted()
    })?
    .map_err(|e| standby_name_taken(e, role))?;
    for note in &uploaded.notes {
        log!("walrs: backup {name}: {note}");
    }
    for file in uploaded.corrupt_files() {
        crate::error::log_warning(
            &format!("backup {name}: {} page(s) of {} fail their checksum (blocks {:?})", file.blocks.len(), file.rel, file.blocks),
            Some("the pages are recorded as CorruptBlocks in files_metadata.json; check the storage under the cluster, and set walrs.backup_fail_on_checksum_error = on to fail such backups"),
        );
    }

    let (stop_lsn, label, map, stop_timeline) = BackgroundWorker::transaction(|| {
        Spi::connect(|client| {
            // pg_walfile_name() is not allowed in recovery: the stop segment is worked out below.
            let row = client
                .select("SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)", None, &[])
                .map_err(|e| sql_error(STOP_QUERY, e))?
                .first();
            let stopped = (
                column::<String>(&row, STOP_QUERY, 1, "lsn")?,
                column::<String>(&row, STOP_QUERY, 2, "labelfile")?,
                column::<String>(&row, STOP_QUERY, 3, "spcmapfile")?,
            );
            // A standby's stop point is its minimum recovery point, on the timeline recorded
            // with it; read just after the stop, it is that timeline or a later one.
            let stop_timeline = match role {
                Role::Primary => timeline,
                Role::Standby => {
                    let what = "cannot read pg_control_recovery()";
                    let row = client
                        .select("SELECT min_recovery_end_timeline FROM pg_control_recovery()", None, &[])
                        .map_err(|e| sql_error(what, e))?
                        .first();
                    column::<i32>(&row, what, 1, "min_recovery_end_timeline")?
                }
            };
            Ok::<_, Error>((stopped.0, stopped.1, stopped.2, stop_timeline))
        })
    })?;
    let finish_lsn: Lsn = stop_lsn.parse()?;
    let labelled = label_timeline(&label);
    if stop_timeline != timeline || labelled != Some(timeline) {
        let seen = labelled.map_or("none".to_string(), |t| t.to_string());
        return Err(Error::new(
            ErrorKind::WrongState,
            format!(
                "backup {name}: the timeline changed during the backup (named for timeline {timeline}, backup_label says {seen}, now {stop_timeline}); no sentinel was written"
            ),
        )
        .with_hint("its upstream was promoted while the backup ran: take the backup again"));
    }
    let stop_segment = SegmentPos::of_end_lsn(timeline as u32, finish_lsn, segment_size)
        .ok_or_else(|| sql_error("unexpected wal_segment_size", segment_size))?;
    progress.phase(Phase::WaitingForWal);
    wait_for_wal(&storage, &name.to_string(), role, start_lsn, stop_segment, segment_size)?;

    let stopped = Stopped { finish_lsn, backup_label: label, tablespace_map: map, finish_time: SystemTime::now() };
    let facts = ServerFacts {
        pg_version: pg_version as u32,
        system_identifier: Some(system_identifier as u64),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        is_permanent: permanent,
    };
    progress.phase(Phase::WritingSentinel);
    // A few small objects, the sentinel last: not cut short, so a backup whose sentinel was
    // sent is never reported as cancelled.
    runtime::block_on(complete(&storage, &req, &started, &uploaded, &stopped, &facts))??;
    Ok(name.to_string())
}

/// Between two slices of a long wait: absorb signal barriers and other interrupts (so
/// `DROP DATABASE` and `DROP TABLESPACE` do not wait for the upload), and give up when the
/// worker was terminated or the server is shutting down. Giving up drops the upload; the
/// session's exit then aborts the backup, and no sentinel is written.
fn still_wanted() -> Result<(), Error> {
    pgrx::check_for_interrupts!();
    // pgrx clears its SIGTERM flag when it is read (by wait_latch too): keep it once seen.
    if BackgroundWorker::sigterm_received() {
        TERMINATED.store(true, Ordering::Relaxed);
    }
    if TERMINATED.load(Ordering::Relaxed) {
        return Err(Error::new(
            ErrorKind::Cancelled,
            "the backup was cancelled: its worker was terminated or the server is shutting down; no sentinel was written",
        ));
    }
    Ok(())
}

/// Longest wait for retention (which holds the backup lock shared while it deletes) to finish.
const RETENTION_WAIT: Duration = Duration::from_secs(120);

/// Take the backup lock for this session. Another backup holding it is refused at once;
/// retention holding it (shared, for a few seconds) is waited for, so a backup and a retention
/// job scheduled at the same minute both succeed.
fn take_backup_lock() -> Result<(), Error> {
    let key = super::BACKUP_LOCK_KEY;
    let take = format!("SELECT pg_try_advisory_lock({key})");
    // The worker runs as a superuser: it sees every lock. A bigint key shows as its high half
    // in classid, its low half in objid, and objsubid 1.
    let backup_holds = format!(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted \
         AND mode = 'ExclusiveLock' AND objsubid = 1 AND classid = (({key} >> 32) & 4294967295)::oid \
         AND objid = ({key} & 4294967295)::oid)"
    );
    let started = Instant::now();
    loop {
        let what = "cannot take the backup lock";
        let locked =
            BackgroundWorker::transaction(|| super::read_one::<bool>(&take)).map_err(|e| sql_error(what, e))?;
        if not_null(locked, what, "pg_try_advisory_lock")? {
            return Ok(());
        }
        let what = "cannot read pg_locks";
        let other_backup =
            BackgroundWorker::transaction(|| super::read_one::<bool>(&backup_holds)).map_err(|e| sql_error(what, e))?;
        if not_null(other_backup, what, "exists")? {
            return Err(Error::new(ErrorKind::Busy, "another walrs backup is running")
                .with_hint("wait for it to finish; walrs takes one base backup at a time"));
        }
        if started.elapsed() >= RETENTION_WAIT {
            return Err(Error::new(
                ErrorKind::Busy,
                format!("retention (walrs_delete_*()) held the backup lock for {} s", RETENTION_WAIT.as_secs()),
            )
            .with_hint("a transaction that called walrs_delete_*() is still open; end it, then take the backup"));
        }
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(200))) {
            TERMINATED.store(true, Ordering::Relaxed);
        }
        still_wanted()?;
    }
}

/// Set once this worker has been asked to stop; never cleared.
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// "16MB" or "16777216" (PostgreSQL shows the unit) → bytes.
fn parse_size(shown: &str) -> Result<u64, Error> {
    let digits: String = shown.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().map_err(|_| sql_error("unexpected wal_segment_size", shown))?;
    Ok(match &shown[digits.len()..] {
        "" | "B" => n,
        "kB" => n << 10,
        "MB" => n << 20,
        "GB" => n << 30,
        other => return Err(sql_error("unexpected wal_segment_size unit", other)),
    })
}

/// Wait until every segment from the backup's start to `stop_segment` is in the repository,
/// for at most `walrs.backup_wal_timeout`.
fn wait_for_wal(
    storage: &Storage,
    backup: &str,
    role: Role,
    start: Lsn,
    stop_segment: SegmentPos,
    segment_size: u64,
) -> Result<(), Error> {
    let mut needed = vec![];
    let mut segment = SegmentPos::of_lsn(stop_segment.timeline, start, segment_size)
        .ok_or_else(|| sql_error("unexpected wal_segment_size", segment_size))?;
    loop {
        needed.push(segment.file_name());
        if segment.log_seg() >= stop_segment.log_seg() || needed.len() > 1_000_000 {
            break;
        }
        match segment.next(segment_size) {
            Some(next) => segment = next,
            None => break,
        }
    }
    let timeout = gucs::backup_wal_timeout();
    let started = Instant::now();
    let mut missing = needed;
    while !missing.is_empty() {
        let mut still = vec![];
        for name in missing {
            if !runtime::block_on(wal_is_archived(storage, &name))?? {
                still.push(name);
            }
        }
        missing = still;
        if missing.is_empty() {
            break;
        }
        still_wanted()?;
        if started.elapsed() >= timeout {
            return Err(wal_timeout(backup, role, &missing[0], stop_segment, timeout));
        }
        // False when SIGTERM arrived (and pgrx has cleared its flag in saying so).
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(500))) {
            TERMINATED.store(true, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// The WAL a backup needs was not archived in time. On a standby the last segment is the one
/// the primary is still writing: nothing archives it before the primary switches to the next.
fn wal_timeout(backup: &str, role: Role, missing: &WalFileName, stop: SegmentPos, timeout: Duration) -> Error {
    let secs = timeout.as_secs();
    let lost = "so the backup cannot be restored; no sentinel was written";
    if role == Role::Standby && missing.as_str() == stop.file_name().as_str() {
        return Error::new(
            ErrorKind::Timeout,
            format!("backup {backup}: WAL segment {missing}, where the backup stops, was not archived within {secs} s, {lost}"),
        )
        .with_hint("a standby backup stops in the segment the primary is writing, which is archived only when the primary finishes it: set archive_timeout on the primary (for example '60s') to bound that, or raise walrs.backup_wal_timeout; check the primary's pg_stat_archiver too");
    }
    Error::new(ErrorKind::Timeout, format!("backup {backup}: WAL segment {missing} was not archived within {secs} s, {lost}"))
        .with_hint(match role {
            Role::Primary => "check pg_stat_archiver and the server log for archiving failures; walrs.backup_wal_timeout sets the wait",
            Role::Standby => "this backup's WAL is archived by the primary (or by this standby with archive_mode = always): check pg_stat_archiver and the log there; walrs.backup_wal_timeout sets the wait",
        })
}

/// The timeline `START TIMELINE:` of a backup_label names.
fn label_timeline(label: &str) -> Option<i32> {
    label.lines().find_map(|l| l.strip_prefix("START TIMELINE:")).and_then(|t| t.trim().parse().ok())
}

/// A name already taken by a complete backup: on a standby the start point moves only when a
/// checkpoint from the primary is replayed, so the hint about pg_switch_wal does not apply.
fn standby_name_taken(e: Error, role: Role) -> Error {
    if role != Role::Standby || e.kind != ErrorKind::Conflict {
        return e;
    }
    e.with_hint("a backup on a standby starts at its last restartpoint, which moves on only when the standby replays a new checkpoint of the primary: run CHECKPOINT on the primary (or wait for its checkpoint_timeout) and try again")
}
