//! Reading repositories another WAL-G-format tool wrote (../shared/fixtures/walg-format):
//! listing, backup restore onto disk, and WAL fetch, for lz4, zstd and brotli.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use walrs_core::backup::{find_backup, list_backups};
use walrs_core::body::WriteStages;
use walrs_core::compress::Compression;
use walrs_core::env::Env;
use walrs_core::ops::{backup_fetch, wal_fetch};
use walrs_core::storage::{Location, Storage};
use walrs_core::wal::WalFileName;

async fn open(method: &str) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    walrs_fixtures::copy_repository(method, &dir.path().join("repo"));
    std::fs::create_dir_all(dir.path().join("repo")).unwrap();
    let loc = Location::parse(&format!("file://{}/repo", dir.path().display())).unwrap();
    (dir, Storage::open(&loc, &Env::default()).unwrap())
}

#[tokio::test]
async fn lists_restores_and_fetches_wal_from_every_fixture() {
    for method in ["lz4", "zstd", "brotli"] {
        let (dir, storage) = open(method).await;
        let (backups, problems) = list_backups(&storage).await.unwrap();
        assert!(problems.is_empty(), "{method}: {problems:?}");
        assert_eq!(backups.len(), 1, "{method}");
        let b = &backups[0];
        assert_eq!(b.name.as_str(), "base_000000010000000000000002");
        assert_eq!(b.timeline(), 1);
        assert_eq!(b.sentinel.pg_version, 150020);
        assert_eq!(find_backup(&storage, "LATEST").await.unwrap(), *b);

        let data = dir.path().join("data");
        let report = backup_fetch(&storage, b, &data, &|_| {}).await.unwrap();
        assert_eq!(report.objects, 3, "{method}: two parts and pg_control");
        assert!(report.bytes > 20 << 20, "{method}: {report:?}");
        assert_eq!(std::fs::read_to_string(data.join("PG_VERSION")).unwrap().trim(), "15");
        assert_eq!(std::fs::metadata(data.join("global/pg_control")).unwrap().len(), 8192);
        assert!(data.join("backup_label").is_file(), "{method}: backup_label restored");
        assert!(data.join("pg_wal/archive_status").is_dir());

        for seg in 1..=4 {
            let name = WalFileName::parse(&format!("0000000100000000000000{seg:02X}")).unwrap();
            let dest = dir.path().join(format!("seg{seg}"));
            wal_fetch(&storage, &name, &dest, Compression::Lz4, None).await.unwrap();
            assert_eq!(std::fs::metadata(&dest).unwrap().len(), 16 << 20, "{method} {name}");
        }
        let backup_history = WalFileName::parse("000000010000000000000002.00000028.backup").unwrap();
        wal_fetch(&storage, &backup_history, &dir.path().join("bh"), Compression::Lz4, None).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("bh")).unwrap();
        assert!(text.contains("START WAL LOCATION: 0/2000028"), "{text}");
    }
}

#[tokio::test]
async fn refuses_a_non_empty_target_and_unknown_backups() {
    let (dir, storage) = open("lz4").await;
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("PG_VERSION"), "15").unwrap();
    let b = find_backup(&storage, "LATEST").await.unwrap();
    let err = backup_fetch(&storage, &b, &data, &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::InvalidInput);
    assert!(err.message.contains("not empty"), "{}", err.message);

    let err = find_backup(&storage, "base_000000010000000000000009").await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::NotFound);
    let err = find_backup(&storage, "../etc").await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_damaged_partition_fails_the_restore_naming_the_object_and_leaves_no_pg_control() {
    // These lz4 frames carry no checksum (the other tool did not ask for one), so a flipped data
    // byte would pass; a truncated object is caught by the frame and tar structure.
    let (dir, storage) = open("lz4").await;
    let part = dir.path().join("repo/basebackups_005/base_000000010000000000000002/tar_partitions/part_001.tar.lz4");
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
    let b = find_backup(&storage, "LATEST").await.unwrap();
    let data = dir.path().join("data");
    let err = backup_fetch(&storage, &b, &data, &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("part_001.tar.lz4"), "{}", err.message);
    assert!(!data.join("global/pg_control").exists(), "a failed restore must not look startable");
}

#[tokio::test]
async fn a_backup_without_its_sentinel_is_invisible() {
    let (dir, storage) = open("zstd").await;
    std::fs::remove_file(
        dir.path().join("repo/basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json"),
    )
    .unwrap();
    let (backups, _) = list_backups(&storage).await.unwrap();
    assert!(backups.is_empty());
    assert_eq!(find_backup(&storage, "LATEST").await.unwrap_err().kind, walrs_core::ErrorKind::NotFound);
    assert_eq!(
        find_backup(&storage, "base_000000010000000000000002").await.unwrap_err().kind,
        walrs_core::ErrorKind::NotFound
    );
}

#[tokio::test]
async fn backup_verify_reads_walg_backups_and_says_checksums_were_not_recorded() {
    use walrs_core::ops::backup_verify;
    for method in ["lz4", "zstd", "brotli"] {
        let (dir, storage) = open(method).await;
        let b = find_backup(&storage, "LATEST").await.unwrap();
        let c = &backup_verify(&storage, std::slice::from_ref(&b), &|_| {}).await.unwrap()[0];
        assert!(c.is_ok(), "{method}: {:?}", c.problems);
        assert!(!c.checksums_recorded, "{method}");
        assert_eq!(c.files_checksummed, 0);
        assert_eq!(c.objects.len(), 3);
        assert!(c.files > 900 && c.bytes > 20 << 20, "{method}: {c:?}");

        // Damage: part_001 cut in half, segment 2 gone.
        let part = dir.path().join(format!(
            "repo/basebackups_005/base_000000010000000000000002/tar_partitions/part_001.tar.{}",
            match method {
                "zstd" => "zst",
                "brotli" => "br",
                m => m,
            }
        ));
        let bytes = std::fs::read(&part).unwrap();
        std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
        let seg = std::fs::read_dir(dir.path().join("repo/wal_005"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let f = p.file_name().unwrap().to_string_lossy().into_owned();
                f.starts_with("000000010000000000000002.") && !f.contains(".backup")
            })
            .unwrap();
        std::fs::remove_file(seg).unwrap();
        let c = &backup_verify(&storage, &[b], &|_| {}).await.unwrap()[0];
        let broken = c.objects.iter().find(|o| o.key.contains("part_001")).unwrap();
        assert!(broken.problem.is_some(), "{method}: {c:?}");
        assert!(c.problems.iter().any(|p| p.contains("part_001")), "{method}: {:?}", c.problems);
        assert!(c.problems.iter().any(|p| p.contains("files_metadata.json are in no object")), "{:?}", c.problems);
        assert_eq!(c.wal_missing, vec!["000000010000000000000002".to_string()], "{method}");
    }
}

#[tokio::test]
async fn wal_verify_reads_history_files_and_measures_the_segment_size() {
    use walrs_core::ops::wal_verify::{wal_verify, GapStatus};
    let (dir, storage) = open("lz4").await;
    let wal = dir.path().join("repo/wal_005");
    // Timeline 2 branched off 1 in segment 4: its own copy of 4, then 5.
    let history = WriteStages::new(Compression::Lz4).encode(b"1\t0/4000060\tno recovery target specified\n").unwrap();
    std::fs::write(wal.join("00000002.history.lz4"), history).unwrap();
    for seg in ["000000020000000000000004", "000000020000000000000005"] {
        std::fs::copy(wal.join("000000010000000000000004.lz4"), wal.join(format!("{seg}.lz4"))).unwrap();
    }
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let r = wal_verify(&storage, later).await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.segment_size, 16 << 20, "measured from a stored segment");
    let t2 = r.timelines.iter().find(|t| t.timeline == 2).unwrap();
    assert_eq!(t2.parent.as_ref().map(|p| (p.parent, p.switchpoint.to_string())), Some((1, "0/4000060".into())));
    assert_eq!(t2.checked[0].first, "000000020000000000000004");
    // Timeline 1 ends before segment 4 (its child's copy is used): 2..3 checked.
    let t1 = r.timelines.iter().find(|t| t.timeline == 1).unwrap();
    assert_eq!(t1.checked[0].last, "000000010000000000000004", "the newest stored segment of 1");

    std::fs::remove_file(wal.join("000000010000000000000003.lz4")).unwrap();
    let r = wal_verify(&storage, later).await.unwrap();
    assert_eq!(r.lost_segments, 1, "{r:?}");
    let t1 = r.timelines.iter().find(|t| t.timeline == 1).unwrap();
    assert_eq!(t1.gaps[0].first, "000000010000000000000003");
    assert_eq!(t1.gaps[0].status, GapStatus::Lost);
    // Stored just now: the same hole is still uploading.
    let r = wal_verify(&storage, chrono::Utc::now()).await.unwrap();
    assert_eq!((r.lost_segments, r.uploading_segments), (0, 1), "{r:?}");

    std::fs::write(wal.join("00000002.history.lz4"), WriteStages::new(Compression::Lz4).encode(b"garbage").unwrap())
        .unwrap();
    let r = wal_verify(&storage, later).await.unwrap();
    assert!(r.problems.iter().any(|p| p.contains("00000002.history")), "{:?}", r.problems);
}

/// The libsodium fixture opened with `env` (its key, another key, or none).
fn open_sodium(env: Env) -> (tempfile::TempDir, walrs_core::Result<Storage>) {
    let dir = tempfile::tempdir().unwrap();
    walrs_fixtures::copy_repository("libsodium-lz4", &dir.path().join("repo"));
    let loc = Location::parse(&format!("file://{}/repo", dir.path().display())).unwrap();
    let opened = Storage::open(&loc, &env);
    (dir, opened)
}

fn sodium_key() -> String {
    std::fs::read_to_string(walrs_fixtures::walg_format().join("libsodium-lz4.key")).unwrap().trim().to_string()
}

const SEGMENTS: [&str; 5] = [
    "000000010000000000000001",
    "000000010000000000000002",
    "000000010000000000000003",
    "000000010000000000000004",
    "000000010000000000000002.00000028.backup",
];

#[tokio::test]
async fn the_libsodium_fixture_restores_and_fetches_with_its_key() {
    let key = sodium_key();
    // From a key file too, as WALG_LIBSODIUM_KEY_PATH gives it (trailing newline and all).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{key}\n")).unwrap();
    let path = file.path().to_str().unwrap().to_string();
    for env in [
        Env::from_pairs(&[("WALG_LIBSODIUM_KEY", &key), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")]),
        Env::from_pairs(&[("WALG_LIBSODIUM_KEY_PATH", &path), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")]),
    ] {
        let (dir, storage) = open_sodium(env);
        let storage = storage.unwrap();
        let b = find_backup(&storage, "LATEST").await.unwrap();
        assert_eq!(b.name.as_str(), "base_000000010000000000000002");
        let data = dir.path().join("data");
        let report = backup_fetch(&storage, &b, &data, &|_| {}).await.unwrap();
        assert_eq!(report.objects, 3, "two parts and pg_control");
        assert!(report.bytes > 20 << 20, "{report:?}");
        assert_eq!(std::fs::read_to_string(data.join("PG_VERSION")).unwrap().trim(), "15");
        assert_eq!(std::fs::metadata(data.join("global/pg_control")).unwrap().len(), 8192);
        assert!(data.join("backup_label").is_file());
        for name in SEGMENTS {
            let dest = dir.path().join(name);
            wal_fetch(&storage, &WalFileName::parse(name).unwrap(), &dest, Compression::Lz4, None).await.unwrap();
            if !name.contains("backup") {
                assert_eq!(std::fs::metadata(&dest).unwrap().len(), 16 << 20, "{name}");
            }
        }
        let text = std::fs::read_to_string(dir.path().join(SEGMENTS[4])).unwrap();
        assert!(text.contains("START WAL LOCATION: 0/2000028"), "{text}");

        use walrs_core::ops::backup_verify;
        let c = &backup_verify(&storage, std::slice::from_ref(&b), &|_| {}).await.unwrap()[0];
        assert!(c.is_ok(), "{:?}", c.problems);
    }
}

#[tokio::test]
async fn the_libsodium_fixture_with_a_wrong_key_fails_naming_the_object() {
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let env = Env::from_pairs(&[("WALG_LIBSODIUM_KEY", wrong), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")]);
    let (dir, storage) = open_sodium(env);
    let storage = storage.unwrap();
    let b = find_backup(&storage, "LATEST").await.unwrap();
    let err = backup_fetch(&storage, &b, &dir.path().join("data"), &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Config, "{err}");
    assert!(err.message.starts_with("cannot decrypt basebackups_005/base_000000010000000000000002/tar_partitions/"));
    assert!(err.message.ends_with(".tar.lz4 (wrong key?)"), "{}", err.message);
    let hint = err.hint.unwrap();
    assert!(hint.contains("WALG_LIBSODIUM_KEY") && hint.contains("WALRS_LIBSODIUM_KEY_PREVIOUS"), "{hint}");
    assert!(!dir.path().join("data/global/pg_control").exists());

    let name = WalFileName::parse(SEGMENTS[1]).unwrap();
    let err = wal_fetch(&storage, &name, &dir.path().join("seg"), Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.message, "cannot decrypt wal_005/000000010000000000000002.lz4 (wrong key?)");
    assert!(!err.message.contains(wrong) && !err.hint.unwrap().contains(wrong));

    // The right key as an older one opens it: rotation.
    let env = Env::from_pairs(&[
        ("WALG_LIBSODIUM_KEY", wrong),
        ("WALRS_LIBSODIUM_KEY_PREVIOUS", &sodium_key()),
        ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64"),
    ]);
    let (dir, storage) = open_sodium(env);
    wal_fetch(&storage.unwrap(), &name, &dir.path().join("seg"), Compression::Lz4, None).await.unwrap();
}

#[tokio::test]
async fn the_libsodium_fixture_without_a_key_says_it_looks_encrypted() {
    let (dir, storage) = open_sodium(Env::default());
    let storage = storage.unwrap();
    // Sentinels and metadata are plain, as WAL-G keeps them: the backup is listed.
    let b = find_backup(&storage, "LATEST").await.unwrap();
    let err = backup_fetch(&storage, &b, &dir.path().join("data"), &|_| {}).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Config, "{err}");
    assert!(err.message.contains("tar_partitions/") && err.message.contains("looks encrypted"), "{}", err.message);
    assert!(err.hint.unwrap().contains("WALG_LIBSODIUM_KEY"));
    let name = WalFileName::parse(SEGMENTS[2]).unwrap();
    let err = wal_fetch(&storage, &name, &dir.path().join("seg"), Compression::Lz4, None).await.unwrap_err();
    assert!(err.message.starts_with("wal_005/000000010000000000000003.lz4 is not a lz4 object"), "{}", err.message);
    assert!(err.message.contains("looks encrypted"), "{}", err.message);
    assert!(err.hint.unwrap().contains("WALG_LIBSODIUM_KEY"));
}

#[tokio::test]
async fn an_unusable_key_fails_the_open_naming_the_variable() {
    for (pairs, var) in [
        (vec![("WALG_LIBSODIUM_KEY", "c2hvcnQ="), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")], "WALG_LIBSODIUM_KEY"),
        (vec![("WALG_LIBSODIUM_KEY", "too-short")], "WALG_LIBSODIUM_KEY"),
        (vec![("WALG_LIBSODIUM_KEY_PATH", "/nonexistent/walrs.key")], "WALG_LIBSODIUM_KEY_PATH"),
        (vec![("WALG_PGP_KEY", "-----BEGIN PGP PRIVATE KEY BLOCK-----")], "WALG_PGP_KEY"),
    ] {
        let (_dir, opened) = open_sodium(Env::from_pairs(&pairs));
        let err = opened.unwrap_err();
        assert_eq!(err.kind, walrs_core::ErrorKind::Config, "{err}");
        assert!(err.message.starts_with(var), "{}", err.message);
        assert!(
            !err.message.contains("c2hvcnQ=") && !err.message.contains("too-short") && !err.message.contains("BEGIN")
        );
        assert!(err.hint.is_some());
    }
}
