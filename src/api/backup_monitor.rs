//! `walrs_stat_backup` (the running backups) and `walrs_backup_status()` (backups as a whole).
//! Who may read them is in `sql/monitor_backup.sql`.

use super::sql_values::{bigint, timestamptz};
use crate::error::raise;
use crate::monitor::backup_progress;
use crate::{gucs, repo, runtime};
use parking_lot::Mutex;
use pgrx::prelude::*;
use walrs_core::backup::list_backups;
use walrs_core::chrono::{DateTime, Local, Utc};
use walrs_core::layout::{BACKUP_DIR, WAL_DIR};
use walrs_core::monitor::backup_status::RepoSummary;
use walrs_core::schedule::Schedule;
use walrs_core::Error;

/// One row per running backup; none without preloading (there is nowhere to see them from).
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)] // pgrx spells out the columns in the signature
fn walrs_stat_get_backup() -> TableIterator<
    'static,
    (
        name!(pid, i32),
        name!(backup_name, Option<String>),
        name!(kind, String),
        name!(phase, String),
        name!(bytes_total, i64),
        name!(bytes_done, i64),
        name!(files_total, i64),
        name!(files_done, i64),
        name!(partitions_uploaded, i64),
        name!(started_at, Option<TimestampWithTimeZone>),
        name!(estimated_finish, Option<TimestampWithTimeZone>),
    ),
> {
    let rows = backup_progress::running().unwrap_or_default();
    TableIterator::new(rows.into_iter().map(|r| {
        (
            r.pid,
            r.backup_name,
            r.kind.to_string(),
            r.phase.as_str().to_string(),
            bigint(r.bytes_total),
            bigint(r.bytes_done),
            bigint(r.files_total),
            bigint(r.files_done),
            bigint(r.partitions_uploaded),
            timestamptz(r.started_at),
            r.estimated_finish.and_then(timestamptz),
        )
    }))
}

/// This process's last listing of the repository and the URL it was of. Per process (each
/// session lists at most once a minute): the summary holds text, which shared memory of a
/// fixed size would cut.
static LISTING: Mutex<Option<(String, RepoSummary)>> = Mutex::new(None);

/// The repository summed up, from this process's listing while it is fresh.
fn repo_summary() -> Result<RepoSummary, Error> {
    let repo = repo::open()?;
    let url = repo.config.location.to_string();
    let now = Utc::now();
    if let Some((of, summary)) = LISTING.lock().as_ref() {
        if *of == url && summary.is_fresh(now) {
            return Ok(summary.clone());
        }
    }
    let storage = repo.storage;
    let (backups, problems, objects) = runtime::block_on(async move {
        let (backups, problems) = list_backups(&storage).await?;
        let mut objects = storage.list(BACKUP_DIR).await?;
        objects.extend(storage.list(WAL_DIR).await?);
        Ok::<_, Error>((backups, problems, objects))
    })??;
    for p in &problems {
        crate::error::log_error(PgLogLevel::WARNING, "skipped a backup", p);
    }
    let summary = RepoSummary::of(&backups, &objects, now);
    *LISTING.lock() = Some((url, summary.clone()));
    Ok(summary)
}

/// The schedule's next start: only a preloaded walrs runs the scheduler.
fn next_scheduled(expr: &str) -> Option<DateTime<Utc>> {
    if expr.is_empty() || !backup_progress::preloaded() {
        return None;
    }
    let schedule = Schedule::parse(expr, "walrs.backup_schedule").ok()?;
    schedule.next_after(&Local::now()).map(|t| t.with_timezone(&Utc))
}

/// Backups as a whole; the SQL wrapper below adds the newest backup's age.
#[pg_extern(volatile)]
#[allow(clippy::type_complexity)] // pgrx spells out the columns in the signature
fn walrs_backup_status_raw() -> TableIterator<
    'static,
    (
        name!(preloaded, bool),
        name!(newest_backup, Option<String>),
        name!(newest_finish_time, Option<TimestampWithTimeZone>),
        name!(backup_schedule, Option<String>),
        name!(next_scheduled_start, Option<TimestampWithTimeZone>),
        name!(last_scheduled_result, Option<String>),
        name!(last_scheduled_time, Option<TimestampWithTimeZone>),
        name!(last_scheduled_backup, Option<String>),
        name!(last_scheduled_error, Option<String>),
        name!(backup_count, i64),
        name!(repository_bytes, i64),
        name!(listed_at, Option<TimestampWithTimeZone>),
    ),
> {
    let summary = repo_summary().unwrap_or_else(|e| raise(&e));
    let expr = gucs::backup_schedule();
    let last = backup_progress::last_scheduled();
    let (newest, finished) = match summary.newest {
        Some((name, finished)) => (Some(name), finished.and_then(timestamptz)),
        None => (None, None),
    };
    TableIterator::once((
        backup_progress::preloaded(),
        newest,
        finished,
        (!expr.is_empty()).then(|| expr.clone()),
        next_scheduled(&expr).and_then(timestamptz),
        last.map(|r| r.result().to_string()),
        last.and_then(|r| timestamptz(r.finished_at)),
        last.and_then(|r| r.backup_name().map(str::to_string)),
        last.and_then(|r| r.error().map(str::to_string)),
        bigint(summary.backups),
        bigint(summary.total_bytes),
        timestamptz(summary.listed_at),
    ))
}

extension_sql!(
    r#"
CREATE FUNCTION walrs_backup_status() RETURNS TABLE (
    preloaded bool, newest_backup text, newest_finish_time timestamptz, newest_age interval,
    backup_schedule text, next_scheduled_start timestamptz,
    last_scheduled_result text, last_scheduled_time timestamptz, last_scheduled_backup text,
    last_scheduled_error text, backup_count bigint, repository_bytes bigint, listed_at timestamptz)
LANGUAGE sql VOLATILE AS $$
    SELECT preloaded, newest_backup, newest_finish_time,
           pg_catalog.date_trunc('second', pg_catalog.clock_timestamp() - newest_finish_time),
           backup_schedule, next_scheduled_start, last_scheduled_result, last_scheduled_time,
           last_scheduled_backup, last_scheduled_error, backup_count, repository_bytes, listed_at
    FROM @extschema@.walrs_backup_status_raw()
$$;
COMMENT ON FUNCTION walrs_backup_status() IS 'the newest backup, the schedule and its last run, the repository''s size';
"#,
    name = "walrs_backup_status",
    requires = [walrs_backup_status_raw]
);

extension_sql_file!(
    "../../sql/monitor_backup.sql",
    name = "monitor_backup",
    requires = [walrs_stat_get_backup, "walrs_backup_status"]
);
