//! wal_push / wal_fetch against a real file:// repository (and the in-memory store).
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use bytes::Bytes;
use std::path::{Path, PathBuf};
use walrs_core::compress::Compression;
use walrs_core::env::Env;
use walrs_core::ops::{wal_fetch, wal_push, PushOutcome};
use walrs_core::storage::{Location, Storage};
use walrs_core::wal::header::SegmentHeader;
use walrs_core::wal::WalFileName;
use walrs_core::ErrorKind;

const SEG: usize = 1 << 20; // 1 MiB: the smallest segment size PostgreSQL allows
const SYSTEM_ID: u64 = 7_300_000_000_000_000_001;

struct Fixture {
    dir: tempfile::TempDir,
    storage: Storage,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        let loc = Location::parse(&format!("file://{}/repo", dir.path().display())).unwrap();
        let storage = Storage::open(&loc, &Env::default()).unwrap();
        Fixture { dir, storage }
    }

    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn repo(&self, key: &str) -> PathBuf {
        self.dir.path().join("repo").join(key)
    }
}

/// A segment of `SEG` bytes whose first page says it is `n`, then bytes that vary with `seed`.
fn segment(n: &str, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; SEG];
    for (i, b) in v.iter_mut().enumerate().take(SEG / 3) {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
    let header = SegmentHeader::for_segment(&name(n), SEG as u64, SYSTEM_ID).to_bytes();
    v[..header.len()].copy_from_slice(&header);
    v
}

fn name(s: &str) -> WalFileName {
    WalFileName::parse(s).unwrap()
}

#[tokio::test]
async fn every_method_round_trips_byte_for_byte() {
    let f = Fixture::new();
    for (i, method) in
        [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::None].into_iter().enumerate()
    {
        let n = name(&format!("0000000100000000000000{:02X}", i + 1));
        let data = segment(n.as_str(), i as u8);
        let src = f.file(n.as_str(), &data);
        let out = wal_push(&f.storage, &n, &src, method, None).await.unwrap();
        let PushOutcome::Stored { key, original_bytes, stored_bytes } = out else { panic!("{out:?}") };
        assert_eq!(key, walrs_core::layout::wal_key(&n, method));
        assert!(f.repo(&key).is_file(), "{key}");
        assert_eq!(original_bytes, SEG as u64);
        if method != Compression::None {
            assert!(stored_bytes < original_bytes / 2, "{method:?}: {stored_bytes}");
        }
        // Fetch with a different preferred method: the stored one is still found.
        let dest = f.dir.path().join(format!("restored-{i}"));
        let got = wal_fetch(&f.storage, &n, &dest, Compression::Zstd, None).await.unwrap();
        assert_eq!(got.key, key);
        assert_eq!(std::fs::read(&dest).unwrap(), data, "{method:?}");
    }
}

#[tokio::test]
async fn small_files_of_every_kind_are_archived() {
    let f = Fixture::new();
    for n in ["00000002.history", "000000010000000000000002.00000028.backup"] {
        let body = format!("contents of {n}\n");
        let src = f.file(n, body.as_bytes());
        wal_push(&f.storage, &name(n), &src, Compression::Lz4, None).await.unwrap();
        assert!(f.repo(&format!("wal_005/{n}.lz4")).is_file());
        let dest = f.dir.path().join("out");
        wal_fetch(&f.storage, &name(n), &dest, Compression::Lz4, None).await.unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), body);
    }
    let partial = "000000010000000000000005.partial";
    let src = f.file(partial, &segment(partial, 9));
    wal_push(&f.storage, &name(partial), &src, Compression::Zstd, None).await.unwrap();
    assert!(f.repo(&format!("wal_005/{partial}.zst")).is_file());
}

#[tokio::test]
async fn identical_content_is_success_and_different_content_is_refused() {
    let f = Fixture::new();
    let n = name("000000010000000000000007");
    let original = segment(n.as_str(), 1);
    let src = f.file("a", &original);
    wal_push(&f.storage, &n, &src, Compression::Lz4, None).await.unwrap();
    let key = f.repo("wal_005/000000010000000000000007.lz4");
    let stored_before = std::fs::read(&key).unwrap();

    let again = wal_push(&f.storage, &n, &src, Compression::Lz4, None).await.unwrap();
    assert!(matches!(again, PushOutcome::AlreadyArchived { .. }), "{again:?}");
    // A change of compression setting does not create a second copy.
    let other_method = wal_push(&f.storage, &n, &src, Compression::Zstd, None).await.unwrap();
    assert!(matches!(other_method, PushOutcome::AlreadyArchived { .. }), "{other_method:?}");
    assert!(!f.repo("wal_005/000000010000000000000007.zst").exists());

    let mut changed = original.clone();
    changed[SEG / 2] ^= 1;
    let src2 = f.file("b", &changed);
    for method in [Compression::Lz4, Compression::Zstd] {
        let err = wal_push(&f.storage, &n, &src2, method, None).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
        assert!(err.message.contains("000000010000000000000007"), "{}", err.message);
        assert!(err.hint.is_some());
    }
    assert_eq!(std::fs::read(&key).unwrap(), stored_before, "stored object changed");
}

#[tokio::test]
async fn history_files_are_protected_too() {
    let f = Fixture::new();
    let n = name("00000003.history");
    wal_push(&f.storage, &n, &f.file("h1", b"1\t0/3000000\tno recovery target\n"), Compression::Lz4, None)
        .await
        .unwrap();
    let err =
        wal_push(&f.storage, &n, &f.file("h2", b"1\t0/4000000\tother\n"), Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
}

#[tokio::test]
async fn a_damaged_stored_copy_is_not_overwritten() {
    let f = Fixture::new();
    let n = name("000000010000000000000008");
    let src = f.file("a", &segment(n.as_str(), 2));
    wal_push(&f.storage, &n, &src, Compression::Lz4, None).await.unwrap();
    let key = f.repo("wal_005/000000010000000000000008.lz4");
    let mut bytes = std::fs::read(&key).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&key, &bytes).unwrap();
    let err = wal_push(&f.storage, &n, &src, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), bytes);
}

#[tokio::test]
async fn a_missing_file_is_not_found_and_creates_nothing() {
    let f = Fixture::new();
    let dest = f.dir.path().join("RECOVERYXLOG");
    let err =
        wal_fetch(&f.storage, &name("000000010000000000000042"), &dest, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(!dest.exists());
    assert!(no_temp_files(f.dir.path()));
}

#[tokio::test]
async fn a_corrupt_object_fails_the_fetch_and_creates_nothing() {
    let f = Fixture::new();
    let n = name("000000010000000000000009");
    wal_push(&f.storage, &n, &f.file("a", &segment(n.as_str(), 3)), Compression::Zstd, None).await.unwrap();
    let key = f.repo("wal_005/000000010000000000000009.zst");
    let mut bytes = std::fs::read(&key).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&key, &bytes).unwrap();
    let dest = f.dir.path().join("RECOVERYXLOG");
    let err = wal_fetch(&f.storage, &n, &dest, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("wal_005/000000010000000000000009.zst"), "{}", err.message);
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_truncated_uncompressed_segment_is_refused() {
    let f = Fixture::new();
    let n = name("00000001000000000000000A");
    f.storage.put("wal_005/00000001000000000000000A", Bytes::from(vec![0u8; 1000])).await.unwrap();
    let dest = f.dir.path().join("RECOVERYXLOG");
    let err = wal_fetch(&f.storage, &n, &dest, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_short_segment_is_not_archived() {
    let f = Fixture::new();
    let n = name("00000001000000000000000B");
    let err = wal_push(&f.storage, &n, &f.file("short", &[1u8; 5000]), Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(f.storage.list("wal_005").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_source_is_a_local_error() {
    let f = Fixture::new();
    let err =
        wal_push(&f.storage, &name("00000001000000000000000C"), Path::new("/nonexistent/x"), Compression::Lz4, None)
            .await
            .unwrap_err();
    assert_eq!(err.kind, ErrorKind::LocalIo);
}

#[tokio::test]
async fn works_on_the_in_memory_store() {
    let storage = Storage::open(&Location::Memory, &Env::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s");
    let n = name("00000001000000000000000D");
    std::fs::write(&src, segment(n.as_str(), 4)).unwrap();
    wal_push(&storage, &n, &src, Compression::Lz4, None).await.unwrap();
    assert!(matches!(
        wal_push(&storage, &n, &src, Compression::Lz4, None).await.unwrap(),
        PushOutcome::AlreadyArchived { .. }
    ));
    let dest = dir.path().join("d");
    wal_fetch(&storage, &n, &dest, Compression::Lz4, None).await.unwrap();
    assert_eq!(std::fs::read(dest).unwrap(), segment(n.as_str(), 4));
}

fn no_temp_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("walrs-tmp"))
}

#[tokio::test]
async fn prefetch_fetches_the_next_segments_then_take_moves_them() {
    use walrs_core::ops::wal_prefetch::{prefetch_dir, take, wal_prefetch};
    let f = Fixture::new();
    for (i, seed) in [(1u8, 11u8), (2, 12), (3, 13)] {
        let name = WalFileName::parse(&format!("0000000100000000000000{i:02X}")).unwrap();
        let p = f.file(name.as_str(), &segment(name.as_str(), seed));
        wal_push(&f.storage, &name, &p, Compression::Lz4, None).await.unwrap();
    }
    let pg_wal = f.dir.path().join("pg_wal");
    std::fs::create_dir(&pg_wal).unwrap();
    let dest = pg_wal.join("RECOVERYXLOG");
    let dir = prefetch_dir(&dest);
    let first = WalFileName::parse("000000010000000000000001").unwrap();
    let report = wal_prefetch(&f.storage, &first, SEG as u64, &dir, 8, Compression::Lz4, None).await.unwrap();
    assert_eq!(report.fetched, ["000000010000000000000002", "000000010000000000000003"]);
    assert!(report.stopped.unwrap().contains("000000010000000000000004"));

    let source = f.storage.location().to_string();
    let second = WalFileName::parse("000000010000000000000002").unwrap();
    assert_eq!(take(&dir, &second, &source, &dest).unwrap(), Some(SEG as u64));
    assert_eq!(std::fs::read(&dest).unwrap(), segment("000000010000000000000002", 12));
    // Taken once: the next call for it goes to the repository.
    assert_eq!(take(&dir, &second, &source, &dest).unwrap(), None);
    // A second prefetch skips what is already there and fetches nothing new.
    let again = wal_prefetch(&f.storage, &second, SEG as u64, &dir, 8, Compression::Lz4, None).await.unwrap();
    assert!(again.fetched.is_empty());
    assert!(dir.join("000000010000000000000003").exists());
}

#[tokio::test]
async fn a_prefetcher_follows_later_requests_beyond_its_first_window() {
    use walrs_core::ops::wal_prefetch::{note_wanted, prefetch_dir, wal_prefetch};
    let f = Fixture::new();
    for i in 1u8..=6 {
        let name = WalFileName::parse(&format!("0000000100000000000000{i:02X}")).unwrap();
        let p = f.file(name.as_str(), &segment(name.as_str(), 20 + i));
        wal_push(&f.storage, &name, &p, Compression::Lz4, None).await.unwrap();
    }
    let pg_wal = f.dir.path().join("pg_wal");
    std::fs::create_dir(&pg_wal).unwrap();
    let dir = prefetch_dir(&pg_wal.join("RECOVERYXLOG"));
    // Recovery has since asked for segment 3: the prefetcher started for 1 (window of 2)
    // goes on from there instead of stopping at 3.
    note_wanted(&dir, &WalFileName::parse("000000010000000000000003").unwrap());
    let first = WalFileName::parse("000000010000000000000001").unwrap();
    let report = wal_prefetch(&f.storage, &first, SEG as u64, &dir, 2, Compression::Lz4, None).await.unwrap();
    assert_eq!(
        report.fetched,
        [
            "000000010000000000000002",
            "000000010000000000000003",
            "000000010000000000000004",
            "000000010000000000000005"
        ]
    );
    assert_eq!(std::fs::read(dir.join("000000010000000000000005")).unwrap(), segment("000000010000000000000005", 25));
    // A request on another timeline is not followed.
    note_wanted(&dir, &WalFileName::parse("000000020000000000000005").unwrap());
    let fifth = WalFileName::parse("000000010000000000000005").unwrap();
    let again = wal_prefetch(&f.storage, &fifth, SEG as u64, &dir, 1, Compression::Lz4, None).await.unwrap();
    assert_eq!(again.fetched, ["000000010000000000000006"]);
    assert!(again.stopped.is_none(), "{again:?}");
}

#[tokio::test]
async fn a_file_that_is_not_its_segment_is_not_archived() {
    let f = Fixture::new();
    let n = name("00000001000000000000000E");
    let zeros = f.file("zeros", &vec![0u8; SEG]);
    let err = wal_push(&f.storage, &n, &zeros, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("first page is zeros"), "{}", err.message);
    let other = f.file("other", &segment("00000001000000000000000F", 1));
    let err = wal_push(&f.storage, &n, &other, Compression::Lz4, None).await.unwrap_err();
    assert!(err.message.contains("at WAL position 0/F00000"), "{}", err.message);
    // Another cluster's segment of the same name.
    let own = f.file("own", &segment(n.as_str(), 1));
    let err = wal_push(&f.storage, &n, &own, Compression::Lz4, Some(42)).await.unwrap_err();
    assert!(err.message.contains("system identifier"), "{}", err.message);
    assert!(f.storage.list("wal_005").await.unwrap().is_empty());
    wal_push(&f.storage, &n, &own, Compression::Lz4, Some(SYSTEM_ID)).await.unwrap();
}

#[tokio::test]
async fn a_stored_object_that_is_not_its_segment_is_never_restored() {
    let f = Fixture::new();
    let dest = f.dir.path().join("RECOVERYXLOG");
    // Stored uncompressed (no checksum in the format): a hole of zeros, and another segment's bytes.
    let cases = [
        ("000000010000000000000010", vec![0u8; SEG]),
        ("000000010000000000000011", segment("000000010000000000000012", 1)),
    ];
    for (n, body) in cases {
        f.storage.put(&format!("wal_005/{n}"), Bytes::from(body)).await.unwrap();
        let err = wal_fetch(&f.storage, &name(n), &dest, Compression::Lz4, None).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
        assert!(err.message.contains(n), "{}", err.message);
        assert!(!dest.exists());
    }
    let n = name("000000010000000000000013");
    f.storage.put("wal_005/000000010000000000000013", Bytes::from(segment(n.as_str(), 1))).await.unwrap();
    let err = wal_fetch(&f.storage, &n, &dest, Compression::Lz4, Some(42)).await.unwrap_err();
    assert!(err.message.contains("system identifier"), "{}", err.message);
    wal_fetch(&f.storage, &n, &dest, Compression::Lz4, Some(SYSTEM_ID)).await.unwrap();
    assert!(no_temp_files(f.dir.path()));
}

#[tokio::test]
async fn two_writers_of_one_destination_never_share_a_temporary_file() {
    let f = Fixture::new();
    let n = name("000000010000000000000014");
    wal_push(&f.storage, &n, &f.file("a", &segment(n.as_str(), 5)), Compression::Lz4, None).await.unwrap();
    let dest = f.dir.path().join("000000010000000000000014");
    // What another writer has half written under the name a single shared temporary file had.
    let theirs = f.dir.path().join("000000010000000000000014.walrs-tmp");
    std::fs::write(&theirs, b"another writer's first bytes").unwrap();
    // A dead writer's leftover goes; a live writer's file stays.
    let dead = f.dir.path().join("000000010000000000000014.walrs-tmp.4294967.0");
    let live = f.dir.path().join(format!("000000010000000000000014.walrs-tmp.{}.{}", std::process::id(), u64::MAX));
    std::fs::write(&dead, b"left by a killed fetch").unwrap();
    std::fs::write(&live, b"being written").unwrap();
    wal_fetch(&f.storage, &n, &dest, Compression::Lz4, None).await.unwrap();
    assert!(!dead.exists(), "a dead writer's temporary file stays for ever");
    assert_eq!(std::fs::read(&live).unwrap(), b"being written");
    assert_eq!(std::fs::read(&theirs).unwrap(), b"another writer's first bytes");
    assert_eq!(std::fs::read(&dest).unwrap(), segment(n.as_str(), 5));
}

#[test]
fn a_missing_repository_directory_is_refused_never_created() {
    // An unmounted file system: the mount point is there, the repository in it is not.
    let mount = tempfile::tempdir().unwrap();
    let root = mount.path().join("walrs");
    let opened = Storage::open(&Location::parse(&format!("file://{}", root.display())).unwrap(), &Env::default());
    let Err(err) = opened else { panic!("a missing repository directory was accepted") };
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(err.message.contains(&root.display().to_string()), "{}", err.message);
    assert!(err.hint.as_deref().unwrap_or("").contains("mount"), "{:?}", err.hint);
    assert!(!root.exists(), "the repository directory was created");
    // A file where the directory should be is refused too.
    std::fs::write(&root, b"").unwrap();
    let err = Storage::open(&Location::parse(&format!("file://{}", root.display())).unwrap(), &Env::default()).err();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Config));
}

#[tokio::test]
async fn a_repository_that_goes_away_is_an_error_not_an_empty_archive() {
    let f = Fixture::new();
    let n = name("000000010000000000000015");
    let src = f.file(n.as_str(), &segment(n.as_str(), 1));
    // The file system is unmounted while the handle is open (an archiver runs for months).
    std::fs::remove_dir(f.dir.path().join("repo")).unwrap();
    let err = wal_push(&f.storage, &n, &src, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(!f.dir.path().join("repo").exists(), "the repository directory was created again");
    let dest = f.dir.path().join("RECOVERYXLOG");
    let err = wal_fetch(&f.storage, &n, &dest, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "a missing repository passed for a missing segment: {err}");
    assert!(f.storage.list("basebackups_005").await.is_err());
}

/// brotli and uncompressed objects carry no checksum of their own: a wrong object that decodes
/// cleanly (here, a valid encoding of other bytes) is caught by the checksum walrs stores
/// beside it when it archives.
#[tokio::test]
async fn a_wrong_brotli_or_uncompressed_object_is_caught_by_its_stored_checksum() {
    let f = Fixture::new();
    for (n, method) in
        [("000000010000000000000016", Compression::None), ("000000010000000000000017", Compression::Brotli)]
    {
        let original = segment(n, 1);
        wal_push(&f.storage, &name(n), &f.file(n, &original), method, None).await.unwrap();
        let mut other = original.clone();
        other[SEG / 2] ^= 0x01;
        let key = walrs_core::layout::wal_key(&name(n), method);
        let mut encoder = method.encoder(Vec::new()).unwrap();
        std::io::Write::write_all(&mut encoder, &other).unwrap();
        std::fs::write(f.repo(&key), encoder.finish().unwrap()).unwrap();
        let dest = f.dir.path().join("RECOVERYXLOG");
        let err = wal_fetch(&f.storage, &name(n), &dest, Compression::Lz4, None).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Corrupt, "{method:?}: {err}");
        assert!(err.message.contains("checksum"), "{method:?}: {}", err.message);
        assert!(!dest.exists());
    }
}

/// Whose a repository is: nobody's while empty, its WAL's system once a segment is stored
/// (whatever the compression), and the newest backup's that records one once there are backups.
#[tokio::test]
async fn a_repository_belongs_to_its_newest_backup_or_else_its_wal() {
    use walrs_core::ops::{check_owner, repository_owner, Owner};
    let f = Fixture::new();
    assert_eq!(repository_owner(&f.storage).await.unwrap(), Owner::Unknown);
    // Only a history file and another tool's file: still nobody's.
    let history = "00000002.history";
    wal_push(
        &f.storage,
        &name(history),
        &f.file(history, b"1\t0/3000000\tno recovery target\n"),
        Compression::Lz4,
        None,
    )
    .await
    .unwrap();
    f.storage.put("wal_005/notes.txt", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(repository_owner(&f.storage).await.unwrap(), Owner::Unknown);

    let n = "000000010000000000000003";
    wal_push(&f.storage, &name(n), &f.file(n, &segment(n, 1)), Compression::Zstd, None).await.unwrap();
    let owner = repository_owner(&f.storage).await.unwrap();
    assert_eq!(owner, Owner::Wal { key: format!("wal_005/{n}.zst"), system_id: SYSTEM_ID });
    check_owner(&owner, SYSTEM_ID, "file:///r").unwrap();
    assert_eq!(check_owner(&owner, SYSTEM_ID + 1, "file:///r").unwrap_err().kind, ErrorKind::Conflict);

    // Sentinels: one without an identifier (as older WAL-G wrote), a damaged one, and the
    // newest, which decides; each written a little later than the one before.
    let sentinel = |name: &str, body: &str| {
        let key = format!("basebackups_005/{name}_backup_stop_sentinel.json");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::create_dir_all(f.repo("basebackups_005")).unwrap();
        std::fs::write(f.repo(&key), body).unwrap();
    };
    sentinel("base_000000010000000000000002", r#"{"LSN":33554472,"SystemIdentifier":42}"#);
    sentinel("base_000000010000000000000004", r#"{"LSN":67108904}"#);
    assert_eq!(
        repository_owner(&f.storage).await.unwrap(),
        Owner::Backup { name: "base_000000010000000000000002".into(), system_id: 42 },
        "an older backup that records it, before any WAL"
    );
    sentinel("base_000000010000000000000006", r#"{"LSN":100663336,"SystemIdentifier":43}"#);
    sentinel("base_000000010000000000000008", "{ damaged");
    assert_eq!(
        repository_owner(&f.storage).await.unwrap(),
        Owner::Backup { name: "base_000000010000000000000006".into(), system_id: 43 },
        "the newest readable one"
    );
}
