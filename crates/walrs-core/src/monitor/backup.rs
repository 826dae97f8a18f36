//! Running base backups as shared memory holds them, one slot each, for `walrs_stat_backup`.
//!
//! The backup's I/O threads count into [`ProgressCounters`] (plain atomics in the worker's own
//! memory, one add per read); the worker's main thread copies a [`Counts`] into its slot
//! between two slices of work. The slots are plain `Copy` data, so the extension only takes a
//! lock to copy them in or out; what a row shows (the estimate of the end included) is decided
//! here, with `now` passed in.

use super::fixed_text::FixedText;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::atomic::{AtomicU64, Ordering};

/// Backups shown at once. walrs runs one at a time; a second one asked for meanwhile shows
/// while it is being refused.
pub const SLOTS: usize = 4;

/// Bytes kept of a backup name (`base_` and 24 hex digits; delta names are longer).
pub const NAME_BYTES: usize = 64;

/// Where a backup is, as `walrs_stat_backup.phase` names it; ordered as a backup passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Waiting for the backup lock, `pg_backup_start` and its checkpoint.
    Starting,
    /// Reading the data directory into tar partitions and uploading them.
    StreamingFiles,
    /// `pg_backup_stop` returned; waiting until the WAL the backup needs is archived.
    WaitingForWal,
    /// `backup_label`, the metadata and last the sentinel.
    WritingSentinel,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Starting, Phase::StreamingFiles, Phase::WaitingForWal, Phase::WritingSentinel];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::StreamingFiles => "streaming files",
            Phase::WaitingForWal => "waiting for WAL",
            Phase::WritingSentinel => "writing sentinel",
        }
    }
}

/// What a backup tells whoever watches it while it streams files. Called from the I/O threads,
/// so each call must be cheap and never block.
pub trait BackupObserver: Send + Sync {
    /// The inventory is taken: this many files and bytes are to be streamed.
    fn planned(&self, _files: u64, _bytes: u64) {}
    /// `bytes` more of file content went into a partition.
    fn read(&self, _bytes: u64) {}
    /// One more file is in a partition.
    fn file_done(&self) {}
    /// One more partition (or `pg_control.tar`) is stored.
    fn partition_uploaded(&self) {}
}

/// An observer that watches nothing, for callers with no one to tell.
pub struct Unobserved;

impl BackupObserver for Unobserved {}

/// The counters of one backup, as its observer fills them.
#[derive(Debug, Default)]
pub struct ProgressCounters {
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    files_total: AtomicU64,
    files_done: AtomicU64,
    partitions_uploaded: AtomicU64,
}

impl ProgressCounters {
    /// A copy of the counters now (each one read on its own: a copy may be one read behind).
    pub fn counts(&self) -> Counts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            bytes_total: get(&self.bytes_total),
            bytes_done: get(&self.bytes_done),
            files_total: get(&self.files_total),
            files_done: get(&self.files_done),
            partitions_uploaded: get(&self.partitions_uploaded),
        }
    }
}

impl BackupObserver for ProgressCounters {
    fn planned(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
    }
    fn read(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
    fn partition_uploaded(&self) {
        self.partitions_uploaded.fetch_add(1, Ordering::Relaxed);
    }
}

/// A copy of [`ProgressCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub files_total: u64,
    pub files_done: u64,
    pub partitions_uploaded: u64,
}

/// One running backup. `pid` 0 is a free slot.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pid: i32,
    name: FixedText<NAME_BYTES>,
    phase: Phase,
    counts: Counts,
    started_at: DateTime<Utc>,
    /// When streaming files began: the rate of the estimate is measured from here.
    streaming_since: Option<DateTime<Utc>>,
}

impl Slot {
    const FREE: Slot = Slot {
        pid: 0,
        name: FixedText::EMPTY,
        phase: Phase::Starting,
        counts: Counts { bytes_total: 0, bytes_done: 0, files_total: 0, files_done: 0, partitions_uploaded: 0 },
        started_at: DateTime::UNIX_EPOCH,
        streaming_since: None,
    };
}

/// One row of `walrs_stat_backup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningBackup {
    pub pid: i32,
    /// None until `pg_backup_start` has given the start LSN the name is made of.
    pub backup_name: Option<String>,
    pub kind: &'static str,
    pub phase: Phase,
    /// The sizes of the inventory, or what was streamed once that is more (files grow while
    /// they are read), as `pg_stat_progress_basebackup.backup_total` does.
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub files_total: u64,
    pub files_done: u64,
    pub partitions_uploaded: u64,
    pub started_at: DateTime<Utc>,
    /// When streaming files should end at the rate so far; None outside that phase and before
    /// a byte was streamed.
    pub estimated_finish: Option<DateTime<Utc>>,
}

/// Every slot. Lives in shared memory; copied whole, out and in.
#[derive(Debug, Clone, Copy)]
pub struct BackupSlots {
    slots: [Slot; SLOTS],
}

impl Default for BackupSlots {
    fn default() -> Self {
        BackupSlots { slots: [Slot::FREE; SLOTS] }
    }
}

impl BackupSlots {
    /// Take a slot for the backup of process `pid`, in phase `starting`. A slot `pid` held
    /// already (a process that ended without giving it back: PIDs are reused) is taken again.
    /// False when every slot is taken: that backup runs unseen.
    pub fn claim(&mut self, pid: i32, now: DateTime<Utc>) -> bool {
        let free = self.slots.iter().position(|s| s.pid == pid).or_else(|| self.slots.iter().position(|s| s.pid == 0));
        match free {
            Some(i) => {
                self.slots[i] = Slot { pid, started_at: now, ..Slot::FREE };
                true
            }
            None => false,
        }
    }

    fn slot(&mut self, pid: i32) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.pid == pid && pid != 0)
    }

    pub fn set_name(&mut self, pid: i32, name: &str) {
        if let Some(s) = self.slot(pid) {
            s.name = FixedText::new(name);
        }
    }

    /// Move to `phase`; entering streaming starts the clock of the estimate. Once streaming is
    /// over, what was streamed is the total: files that shrank or vanished since the inventory
    /// were counted at their size then.
    pub fn set_phase(&mut self, pid: i32, phase: Phase, now: DateTime<Utc>) {
        if let Some(s) = self.slot(pid) {
            if phase == Phase::StreamingFiles && s.phase != phase {
                s.streaming_since = Some(now);
            }
            if phase > Phase::StreamingFiles {
                s.counts.bytes_total = s.counts.bytes_done;
                s.counts.files_total = s.counts.files_done;
            }
            s.phase = phase;
        }
    }

    pub fn set_counts(&mut self, pid: i32, counts: Counts) {
        if let Some(s) = self.slot(pid) {
            s.counts = counts;
        }
    }

    /// The backup of `pid` has ended: its row goes. Releasing a free slot does nothing.
    pub fn release(&mut self, pid: i32) {
        if let Some(s) = self.slot(pid) {
            *s = Slot::FREE;
        }
    }

    /// The running backups, oldest first.
    pub fn running(&self, now: DateTime<Utc>) -> Vec<RunningBackup> {
        let mut rows: Vec<RunningBackup> = self.slots.iter().filter(|s| s.pid != 0).map(|s| row(s, now)).collect();
        rows.sort_by_key(|r| (r.started_at, r.pid));
        rows
    }
}

fn row(s: &Slot, now: DateTime<Utc>) -> RunningBackup {
    let c = s.counts;
    let estimated_finish = match (s.phase, s.streaming_since) {
        (Phase::StreamingFiles, Some(since)) => estimate(since, now, c.bytes_done, c.bytes_total),
        _ => None,
    };
    RunningBackup {
        pid: s.pid,
        backup_name: (!s.name.is_empty()).then(|| s.name.as_str().to_string()),
        kind: "full",
        phase: s.phase,
        bytes_total: c.bytes_total.max(c.bytes_done),
        bytes_done: c.bytes_done,
        files_total: c.files_total.max(c.files_done),
        files_done: c.files_done,
        partitions_uploaded: c.partitions_uploaded,
        started_at: s.started_at,
        estimated_finish,
    }
}

/// `now` plus the bytes left at the rate since `since`.
fn estimate(since: DateTime<Utc>, now: DateTime<Utc>, done: u64, total: u64) -> Option<DateTime<Utc>> {
    let elapsed = (now - since).num_microseconds().filter(|us| *us > 0)? as f64;
    if done == 0 {
        return None;
    }
    let left = total.saturating_sub(done) as f64;
    let micros = left * elapsed / done as f64;
    // A rate this slow (decades) says nothing; keep the arithmetic in range.
    if micros > 1e15 {
        return None;
    }
    Some(now + TimeDelta::microseconds(micros as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn phases_are_named_as_the_view_shows_them() {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["starting", "streaming files", "waiting for WAL", "writing sentinel"]);
    }

    #[test]
    fn a_backup_shows_from_claim_to_release() {
        let mut slots = BackupSlots::default();
        assert!(slots.running(at("2026-12-02T10:00:00Z")).is_empty());
        assert!(slots.claim(4242, at("2026-12-02T10:00:00Z")));
        let rows = slots.running(at("2026-12-02T10:00:01Z"));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.pid, r.backup_name.as_deref(), r.kind, r.phase), (4242, None, "full", Phase::Starting));
        assert_eq!((r.started_at, r.estimated_finish), (at("2026-12-02T10:00:00Z"), None));

        slots.set_name(4242, "base_000000010000000000000002");
        slots.set_phase(4242, Phase::StreamingFiles, at("2026-12-02T10:00:02Z"));
        let counts =
            Counts { bytes_total: 1000, bytes_done: 250, files_total: 10, files_done: 3, partitions_uploaded: 1 };
        slots.set_counts(4242, counts);
        let r = &slots.running(at("2026-12-02T10:00:12Z"))[0];
        assert_eq!(r.backup_name.as_deref(), Some("base_000000010000000000000002"));
        assert_eq!(
            (r.bytes_total, r.bytes_done, r.files_total, r.files_done, r.partitions_uploaded),
            (1000, 250, 10, 3, 1)
        );
        // 250 bytes in 10 s: the other 750 take 30 s more.
        assert_eq!(r.estimated_finish, Some(at("2026-12-02T10:00:42Z")));

        slots.release(4242);
        assert!(slots.running(at("2026-12-02T10:00:13Z")).is_empty());
        slots.release(4242); // twice does nothing
        slots.set_phase(4242, Phase::WaitingForWal, at("2026-12-02T10:00:13Z")); // nor an update after it
        assert!(slots.running(at("2026-12-02T10:00:13Z")).is_empty());
    }

    #[test]
    fn the_estimate_exists_only_while_streaming_with_bytes_done() {
        let mut slots = BackupSlots::default();
        slots.claim(7, at("2026-12-02T10:00:00Z"));
        slots.set_counts(7, Counts { bytes_total: 100, ..Counts::default() });
        assert_eq!(slots.running(at("2026-12-02T10:00:05Z"))[0].estimated_finish, None, "starting");
        slots.set_phase(7, Phase::StreamingFiles, at("2026-12-02T10:00:05Z"));
        assert_eq!(slots.running(at("2026-12-02T10:00:05Z"))[0].estimated_finish, None, "no time yet");
        assert_eq!(slots.running(at("2026-12-02T10:00:09Z"))[0].estimated_finish, None, "no byte yet");
        slots.set_counts(7, Counts { bytes_total: 100, bytes_done: 100, ..Counts::default() });
        assert_eq!(slots.running(at("2026-12-02T10:00:09Z"))[0].estimated_finish, Some(at("2026-12-02T10:00:09Z")));
        // Entering the phase again (it never is) would not restart the clock.
        slots.set_phase(7, Phase::StreamingFiles, at("2026-12-02T10:00:08Z"));
        slots.set_counts(7, Counts { bytes_total: 200, bytes_done: 100, ..Counts::default() });
        assert_eq!(slots.running(at("2026-12-02T10:00:09Z"))[0].estimated_finish, Some(at("2026-12-02T10:00:13Z")));
        slots.set_phase(7, Phase::WaitingForWal, at("2026-12-02T10:00:10Z"));
        assert_eq!(slots.running(at("2026-12-02T10:00:10Z"))[0].estimated_finish, None, "after streaming");
    }

    #[test]
    fn after_streaming_the_total_is_what_was_streamed() {
        let mut slots = BackupSlots::default();
        slots.claim(7, at("2026-12-02T10:00:00Z"));
        slots.set_phase(7, Phase::StreamingFiles, at("2026-12-02T10:00:00Z"));
        slots.set_counts(
            7,
            Counts { bytes_total: 100, bytes_done: 90, files_total: 4, files_done: 4, ..Counts::default() },
        );
        assert_eq!(slots.running(at("2026-12-02T10:00:01Z"))[0].bytes_total, 100, "still streaming");
        slots.set_phase(7, Phase::WaitingForWal, at("2026-12-02T10:00:01Z"));
        let r = &slots.running(at("2026-12-02T10:00:01Z"))[0];
        assert_eq!((r.bytes_total, r.bytes_done, r.files_total), (90, 90, 4));
    }

    #[test]
    fn files_that_grew_make_the_total_what_was_streamed() {
        let mut slots = BackupSlots::default();
        slots.claim(7, at("2026-12-02T10:00:00Z"));
        slots.set_counts(
            7,
            Counts { bytes_total: 100, bytes_done: 130, files_total: 2, files_done: 3, ..Counts::default() },
        );
        let r = &slots.running(at("2026-12-02T10:00:01Z"))[0];
        assert_eq!((r.bytes_total, r.bytes_done, r.files_total, r.files_done), (130, 130, 3, 3));
    }

    #[test]
    fn slots_run_out_and_a_reused_pid_takes_its_old_slot() {
        let mut slots = BackupSlots::default();
        for pid in 1..=SLOTS as i32 {
            assert!(slots.claim(pid, at("2026-12-02T10:00:00Z")));
        }
        assert!(!slots.claim(99, at("2026-12-02T10:00:00Z")), "every slot is taken");
        slots.set_name(2, "base_000000010000000000000009");
        assert!(slots.claim(2, at("2026-12-02T10:05:00Z")), "the same PID again");
        let rows = slots.running(at("2026-12-02T10:05:00Z"));
        assert_eq!(rows.len(), SLOTS);
        let again = rows.iter().find(|r| r.pid == 2).unwrap();
        assert_eq!((again.backup_name.as_deref(), again.started_at), (None, at("2026-12-02T10:05:00Z")));
        assert_eq!(rows.last().unwrap().pid, 2, "oldest first");
        slots.release(3);
        assert!(slots.claim(99, at("2026-12-02T10:06:00Z")));
        // PID 0 is never a backup.
        slots.set_name(0, "x");
        assert!(slots.running(at("2026-12-02T10:06:00Z")).iter().all(|r| r.backup_name.as_deref() != Some("x")));
    }

    #[test]
    fn counters_add_up_what_the_threads_report() {
        let c = ProgressCounters::default();
        c.planned(3, 300);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    c.read(60);
                    c.read(40);
                    c.file_done();
                });
            }
        });
        c.partition_uploaded();
        assert_eq!(
            c.counts(),
            Counts { bytes_total: 300, bytes_done: 300, files_total: 3, files_done: 3, partitions_uploaded: 1 }
        );
    }
}
