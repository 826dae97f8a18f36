//! Positions at the edges: log id boundaries for each segment size, the end of the address
//! space, names both ways, and sizes PostgreSQL cannot use.

use super::*;

const MIB: u64 = 1 << 20;

fn pos(timeline: u32, log: u32, seg: u32) -> SegmentPos {
    SegmentPos { timeline, log, seg }
}

#[test]
fn crossing_a_log_id_by_segment_size() {
    // (segment size, segments in a log id)
    let sizes = [(MIB, 0x1000), (16 * MIB, 0x100), (64 * MIB, 0x40), (1024 * MIB, 4)];
    for (size, per_log) in sizes {
        let last = pos(1, 0, per_log - 1);
        let first_of_next = pos(1, 1, 0);
        assert_eq!(last.next(size), Some(first_of_next), "{size}");
        assert_eq!(pos(1, 0, per_log - 2).next(size), Some(last), "{size}");
        assert_eq!(SegmentPos::of_lsn(1, Lsn(0x1_0000_0000 - 1), size), Some(last), "{size}");
        assert_eq!(SegmentPos::of_lsn(1, Lsn(0x1_0000_0000), size), Some(first_of_next), "{size}");
        assert_eq!(last.number(size), Some(u64::from(per_log) - 1), "{size}");
        assert_eq!(first_of_next.number(size), Some(u64::from(per_log)), "{size}");
        assert_eq!(SegmentPos::from_number(1, u64::from(per_log), size), Some(first_of_next), "{size}");
        assert_eq!(first_of_next.start_lsn(size), Some(Lsn(0x1_0000_0000)), "{size}");
        assert_eq!(last.start_lsn(size), Some(Lsn(0x1_0000_0000 - size)), "{size}");
        // An index past the log id's last belongs to smaller segments: no number, no LSN.
        assert_eq!(pos(1, 0, per_log).number(size), None, "{size}");
        assert_eq!(pos(1, 0, per_log).start_lsn(size), None, "{size}");
    }
}

#[test]
fn lsns_name_their_segments() {
    let cases = [
        // The fixture's backup starts at 33554472 = 0/2000028, in segment 2 of timeline 1.
        (1, 33554472, 16 * MIB, "000000010000000000000002"),
        (1, 0x1_0000_0000, 16 * MIB, "000000010000000100000000"),
        (2, 0x1_FF00_0000, 16 * MIB, "0000000200000001000000FF"),
        (1, 0x30_0000, MIB, "000000010000000000000003"),
        (1, 0x1_0300_0028, 16 * MIB, "000000010000000100000003"),
        (3, 0x7_C000_0000, 1024 * MIB, "000000030000000700000003"),
    ];
    for (timeline, lsn, size, name) in cases {
        let at = SegmentPos::of_lsn(timeline, Lsn(lsn), size).map(|p| p.to_string());
        assert_eq!(at.as_deref(), Some(name), "{lsn:X} with {size}");
    }
}

#[test]
fn the_end_of_the_address_space() {
    for (size, per_log) in [(MIB, 0x1000), (16 * MIB, 0x100), (1024 * MIB, 4)] {
        let last = pos(1, u32::MAX, per_log - 1);
        assert_eq!(SegmentPos::of_lsn(1, Lsn(u64::MAX), size), Some(last), "{size}");
        assert_eq!(last.next(size), None, "{size}");
        assert_eq!(last.number(size), Some(u64::MAX / size), "{size}");
        assert_eq!(SegmentPos::from_number(1, u64::MAX / size, size), Some(last), "{size}");
        assert_eq!(SegmentPos::from_number(1, u64::MAX / size + 1, size), None, "{size}");
        assert_eq!(last.start_lsn(size), Some(Lsn(u64::MAX - size + 1)), "{size}");
    }
    assert_eq!(pos(1, u32::MAX, 0xFF).next(16 * MIB), None);
    assert_eq!(pos(1, u32::MAX - 1, 0xFF).next(16 * MIB), Some(pos(1, u32::MAX, 0)));
}

#[test]
fn names_and_positions_round_trip() {
    let names = [
        "000000010000000000000000",
        "000000010000000000000003",
        "0000000A00000003000000FF",
        "00000002000000010000003F",
        "FFFFFFFFFFFFFFFF000000FF",
    ];
    for name in names {
        let p = SegmentPos::parse(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(p.to_string(), name);
        assert_eq!(p.file_name().as_str(), name);
        assert_eq!(p.file_name().kind(), WalFileKind::Segment);
        let n = p.number(16 * MIB).expect("fits 16 MiB segments");
        assert_eq!(SegmentPos::from_number(p.timeline, n, 16 * MIB), Some(p), "{name}");
        let start = p.start_lsn(16 * MIB).expect("fits 16 MiB segments");
        assert_eq!(SegmentPos::of_lsn(p.timeline, start, 16 * MIB), Some(p), "{name}");
    }
    assert_eq!(SegmentPos::parse("00000002000000010000003F"), Some(pos(2, 1, 0x3F)));
    for bad in [
        "",
        "00000001000000000000001",
        "0000000100000000000000011",
        "00000001000000000000000a",
        "0000000G0000000000000001",
        "+0000001000000000000000001",
    ] {
        assert_eq!(SegmentPos::parse(bad), None, "{bad}");
    }
}

#[test]
fn positions_of_wal_files() {
    let of = |name: &str| SegmentPos::of_wal(&WalFileName::parse(name).unwrap());
    assert_eq!(of("00000002000000010000003F"), Some(pos(2, 1, 0x3F)));
    assert_eq!(of("000000010000000000000005.partial"), Some(pos(1, 0, 5)));
    assert_eq!(of("000000010000000000000002.00000028.backup"), Some(pos(1, 0, 2)));
    assert_eq!(of("00000002.history"), None);
}

#[test]
fn positions_order_by_timeline_then_wal_position() {
    let mut ps = [pos(2, 0, 1), pos(1, 1, 0), pos(1, 0, 0xFF), pos(1, 0, 3)];
    ps.sort();
    assert_eq!(ps, [pos(1, 0, 3), pos(1, 0, 0xFF), pos(1, 1, 0), pos(2, 0, 1)]);
    assert!(pos(2, 0, 1).log_seg() < pos(1, 1, 0).log_seg());
}

#[test]
fn sizes_postgres_cannot_use_give_nothing() {
    for size in [0, 1, MIB / 2, 3 * MIB, 16 * MIB - 1, 2048 * MIB, 1 << 33, u64::MAX] {
        let p = pos(1, 0, 3);
        assert_eq!(SegmentPos::of_lsn(1, Lsn(0x300_0000), size), None, "{size}");
        assert_eq!(SegmentPos::from_number(1, 3, size), None, "{size}");
        assert_eq!(p.number(size), None, "{size}");
        assert_eq!(p.next(size), None, "{size}");
        assert_eq!(p.start_lsn(size), None, "{size}");
    }
}

#[test]
fn the_segment_an_end_lsn_falls_in() {
    let size = 16 * MIB;
    // Inside a segment: that segment. At a boundary: the one before, as pg_walfile_name says.
    assert_eq!(SegmentPos::of_end_lsn(1, Lsn(0x300_0100), size), Some(pos(1, 0, 3)));
    assert_eq!(SegmentPos::of_end_lsn(1, Lsn(0x400_0000), size), Some(pos(1, 0, 3)));
    assert_eq!(SegmentPos::of_end_lsn(2, Lsn(0x1_0000_0000), size), Some(pos(2, 0, 0xFF)));
    assert_eq!(SegmentPos::of_end_lsn(1, Lsn(0), size), Some(pos(1, 0, 0)));
    assert_eq!(SegmentPos::of_end_lsn(1, Lsn(0x400_0000), 3), None);
}
