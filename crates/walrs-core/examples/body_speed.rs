//! Wall-clock time of the WAL paths through a file:// repository, for each compression:
//! pushing a 16 MiB segment, pushing it again (the stored copy is compared), and fetching it.
//!
//!     cargo run --release -p walrs-core --example body_speed [rounds]
//!
//! Prints one JSON line per method: the median milliseconds of each path, and the CRC-32 of
//! the stored object, which must not change when the code that writes it does.
//!
//! With `WALG_LIBSODIUM_KEY` (and `WALG_LIBSODIUM_KEY_TRANSFORM`) in the environment, the
//! repository is encrypted, as walrs encrypts with those set; the CRC-32 then changes each run
//! (every object has a random header).

use std::time::{Duration, Instant};
use walrs_core::compress::Compression;
use walrs_core::env::Env;
use walrs_core::ops::{wal_fetch, wal_push};
use walrs_core::storage::{Location, Storage};
use walrs_core::wal::header::SegmentHeader;
use walrs_core::wal::WalFileName;

const SEGMENT: usize = 16 << 20;
const SYSTEM_ID: u64 = 7_300_000_000_000_000_001;

fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("repo")).expect("the repository directory");
    let location = Location::parse(&format!("file://{}/repo", dir.path().display())).expect("a file:// URL");
    let keys: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("WALG_LIBSODIUM_")).collect();
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let storage = Storage::open(&location, &Env::from_pairs(&keys)).expect("the repository");
    for (m, method) in
        [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::None].into_iter().enumerate()
    {
        let (mut push, mut again, mut fetch) = (vec![], vec![], vec![]);
        let mut stored_crc = None;
        for round in 0..rounds {
            let name = WalFileName::parse(&format!("00000001{:08X}{:08X}", m + 1, round + 1)).expect("a WAL name");
            let source = dir.path().join(name.as_str());
            std::fs::write(&source, segment(&name)).expect("the segment");
            let timed = |work: &mut dyn FnMut()| {
                let t = Instant::now();
                work();
                t.elapsed()
            };
            push.push(timed(&mut || {
                runtime.block_on(wal_push(&storage, &name, &source, method, None)).expect("push");
            }));
            again.push(timed(&mut || {
                runtime.block_on(wal_push(&storage, &name, &source, method, None)).expect("second push");
            }));
            let dest = dir.path().join("RECOVERYXLOG");
            fetch.push(timed(&mut || {
                runtime.block_on(wal_fetch(&storage, &name, &dest, method, None)).expect("fetch");
            }));
            assert!(std::fs::read(&dest).expect("the fetched copy") == segment(&name), "the round trip changed it");
            let key = walrs_core::layout::wal_key(&name, method);
            let stored = std::fs::read(dir.path().join("repo").join(&key)).expect("the stored object");
            let crc = crc32fast::hash(&stored[..]);
            // Every round's segment differs only in its header; the first one is reported.
            stored_crc.get_or_insert(crc);
            std::fs::remove_file(&source).expect("the segment");
        }
        println!(
            "{{\"method\":\"{}\",\"push_ms\":{:.1},\"push_again_ms\":{:.1},\"fetch_ms\":{:.1},\"stored_crc32\":\"{:08x}\"}}",
            method.name(),
            median(&mut push),
            median(&mut again),
            median(&mut fetch),
            stored_crc.unwrap_or_default()
        );
    }
}

/// A segment that compresses about as well as busy WAL: its own page header, runs of zeros,
/// repeated records, noise.
fn segment(name: &WalFileName) -> Vec<u8> {
    let mut v = Vec::with_capacity(SEGMENT);
    let mut i = 0u32;
    while v.len() < SEGMENT {
        v.extend_from_slice(&(i.wrapping_mul(2654435761) >> (i % 13)).to_le_bytes());
        if i.is_multiple_of(100) {
            v.extend_from_slice(b"INSERT INTO pgbench_history VALUES (1, 2, 3, now());");
            v.extend_from_slice(&[0u8; 300]);
        }
        i += 1;
    }
    v.truncate(SEGMENT);
    let header = SegmentHeader::for_segment(name, SEGMENT as u64, SYSTEM_ID).to_bytes();
    v[..header.len()].copy_from_slice(&header);
    v
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times.get(times.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
