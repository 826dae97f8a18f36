//! Where a WAL file or a backup sits in the WAL stream: timeline and segment position.
//!
//! Positions compare as (log id, segment) within any timeline. Turning a backup's finish LSN into a
//! segment needs the segment size, which the repository does not record; it is inferred from the
//! backups themselves (start LSN against the start segment in the name), smallest candidate
//! first, because a smaller size keeps more WAL, never less.

use crate::backup::{BackupInfo, BackupName};
use crate::lsn::Lsn;
use crate::wal::{WalFileKind, WalFileName};

/// A segment: its timeline and its (log id, segment number) position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentPos {
    pub timeline: u32,
    pub pos: (u32, u32),
}

impl SegmentPos {
    /// Parse the leading `TTTTTTTTXXXXXXXXYYYYYYYY` of a name (validated hex by the caller's type).
    fn from_hex24(hex: &str) -> SegmentPos {
        let part = |r: std::ops::Range<usize>| u32::from_str_radix(&hex[r], 16).expect("validated hex");
        SegmentPos { timeline: part(0..8), pos: (part(8..16), part(16..24)) }
    }

    /// The segment a WAL file belongs to; None for timeline history files, which have none.
    pub fn of_wal(name: &WalFileName) -> Option<SegmentPos> {
        match name.kind() {
            WalFileKind::History => None,
            WalFileKind::Segment | WalFileKind::Partial | WalFileKind::BackupHistory => {
                Some(SegmentPos::from_hex24(&name.as_str()[..24]))
            }
        }
    }

    /// The segment a backup started in, from its name (`base_<segment>`).
    pub fn of_backup(name: &BackupName) -> SegmentPos {
        SegmentPos::from_hex24(&name.as_str()[5..29])
    }

    /// The segment holding `lsn` on `timeline`, for segments of `segment_size` bytes.
    pub fn of_lsn(timeline: u32, lsn: Lsn, segment_size: u64) -> SegmentPos {
        let low = lsn.0 & 0xFFFF_FFFF;
        SegmentPos { timeline, pos: ((lsn.0 >> 32) as u32, (low / segment_size) as u32) }
    }
}

/// Segment sizes PostgreSQL allows: powers of two from 1 MiB to 1 GiB.
fn segment_sizes() -> impl Iterator<Item = u64> {
    (20..=30).map(|shift| 1u64 << shift)
}

/// The smallest segment size consistent with every backup's start LSN and start segment. With
/// no backups, or none consistent (a damaged repository), 1 MiB: the size that keeps the most.
pub fn infer_segment_size(backups: &[BackupInfo]) -> u64 {
    segment_sizes()
        .find(|&size| {
            backups.iter().all(|b| {
                let start = SegmentPos::of_backup(&b.name);
                SegmentPos::of_lsn(start.timeline, b.sentinel.start_lsn(), size) == start
            })
        })
        .unwrap_or(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::Sentinel;

    fn backup(name: &str, lsn: u64) -> BackupInfo {
        BackupInfo {
            name: BackupName::parse(name).unwrap(),
            sentinel: Sentinel { lsn, ..Default::default() },
            sentinel_modified: None,
        }
    }

    #[test]
    fn positions_of_names_and_lsns() {
        let seg = WalFileName::parse("00000002000000010000003F").unwrap();
        assert_eq!(SegmentPos::of_wal(&seg), Some(SegmentPos { timeline: 2, pos: (1, 0x3F) }));
        assert_eq!(SegmentPos::of_wal(&WalFileName::parse("00000002.history").unwrap()), None);
        let label = WalFileName::parse("000000010000000000000002.00000028.backup").unwrap();
        assert_eq!(SegmentPos::of_wal(&label).unwrap().pos, (0, 2));
        assert_eq!(SegmentPos::of_lsn(1, Lsn(0x1_0300_0028), 16 << 20).pos, (1, 3));
    }

    #[test]
    fn segment_size_is_inferred_from_backups() {
        // 0/5000028 is segment 5 with 16 MiB segments, 0x50 with 1 MiB ones.
        assert_eq!(infer_segment_size(&[backup("base_000000010000000000000005", 0x500_0028)]), 16 << 20);
        assert_eq!(infer_segment_size(&[backup("base_000000010000000000000050", 0x500_0028)]), 1 << 20);
        assert_eq!(infer_segment_size(&[backup("base_000000010000000000000002", 0x400_0028)]), 32 << 20);
        // Segment 0 fits every size: the smallest is the safe answer.
        assert_eq!(infer_segment_size(&[backup("base_000000010000000100000000", 0x1_0000_0028)]), 1 << 20);
        assert_eq!(infer_segment_size(&[]), 1 << 20);
    }
}
