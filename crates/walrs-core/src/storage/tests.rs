use super::*;

fn local() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("repo")).unwrap();
    let loc = Location::parse(&format!("file://{}/repo", dir.path().display())).unwrap();
    let storage = Storage::open(&loc, &Env::default()).unwrap();
    (dir, storage)
}

#[tokio::test]
async fn small_objects_are_read_up_to_their_limit_only() {
    let (_dir, s) = local();
    s.put("a", Bytes::from(vec![1u8; 1000])).await.unwrap();
    assert_eq!(s.get_at_most("a", 1000).await.unwrap().map(|b| b.len()), Some(1000));
    let err = s.get_at_most("a", 999).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.contains("larger than 999 bytes"), "{}", err.message);
    assert_eq!(s.get_at_most("missing", 10).await.unwrap(), None);
}

#[tokio::test]
async fn the_start_of_an_object_is_its_first_bytes_or_all_of_a_shorter_one() {
    let (_dir, s) = local();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s.put("a", Bytes::from(body.clone())).await.unwrap();
    assert_eq!(s.get_start("a", 8233).await.unwrap().as_deref(), Some(&body[..8233]));
    assert_eq!(s.get_start("a", 200_000).await.unwrap().as_deref(), Some(&body[..]));
    assert_eq!(s.get_start("missing", 10).await.unwrap(), None);
}

#[tokio::test]
async fn local_file_is_where_the_object_is_and_only_for_plain_keys() {
    let (dir, s) = local();
    let key = "wal_005/000000010000000000000001.lz4";
    s.put(key, Bytes::from_static(b"x")).await.unwrap();
    let path = s.local_file(key).unwrap();
    assert_eq!(path, dir.path().join("repo").join(key));
    assert_eq!(std::fs::read(path).unwrap(), b"x");
    for odd in ["../etc/passwd", "a/../b", "a//b", "/abs", "sp ace", "per%cent", ""] {
        assert_eq!(s.local_file(odd), None, "{odd}");
    }
    let memory = Storage::open(&Location::Memory, &Env::default()).unwrap();
    assert_eq!(memory.local_file(key), None);
}

#[tokio::test]
async fn file_put_if_absent_get_list_delete() {
    let (dir, s) = local();
    assert!(s.put_if_absent("wal_005/A.lz4", Bytes::from_static(b"one")).await.unwrap());
    assert!(!s.put_if_absent("wal_005/A.lz4", Bytes::from_static(b"two")).await.unwrap());
    assert_eq!(s.get("wal_005/A.lz4").await.unwrap().unwrap(), Bytes::from_static(b"one"));
    assert_eq!(s.get("wal_005/B.lz4").await.unwrap(), None);
    assert!(s.exists("wal_005/A.lz4").await.unwrap());
    assert!(!s.exists("wal_005/B.lz4").await.unwrap());
    assert!(dir.path().join("repo/wal_005/A.lz4").is_file());
    s.put("other/x", Bytes::from_static(b"x")).await.unwrap();
    let listed = s.list("wal_005").await.unwrap();
    assert_eq!(listed.iter().map(|o| (o.key.as_str(), o.size)).collect::<Vec<_>>(), vec![("wal_005/A.lz4", 3)]);
    s.delete("wal_005/A.lz4").await.unwrap();
    s.delete("wal_005/A.lz4").await.unwrap();
    assert!(s.list("wal_005").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_repository_that_cannot_take_the_object_fails_fast() {
    let (dir, s) = local();
    // A file where the wal_005 directory should be: fails for root too, and for good.
    std::fs::write(dir.path().join("repo/wal_005"), b"not a directory").unwrap();
    let started = std::time::Instant::now();
    let err = s.put_if_absent("wal_005/B", Bytes::from_static(b"y")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Storage);
    assert!(!err.retryable);
    assert!(err.message.contains("wal_005/B"), "{}", err.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn local_failures_get_a_hint() {
    let s = Storage::open(&Location::Memory, &Env::default()).unwrap();
    let io =
        |kind| object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(std::io::Error::from(kind)) };
    let denied = s.error("cannot store", "k", io(std::io::ErrorKind::PermissionDenied), 1);
    assert!(denied.hint.unwrap().contains("writable"));
    assert!(!denied.retryable);
    let full = s.error("cannot store", "k", io(std::io::ErrorKind::StorageFull), 1);
    assert!(full.hint.unwrap().contains("full"));
    let reset = s.error("cannot store", "k", io(std::io::ErrorKind::ConnectionReset), 1);
    assert!(reset.retryable);
}

#[tokio::test]
async fn cloud_prefixes_are_applied_and_stripped() {
    let s = Storage::open(&Location::Memory, &Env::default()).unwrap();
    s.put("a/b", Bytes::from_static(b"1")).await.unwrap();
    assert_eq!(s.list("a").await.unwrap()[0].key, "a/b");
    assert_eq!(s.path("wal_005/x").unwrap().as_ref(), "wal_005/x");
    let mut prefixed = s.clone();
    prefixed.location = Location::parse("s3://bucket/pg/main").unwrap();
    assert_eq!(prefixed.path("wal_005/x").unwrap().as_ref(), "pg/main/wal_005/x");
    assert_eq!(prefixed.relative(&Path::from("pg/main/wal_005/x")), "wal_005/x");
}

#[test]
fn transfers_are_bounded_by_their_size_only_on_a_local_file_system() {
    let s = Storage::open(&Location::Memory, &Env::default()).unwrap();
    assert_eq!(s.transfer_limit(0), Some(Duration::from_secs(60)));
    assert_eq!(s.transfer_limit(16 << 20), Some(Duration::from_secs(60 + 16)));
    let mut cloud = s.clone();
    cloud.location = Location::parse("s3://bucket/pg").unwrap();
    assert_eq!(cloud.transfer_limit(1 << 30), None, "the HTTP client bounds stalls instead");
}

#[test]
fn storage_errors_hide_secrets() {
    let env = Env::new([("AWS_SECRET_ACCESS_KEY".to_string(), "verysecretvalue".to_string())].into());
    let s = Storage::open(&Location::Memory, &env).unwrap();
    let e = object_store::Error::Generic { store: "S3", source: "signature for verysecretvalue failed".into() };
    let err = s.error("cannot store", "k", e, 3);
    assert!(!err.message.contains("verysecretvalue"), "{}", err.message);
    assert!(err.message.contains("after 3 attempts"), "{}", err.message);
}
