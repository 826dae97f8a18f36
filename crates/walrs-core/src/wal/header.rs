//! The first page of a WAL segment says which segment it is. Checking it on push and on fetch
//! catches a file that is not the segment its name claims: zeros where PostgreSQL wrote WAL (a
//! torn or half-written copy, which recovery would read as the end of WAL and open the
//! database early), another cluster's WAL, another timeline's or another position's.
//!
//! Layout (`XLogLongPageHeaderData`, little-endian on every platform PostgreSQL archives from
//! here): magic u16 @0, info u16 @2, timeline u32 @4, page address u64 @8, remaining length
//! u32 @16, padding to 24, system identifier u64 @24, segment size u32 @32, block size u32 @36.

use super::{WalFileKind, WalFileName};
use crate::{Error, Result};

/// Bytes of the long page header that starts every segment.
pub const LONG_HEADER_LEN: usize = 40;
/// `XLP_LONG_HEADER`: set on the first page of a segment.
const XLP_LONG_HEADER: u16 = 0x0002;
/// The exact magic changes with each major (9.6 wrote 0xD093, 15 writes 0xD110, 18 0xD118),
/// so only the family is checked: 0xD000 to 0xD1FF.
const MAGIC_FAMILY: u16 = 0xD000;
const MAGIC_FAMILY_MASK: u16 = 0xFE00;

/// What the first page of a segment says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub magic: u16,
    pub info: u16,
    pub timeline: u32,
    pub page_address: u64,
    pub system_id: u64,
    pub segment_size: u32,
    pub block_size: u32,
}

impl SegmentHeader {
    /// Read the header from the first bytes of a segment; None if there are too few.
    pub fn parse(first: &[u8]) -> Option<SegmentHeader> {
        let bytes = first.get(..LONG_HEADER_LEN)?;
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Some(SegmentHeader {
            magic: u16_at(0),
            info: u16_at(2),
            timeline: u32_at(4),
            page_address: u64_at(8),
            system_id: u64_at(24),
            segment_size: u32_at(32),
            block_size: u32_at(36),
        })
    }

    /// The header PostgreSQL writes at the start of segment `name` (magic of PostgreSQL 15,
    /// 8 kB pages); test segments are built with it.
    pub fn for_segment(name: &WalFileName, segment_size: u64, system_id: u64) -> SegmentHeader {
        SegmentHeader {
            magic: 0xD110,
            info: XLP_LONG_HEADER,
            timeline: name.timeline(),
            page_address: name.start_position(segment_size).unwrap_or(0),
            system_id,
            segment_size: segment_size as u32,
            block_size: 8192,
        }
    }

    pub fn to_bytes(self) -> [u8; LONG_HEADER_LEN] {
        let mut out = [0u8; LONG_HEADER_LEN];
        out[0..2].copy_from_slice(&self.magic.to_le_bytes());
        out[2..4].copy_from_slice(&self.info.to_le_bytes());
        out[4..8].copy_from_slice(&self.timeline.to_le_bytes());
        out[8..16].copy_from_slice(&self.page_address.to_le_bytes());
        out[24..32].copy_from_slice(&self.system_id.to_le_bytes());
        out[32..36].copy_from_slice(&self.segment_size.to_le_bytes());
        out[36..40].copy_from_slice(&self.block_size.to_le_bytes());
        out
    }
}

/// Check that `first` (the first bytes of a file of `len` bytes) starts segment `name`: a WAL
/// page header with the long-header flag, this segment's address, this file's size, a
/// timeline no later than the name's (the first segment of a new timeline begins with pages
/// copied from its parent), and `system_id` when the caller knows the cluster's.
/// History and backup history files have no header and always pass.
pub fn check_segment_start(first: &[u8], name: &WalFileName, len: u64, system_id: Option<u64>) -> Result<()> {
    if !matches!(name.kind(), WalFileKind::Segment | WalFileKind::Partial) {
        return Ok(());
    }
    let wrong = |what: String| {
        Err(Error::corrupt(format!("{name} is not the WAL segment its name says: {what}"))
            .with_hint("the copy is damaged, cut short, or belongs to another cluster; do not use it"))
    };
    let Some(h) = SegmentHeader::parse(first) else {
        return wrong(format!("it holds only {} bytes", first.len()));
    };
    if h.magic & MAGIC_FAMILY_MASK != MAGIC_FAMILY {
        let zeros = first[..LONG_HEADER_LEN].iter().all(|b| *b == 0);
        return wrong(if zeros {
            "its first page is zeros".to_string()
        } else {
            format!("its first page has no WAL page header (magic 0x{:04X})", h.magic)
        });
    }
    if h.info & XLP_LONG_HEADER == 0 {
        return wrong("its first page lacks the long header a segment starts with".to_string());
    }
    if u64::from(h.segment_size) != len {
        return wrong(format!("its header gives a segment size of {} bytes but it holds {len}", h.segment_size));
    }
    if Some(h.page_address) != name.start_position(len) {
        return wrong(format!(
            "its first page is at WAL position {:X}/{:X}",
            h.page_address >> 32,
            h.page_address as u32
        ));
    }
    if h.timeline == 0 || h.timeline > name.timeline() {
        return wrong(format!("its first page belongs to timeline {}", h.timeline));
    }
    if let Some(expected) = system_id.filter(|id| *id != h.system_id) {
        return wrong(format!("it was written by the cluster with system identifier {}, not {expected}", h.system_id));
    }
    Ok(())
}

/// [`check_segment_start`] for the file at `path`, of `len` bytes: reads only its first page
/// header. History and backup history files are not read.
pub fn check_file_start(path: &std::path::Path, name: &WalFileName, len: u64, system_id: Option<u64>) -> Result<()> {
    if !matches!(name.kind(), WalFileKind::Segment | WalFileKind::Partial) {
        return Ok(());
    }
    use std::io::Read;
    let mut first = vec![0u8; LONG_HEADER_LEN];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut first))
        .map_err(|e| Error::local_io(format!("cannot read {}", path.display()), &e))?;
    check_segment_start(&first, name, len, system_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u64 = 16 << 20;
    const SYSID: u64 = 7_300_000_000_000_000_001;

    fn name(n: &str) -> WalFileName {
        WalFileName::parse(n).unwrap()
    }

    fn header(n: &str) -> SegmentHeader {
        SegmentHeader::for_segment(&name(n), SEG, SYSID)
    }

    fn check(h: SegmentHeader, n: &str, sysid: Option<u64>) -> std::result::Result<(), String> {
        check_segment_start(&h.to_bytes(), &name(n), SEG, sysid).map_err(|e| e.message)
    }

    #[test]
    fn the_segment_named_passes_and_round_trips() {
        let h = header("0000000200000001000000A3");
        assert_eq!(SegmentHeader::parse(&h.to_bytes()), Some(h));
        assert_eq!(h.page_address, 0x1_A300_0000);
        assert_eq!(check(h, "0000000200000001000000A3", Some(SYSID)), Ok(()));
        assert_eq!(check(h, "0000000200000001000000A3", None), Ok(()));
        // The first segment of timeline 3 may start with timeline 2's pages.
        assert_eq!(check(h, "0000000300000001000000A3", None), Ok(()));
        assert_eq!(check(h, "0000000200000001000000A3.partial", None), Ok(()));
    }

    #[test]
    fn every_mismatch_is_named() {
        let n = "0000000200000001000000A3";
        let failed = |h: SegmentHeader, sysid: Option<u64>| check(h, n, sysid).unwrap_err();
        let zeros = check_segment_start(&[0u8; 8192], &name(n), SEG, None).unwrap_err().message;
        assert!(zeros.contains("first page is zeros"), "{zeros}");
        assert!(failed(SegmentHeader { magic: 0x1234, ..header(n) }, None).contains("magic 0x1234"));
        assert!(failed(SegmentHeader { info: 0, ..header(n) }, None).contains("long header"));
        assert!(failed(header("0000000200000001000000A4"), None).contains("at WAL position 1/A4000000"));
        assert!(failed(header("0000000300000001000000A3"), None).contains("timeline 3"));
        assert!(failed(SegmentHeader { segment_size: 1 << 20, ..header(n) }, None).contains("size of 1048576"));
        assert!(failed(header(n), Some(42)).contains("system identifier 7300000000000000001, not 42"));
        let short = check_segment_start(&[0xD1; 10], &name(n), SEG, None).unwrap_err().message;
        assert!(short.contains("only 10 bytes"), "{short}");
    }

    #[test]
    fn history_files_have_no_header_to_check() {
        assert!(check_segment_start(b"1\t0/3000000\tno recovery target\n", &name("00000002.history"), 30, None).is_ok());
    }
}
