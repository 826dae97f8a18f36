//! The archiver's statistics (`walrs_stat_archiver`, `walrs_stat_reset()`) and
//! `walrs_wal_verify()`. Who may call them is in `sql/monitor_archiver.sql`.

use super::sql_values::{bigint, timestamptz};
use crate::error::raise;
use crate::monitor::shmem;
use crate::{repo, runtime};
use pgrx::prelude::*;
use std::path::Path;
use walrs_core::chrono::Utc;
use walrs_core::lookahead::ready_files;
use walrs_core::ops::wal_verify::{self, summary_rows};
use walrs_core::Error;

/// The one row of `walrs_stat_archiver`. Without preloading, only `preloaded` (false) and
/// `ready_count` have values.
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)] // pgrx spells out the columns in the signature
fn walrs_stat_get_archiver() -> TableIterator<
    'static,
    (
        name!(preloaded, bool),
        name!(archived_count, Option<i64>),
        name!(archived_bytes, Option<i64>),
        name!(stored_bytes, Option<i64>),
        name!(last_archived_wal, Option<String>),
        name!(last_archived_time, Option<TimestampWithTimeZone>),
        name!(failed_count, Option<i64>),
        name!(last_failed_wal, Option<String>),
        name!(last_failed_time, Option<TimestampWithTimeZone>),
        name!(last_failure, Option<String>),
        name!(failures_in_a_row, Option<i64>),
        name!(ready_count, i64),
        name!(lookahead_in_flight, Option<i32>),
        name!(archived_last_minute, Option<i64>),
        name!(bytes_per_second, Option<f64>),
        name!(stats_reset, Option<TimestampWithTimeZone>),
    ),
> {
    // A backend's working directory is the data directory.
    let ready = match ready_files(Path::new("pg_wal")) {
        Ok(names) => bigint(names.len() as u64),
        Err(e) => raise(&Error::local_io("cannot list pg_wal/archive_status", &e)),
    };
    let row = match shmem::archiver() {
        None => (false, None, None, None, None, None, None, None, None, None, None, ready, None, None, None, None),
        Some(stats) => {
            let v = stats.view(Utc::now());
            (
                true,
                Some(bigint(v.archived_count)),
                Some(bigint(v.archived_bytes)),
                Some(bigint(v.stored_bytes)),
                v.last_archived_wal,
                v.last_archived_time.and_then(timestamptz),
                Some(bigint(v.failed_count)),
                v.last_failed_wal,
                v.last_failed_time.and_then(timestamptz),
                v.last_failure,
                Some(bigint(v.failures_in_a_row)),
                ready,
                Some(i32::try_from(v.lookahead_in_flight).unwrap_or(i32::MAX)),
                Some(bigint(v.archived_last_minute)),
                Some(v.bytes_per_second),
                timestamptz(v.stats_reset),
            )
        }
    };
    TableIterator::once(row)
}

/// Start the archiver's counters again from zero, now. Returns whether there were counters
/// to reset (false when walrs is not preloaded).
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_stat_reset() -> bool {
    let now = Utc::now();
    shmem::update_archiver(|stats| *stats = walrs_core::monitor::ArchiverStats::new(now));
    shmem::preloaded()
}

/// What `walrs wal-verify` checks, as rows: one per timeline, then one per problem. Notes
/// (nothing checked without backups, segments older than the oldest backup) come as NOTICEs.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)] // pgrx spells out the columns in the signature
fn walrs_wal_verify() -> TableIterator<
    'static,
    (
        name!(timeline, Option<i64>),
        name!(status, String),
        name!(first_segment, Option<String>),
        name!(last_segment, Option<String>),
        name!(checked_segments, i64),
        name!(lost_segments, i64),
        name!(lost, Vec<String>),
        name!(uploading_segments, i64),
        name!(problem, Option<String>),
    ),
> {
    let now = Utc::now();
    let report = repo::open()
        .and_then(|repo| runtime::block_on(async move { wal_verify::wal_verify(&repo.storage, now).await })?);
    let report = match report {
        Ok(r) => r,
        Err(e) => raise(&e),
    };
    for note in &report.notes {
        notice!("walrs: {note}");
    }
    TableIterator::new(summary_rows(&report).into_iter().map(|r| {
        (
            r.timeline.map(i64::from),
            r.status.as_str().to_string(),
            r.first_segment,
            r.last_segment,
            bigint(r.checked_segments),
            bigint(r.lost_segments),
            r.lost,
            bigint(r.uploading_segments),
            r.problem,
        )
    }))
}

extension_sql_file!(
    "../../sql/monitor_archiver.sql",
    name = "monitor_archiver",
    requires = [walrs_stat_get_archiver, walrs_stat_reset, walrs_wal_verify]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use pgrx::prelude::*;

    /// The test server does not preload walrs: the view still answers, and says so.
    #[pg_test]
    fn without_preloading_the_view_says_so_instead_of_failing() {
        let (preloaded, archived) =
            Spi::get_two::<bool, i64>("SELECT preloaded, archived_count FROM walrs_stat_archiver").unwrap();
        assert_eq!((preloaded, archived), (Some(false), None));
        let ready = Spi::get_one::<i64>("SELECT ready_count FROM walrs_stat_archiver").unwrap();
        assert!(ready.is_some_and(|n| n >= 0), "{ready:?}");
        let rows = Spi::get_one::<i64>("SELECT count(*) FROM walrs_stat_archiver").unwrap();
        assert_eq!(rows, Some(1));
        assert_eq!(Spi::get_one::<bool>("SELECT walrs_stat_reset()").unwrap(), Some(false));
    }

    #[pg_test]
    fn the_view_and_wal_verify_are_for_pg_monitor_and_reset_for_superusers() {
        Spi::run("CREATE ROLE walrs_test_stat_plain LOGIN").unwrap();
        Spi::run("CREATE ROLE walrs_test_stat_monitor LOGIN IN ROLE pg_monitor").unwrap();
        let may = |sql: &str, role: &str, what: &str| {
            Spi::get_one_with_args::<bool>(sql, &[role.into(), what.into()]).unwrap().unwrap()
        };
        let select = "SELECT has_table_privilege($1, $2, 'SELECT')";
        let execute = "SELECT has_function_privilege($1, $2, 'EXECUTE')";
        assert!(may(select, "walrs_test_stat_monitor", "walrs_stat_archiver"));
        assert!(!may(select, "walrs_test_stat_plain", "walrs_stat_archiver"));
        for f in ["walrs_stat_get_archiver()", "walrs_wal_verify()"] {
            assert!(may(execute, "walrs_test_stat_monitor", f), "{f}");
            assert!(!may(execute, "walrs_test_stat_plain", f), "{f} is executable by PUBLIC");
        }
        assert!(!may(execute, "walrs_test_stat_monitor", "walrs_stat_reset()"));
        assert!(!may(execute, "walrs_test_stat_plain", "walrs_stat_reset()"));
    }

    #[pg_test(error = "walrs: walrs.storage is not set")]
    fn wal_verify_without_a_repository_says_what_to_set() {
        Spi::run("SELECT * FROM walrs_wal_verify()").unwrap();
    }
}
