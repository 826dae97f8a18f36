//! The archiver's counters in shared memory, reserved when walrs is in
//! `shared_preload_libraries`. Everything else about them (what is counted, how a failure is
//! shown, the last minute's rate) is `walrs_core::monitor`: here the lock is taken only to copy
//! a record in or out, never around I/O or logging.
//!
//! Without preloading there is no shared memory: updates do nothing and reads return None, so
//! SQL shows `preloaded = false` rather than failing.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};
use std::sync::atomic::{AtomicBool, Ordering};
use walrs_core::chrono::Utc;
use walrs_core::monitor::ArchiverStats;

/// The shared copy. A newtype, so the extension can vouch for it (`ArchiverStats` is core's).
#[derive(Clone, Copy)]
struct Shared(ArchiverStats);

// SAFETY: `ArchiverStats` is plain data (integers, fixed byte arrays, timestamps) with no
// pointers, references or heap memory, so the same bytes mean the same thing in every process
// that maps the segment; all access goes through the LWLock below.
unsafe impl PGRXSharedMemory for Shared {}

// SAFETY: the tranche and shared-memory name are walrs's own; nothing else registers them.
static ARCHIVER: PgLwLock<Shared> = unsafe { PgLwLock::new(c"walrs archiver statistics") };

/// Set in the postmaster while preloading, before it forks: every child inherits it, and
/// with it the pointer `pg_shmem_init!` fills in at shared-memory startup.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// Reserve the shared record. Call from `_PG_init` while preloading only: PostgreSQL sizes
/// shared memory once, from what preloaded libraries ask for.
// The macro tests features pgrx has for PostgreSQL 13 and 14, which walrs does not declare.
#[allow(unexpected_cfgs)]
pub fn init() {
    // The record starts (and a crash restart starts it again) as of the time shared memory is
    // set up: that is when the counters begin.
    pg_shmem_init!(ARCHIVER = Shared(ArchiverStats::new(Utc::now())));
    PRELOADED.store(true, Ordering::Relaxed);
}

/// Whether the shared record exists in this server.
pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// A copy of the archiver's record, or None when walrs was not preloaded.
pub fn archiver() -> Option<ArchiverStats> {
    preloaded().then(|| ARCHIVER.share().0)
}

/// Change the archiver's record with `edit`, which must only copy and count (it runs under an
/// exclusive lock). Does nothing when walrs was not preloaded.
pub fn update_archiver(edit: impl FnOnce(&mut ArchiverStats)) {
    if preloaded() {
        edit(&mut ARCHIVER.exclusive().0);
    }
}
