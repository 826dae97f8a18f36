//! Where a WAL segment sits in the WAL stream, and the arithmetic on it.
//!
//! A segment's name `TTTTTTTTXXXXXXXXYYYYYYYY` spells three numbers: its timeline, its log id
//! (the high 32 bits of the LSNs it holds) and its index within that log id. How many segments a
//! log id holds depends on the segment size, which the name does not record, so everything that
//! turns a position into an LSN or a segment number (counted from the start of the WAL, as
//! PostgreSQL's `XLogSegNo`) takes the size, and answers None for a size PostgreSQL cannot use.
//! Comparing positions needs no size: within a timeline they order as (log id, index).

use super::{is_upper_hex, is_valid_segment_size, WalFileKind, WalFileName};
use crate::lsn::Lsn;
use std::fmt;

/// A segment: its timeline, log id and index within the log id, as its file name spells them.
/// Orders by timeline, then by position in the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentPos {
    pub timeline: u32,
    pub log: u32,
    pub seg: u32,
}

/// How many segments of `segment_size` bytes one log id (4 GiB of WAL) holds; None for a size
/// PostgreSQL cannot use. The one place the log id's span is written down.
fn segments_per_log(segment_size: u64) -> Option<u64> {
    const LOG_ID_SPAN: u64 = 1 << 32;
    is_valid_segment_size(segment_size).then(|| LOG_ID_SPAN / segment_size)
}

impl SegmentPos {
    /// The position a 24-digit segment name spells (upper-case hex, as PostgreSQL writes it).
    pub fn parse(name: &str) -> Option<SegmentPos> {
        if !is_upper_hex(name, 24) {
            return None;
        }
        let part = |at: usize| u32::from_str_radix(&name[at..at + 8], 16).ok();
        Some(SegmentPos { timeline: part(0)?, log: part(8)?, seg: part(16)? })
    }

    /// The segment a WAL file belongs to; None for timeline history files, which have none.
    pub fn of_wal(name: &WalFileName) -> Option<SegmentPos> {
        match name.kind() {
            WalFileKind::History => None,
            WalFileKind::Segment | WalFileKind::Partial | WalFileKind::BackupHistory => {
                SegmentPos::parse(&name.as_str()[..24])
            }
        }
    }

    /// The segment holding `lsn` on `timeline`.
    pub fn of_lsn(timeline: u32, lsn: Lsn, segment_size: u64) -> Option<SegmentPos> {
        // Checked first: a size of zero would not get as far as from_number's check.
        segments_per_log(segment_size)?;
        SegmentPos::from_number(timeline, lsn.0 / segment_size, segment_size)
    }

    /// The segment holding the last byte before `end` (PostgreSQL's `pg_walfile_name` of an end
    /// LSN): a backup that stops exactly at a segment boundary needs nothing of the next one.
    pub fn of_end_lsn(timeline: u32, end: Lsn, segment_size: u64) -> Option<SegmentPos> {
        SegmentPos::of_lsn(timeline, Lsn(end.0.saturating_sub(1)), segment_size)
    }

    /// The segment numbered `number` from the start of the WAL; None past the end of the address
    /// space.
    pub fn from_number(timeline: u32, number: u64, segment_size: u64) -> Option<SegmentPos> {
        let per_log = segments_per_log(segment_size)?;
        let log = u32::try_from(number / per_log).ok()?;
        let seg = u32::try_from(number % per_log).expect("below segments_per_log, which fits in 32 bits");
        Some(SegmentPos { timeline, log, seg })
    }

    /// This segment's number from the start of the WAL; None when its index does not fit a log id
    /// of this segment size (the name was written for smaller segments).
    pub fn number(self, segment_size: u64) -> Option<u64> {
        let per_log = segments_per_log(segment_size)?;
        (u64::from(self.seg) < per_log).then(|| u64::from(self.log) * per_log + u64::from(self.seg))
    }

    /// The segment after this one on the same timeline; None at the end of the address space.
    /// An index at or past the last of its log id continues at the next log id, as PostgreSQL's
    /// naming does.
    pub fn next(self, segment_size: u64) -> Option<SegmentPos> {
        let per_log = segments_per_log(segment_size)?;
        if u64::from(self.seg) + 1 >= per_log {
            Some(SegmentPos { log: self.log.checked_add(1)?, seg: 0, ..self })
        } else {
            Some(SegmentPos { seg: self.seg + 1, ..self })
        }
    }

    /// The LSN where this segment begins; None when its index does not fit this segment size.
    pub fn start_lsn(self, segment_size: u64) -> Option<Lsn> {
        let per_log = segments_per_log(segment_size)?;
        (u64::from(self.seg) < per_log).then(|| Lsn((u64::from(self.log) << 32) + u64::from(self.seg) * segment_size))
    }

    /// The position within a timeline, for comparing segments of different timelines.
    pub fn log_seg(self) -> (u32, u32) {
        (self.log, self.seg)
    }

    /// The segment's WAL file name.
    pub fn file_name(self) -> WalFileName {
        WalFileName { name: self.to_string(), kind: WalFileKind::Segment }
    }
}

impl fmt::Display for SegmentPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}{:08X}{:08X}", self.timeline, self.log, self.seg)
    }
}

#[cfg(test)]
mod tests;
