//! The archiver's health: what it archived, what failed and why, and how fast it goes. One
//! [`ArchiverStats`] lives in shared memory; the archiver [`record`](ArchiverStats::record)s
//! each segment's result, and SQL reads a [`view`](ArchiverStats::view) of a copy.

use super::{FixedText, LastMinute};
use crate::redact::redact;
use chrono::{DateTime, Utc};

/// Longest WAL file name the archiver is handed: a backup history file,
/// `000000010000000000000002.00000028.backup` (40 bytes), with room to spare.
const NAME_BYTES: usize = 64;
/// The failure message kept: enough for the cause, bounded for shared memory.
const MESSAGE_BYTES: usize = 480;

/// What became of one file the archiver was asked to archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentResult<'a> {
    /// Stored now: its size as PostgreSQL wrote it, and as stored (compressed, encrypted).
    Stored { original_bytes: u64, stored_bytes: u64 },
    /// Found in the repository with identical content: archived, nothing stored.
    AlreadyArchived,
    /// Not archived; PostgreSQL tries again.
    Failed(&'a Failure),
}

/// A failure's message as shown: secrets removed, on one line, cut to a bounded size. Made
/// before the shared record is locked, so the lock is held only to copy it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure(FixedText<MESSAGE_BYTES>);

impl Failure {
    pub fn new(message: &str, secrets: &[String]) -> Self {
        Failure(FixedText::new(&one_line(&redact(message, secrets))))
    }
}

/// Counters since the server started or since the last reset. Plain data (see the module
/// comment of [`super`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchiverStats {
    archived_count: u64,
    archived_bytes: u64,
    stored_bytes: u64,
    last_archived_wal: FixedText<NAME_BYTES>,
    last_archived_time: Option<DateTime<Utc>>,
    failed_count: u64,
    last_failed_wal: FixedText<NAME_BYTES>,
    last_failed_time: Option<DateTime<Utc>>,
    last_failure: FixedText<MESSAGE_BYTES>,
    failures_in_a_row: u64,
    lookahead_in_flight: u32,
    last_minute: LastMinute,
    stats_reset: DateTime<Utc>,
}

/// What SQL shows: the counters, and the last minute's rate as of `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiverView {
    pub archived_count: u64,
    pub archived_bytes: u64,
    pub stored_bytes: u64,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<DateTime<Utc>>,
    pub failed_count: u64,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<DateTime<Utc>>,
    pub last_failure: Option<String>,
    pub failures_in_a_row: u64,
    pub lookahead_in_flight: u32,
    /// Files archived in the 60 seconds before `now`.
    pub archived_last_minute: u64,
    /// Bytes (as PostgreSQL wrote them) stored per second over those 60 seconds.
    pub bytes_per_second: f64,
    pub stats_reset: DateTime<Utc>,
}

impl ArchiverStats {
    /// Nothing counted yet, as of `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ArchiverStats {
            archived_count: 0,
            archived_bytes: 0,
            stored_bytes: 0,
            last_archived_wal: FixedText::EMPTY,
            last_archived_time: None,
            failed_count: 0,
            last_failed_wal: FixedText::EMPTY,
            last_failed_time: None,
            last_failure: FixedText::EMPTY,
            failures_in_a_row: 0,
            lookahead_in_flight: 0,
            last_minute: LastMinute::default(),
            stats_reset: now,
        }
    }

    /// Count `result` for `file`, at `now`; `lookahead_in_flight` is how many uploads started
    /// ahead are still running. A success ends a run of failures.
    pub fn record(&mut self, file: &str, result: SegmentResult, lookahead_in_flight: u32, now: DateTime<Utc>) {
        self.lookahead_in_flight = lookahead_in_flight;
        match result {
            SegmentResult::Stored { .. } | SegmentResult::AlreadyArchived => {
                let (original, stored) = match result {
                    SegmentResult::Stored { original_bytes, stored_bytes } => (original_bytes, stored_bytes),
                    _ => (0, 0),
                };
                self.archived_count += 1;
                self.archived_bytes = self.archived_bytes.saturating_add(original);
                self.stored_bytes = self.stored_bytes.saturating_add(stored);
                self.last_archived_wal = FixedText::new(file);
                self.last_archived_time = Some(now);
                self.failures_in_a_row = 0;
                self.last_minute.record(now.timestamp(), original);
            }
            SegmentResult::Failed(failure) => {
                self.failed_count += 1;
                self.last_failed_wal = FixedText::new(file);
                self.last_failed_time = Some(now);
                self.last_failure = failure.0;
                self.failures_in_a_row += 1;
            }
        }
    }

    /// The counters, and the rate over the minute before `now`.
    pub fn view(&self, now: DateTime<Utc>) -> ArchiverView {
        let text = |t: &FixedText<NAME_BYTES>| (!t.is_empty()).then(|| t.as_str().to_string());
        let (archived_last_minute, _) = self.last_minute.total(now.timestamp());
        ArchiverView {
            archived_count: self.archived_count,
            archived_bytes: self.archived_bytes,
            stored_bytes: self.stored_bytes,
            last_archived_wal: text(&self.last_archived_wal),
            last_archived_time: self.last_archived_time,
            failed_count: self.failed_count,
            last_failed_wal: text(&self.last_failed_wal),
            last_failed_time: self.last_failed_time,
            last_failure: (!self.last_failure.is_empty()).then(|| self.last_failure.as_str().to_string()),
            failures_in_a_row: self.failures_in_a_row,
            lookahead_in_flight: self.lookahead_in_flight,
            archived_last_minute,
            bytes_per_second: self.last_minute.bytes_per_second(now.timestamp()),
            stats_reset: self.stats_reset,
        }
    }
}

/// `text` on one line: every run of whitespace (newlines included) becomes one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + second, 0).single().expect("valid time")
    }

    const SEG: &str = "000000010000000000000003";
    const NEXT: &str = "000000010000000000000004";

    #[test]
    fn a_new_record_has_nothing_and_says_when_it_started() {
        let v = ArchiverStats::new(at(0)).view(at(5));
        assert_eq!((v.archived_count, v.failed_count, v.failures_in_a_row), (0, 0, 0));
        assert_eq!((v.last_archived_wal, v.last_failed_wal, v.last_failure), (None, None, None));
        assert_eq!((v.archived_last_minute, v.bytes_per_second), (0, 0.0));
        assert_eq!(v.stats_reset, at(0));
    }

    #[test]
    fn stored_segments_add_their_sizes_and_the_rate() {
        let mut s = ArchiverStats::new(at(0));
        s.record(SEG, SegmentResult::Stored { original_bytes: 16 << 20, stored_bytes: 1 << 20 }, 2, at(10));
        s.record(NEXT, SegmentResult::Stored { original_bytes: 16 << 20, stored_bytes: 3 << 20 }, 1, at(20));
        let v = s.view(at(30));
        assert_eq!((v.archived_count, v.archived_bytes, v.stored_bytes), (2, 32 << 20, 4 << 20));
        assert_eq!((v.last_archived_wal.as_deref(), v.last_archived_time), (Some(NEXT), Some(at(20))));
        assert_eq!((v.archived_last_minute, v.lookahead_in_flight), (2, 1));
        assert_eq!(v.bytes_per_second, (32u64 << 20) as f64 / 60.0);
        // A minute after the first, only the second is in the window; later, none.
        assert_eq!(s.view(at(70)).archived_last_minute, 1);
        assert_eq!(s.view(at(80)).archived_last_minute, 0);
        assert_eq!(s.view(at(80)).archived_count, 2);
    }

    #[test]
    fn a_segment_found_already_archived_counts_as_archived_without_bytes() {
        let mut s = ArchiverStats::new(at(0));
        s.record(SEG, SegmentResult::AlreadyArchived, 0, at(1));
        let v = s.view(at(1));
        assert_eq!((v.archived_count, v.archived_bytes, v.stored_bytes, v.archived_last_minute), (1, 0, 0, 1));
        assert_eq!(v.last_archived_wal.as_deref(), Some(SEG));
    }

    #[test]
    fn failures_count_in_a_row_until_a_success() {
        let mut s = ArchiverStats::new(at(0));
        let denied = Failure::new("denied", &[]);
        for t in 1..=3 {
            s.record(SEG, SegmentResult::Failed(&denied), 0, at(t));
        }
        let v = s.view(at(4));
        assert_eq!((v.failed_count, v.failures_in_a_row, v.archived_count), (3, 3, 0));
        assert_eq!((v.last_failed_wal.as_deref(), v.last_failed_time), (Some(SEG), Some(at(3))));
        assert_eq!(v.archived_last_minute, 0, "failures are not archived segments");
        s.record(SEG, SegmentResult::Stored { original_bytes: 1, stored_bytes: 1 }, 0, at(5));
        let v = s.view(at(5));
        assert_eq!((v.failed_count, v.failures_in_a_row, v.archived_count), (3, 0, 1));
        // The last failure stays visible after the success, as in pg_stat_archiver.
        assert_eq!(v.last_failure.as_deref(), Some("denied"));
    }

    #[test]
    fn the_failure_message_is_one_line_without_secrets_and_bounded() {
        let mut s = ArchiverStats::new(at(0));
        let secrets = vec!["s3cr3t-key".to_string()];
        let message = "PUT https://h/b/k?X-Amz-Signature=abcd refused\nkey s3cr3t-key\n\n  is wrong";
        s.record(SEG, SegmentResult::Failed(&Failure::new(message, &secrets)), 0, at(1));
        let shown = s.view(at(1)).last_failure.expect("a failure");
        assert_eq!(shown, "PUT https://h/b/k?X-Amz-Signature=<hidden> refused key <hidden> is wrong");
        let long = "é".repeat(1000);
        s.record(SEG, SegmentResult::Failed(&Failure::new(&long, &[])), 0, at(2));
        let shown = s.view(at(2)).last_failure.expect("a failure");
        assert_eq!(shown.len(), MESSAGE_BYTES);
        assert!(long.starts_with(&shown));
    }

    #[test]
    fn a_long_file_name_is_kept_whole() {
        let name = "000000010000000000000002.00000028.backup";
        let mut s = ArchiverStats::new(at(0));
        s.record(name, SegmentResult::AlreadyArchived, 0, at(1));
        assert_eq!(s.view(at(1)).last_archived_wal.as_deref(), Some(name));
    }
}
