//! Network robustness with no storage server needed: a refused connection, a server that
//! never answers, one that stalls mid-object, and one that is slow but steady. Each failure
//! must come as a Storage error within a bounded time, naming the store and no secret; a slow
//! but steady read, upload or listing must not be cut off, however long it takes in all.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

mod support;

use bytes::Bytes;
use std::time::{Duration, Instant};
use support::servers::free_port;
use support::slow_http::{Behaviour, SlowServer};
use tokio::io::AsyncReadExt;
use walrs_core::env::Env;
use walrs_core::storage::{Location, RetryPolicy, Storage};
use walrs_core::ErrorKind;

const S3_SECRET: &str = "s3-secret-that-must-not-leak";
const GCS_TOKEN: &str = "ya29.gcs-token-that-must-not-leak";
const SAS_TOKEN: &str =
    "sv=2021-08-06&ss=b&srt=co&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=http&sig=SasSignatureMustNotLeak%2Bx%3D";

use support::quick_policy as quick;

/// A one-second try timeout, for work that takes longer than that in all but never stalls.
fn paced() -> RetryPolicy {
    RetryPolicy { attempt_timeout: Duration::from_secs(1), ..quick() }
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs)
}

fn s3_at(port: u16) -> Storage {
    s3_with(port, quick())
}

fn s3_with(port: u16, policy: RetryPolicy) -> Storage {
    let env = env(&[
        ("AWS_ENDPOINT", &format!("http://127.0.0.1:{port}")),
        ("AWS_ACCESS_KEY_ID", "walrs-test-key-id"),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET),
    ]);
    Storage::open_with_policy(&Location::parse("s3://walrs-test/pg").unwrap(), &env, policy).unwrap()
}

fn azure_at(port: u16) -> Storage {
    let env = env(&[
        ("AZURE_STORAGE_ACCOUNT", "devstoreaccount1"),
        ("AZURE_STORAGE_ENDPOINT", &format!("http://127.0.0.1:{port}/devstoreaccount1")),
        ("AZURE_STORAGE_SAS_TOKEN", SAS_TOKEN),
    ]);
    Storage::open_with_policy(&Location::parse("azure://walrs-test/pg").unwrap(), &env, quick()).unwrap()
}

fn gs_at(port: u16) -> Storage {
    gs_with(port, quick())
}

fn gs_with(port: u16, policy: RetryPolicy) -> Storage {
    let env = env(&[("GCS_ENDPOINT", &format!("http://127.0.0.1:{port}")), ("GOOGLE_OAUTH_ACCESS_TOKEN", GCS_TOKEN)]);
    Storage::open_with_policy(&Location::parse("gs://walrs-test/pg").unwrap(), &env, policy).unwrap()
}

fn assert_storage_error(err: &walrs_core::Error, store: &str, key: &str) {
    assert_eq!(err.kind, ErrorKind::Storage, "{}", err.message);
    assert!(err.message.contains(store), "the error should name {store}: {}", err.message);
    assert!(err.message.contains(key), "the error should name {key}: {}", err.message);
    let shown = format!("{} {:?}", err.message, err.hint);
    for secret in [S3_SECRET, SAS_TOKEN, "SasSignatureMustNotLeak", GCS_TOKEN] {
        assert!(!shown.contains(secret), "the error shows a secret: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_in_bounded_time() {
    let port = free_port(); // nothing listens there
    for (storage, store) in [
        (s3_at(port), "s3://walrs-test/pg"),
        (azure_at(port), "azure://walrs-test/pg"),
        (gs_at(port), "gs://walrs-test/pg"),
    ] {
        let started = Instant::now();
        let err =
            storage.put_if_absent("wal_005/000000010000000000000001", Bytes::from_static(b"x")).await.unwrap_err();
        let took = started.elapsed();
        assert_storage_error(&err, store, "wal_005/000000010000000000000001");
        assert!(err.retryable, "a refused connection may heal: {}", err.message);
        assert!(took < Duration::from_secs(10), "{store}: took {took:?}");
        let err = storage.exists("wal_005/x").await.unwrap_err();
        assert_storage_error(&err, store, "wal_005/x");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let server = SlowServer::start(Vec::new(), Behaviour::Silent).await;
    for (storage, store) in [
        (s3_at(server.port), "s3://walrs-test/pg"),
        (azure_at(server.port), "azure://walrs-test/pg"),
        (gs_at(server.port), "gs://walrs-test/pg"),
    ] {
        let started = Instant::now();
        let err = storage.put("wal_005/A", Bytes::from_static(b"x")).await.unwrap_err();
        let took = started.elapsed();
        assert_storage_error(&err, store, "wal_005/A");
        assert!(err.retryable, "{}", err.message);
        assert!(took < Duration::from_secs(10), "{store}: took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_read_is_not_cut_off() {
    // 3 s in all, far beyond the 2 s attempt timeout, but never 1 s (the stall timeout) silent.
    let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let behaviour = Behaviour::Trickle { pieces: 10, pause: Duration::from_millis(300) };
    let server = SlowServer::start(body.clone(), behaviour).await;
    let storage = s3_at(server.port);
    let started = Instant::now();
    let mut reader = storage.open_reader("basebackups_005/part_001.tar").await.unwrap().unwrap();
    let mut got = Vec::new();
    reader.read_to_end(&mut got).await.unwrap();
    assert!(started.elapsed() > quick().attempt_timeout, "the test must outlast the attempt timeout");
    assert!(got == body, "read {} bytes, expected {}", got.len(), body.len());
    assert_eq!(*server.requests.lock().unwrap(), vec![0], "one request, never restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_whole_read_is_not_cut_off() {
    // As above, read whole (as a WAL segment is when a push compares it with the stored copy).
    let body: Vec<u8> = (0..600_000u32).map(|i| (i % 199) as u8).collect();
    let behaviour = Behaviour::Trickle { pieces: 10, pause: Duration::from_millis(300) };
    let server = SlowServer::start(body.clone(), behaviour).await;
    let storage = s3_at(server.port);
    let started = Instant::now();
    let got = storage.get("wal_005/000000010000000000000001").await.unwrap().unwrap();
    assert!(started.elapsed() > quick().attempt_timeout, "the test must outlast the attempt timeout");
    assert!(got == body, "read {} bytes, expected {}", got.len(), body.len());
    assert_eq!(*server.requests.lock().unwrap(), vec![0], "one request, never restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_stalls_fails_in_bounded_time() {
    // gs:// too: its GET is path-style like S3's, and it goes through the same stall-bounded client.
    for (open, store) in [(s3_at as fn(u16) -> Storage, "s3://"), (gs_at, "gs://")] {
        let body = vec![7u8; 200_000];
        let server = SlowServer::start(body, Behaviour::StallHalfway).await;
        let storage = open(server.port);
        let started = Instant::now();
        let mut reader = storage.open_reader("basebackups_005/part_001.tar").await.unwrap().unwrap();
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).await.unwrap_err();
        let took = started.elapsed();
        assert!(err.to_string().contains("basebackups_005/part_001.tar"), "{store}: {err}");
        assert!(!err.to_string().contains(S3_SECRET) && !err.to_string().contains(GCS_TOKEN), "{store}: {err}");
        assert!(took < Duration::from_secs(20), "{store}: took {took:?}");
        // The client resumed from where the answer stopped before giving up.
        let requests = server.requests.lock().unwrap().clone();
        assert!(requests.len() >= 2 && requests[1..].iter().all(|&from| from == 100_000), "{store}: {requests:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_of_many_pages_is_not_cut_off() {
    // 8 pages of 1000 objects, 300 ms each: 2.4 s in all, far beyond the 1 s try timeout, but
    // no page takes that long, as in a repository with hundreds of thousands of WAL segments.
    let behaviour = Behaviour::Pages { pages: 8, keys: 1000, pause: Duration::from_millis(300) };
    let server = SlowServer::start(Vec::new(), behaviour).await;
    let storage = s3_with(server.port, paced());
    let started = Instant::now();
    let listed = storage.list("wal_005").await.unwrap();
    assert!(started.elapsed() > paced().attempt_timeout, "the test must outlast the try timeout");
    assert_eq!(listed.len(), 8000);
    assert!(listed.iter().all(|o| o.key.starts_with("wal_005/")), "{:?}", listed.first());
    assert_eq!(*server.requests.lock().unwrap(), (0..8).collect::<Vec<_>>(), "each page once, never restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_page_that_does_not_come_fails_in_bounded_time() {
    let behaviour = Behaviour::Pages { pages: 3, keys: 10, pause: Duration::from_secs(30) };
    let server = SlowServer::start(Vec::new(), behaviour).await;
    let storage = s3_with(server.port, paced());
    let started = Instant::now();
    let err = storage.list("wal_005").await.unwrap_err();
    let took = started.elapsed();
    assert_storage_error(&err, "s3://walrs-test/pg", "wal_005");
    assert!(err.retryable, "{}", err.message);
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_upload_is_not_cut_off() {
    // A 16 MiB WAL segment taken at 6 MB/s: about 3 s in all, far beyond the 1 s try timeout,
    // but never 2 s (the stall timeout here) without progress. The stall timeout must leave
    // room for what the connection buffered to go out after it took the last piece: up to
    // about 4 MB over loopback, 0.7 s at this rate.
    let server = SlowServer::start(Vec::new(), Behaviour::SlowUpload { bytes_per_s: 6_000_000 }).await;
    let policy = RetryPolicy { stall_timeout: Duration::from_secs(2), ..paced() };
    let storage = s3_with(server.port, policy);
    let segment = Bytes::from((0..16u32 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let started = Instant::now();
    let stored = storage.put_if_absent("wal_005/000000010000000000000001", segment).await.unwrap();
    assert!(started.elapsed() > 2 * policy.attempt_timeout, "the test must outlast the try timeout");
    assert!(stored);
    assert_eq!(*server.uploads.lock().unwrap(), vec![16 << 20], "one upload, never restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_stalls_fails_in_bounded_time() {
    for (open, store) in
        [(s3_with as fn(u16, RetryPolicy) -> Storage, "s3://walrs-test/pg"), (gs_with, "gs://walrs-test/pg")]
    {
        let server = SlowServer::start(Vec::new(), Behaviour::StopReading { after: 1 << 20 }).await;
        let storage = open(server.port, paced());
        let started = Instant::now();
        let key = "wal_005/000000010000000000000001";
        let err = storage.put_if_absent(key, Bytes::from(vec![3u8; 16 << 20])).await.unwrap_err();
        let took = started.elapsed();
        assert_storage_error(&err, store, key);
        assert!(err.retryable, "{}", err.message);
        assert!(err.message.contains("stalled for 1 s"), "{}", err.message);
        assert!(took >= paced().stall_timeout, "{store}: it gave up before the stall timeout: {took:?}");
        assert!(took < Duration::from_secs(10), "{store}: took {took:?}");
        assert!(server.uploads.lock().unwrap().is_empty());
    }
}
