//! The segment size retention measures with.
//!
//! Turning a backup's finish LSN into a segment needs the segment size, which the repository does
//! not record; it is inferred from the backups themselves (start LSN against the start segment in
//! the name), smallest candidate first, because a smaller size keeps more WAL, never less.

use crate::backup::BackupInfo;
use crate::wal::SegmentPos;

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
                let start = b.name.start_segment();
                SegmentPos::of_lsn(start.timeline, b.sentinel.start_lsn(), size) == Some(start)
            })
        })
        .unwrap_or(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{BackupName, Sentinel};

    fn backup(name: &str, lsn: u64) -> BackupInfo {
        BackupInfo {
            name: BackupName::parse(name).unwrap(),
            sentinel: Sentinel { lsn, ..Default::default() },
            sentinel_modified: None,
        }
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
