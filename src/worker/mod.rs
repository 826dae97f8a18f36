//! Background workers: the one-off backup worker, and the scheduler that starts it.

pub mod backup;
pub mod result;
pub mod scheduler;

use pgrx::bgworkers::{BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime};
use pgrx::pg_sys;
use walrs_core::{Error, ErrorKind};

/// The advisory lock a backup worker holds (exclusive, for its session) for as long as its
/// backup runs, as SQL (a bigint). One key for the whole cluster: walrs takes one base backup
/// at a time, and retention from SQL holds it shared while it deletes.
pub const BACKUP_LOCK_KEY: &str = "hashtext('walrs backup')::bigint";

/// What the caller tells its backup worker, in `bgw_extra`: the key of its result file, then
/// ` permanent` for a permanent backup.
pub struct Request {
    pub result_key: String,
    pub permanent: bool,
}

impl Request {
    fn extra(&self) -> String {
        format!("{}{}", self.result_key, if self.permanent { " permanent" } else { "" })
    }

    pub fn from_extra(extra: &str) -> Request {
        let (key, flag) = extra.split_once(' ').unwrap_or((extra, ""));
        Request { result_key: key.to_string(), permanent: flag == "permanent" }
    }
}

/// Start a backup worker, wait for it, and return the backup's name or its error.
pub fn run_backup(permanent: bool) -> Result<String, Error> {
    // SAFETY: reading this process's PID.
    let me = unsafe { pg_sys::MyProcPid };
    let request = Request { result_key: result::new_key(me), permanent };
    let worker = BackgroundWorkerBuilder::new("walrs backup")
        .set_type("walrs backup")
        .set_library("walrs")
        .set_function("walrs_backup_worker_main")
        .set_extra(&request.extra())
        .enable_spi_access()
        // After enable_spi_access, which would wait for the end of recovery: a hot standby
        // takes base backups too, and the caller there would wait for ever.
        .set_start_time(BgWorkerStartTime::ConsistentState)
        .set_notify_pid(me)
        .load_dynamic()
        .map_err(|_| {
            Error::new(ErrorKind::Busy, "cannot start a background worker for the backup")
                .with_hint("raise max_worker_processes, or wait for other background workers to finish")
        })?;
    match worker.wait_for_startup() {
        Ok(_) => worker
            .wait_for_shutdown()
            .map_err(|s| Error::new(ErrorKind::LocalIo, format!("lost track of the backup worker: {s:?}")))?,
        // A worker that fails at once (no repository) may be over before its start is seen:
        // its result file says what happened, and its absence that it never ran.
        Err(BackgroundWorkerStatus::Stopped) => {}
        Err(s) => return Err(Error::new(ErrorKind::LocalIo, format!("the backup worker did not start: {s:?}"))),
    }
    result::take(&request.result_key)
}

/// Whether this server is in recovery (a standby) right now.
pub fn in_recovery() -> bool {
    // SAFETY: RecoveryInProgress reads a flag in shared memory, which every backend and
    // background worker has attached; it takes no lock and cannot raise an error.
    unsafe { pg_sys::RecoveryInProgress() }
}

/// The first column of a query's one row, run read-only: `Spi::get_one` marks the transaction
/// as writing, which assigns a transaction id, and a hot standby refuses that.
pub(crate) fn read_one<T: pgrx::IntoDatum + pgrx::FromDatum>(query: &str) -> Result<Option<T>, pgrx::spi::Error> {
    pgrx::Spi::connect(|client| client.select(query, Some(1), &[])?.first().get_one())
}
