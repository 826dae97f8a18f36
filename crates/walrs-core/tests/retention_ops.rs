//! `delete` and `backup-mark` against a file:// repository laid out as WAL-G lays it out.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use bytes::Bytes;
use walrs_core::backup::list_backups;
use walrs_core::env::Env;
use walrs_core::ops::{backup_mark, delete};
use walrs_core::retention::Policy;
use walrs_core::storage::{Location, Storage};

fn seg(n: u64) -> String {
    format!("00000001{:08X}{:08X}", n >> 8, n & 0xFF)
}

/// A complete backup starting in segment `n`, `day` days into November 2026.
async fn put_backup(s: &Storage, n: u64, day: u32) -> String {
    let name = format!("base_{}", seg(n));
    let sentinel = format!(
        r#"{{"LSN":{},"FinishLSN":{},"PgVersion":150010,"StartTime":"2026-11-{day:02}T00:00:00Z","IsPermanent":false,"DeltaLSN":null}}"#,
        (n << 24) | 0x28,
        ((n + 1) << 24) | 0x100
    );
    let dir = format!("basebackups_005/{name}");
    s.put(&format!("{dir}/tar_partitions/part_1.tar.lz4"), Bytes::from_static(b"data")).await.unwrap();
    s.put(&format!("{dir}/metadata.json"), Bytes::from_static(br#"{"is_permanent":false}"#)).await.unwrap();
    s.put(&format!("{dir}_backup_stop_sentinel.json"), Bytes::from(sentinel)).await.unwrap();
    name
}

async fn keys(s: &Storage, dir: &str) -> Vec<String> {
    s.list(dir).await.unwrap().into_iter().map(|o| o.key).collect()
}

#[tokio::test]
async fn retain_deletes_old_backups_and_their_wal_but_not_permanent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        Storage::open(&Location::parse(&format!("file://{}", dir.path().display())).unwrap(), &Env::default()).unwrap();
    let names = [put_backup(&s, 2, 1).await, put_backup(&s, 5, 2).await, put_backup(&s, 9, 3).await];
    for n in 1..12 {
        s.put(&format!("wal_005/{}.lz4", seg(n)), Bytes::from_static(b"wal")).await.unwrap();
    }
    s.put("wal_005/00000002.history.lz4", Bytes::from_static(b"1\t0/5000000\tno recovery target")).await.unwrap();

    assert!(backup_mark(&s, &names[0], true).await.unwrap().changed);
    assert!(!backup_mark(&s, &names[0], true).await.unwrap().changed);
    let sentinel = s.get(&format!("basebackups_005/{}_backup_stop_sentinel.json", names[0])).await.unwrap().unwrap();
    assert!(std::str::from_utf8(&sentinel).unwrap().contains("\"DeltaLSN\":null"), "unknown fields survive");
    assert!(backup_mark(&s, "LATEST", true).await.is_err());

    let now = chrono::Utc::now();
    let dry = delete(&s, &Policy::RetainFull(1), now, true, None).await.unwrap();
    assert!(!dry.executed);
    assert_eq!(dry.deleted().iter().filter(|d| d.kind.as_str() == "backup").count(), 1, "{:?}", dry.plan);
    assert_eq!(keys(&s, "wal_005").await.len(), 12, "a dry run deletes nothing");

    let done = delete(&s, &Policy::RetainFull(1), now, false, None).await.unwrap();
    assert_eq!(done.deleted().len(), dry.deleted().len());
    let (listed, _) = list_backups(&s).await.unwrap();
    let listed: Vec<&str> = listed.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(listed, vec![names[0].as_str(), names[2].as_str()]);
    assert!(keys(&s, &format!("basebackups_005/{}", names[1])).await.is_empty(), "its objects are gone");
    assert!(!dir.path().join("basebackups_005").join(&names[1]).exists(), "and so is its folder");
    // Kept: the permanent backup's own WAL (2..3), everything from the newest (9), history.
    let wal = keys(&s, "wal_005").await;
    let expected: Vec<String> = [2, 3, 9, 10, 11]
        .iter()
        .map(|&n| format!("wal_005/{}.lz4", seg(n)))
        .chain(["wal_005/00000002.history.lz4".to_string()])
        .collect();
    let mut wal_sorted = wal.clone();
    wal_sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(wal_sorted, expected_sorted);
    assert!(delete(&s, &Policy::RetainFull(1), now, false, None).await.unwrap().deleted().is_empty());

    backup_mark(&s, &names[0], false).await.unwrap();
    let third = delete(&s, &Policy::RetainFull(1), now, false, None).await.unwrap();
    assert_eq!(third.deleted().iter().filter(|d| d.kind.as_str() == "backup").count(), 1);
}

#[tokio::test]
async fn garbage_removes_uploads_a_crash_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        Storage::open(&Location::parse(&format!("file://{}", dir.path().display())).unwrap(), &Env::default()).unwrap();
    let kept = put_backup(&s, 9, 3).await;
    // What object_store's local store leaves of an upload interrupted by a crash.
    let staged = dir.path().join("basebackups_005/base_000000010000000000000005/tar_partitions");
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("part_001.tar.lz4#1"), b"half a partition").unwrap();
    let report = delete(&s, &Policy::Garbage, chrono::Utc::now(), false, Some(false)).await.unwrap();
    let partial: Vec<&str> =
        report.deleted().iter().filter(|d| d.kind.as_str() == "partial_backup").map(|d| d.name.as_str()).collect();
    assert_eq!(partial, vec!["base_000000010000000000000005"]);
    assert!(!dir.path().join("basebackups_005/base_000000010000000000000005").exists(), "the folder is gone");
    assert!(dir.path().join(format!("basebackups_005/{kept}_backup_stop_sentinel.json")).exists());
}

#[tokio::test]
async fn deleted_wal_takes_its_checksum_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        Storage::open(&Location::parse(&format!("file://{}", dir.path().display())).unwrap(), &Env::default()).unwrap();
    put_backup(&s, 2, 1).await;
    put_backup(&s, 5, 2).await;
    // Brotli WAL, each with the checksum walrs keeps beside it.
    for n in 1..7 {
        s.put(&format!("wal_005/{}.br", seg(n)), Bytes::from_static(b"wal")).await.unwrap();
        s.put(&format!("walrs_wal_checksums/{}.json", seg(n)), Bytes::from_static(b"{}")).await.unwrap();
    }
    delete(&s, &Policy::RetainFull(1), chrono::Utc::now(), false, None).await.unwrap();
    let left: Vec<String> = keys(&s, "walrs_wal_checksums").await;
    let expected: Vec<String> = (5..7).map(|n| format!("walrs_wal_checksums/{}.json", seg(n))).collect();
    assert_eq!(left, expected);
}
