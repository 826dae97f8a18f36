//! PostgreSQL's data page checksums, verified while a base backup reads relation files, as
//! pg_basebackup does: pages that are new (all zeros) or changed since the backup started (their
//! LSN is at or after its start: they may be torn mid-write, and WAL replay rewrites them) are
//! skipped; a page that fails is read once more before it counts as corrupt.
//!
//! The algorithm is `pg_checksum_page` (storage/checksum_impl.h): the page, with its checksum
//! field zeroed, as 32 columns of 32-bit words, each column folded into its own FNV-1a-like sum
//! (`(sum ^ v) * FNV_PRIME ^ ((sum ^ v) >> 17)`) from a fixed start value, two more rounds of
//! zero, the sums xored together, the block number xored in, and the result reduced to 1..=65535.
//! Words are read little-endian: walrs supports x86-64 Linux only, where PostgreSQL writes them so.

use crate::lsn::Lsn;

/// PostgreSQL's page size (BLCKSZ) as every supported build uses it.
pub const BLOCK_SIZE: usize = 8192;
/// Blocks per relation segment file (RELSEG_SIZE: 1 GiB of 8 KiB blocks).
pub const BLOCKS_PER_SEGMENT: u32 = 131_072;

const N_SUMS: usize = 32;
const FNV_PRIME: u32 = 16_777_619;
const BASE_OFFSETS: [u32; N_SUMS] = [
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C, 0xF8D4474F,
    0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB, 0xE58F764B, 0x187636BC,
    0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4, 0x783125BB, 0x6CA8EAA2, 0xE407EAC6,
    0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
];
/// Where pd_checksum sits in the page header (after the 8-byte pd_lsn).
const CHECKSUM_AT: usize = 8;
/// pd_upper: zero on a page never initialised.
const UPPER_AT: usize = 14;

fn mix(sum: u32, value: u32) -> u32 {
    let t = sum ^ value;
    t.wrapping_mul(FNV_PRIME) ^ (t >> 17)
}

/// The checksum PostgreSQL stores in `page`'s header, for block `blkno` of its relation fork.
pub fn page_checksum(page: &[u8; BLOCK_SIZE], blkno: u32) -> u16 {
    let mut sums = BASE_OFFSETS;
    for (i, word) in page.chunks_exact(4).enumerate() {
        // The checksum field itself counts as zero (it is the low half of word 2, little-endian).
        let mut v = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        if i * 4 == CHECKSUM_AT {
            v &= 0xFFFF_0000;
        }
        sums[i % N_SUMS] = mix(sums[i % N_SUMS], v);
    }
    let folded = sums.iter().fold(0u32, |acc, &s| acc ^ mix(mix(s, 0), 0));
    ((folded ^ blkno) % 65_535 + 1) as u16
}

fn stored_checksum(page: &[u8; BLOCK_SIZE]) -> u16 {
    u16::from_le_bytes([page[CHECKSUM_AT], page[CHECKSUM_AT + 1]])
}

fn page_lsn(page: &[u8; BLOCK_SIZE]) -> Lsn {
    let hi = u32::from_le_bytes([page[0], page[1], page[2], page[3]]);
    let lo = u32::from_le_bytes([page[4], page[5], page[6], page[7]]);
    Lsn((u64::from(hi) << 32) | u64::from(lo))
}

/// Does `page` (block `blkno`) pass, for a backup that started at `start`? New pages and pages
/// written since the start pass unchecked.
pub fn page_ok(page: &[u8; BLOCK_SIZE], blkno: u32, start: Lsn) -> bool {
    let is_new = u16::from_le_bytes([page[UPPER_AT], page[UPPER_AT + 1]]) == 0;
    if is_new && page.iter().all(|&b| b == 0) {
        return true;
    }
    if page_lsn(page) >= start {
        return true;
    }
    stored_checksum(page) == page_checksum(page, blkno)
}

/// For a relation data file (`base/<db>/<relfilenode>[_fsm|_vm|_init][.<segment>]`, the same
/// under `global/` and `pg_tblspc/<oid>/<version>/<db>/`), the block number of its first page;
/// None for anything else (temporary relations `t…`, pg_filenode.map, PG_VERSION, …).
pub fn first_block(rel: &str) -> Option<u32> {
    let parts: Vec<&str> = rel.split('/').collect();
    let file = match parts.as_slice() {
        ["global", file] => file,
        ["base", db, file] if is_number(db) => file,
        ["pg_tblspc", ts, _version, db, file] if is_number(ts) && is_number(db) => file,
        _ => return None,
    };
    let (stem, segment) = match file.split_once('.') {
        Some((stem, seg)) if is_number(seg) => (stem, seg.parse::<u32>().ok()?),
        Some(_) => return None,
        None => (*file, 0),
    };
    let node = match stem.split_once('_') {
        Some((node, "fsm" | "vm" | "init")) => node,
        Some(_) => return None,
        None => stem,
    };
    is_number(node).then_some(())?;
    segment.checked_mul(BLOCKS_PER_SEGMENT)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks 0-3 of pg_class (base/1/1259) and block 0 of its free space map, from a
    /// PostgreSQL 15 cluster made with `initdb --data-checksums` (tests/data/README.md).
    const PG_CLASS: &[u8] = include_bytes!("../../tests/data/pg15_pg_class_blocks_0-3.bin");
    const PG_CLASS_FSM: &[u8] = include_bytes!("../../tests/data/pg15_pg_class_fsm_block_0.bin");

    fn page(bytes: &[u8], block: usize) -> [u8; BLOCK_SIZE] {
        bytes[block * BLOCK_SIZE..(block + 1) * BLOCK_SIZE].try_into().unwrap()
    }

    #[test]
    fn matches_postgres_on_real_pages() {
        for block in 0..4 {
            let p = page(PG_CLASS, block);
            assert_eq!(page_checksum(&p, block as u32), stored_checksum(&p), "pg_class block {block}");
            assert!(page_ok(&p, block as u32, Lsn(u64::MAX)));
        }
        let fsm = page(PG_CLASS_FSM, 0);
        assert_eq!(page_checksum(&fsm, 0), stored_checksum(&fsm));
    }

    #[test]
    fn a_flipped_byte_or_a_moved_page_is_detected() {
        let start = Lsn(u64::MAX);
        let good = page(PG_CLASS, 1);
        for at in [0usize, 8, 9, 20, 100, 4096, 8191] {
            let mut bad = good;
            bad[at] ^= 0x10;
            if !(CHECKSUM_AT..CHECKSUM_AT + 2).contains(&at) {
                assert_ne!(page_checksum(&bad, 1), stored_checksum(&good), "byte {at}");
            }
            // A flipped pd_lsn byte (0-7) may move the page past any start; here it is still checked.
            assert!(!page_ok(&bad, 1, start), "byte {at}");
        }
        assert!(!page_ok(&good, 2, start), "the block number is part of the checksum");
        assert!(!page_ok(&good, 1 + BLOCKS_PER_SEGMENT, start));
    }

    #[test]
    fn new_pages_and_pages_newer_than_the_backup_are_skipped() {
        assert!(page_ok(&[0u8; BLOCK_SIZE], 7, Lsn(1)));
        let mut bad = page(PG_CLASS, 0);
        bad[5000] ^= 1;
        let lsn = page_lsn(&bad);
        assert!(!page_ok(&bad, 0, Lsn(lsn.0 + 1)), "older than the start: checked");
        assert!(page_ok(&bad, 0, lsn), "written at or after the start: WAL replay rewrites it");
        // A page that claims to be new but holds data is checked, and fails.
        let mut odd = [0u8; BLOCK_SIZE];
        odd[100] = 1;
        assert!(!page_ok(&odd, 0, Lsn(1)));
    }

    #[test]
    fn relation_files_and_their_first_block() {
        for (rel, want) in [
            ("base/1/1259", Some(0)),
            ("base/16384/16385.2", Some(2 * BLOCKS_PER_SEGMENT)),
            ("base/16384/16385_fsm", Some(0)),
            ("base/16384/16385_vm.1", Some(BLOCKS_PER_SEGMENT)),
            ("base/16384/16385_init", Some(0)),
            ("global/1262", Some(0)),
            ("pg_tblspc/16390/PG_15_202209061/16384/16391", Some(0)),
            ("base/16384/t3_16400", None),
            ("base/16384/pg_filenode.map", None),
            ("base/16384/PG_VERSION", None),
            ("global/pg_control", None),
            ("global/pg_filenode.map", None),
            ("base/16384/16385_xyz", None),
            ("base/16384/16385.x", None),
            ("base/16384/16385.99999999999", None),
            ("base/16384/16385.40000", None),
            ("pg_xact/0000", None),
            ("base/pgsql_tmp/pgsql_tmp1.0", None),
            ("base/16384/sub/16385", None),
        ] {
            assert_eq!(first_block(rel), want, "{rel}");
        }
    }
}
