//! The scheduler: a static background worker (with `shared_preload_libraries = 'walrs'`) that
//! takes a base backup whenever `walrs.backup_schedule` is due, through the same backup worker
//! `walrs_backup_push()` uses. It reloads the schedule on SIGHUP, logs each run, carries on after
//! a failed run, and exits on SIGTERM.

use crate::error::log_error;
use crate::gucs;
use crate::monitor::backup_progress::record_scheduled;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use std::time::Duration;
use walrs_core::backup::placement::{scheduled_backup, Decision, Role};
use walrs_core::chrono::Utc;
use walrs_core::monitor::backup_status::ScheduledRun;
use walrs_core::schedule::{DateTime, Local, Schedule};

/// Longest sleep between checks, so clock changes are noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Called from _PG_init while preloading. PostgreSQL starts the scheduler once the server
/// accepts connections, on a hot standby too: `walrs.backup_on` says which nodes take the
/// scheduled backups, and a standby that is promoted keeps its scheduler.
pub fn register() {
    BackgroundWorkerBuilder::new("walrs scheduler")
        .set_type("walrs scheduler")
        .set_library("walrs")
        .set_function("walrs_scheduler_main")
        .enable_spi_access()
        // After enable_spi_access, which would set RecoveryFinished.
        .set_start_time(BgWorkerStartTime::ConsistentState)
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

fn current_schedule() -> Option<Schedule> {
    let expr = gucs::backup_schedule();
    if expr.is_empty() {
        return None;
    }
    match Schedule::parse(&expr, "walrs.backup_schedule") {
        Ok(s) => Some(s),
        Err(e) => {
            log_error(PgLogLevel::WARNING, "no scheduled backups", &e);
            None
        }
    }
}

fn next_due(schedule: &Option<Schedule>) -> Option<DateTime<Local>> {
    schedule.as_ref().and_then(|s| s.next_after(&Local::now()))
}

/// `walrs.retain_full`, applied after a successful scheduled backup.
fn apply_retention() {
    let keep = gucs::retain_full();
    if keep == 0 {
        return;
    }
    let what = format!("retention (walrs.retain_full = {keep})");
    match crate::retention::run_policy(walrs_core::retention::Policy::RetainFull(keep), false, None) {
        Ok(report) if report.deleted().is_empty() => log!("walrs: {what}: nothing to delete"),
        Ok(report) => log!("{}", crate::retention::summary(&what, &report)),
        Err(e) => log_error(PgLogLevel::WARNING, &format!("{what} failed"), &e),
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn walrs_scheduler_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // No database: only so the scheduler shows in pg_stat_activity, as the replication launcher does.
    BackgroundWorker::connect_worker_to_spi(None, None);
    let mut schedule = current_schedule();
    let mut next = next_due(&schedule);
    match (&schedule, &next) {
        (Some(s), Some(n)) => log!("walrs: backup scheduler started: '{}', next backup at {n}", s.expr()),
        _ => log!("walrs: backup scheduler started: walrs.backup_schedule is empty, no backups scheduled"),
    }
    loop {
        let sleep = next.map(|n| (n - Local::now()).to_std().unwrap_or_default().min(MAX_SLEEP)).unwrap_or(MAX_SLEEP);
        if !BackgroundWorker::wait_latch(Some(sleep)) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: re-reads postgresql.conf on this process's main thread, as PostgreSQL does.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            let reloaded = current_schedule();
            if reloaded.as_ref().map(Schedule::expr) != schedule.as_ref().map(Schedule::expr) {
                schedule = reloaded;
                next = next_due(&schedule);
                match (&schedule, &next) {
                    (Some(s), Some(n)) => log!("walrs: backup schedule is now '{}', next backup at {n}", s.expr()),
                    _ => log!("walrs: backup schedule cleared, no backups scheduled"),
                }
            }
        }
        if next.is_some_and(|n| Local::now() >= n) {
            let expr = schedule.as_ref().map(Schedule::expr).unwrap_or("");
            if let Decision::Skip(why) = scheduled_backup(gucs::backup_on(), Role::of(super::in_recovery())) {
                log!("walrs: scheduled backup skipped ('{expr}'): {why}");
                next = next_due(&schedule);
                continue;
            }
            log!("walrs: scheduled backup starting ('{expr}')");
            let outcome = super::run_backup(false);
            // For walrs_backup_status(): the name, or the message the WARNING below logs.
            let shown = outcome.as_ref().map(String::as_str).map_err(|e| e.message.as_str());
            record_scheduled(ScheduledRun::new(Utc::now(), shown));
            match outcome {
                Ok(name) => {
                    log!("walrs: scheduled backup {name} is complete");
                    apply_retention();
                }
                Err(e) => log_error(PgLogLevel::WARNING, "scheduled backup failed", &e),
            }
            next = next_due(&schedule);
            if let Some(n) = next {
                log!("walrs: next scheduled backup at {n}");
            }
        }
    }
    log!("walrs: backup scheduler stopped");
}
