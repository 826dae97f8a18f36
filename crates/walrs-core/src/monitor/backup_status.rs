//! What `walrs_backup_status()` says about backups as a whole: the newest complete backup and
//! the repository's size (from a listing kept for [`LISTING_MAX_AGE`], so a dashboard that asks
//! every 15 s does not list the bucket each time), and how the last scheduled backup went.

use super::fixed_text::FixedText;
use crate::backup::BackupInfo;
use crate::storage::ObjectInfo;
use chrono::{DateTime, TimeDelta, Utc};

/// How long a listing of the repository answers for it.
pub const LISTING_MAX_AGE: TimeDelta = TimeDelta::seconds(60);

/// Bytes kept of the last scheduled run's error.
pub const ERROR_BYTES: usize = 480;

/// What a listing of the repository says, summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSummary {
    /// Complete backups (with a sentinel).
    pub backups: u64,
    /// Bytes of every stored object of base backups (partial ones too) and WAL.
    pub total_bytes: u64,
    /// The newest complete backup (the one `LATEST` restores) and when it finished.
    pub newest: Option<(String, Option<DateTime<Utc>>)>,
    /// When the listing was taken.
    pub listed_at: DateTime<Utc>,
}

impl RepoSummary {
    /// `backups` as `list_backups` gives them (oldest first); `objects`, every object listed
    /// under the backup and WAL folders.
    pub fn of(backups: &[BackupInfo], objects: &[ObjectInfo], listed_at: DateTime<Utc>) -> RepoSummary {
        let newest = backups.iter().max_by_key(|b| b.order_key()).map(|b| {
            let finished = b.sentinel.finish_time.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            (b.name.to_string(), finished.map(|t| t.with_timezone(&Utc)).or(b.sentinel_modified))
        });
        RepoSummary {
            backups: backups.len() as u64,
            total_bytes: objects.iter().map(|o| o.size).sum(),
            newest,
            listed_at,
        }
    }

    /// Whether this listing still answers at `now`. One from the future (the clock went back)
    /// does not.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        let age = now - self.listed_at;
        age >= TimeDelta::zero() && age < LISTING_MAX_AGE
    }
}

/// How the scheduler's last backup ended, kept in shared memory for every session to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledRun {
    pub finished_at: DateTime<Utc>,
    pub succeeded: bool,
    /// The backup's name, or the error (one line, cut at [`ERROR_BYTES`]).
    text: FixedText<ERROR_BYTES>,
}

impl ScheduledRun {
    pub fn new(finished_at: DateTime<Utc>, outcome: Result<&str, &str>) -> ScheduledRun {
        let (succeeded, text) = match outcome {
            Ok(name) => (true, name),
            Err(e) => (false, e),
        };
        let one_line = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        ScheduledRun { finished_at, succeeded, text: FixedText::new(&one_line) }
    }

    /// `succeeded` or `failed`, as `walrs_backup_status().last_scheduled_result` shows it.
    pub fn result(&self) -> &'static str {
        if self.succeeded {
            "succeeded"
        } else {
            "failed"
        }
    }

    pub fn backup_name(&self) -> Option<&str> {
        self.succeeded.then(|| self.text.as_str())
    }

    pub fn error(&self) -> Option<&str> {
        (!self.succeeded).then(|| self.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{BackupName, Sentinel};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn backup(name: &str, start: &str, finish: Option<&str>) -> BackupInfo {
        BackupInfo {
            name: BackupName::parse(name).unwrap(),
            sentinel: Sentinel {
                start_time: Some(start.into()),
                finish_time: finish.map(str::to_string),
                ..Default::default()
            },
            sentinel_modified: Some(at("2026-12-01T00:00:00Z")),
        }
    }

    fn object(size: u64) -> ObjectInfo {
        ObjectInfo { key: "k".into(), size, modified: at("2026-12-01T00:00:00Z") }
    }

    #[test]
    fn the_newest_backup_is_the_last_to_start_and_sizes_add_up() {
        let backups = [
            backup("base_000000010000000000000002", "2026-12-01T03:00:00Z", Some("2026-12-01T03:10:00Z")),
            backup("base_000000010000000000000009", "2026-12-02T03:00:00Z", Some("2026-12-02T03:12:00.5Z")),
            // Lower name, started earlier: never the newest however it sorts by name.
            backup("base_000000010000000000000001", "2026-11-30T03:00:00Z", None),
        ];
        let s = RepoSummary::of(&backups, &[object(10), object(32), object(0)], at("2026-12-02T04:00:00Z"));
        assert_eq!(s.backups, 3);
        assert_eq!(s.total_bytes, 42);
        assert_eq!(s.newest, Some(("base_000000010000000000000009".to_string(), Some(at("2026-12-02T03:12:00.5Z")))));
    }

    #[test]
    fn a_sentinel_without_a_finish_time_falls_back_to_when_it_was_stored() {
        let s = RepoSummary::of(
            &[backup("base_000000010000000000000002", "2026-12-01T03:00:00Z", None)],
            &[],
            at("2026-12-02T04:00:00Z"),
        );
        assert_eq!(s.newest.unwrap().1, Some(at("2026-12-01T00:00:00Z")));
        let empty = RepoSummary::of(&[], &[], at("2026-12-02T04:00:00Z"));
        assert_eq!((empty.backups, empty.total_bytes, empty.newest), (0, 0, None));
    }

    #[test]
    fn a_listing_answers_for_sixty_seconds() {
        let s = RepoSummary::of(&[], &[], at("2026-12-02T04:00:00Z"));
        assert!(s.is_fresh(at("2026-12-02T04:00:00Z")));
        assert!(s.is_fresh(at("2026-12-02T04:00:59Z")));
        assert!(!s.is_fresh(at("2026-12-02T04:01:00Z")));
        assert!(!s.is_fresh(at("2026-12-02T03:59:59Z")), "a clock that went back lists again");
    }

    #[test]
    fn a_scheduled_run_keeps_its_name_or_its_error_on_one_line() {
        let ok = ScheduledRun::new(at("2026-12-02T03:10:00Z"), Ok("base_000000010000000000000009"));
        assert_eq!(
            (ok.result(), ok.backup_name(), ok.error()),
            ("succeeded", Some("base_000000010000000000000009"), None)
        );
        let failed = ScheduledRun::new(at("2026-12-02T03:10:00Z"), Err("walrs.storage is not set\n  HINT: set it"));
        assert_eq!((failed.result(), failed.backup_name()), ("failed", None));
        assert_eq!(failed.error(), Some("walrs.storage is not set HINT: set it"));
        let long = "é".repeat(ERROR_BYTES);
        assert_eq!(ScheduledRun::new(at("2026-12-02T03:10:00Z"), Err(&long)).error().unwrap().len(), ERROR_BYTES);
    }
}
