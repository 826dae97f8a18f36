use super::*;

#[test]
fn wal_objects_are_wal_files_only() {
    let at = |key: &str| ObjectInfo { key: key.into(), size: 1, modified: DateTime::UNIX_EPOCH };
    let w = wal_object(at("wal_005/000000010000000000000003.lz4")).unwrap();
    assert_eq!(w.name.as_str(), "000000010000000000000003");
    assert_eq!(w.compression(), Compression::Lz4);
    assert_eq!(wal_object(at("wal_005/00000002.history.zst")).unwrap().name.as_str(), "00000002.history");
    assert_eq!(wal_object(at("wal_005/000000010000000000000003")).unwrap().key, "wal_005/000000010000000000000003");
    assert_eq!(wal_object(at("wal_005/.wal-g/prefetch/x")), None);
    assert_eq!(wal_object(at("wal_005/README")), None);
}
