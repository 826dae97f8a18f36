//! Names of the files PostgreSQL archives, and the facts walrs needs from them.
//!
//! PostgreSQL hands the archive module four kinds of file; anything else is refused, so a
//! typo or a foreign file can never land in the repository's WAL folder.

pub mod header;
mod position;

pub use position::SegmentPos;

use crate::{Error, Result};
use std::fmt;

/// The kinds of file that live in `pg_wal` and get archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WalFileKind {
    /// `TTTTTTTTXXXXXXXXYYYYYYYY`: a WAL segment.
    Segment,
    /// `TTTTTTTT.history`: the timeline history written at a promotion.
    History,
    /// `TTTTTTTTXXXXXXXXYYYYYYYY.OOOOOOOO.backup`: the backup history file of a base backup.
    BackupHistory,
    /// `TTTTTTTTXXXXXXXXYYYYYYYY.partial`: the last, incomplete segment of an old timeline.
    Partial,
}

/// A validated archive file name, e.g. `000000010000000000000003`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WalFileName {
    name: String,
    kind: WalFileKind,
}

fn is_upper_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

impl WalFileName {
    pub fn parse(name: &str) -> Result<Self> {
        let kind = match name.split_once('.') {
            None if is_upper_hex(name, 24) => Some(WalFileKind::Segment),
            Some((tli, "history")) if is_upper_hex(tli, 8) => Some(WalFileKind::History),
            Some((seg, "partial")) if is_upper_hex(seg, 24) => Some(WalFileKind::Partial),
            Some((seg, rest)) if is_upper_hex(seg, 24) => match rest.split_once('.') {
                Some((offset, "backup")) if is_upper_hex(offset, 8) => Some(WalFileKind::BackupHistory),
                _ => None,
            },
            _ => None,
        };
        match kind {
            Some(kind) => Ok(WalFileName { name: name.to_string(), kind }),
            None => Err(Error::invalid_input(format!("{} is not a WAL file name", crate::error::quoted(name)))
                .with_hint(
                    "expected a segment (24 hex digits), TTTTTTTT.history, SEGMENT.OFFSET.backup or SEGMENT.partial",
                )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> WalFileKind {
        self.kind
    }

    /// The timeline the file belongs to (the first 8 hex digits of every kind).
    pub fn timeline(&self) -> u32 {
        u32::from_str_radix(&self.name[..8], 16).expect("validated hex")
    }

    /// The WAL position where this segment (or partial segment) begins, for segments of
    /// `segment_size` bytes; None for other kinds or a bad size.
    pub fn start_position(&self, segment_size: u64) -> Option<u64> {
        if !matches!(self.kind, WalFileKind::Segment | WalFileKind::Partial) {
            return None;
        }
        SegmentPos::of_wal(self)?.start_lsn(segment_size).map(|lsn| lsn.0)
    }

    /// The segment after this one on the same timeline, for segments of `segment_size` bytes;
    /// None for other kinds, a bad size, or the end of the address space.
    pub fn next_segment(&self, segment_size: u64) -> Option<WalFileName> {
        if self.kind != WalFileKind::Segment {
            return None;
        }
        SegmentPos::of_wal(self)?.next(segment_size).map(SegmentPos::file_name)
    }
}

impl fmt::Display for WalFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Is `len` a size PostgreSQL can use for a WAL segment (a power of two, 1 MiB to 1 GiB)?
pub fn is_valid_segment_size(len: u64) -> bool {
    len.is_power_of_two() && (1 << 20..=1 << 30).contains(&len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_segment_crosses_log_files_by_segment_size() {
        let next = |n: &str, size: u64| WalFileName::parse(n).unwrap().next_segment(size).map(|n| n.to_string());
        assert_eq!(next("000000010000000000000003", 16 << 20).as_deref(), Some("000000010000000000000004"));
        assert_eq!(next("0000000200000000000000FF", 16 << 20).as_deref(), Some("000000020000000100000000"));
        assert_eq!(next("00000001000000000000003F", 64 << 20).as_deref(), Some("000000010000000100000000"));
        assert_eq!(next("000000010000000000000FFF", 1 << 20).as_deref(), Some("000000010000000100000000"));
        assert_eq!(next("0000000100000000000000FE", 16 << 20).as_deref(), Some("0000000100000000000000FF"));
        assert_eq!(next("00000001FFFFFFFF000000FF", 16 << 20), None);
        assert_eq!(next("000000010000000000000003", 3 << 20), None);
        assert_eq!(next("00000001.history", 16 << 20), None);
        assert_eq!(next("000000010000000000000003.partial", 16 << 20), None);
    }

    #[test]
    fn accepts_every_kind_postgres_archives() {
        let cases = [
            ("000000010000000000000001", WalFileKind::Segment, 1),
            ("0000000A00000003000000FF", WalFileKind::Segment, 10),
            ("00000002.history", WalFileKind::History, 2),
            ("000000010000000000000002.00000028.backup", WalFileKind::BackupHistory, 1),
            ("000000010000000000000005.partial", WalFileKind::Partial, 1),
        ];
        for (name, kind, tli) in cases {
            let parsed = WalFileName::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.kind(), kind, "{name}");
            assert_eq!(parsed.timeline(), tli, "{name}");
            assert_eq!(parsed.as_str(), name);
        }
    }

    #[test]
    fn refuses_everything_else() {
        let bad = [
            "",
            "00000001000000000000001",   // 23 digits
            "0000000100000000000000011", // 25 digits
            "00000001000000000000000a",  // lower case
            "0000000G0000000000000001",  // not hex
            "00000002.History",
            "0000002.history",
            "000000010000000000000002.0000028.backup",
            "000000010000000000000002.00000028.backups",
            "000000010000000000000002.backup",
            "000000010000000000000005.partial.lz4",
            "../000000010000000000000001",
            "000000010000000000000001/x",
            "RECOVERYXLOG",
        ];
        for name in bad {
            let err = WalFileName::parse(name).expect_err(name);
            assert_eq!(err.kind, crate::ErrorKind::InvalidInput, "{name}");
        }
    }

    #[test]
    fn segment_sizes() {
        assert!(is_valid_segment_size(16 << 20));
        assert!(is_valid_segment_size(1 << 20));
        assert!(is_valid_segment_size(1 << 30));
        assert!(!is_valid_segment_size(0));
        assert!(!is_valid_segment_size((16 << 20) - 1));
        assert!(!is_valid_segment_size(1 << 19));
        assert!(!is_valid_segment_size(1 << 31));
    }
}
