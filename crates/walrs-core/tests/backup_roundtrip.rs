//! A backup written by walrs lists, restores byte for byte, and verifies what it restores.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use walrs_core::backup::{find_backup, list_backups};
use walrs_core::body::WriteStages;
use walrs_core::compress::Compression;
use walrs_core::env::Env;
use walrs_core::lsn::{Lsn, DEFAULT_SEGMENT_SIZE};
use walrs_core::monitor::backup::ProgressCounters;
use walrs_core::ops::backup_push::{
    backup_name, complete, upload_files, upload_files_watched, BackupRequest, ServerFacts, Started, Stopped,
};
use walrs_core::ops::{backup_fetch, backup_fetch_with, TablespaceMapping};
use walrs_core::storage::{Location, Storage};

fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 == 0 {
                0
            } else {
                x as u8
            }
        })
        .collect()
}

const LONG: &str =
    "base/16384/a_very_long_relation_file_name_that_does_not_fit_in_the_one_hundred_bytes_of_an_old_tar_header_1";

fn make_data_dir(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("PG_VERSION", b"15\n".to_vec()),
        ("global/pg_control", noise(8192, 1)),
        ("global/1262", noise(8192, 2)),
        ("base/1/1259", noise(3 << 20, 3)),
        ("base/1/1259_fsm", noise(24576, 4)),
        ("base/5/2600", noise(1 << 20, 5)),
        (LONG, noise(5000, 6)),
        ("postgresql.conf", b"shared_buffers = 128MB\n".to_vec()),
    ];
    for (rel, data) in &files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    for (rel, data) in [("postmaster.pid", &b"123"[..]), ("pg_wal/000000010000000000000002", &[7u8; 4096][..])] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    files
}

fn request(data: &Path, compression: Compression) -> BackupRequest {
    BackupRequest {
        data_dir: data.to_path_buf(),
        compression,
        partition_size: 1 << 20,
        concurrency: 3,
        data_checksums: false,
        fail_on_corrupt_pages: false,
    }
}

/// The backup that starts at 0/2000028, and how it stops and on which server.
fn started() -> Started {
    let start_lsn = Lsn(0x2000028);
    Started { name: backup_name(1, start_lsn, DEFAULT_SEGMENT_SIZE).unwrap(), start_lsn, start_time: SystemTime::now() }
}

fn stopped() -> (Stopped, ServerFacts) {
    let stopped = Stopped {
        finish_lsn: Lsn(0x2000100),
        backup_label: "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n".into(),
        tablespace_map: String::new(),
        finish_time: SystemTime::now(),
    };
    let facts =
        ServerFacts { pg_version: 150020, system_identifier: Some(42), hostname: "test".into(), is_permanent: false };
    (stopped, facts)
}

async fn push(storage: &Storage, data: &Path, compression: Compression) -> String {
    let (req, started) = (request(data, compression), started());
    let counters = Arc::new(ProgressCounters::default());
    let uploaded = upload_files_watched(storage, &req, &started, counters.clone()).await.unwrap();
    assert!(uploaded.uncompressed_bytes > 4 << 20);
    // What a watcher was told adds up to what was stored: every byte and file of the inventory,
    // several partitions (1 MiB each) and pg_control.tar.
    let c = counters.counts();
    assert_eq!((c.bytes_done, c.bytes_total), (uploaded.uncompressed_bytes, uploaded.uncompressed_bytes));
    assert_eq!(c.files_done, c.files_total);
    assert!(c.files_total > 3 && c.partitions_uploaded > 3, "{c:?}");
    let (listed, _) = list_backups(storage).await.unwrap();
    assert!(listed.is_empty(), "a backup must be invisible before its sentinel");
    let (stopped, facts) = stopped();
    complete(storage, &req, &started, &uploaded, &stopped, &facts).await.unwrap();
    started.name.to_string()
}

fn storage(dir: &Path) -> Storage {
    std::fs::create_dir_all(dir.join("repo")).unwrap();
    Storage::open(&Location::parse(&format!("file://{}/repo", dir.display())).unwrap(), &Env::default()).unwrap()
}

#[tokio::test]
async fn push_list_fetch_round_trip() {
    for compression in [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::None] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let files = make_data_dir(&data);
        let s = storage(dir.path());
        let name = push(&s, &data, compression).await;
        assert_eq!(name, "base_000000010000000000000002");
        let parts: Vec<String> =
            std::fs::read_dir(dir.path().join("repo/basebackups_005").join(&name).join("tar_partitions"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        assert!(parts.len() >= 5, "{compression:?}: partitions of 1 MiB expected, got {parts:?}");

        let (backups, problems) = list_backups(&s).await.unwrap();
        assert!(problems.is_empty());
        assert_eq!(backups.len(), 1);
        assert_eq!(backups[0].sentinel.pg_version, 150020);
        assert_eq!(backups[0].sentinel.finish_lsn().to_string(), "0/2000100");

        let restored = dir.path().join("restored");
        let b = find_backup(&s, "LATEST").await.unwrap();
        backup_fetch(&s, &b, &restored, &|_| {}).await.unwrap();
        for (rel, want) in &files {
            assert!(std::fs::read(restored.join(rel)).unwrap() == *want, "{compression:?}: {rel} differs");
        }
        assert!(!restored.join("postmaster.pid").exists());
        assert!(!restored.join("pg_wal/000000010000000000000002").exists());
        assert!(restored.join("pg_wal/archive_status").is_dir());
        assert!(std::fs::read_to_string(restored.join("backup_label"))
            .unwrap()
            .starts_with("START WAL LOCATION: 0/2000028"));
    }
}

#[tokio::test]
async fn a_flipped_byte_in_an_uncompressed_partition_is_caught_by_the_file_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let s = storage(dir.path());
    let name = push(&s, &data, Compression::None).await;
    let parts = dir.path().join("repo/basebackups_005").join(&name).join("tar_partitions");
    // The 3 MiB file fills partitions of its own; damage one byte of its contents.
    let victim = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[4096] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let b = find_backup(&s, "LATEST").await.unwrap();
    let restored = dir.path().join("restored");
    let err = backup_fetch(&s, &b, &restored, &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt, "{err}");
    let victim_name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.message.contains(&victim_name) && err.message.contains("fails verification"), "{}", err.message);
    assert!(!restored.join("global/pg_control").exists());
}

#[tokio::test]
async fn a_failed_attempt_leaves_nothing_a_later_backup_of_the_same_name_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = make_data_dir(&data);
    let s = storage(dir.path());
    // A failed earlier attempt under the same name, with more partitions than the real one.
    let stale = "basebackups_005/base_000000010000000000000002/tar_partitions/part_099.tar.lz4";
    let junk = {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        tar.append_data(&mut h, "PG_VERSION", &b"99\n"[..]).unwrap();
        WriteStages::new(Compression::Lz4).encode(&tar.into_inner().unwrap()).unwrap()
    };
    s.put(stale, junk.into()).await.unwrap();
    push(&s, &data, Compression::Lz4).await;
    assert!(!s.exists(stale).await.unwrap(), "leftovers of a failed attempt must be cleared");
    // Even if a leftover appears, restore takes only the partitions the backup recorded.
    s.put(stale, WriteStages::new(Compression::Lz4).encode(b"not even a tar").unwrap().into()).await.unwrap();
    let b = find_backup(&s, "LATEST").await.unwrap();
    let restored = dir.path().join("restored");
    backup_fetch(&s, &b, &restored, &|_| {}).await.unwrap();
    assert_eq!(std::fs::read(restored.join("PG_VERSION")).unwrap(), files[0].1);
    // A complete backup is never overwritten.
    let req = BackupRequest {
        data_dir: data.clone(),
        compression: Compression::Lz4,
        partition_size: 1 << 20,
        concurrency: 1,
        data_checksums: false,
        fail_on_corrupt_pages: false,
    };
    let started = Started { name: b.name.clone(), start_lsn: Lsn(0x2000028), start_time: SystemTime::now() };
    let err = upload_files(&s, &req, &started).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Conflict);
}

#[tokio::test]
async fn tablespaces_are_backed_up_and_restored_where_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let ts = dir.path().join("ts1");
    let rel = "PG_15_202209061/5/16400";
    std::fs::create_dir_all(ts.join("PG_15_202209061/5")).unwrap();
    std::fs::write(ts.join(rel), noise(100_000, 9)).unwrap();
    std::fs::create_dir_all(data.join("pg_tblspc")).unwrap();
    std::os::unix::fs::symlink(&ts, data.join("pg_tblspc/16385")).unwrap();
    let s = storage(dir.path());
    push(&s, &data, Compression::Zstd).await;
    let b = find_backup(&s, "LATEST").await.unwrap();
    let specs = b.sentinel.tablespaces();
    assert_eq!(specs.len(), 1);
    assert_eq!((specs[0].oid.as_str(), specs[0].location.as_str()), ("16385", ts.to_str().unwrap()));

    // Restoring to the old place is refused while it holds files; a mapping moves it.
    let err = backup_fetch(&s, &b, &dir.path().join("r1"), &|_| {}).await.unwrap_err();
    assert!(err.message.contains("is not empty") && err.message.contains("ts1"), "{}", err.message);
    assert!(!dir.path().join("r1").exists(), "nothing may be written when a target is refused");
    let moved = dir.path().join("ts1-restored");
    let mapping: TablespaceMapping = [(ts.to_string_lossy().into_owned(), moved.clone())].into();
    let restored = dir.path().join("r2");
    let report = backup_fetch_with(&s, &b, &restored, &mapping, &|_| {}).await.unwrap();
    assert_eq!(report.tablespaces.iter().map(|(_, dir)| dir.clone()).collect::<Vec<_>>(), vec![moved.clone()]);
    assert_eq!(std::fs::read_link(restored.join("pg_tblspc/16385")).unwrap(), moved);
    assert!(std::fs::read(moved.join(rel)).unwrap() == noise(100_000, 9));
    let bad: TablespaceMapping = [("/no/such/ts".to_string(), moved.clone())].into();
    let err = backup_fetch_with(&s, &b, &dir.path().join("r3"), &bad, &|_| {}).await.unwrap_err();
    assert!(err.message.contains("matches no tablespace"), "{}", err.message);
}

#[tokio::test]
async fn backup_verify_checks_every_file_and_names_the_damaged_one() {
    use walrs_core::ops::backup_verify;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let s = storage(dir.path());
    let name = push(&s, &data, Compression::None).await;
    // The WAL the backup needs (its start and finish are both in segment 2).
    s.put(
        "wal_005/000000010000000000000002.lz4",
        WriteStages::new(Compression::Lz4).encode(&vec![0u8; 16 << 20]).unwrap().into(),
    )
    .await
    .unwrap();
    let b = find_backup(&s, "LATEST").await.unwrap();
    let checks = backup_verify(&s, std::slice::from_ref(&b), &|_| {}).await.unwrap();
    let c = &checks[0];
    assert!(c.is_ok(), "{:?}", c.problems);
    assert!(c.checksums_recorded);
    assert_eq!(c.files, 10, "8 data files, backup_label and tablespace_map");
    assert_eq!(c.files_checksummed, 8, "every data file has a checksum (the label tar's files are not listed)");
    assert_eq!((c.wal_first.as_str(), c.wal_last.as_str()), ("000000010000000000000002", "000000010000000000000002"));

    // One flipped byte in the big file: the check goes on and names file and object.
    let parts = dir.path().join("repo/basebackups_005").join(&name).join("tar_partitions");
    let victim = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[4096] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    std::fs::remove_file(dir.path().join("repo/wal_005/000000010000000000000002.lz4")).unwrap();
    let c = &backup_verify(&s, &[b], &|_| {}).await.unwrap()[0];
    let victim_name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        c.problems
            .iter()
            .any(|p| p.contains(&victim_name) && p.contains("base/1/1259") && p.contains("fails verification")),
        "{:?}",
        c.problems
    );
    assert_eq!(c.wal_missing, vec!["000000010000000000000002".to_string()]);
    assert!(c.objects.iter().all(|o| o.problem.is_none()), "the tar structure itself is fine");
}

/// Real pages with checksums (tests/data/README.md): four blocks of pg_class.
const PG_CLASS: &[u8] = include_bytes!("data/pg15_pg_class_blocks_0-3.bin");

#[tokio::test]
async fn page_checksums_are_verified_recorded_and_can_fail_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let mut damaged = PG_CLASS.to_vec();
    damaged[2 * 8192 + 5000] ^= 0x01; // block 2
    for (rel, bytes) in [
        ("base/1/1259", PG_CLASS.to_vec()),
        ("base/5/2600", damaged.clone()),
        // Good pages, but in the second segment file: their block numbers are 131072.., so the
        // checksums (which mix in the block number) do not match.
        ("base/5/2601.1", PG_CLASS.to_vec()),
        ("base/5/t3_2602", damaged.clone()), // temporary relation: not checked
        ("global/pg_filenode.map", damaged), // not a relation file
    ] {
        std::fs::write(data.join(rel), bytes).unwrap();
    }
    let s = storage(dir.path());
    let req = |data_checksums, fail_on_corrupt_pages| BackupRequest {
        data_dir: data.clone(),
        compression: Compression::Lz4,
        partition_size: 1 << 20,
        concurrency: 2,
        data_checksums,
        fail_on_corrupt_pages,
    };
    let start_lsn = Lsn(0x2000028); // after every page's LSN: all are checked
    let started = Started {
        name: backup_name(1, start_lsn, DEFAULT_SEGMENT_SIZE).unwrap(),
        start_lsn,
        start_time: SystemTime::now(),
    };

    // Failing is an option: the error names the file and block, and no backup appears.
    let err = upload_files(&s, &req(true, true), &started).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt);
    assert!(
        err.message.contains("base/5/2600 block 2") && err.message.contains("5 page(s) in 2 file(s)"),
        "{}",
        err.message
    );
    assert!(list_backups(&s).await.unwrap().0.is_empty());

    // Recording is the default: the pages are stored as read and listed in files_metadata.json.
    let uploaded = upload_files(&s, &req(true, false), &started).await.unwrap();
    let corrupt: Vec<(String, Vec<u32>)> = uploaded.corrupt_files().into_iter().map(|f| (f.rel, f.blocks)).collect();
    assert_eq!(
        corrupt,
        vec![("base/5/2600".to_string(), vec![2]), ("base/5/2601.1".to_string(), (131072..131076).collect())]
    );
    let stopped = Stopped {
        finish_lsn: Lsn(0x2000100),
        backup_label: "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n".into(),
        tablespace_map: String::new(),
        finish_time: SystemTime::now(),
    };
    let facts = ServerFacts { pg_version: 150020, system_identifier: None, hostname: "t".into(), is_permanent: false };
    complete(&s, &req(true, false), &started, &uploaded, &stopped, &facts).await.unwrap();
    let meta = std::fs::read(dir.path().join("repo/basebackups_005/base_000000010000000000000002/files_metadata.json"))
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(
        meta["Files"]["base/5/2600"]["CorruptBlocks"],
        serde_json::json!({"CorruptBlocksCount": 1, "SomeCorruptBlocks": [2]})
    );
    assert_eq!(meta["Files"]["base/5/2601.1"]["CorruptBlocks"]["CorruptBlocksCount"], 4);
    for clean in ["base/1/1259", "base/5/t3_2602", "global/pg_filenode.map", "PG_VERSION"] {
        assert!(meta["Files"][clean].get("CorruptBlocks").is_none(), "{clean}");
    }
    let restored = dir.path().join("restored");
    backup_fetch(&s, &find_backup(&s, "LATEST").await.unwrap(), &restored, &|_| {}).await.unwrap();
    assert!(std::fs::read(restored.join("base/5/2600")).unwrap() == std::fs::read(data.join("base/5/2600")).unwrap());

    // Without data checksums nothing is verified.
    let other = tempfile::tempdir().unwrap();
    let s2 = storage(other.path());
    let uploaded = upload_files(&s2, &req(false, true), &started).await.unwrap();
    assert!(uploaded.corrupt_files().is_empty());
}

#[tokio::test]
async fn a_backup_missing_its_file_list_or_a_partition_is_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let s = storage(dir.path());
    let name = push(&s, &data, Compression::Lz4).await;
    let backup_dir = dir.path().join("repo/basebackups_005").join(&name);
    let b = find_backup(&s, "LATEST").await.unwrap();

    // A partition gone: the restore names it, and writes nothing.
    let part = backup_dir.join("tar_partitions/part_002.tar.lz4");
    let saved = std::fs::read(&part).unwrap();
    std::fs::remove_file(&part).unwrap();
    let restored = dir.path().join("restored-1");
    let err = backup_fetch(&s, &b, &restored, &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("part_002.tar"), "{}", err.message);
    assert!(!restored.join("global/pg_control").exists());
    std::fs::write(&part, saved).unwrap();

    // files_metadata.json gone, while the sentinel says the backup wrote one: corruption,
    // not a restore without completeness checks.
    std::fs::remove_file(backup_dir.join("files_metadata.json")).unwrap();
    let restored = dir.path().join("restored-2");
    let err = backup_fetch(&s, &b, &restored, &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("files_metadata.json"), "{}", err.message);
    assert!(!restored.join("global/pg_control").exists());
}

#[tokio::test]
async fn no_sentinel_is_written_while_a_partition_it_records_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_data_dir(&data);
    let s = storage(dir.path());
    let (req, started) = (request(&data, Compression::Lz4), started());
    let uploaded = upload_files(&s, &req, &started).await.unwrap();
    // Removed meanwhile (a retention run that took the folder for a leftover).
    let parts = dir.path().join("repo/basebackups_005/base_000000010000000000000002/tar_partitions");
    std::fs::remove_file(parts.join("part_001.tar.lz4")).unwrap();
    let (stopped, facts) = stopped();
    let err = complete(&s, &req, &started, &uploaded, &stopped, &facts).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("part_001.tar.lz4"), "{}", err.message);
    assert!(!dir.path().join("repo/basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json").exists());
    assert!(list_backups(&s).await.unwrap().0.is_empty());
}
