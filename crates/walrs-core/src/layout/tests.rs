use super::*;

fn backup() -> BackupName {
    BackupName::parse("base_000000010000000000000002").unwrap()
}

#[test]
fn wal_keys_match_walg() {
    let seg = WalFileName::parse("000000010000000000000003").unwrap();
    assert_eq!(wal_key(&seg, Compression::Lz4), "wal_005/000000010000000000000003.lz4");
    assert_eq!(wal_key(&seg, Compression::Zstd), "wal_005/000000010000000000000003.zst");
    assert_eq!(wal_key(&seg, Compression::Brotli), "wal_005/000000010000000000000003.br");
    assert_eq!(wal_key(&seg, Compression::None), "wal_005/000000010000000000000003");
    let hist = WalFileName::parse("00000002.history").unwrap();
    assert_eq!(wal_key(&hist, Compression::Lz4), "wal_005/00000002.history.lz4");
    let backup = WalFileName::parse("000000010000000000000002.00000028.backup").unwrap();
    assert_eq!(wal_key(&backup, Compression::Zstd), "wal_005/000000010000000000000002.00000028.backup.zst");
    let partial = WalFileName::parse("000000010000000000000005.partial").unwrap();
    assert_eq!(wal_key(&partial, Compression::None), "wal_005/000000010000000000000005.partial");
    assert_eq!(wal_checksum_key(&seg), "walrs_wal_checksums/000000010000000000000003.json");
}

#[test]
fn wal_keys_parse_back_and_nothing_else_does() {
    for c in READ_ORDER {
        for name in ["000000010000000000000003", "00000002.history", "000000010000000000000002.00000028.backup"] {
            let name = WalFileName::parse(name).unwrap();
            assert_eq!(parse_wal_key(&wal_key(&name, c)), Some((name.clone(), c)), "{name} {c:?}");
        }
    }
    let partial = parse_wal_key("wal_005/000000010000000000000005.partial").unwrap();
    assert_eq!((partial.0.as_str(), partial.1), ("000000010000000000000005.partial", Compression::None));
    for other in [
        "wal_005/.wal-g/prefetch/x",
        "wal_005/README",
        "wal_005/000000010000000000000003.lzo",
        "wal_005/000000010000000000000003/x",
        "wal_0050/000000010000000000000003",
        "basebackups_005/000000010000000000000003",
        "000000010000000000000003",
    ] {
        assert_eq!(parse_wal_key(other), None, "{other}");
    }
}

#[test]
fn backup_keys_match_walg() {
    let n = backup();
    assert_eq!(sentinel_key(&n), "basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json");
    assert_eq!(backup_dir(&n), "basebackups_005/base_000000010000000000000002");
    assert_eq!(partitions_dir(&n), "basebackups_005/base_000000010000000000000002/tar_partitions");
    assert_eq!(files_metadata_key(&n), "basebackups_005/base_000000010000000000000002/files_metadata.json");
    assert_eq!(metadata_key(&n), "basebackups_005/base_000000010000000000000002/metadata.json");
    let part = TarFile::new(TarContent::Part(1), Compression::Lz4);
    assert_eq!(tar_key(&n, &part), "basebackups_005/base_000000010000000000000002/tar_partitions/part_001.tar.lz4");
    assert_eq!(TarFile::new(TarContent::Part(12), Compression::None).file_name(), "part_012.tar");
    assert_eq!(TarFile::new(TarContent::Part(1234), Compression::Zstd).file_name(), "part_1234.tar.zst");
    assert_eq!(TarFile::new(TarContent::PgControl, Compression::Zstd).file_name(), "pg_control.tar.zst");
    assert_eq!(TarFile::new(TarContent::BackupLabel, Compression::Brotli).file_name(), "backup_label.tar.br");
}

#[test]
fn backup_keys_parse_back() {
    let n = backup();
    assert_eq!(parse_sentinel_key(&sentinel_key(&n)), Some(n.clone()));
    assert_eq!(parse_sentinel_key(&files_metadata_key(&n)), None);
    assert_eq!(parse_sentinel_key("basebackups_005/junk_backup_stop_sentinel.json"), None);
    assert_eq!(backup_of(&files_metadata_key(&n)), Some(n.clone()));
    assert_eq!(
        backup_of("basebackups_005/base_000000010000000000000002/tar_partitions/part_001.tar.lz4"),
        Some(n.clone())
    );
    assert_eq!(backup_of(&sentinel_key(&n)), None);
    assert_eq!(backup_of("basebackups_005/junk/x"), None);
    assert_eq!(backup_of("basebackups_005/base_000000010000000000000002/"), None);
}

#[test]
fn tar_file_names() {
    let parsed = |f: &str| TarFile::parse(f).map(|t| (t.stem(), t.compression));
    assert_eq!(parsed("part_001.tar.lz4"), Some(("part_001".into(), Compression::Lz4)));
    assert_eq!(parsed("pg_control.tar.zst"), Some(("pg_control".into(), Compression::Zstd)));
    assert_eq!(parsed("backup_label.tar"), Some(("backup_label".into(), Compression::None)));
    assert_eq!(parsed("part_002.tar.br"), Some(("part_002".into(), Compression::Brotli)));
    assert_eq!(parsed("x/y/tar_partitions/part_003.tar.gz"), Some(("part_003".into(), Compression::Gzip)));
    assert_eq!(parsed("part_002.tar.lzo"), None);
    assert_eq!(parsed("metadata.json"), None);
    assert_eq!(parsed("part_.tar"), None);
    assert_eq!(parsed("part_x1.tar"), None);
    assert_eq!(parsed("something.tar"), None);
    assert_eq!(tar_stem("part_003.tar.lz4"), "part_003");
    assert_eq!(tar_stem("part_003"), "part_003");
}
