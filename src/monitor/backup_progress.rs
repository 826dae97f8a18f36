//! Running backups and the last scheduled run, in shared memory reserved when walrs is in
//! `shared_preload_libraries`: the only FFI of `walrs_stat_backup`. What a slot holds and how
//! a row is shown is `walrs_core::monitor::backup`; here the lock is taken only to copy.
//!
//! The backup's I/O threads never touch this: they add to the worker's own atomics
//! ([`ProgressCounters`]), and the worker's main thread copies them in between two slices of
//! the upload ([`Reporter::publish`]). Without preloading there is no shared memory: reports
//! do nothing and reads return None, so `walrs_stat_backup` shows no rows rather than failing.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use walrs_core::chrono::Utc;
use walrs_core::monitor::backup::{BackupSlots, Phase, ProgressCounters, RunningBackup};
use walrs_core::monitor::backup_status::ScheduledRun;

/// The shared copy: every backup slot, and how the scheduler's last backup went.
#[derive(Clone, Copy, Default)]
struct Shared {
    slots: BackupSlots,
    last_scheduled: Option<ScheduledRun>,
}

// SAFETY: `BackupSlots` and `ScheduledRun` are plain data (integers, enums, fixed byte arrays,
// chrono timestamps, which are integers) with no pointers, references or heap memory, so the
// same bytes mean the same thing in every process that maps the segment; all access goes
// through the LWLock below.
unsafe impl PGRXSharedMemory for Shared {}

// SAFETY: the tranche and shared-memory name are walrs's own; nothing else registers them.
static BACKUPS: PgLwLock<Shared> = unsafe { PgLwLock::new(c"walrs running backups") };

/// Set in the postmaster while preloading, before it forks: every child inherits it, and with
/// it the pointer `pg_shmem_init!` fills in at shared-memory startup.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// Reserve the shared record. Call from `_PG_init` while preloading only.
// pgrx's macro tests for features of PostgreSQL versions walrs does not build for (13, 14).
#[allow(unexpected_cfgs)]
pub fn init() {
    pg_shmem_init!(BACKUPS = Shared::default());
    PRELOADED.store(true, Ordering::Relaxed);
}

pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// Change the record under an exclusive lock; `edit` only copies. Nothing without preloading.
fn edit(edit: impl FnOnce(&mut Shared)) {
    if preloaded() {
        edit(&mut BACKUPS.exclusive());
    }
}

/// A copy of the record, or None without preloading.
fn copy() -> Option<Shared> {
    preloaded().then(|| *BACKUPS.share())
}

/// The rows of `walrs_stat_backup`, or None without preloading.
pub fn running() -> Option<Vec<RunningBackup>> {
    copy().map(|s| s.slots.running(Utc::now()))
}

/// How the scheduler's last backup since the server started went, if it ran one.
pub fn last_scheduled() -> Option<ScheduledRun> {
    copy().and_then(|s| s.last_scheduled)
}

pub fn record_scheduled(run: ScheduledRun) {
    edit(|s| s.last_scheduled = Some(run));
}

fn my_pid() -> i32 {
    // SAFETY: reading this process's PID, set at its start.
    unsafe { pg_sys::MyProcPid }
}

/// The backup worker's slot, from its start until it is dropped, or its process exits.
pub struct Reporter {
    pid: i32,
    counters: Arc<ProgressCounters>,
}

impl Reporter {
    /// Show a backup of this process in phase `starting`.
    pub fn start() -> Reporter {
        let pid = my_pid();
        let mut claimed = false;
        edit(|s| claimed = s.slots.claim(pid, Utc::now()));
        if claimed {
            // A FATAL error or proc_exit skips the worker's own release: this one runs then.
            // SAFETY: registers a callback PostgreSQL calls once, on this process's exit,
            // before shared memory is detached; the callback only takes our LWLock to copy.
            unsafe { pg_sys::before_shmem_exit(Some(release_on_exit), pg_sys::Datum::from(0)) };
        } else if preloaded() {
            log!("walrs: every slot of walrs_stat_backup is taken: this backup does not show there");
        }
        Reporter { pid, counters: Arc::new(ProgressCounters::default()) }
    }

    /// What the core op adds to while it streams.
    pub fn counters(&self) -> Arc<ProgressCounters> {
        self.counters.clone()
    }

    pub fn set_name(&self, name: &str) {
        edit(|s| s.slots.set_name(self.pid, name));
    }

    /// Enter `phase`, with the counts as they are now.
    pub fn phase(&self, phase: Phase) {
        let counts = self.counters.counts();
        edit(|s| {
            s.slots.set_counts(self.pid, counts);
            s.slots.set_phase(self.pid, phase, Utc::now());
        });
    }

    /// Copy the counters into shared memory. On the main thread, between slices of work.
    pub fn publish(&self) {
        let counts = self.counters.counts();
        edit(|s| s.slots.set_counts(self.pid, counts));
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        edit(|s| s.slots.release(self.pid));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn release_on_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let pid = my_pid();
    edit(|s| s.slots.release(pid));
}
