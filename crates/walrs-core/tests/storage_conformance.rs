//! One storage conformance suite, run against every backend: file:// (a temporary directory),
//! the in-memory store, S3 (moto), Google Cloud Storage (moto's XML API, which the gs:// client
//! speaks; see `gs_backend_on_moto` for where it differs) and Azure Blob (Azurite). Each is
//! opened as production opens it: a URL through `Location::parse`, the environment as an `Env`
//! (for the servers, read from the env_dir `scripts/test-server.sh` writes).
//!
//! Every check runs even when an earlier one failed; the test then names all that failed.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

mod support;

use bytes::Bytes;
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use support::servers::{Kind, Server};
use tokio::io::AsyncReadExt;
use walrs_core::env::Env;
use walrs_core::storage::stream::{Piece, PART};
use walrs_core::storage::{Location, ObjectInfo, Storage};
use walrs_core::ErrorKind;

/// Opens a fresh, empty repository under the given name in the backend being tested.
type Open<'a> = &'a (dyn Fn(&str) -> Storage + Sync);
type Check = for<'a> fn(Open<'a>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), |open| Box::pin($name(open)))),*]
    };
}

const CHECKS: &[(&str, Check)] = checks![
    a_missing_object_is_absent,
    put_replaces_and_get_returns_it,
    put_if_absent_never_overwrites,
    list_is_recursive_sorted_and_respects_folder_boundaries,
    list_top_leaves_out_folders_and_list_some_stops_early,
    repositories_with_similar_prefixes_stay_apart,
    delete_removes_and_tolerates_missing_objects,
    put_stream_uploads_several_parts,
    an_unfinished_put_stream_leaves_no_object,
];

/// Run every check but those in `skip` (name, why), which are named as skipped in the output.
async fn run_suite(backend: &str, open: Open<'_>, skip: &[(&str, &str)]) {
    for (name, _) in skip {
        assert!(CHECKS.iter().any(|(n, _)| n == name), "{backend}: no check {name} to skip");
    }
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        if let Some((_, why)) = skip.iter().find(|(n, _)| n == name) {
            eprintln!("{backend}: {name} SKIPPED: {why}");
            continue;
        }
        let started = std::time::Instant::now();
        match AssertUnwindSafe(check(open)).catch_unwind().await {
            Ok(()) => eprintln!("{backend}: {name} ok ({} ms)", started.elapsed().as_millis()),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                failed.push(format!("{name}: {}", why.unwrap_or_default()));
            }
        }
    }
    assert!(failed.is_empty(), "{backend}: {} of {} checks failed:\n{}", failed.len(), CHECKS.len(), failed.join("\n"));
}

/// Deterministic bytes that differ at every offset, so a misplaced part shows.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn a_missing_object_is_absent(open: Open<'_>) {
    let s = open("missing");
    assert_eq!(s.get("wal_005/nothing").await.unwrap(), None);
    assert!(!s.exists("wal_005/nothing").await.unwrap());
    assert!(s.open_reader("wal_005/nothing").await.unwrap().is_none());
    assert!(s.list("wal_005").await.unwrap().is_empty());
}

async fn put_replaces_and_get_returns_it(open: Open<'_>) {
    let s = open("put");
    s.put("basebackups_005/meta.json", Bytes::from_static(b"first")).await.unwrap();
    assert_eq!(s.get("basebackups_005/meta.json").await.unwrap().unwrap(), Bytes::from_static(b"first"));
    s.put("basebackups_005/meta.json", Bytes::from_static(b"second, longer")).await.unwrap();
    assert_eq!(s.get("basebackups_005/meta.json").await.unwrap().unwrap(), Bytes::from_static(b"second, longer"));
    assert!(s.exists("basebackups_005/meta.json").await.unwrap());
    s.put("empty", Bytes::new()).await.unwrap();
    assert_eq!(s.get("empty").await.unwrap().unwrap(), Bytes::new());
}

async fn put_if_absent_never_overwrites(open: Open<'_>) {
    let s = open("create");
    let key = "wal_005/000000010000000000000001.lz4";
    assert!(s.put_if_absent(key, Bytes::from_static(b"original")).await.unwrap());
    assert!(!s.put_if_absent(key, Bytes::from_static(b"different")).await.unwrap());
    assert!(!s.put_if_absent(key, Bytes::from_static(b"original")).await.unwrap());
    assert_eq!(s.get(key).await.unwrap().unwrap(), Bytes::from_static(b"original"));
    assert_eq!(s.list("wal_005").await.unwrap().len(), 1);
}

/// (key, size) of each object under `dir`: what listing must get right on every backend.
async fn listed(s: &Storage, dir: &str) -> Vec<(String, u64)> {
    s.list(dir).await.unwrap().into_iter().map(|o: ObjectInfo| (o.key, o.size)).collect()
}

async fn list_is_recursive_sorted_and_respects_folder_boundaries(open: Open<'_>) {
    let s = open("list");
    for (key, data) in
        [("wal/b", &b"22"[..]), ("wal/a", b"1"), ("wal/sub/c", b"333"), ("wal_005/not-in-wal", b"x"), ("walrus", b"x")]
    {
        s.put(key, Bytes::copy_from_slice(data)).await.unwrap();
    }
    let info = |key: &str, size: u64| (key.to_string(), size);
    assert_eq!(listed(&s, "wal").await, vec![info("wal/a", 1), info("wal/b", 2), info("wal/sub/c", 3)]);
    assert_eq!(listed(&s, "wal/sub").await, vec![info("wal/sub/c", 3)]);
    assert_eq!(listed(&s, "wal_005").await, vec![info("wal_005/not-in-wal", 1)]);
    assert!(s.list("wa").await.unwrap().is_empty(), "a folder name's prefix is not the folder");
    assert!(s.list("nothing").await.unwrap().is_empty());
}

async fn list_top_leaves_out_folders_and_list_some_stops_early(open: Open<'_>) {
    let s = open("top");
    for key in ["base/a_sentinel.json", "base/b_sentinel.json", "base/a/tar/part_1", "base/a/meta", "based/x"] {
        s.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    let top: Vec<String> = s.list_top("base").await.unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(top, ["base/a_sentinel.json", "base/b_sentinel.json"], "objects of the folder itself, sorted");
    assert!(s.list_top("nothing").await.unwrap().is_empty());
    let all = listed(&s, "base").await;
    for n in [1, 2, 4, 10] {
        let some = s.list_some("base", n).await.unwrap();
        assert_eq!(some.len(), n.min(all.len()), "at most {n}");
        assert!(some.iter().all(|o| all.iter().any(|(k, size)| *k == o.key && *size == o.size)), "{some:?}");
    }
    assert!(s.list_some("nothing", 5).await.unwrap().is_empty());
}

async fn repositories_with_similar_prefixes_stay_apart(open: Open<'_>) {
    let (main, main2) = (open("similar/main"), open("similar/main2"));
    main.put("wal_005/A", Bytes::from_static(b"a")).await.unwrap();
    main2.put("wal_005/B", Bytes::from_static(b"b")).await.unwrap();
    assert_eq!(listed(&main, "wal_005").await, vec![("wal_005/A".to_string(), 1)]);
    assert_eq!(listed(&main2, "wal_005").await, vec![("wal_005/B".to_string(), 1)]);
    assert!(!main.exists("wal_005/B").await.unwrap());
}

async fn delete_removes_and_tolerates_missing_objects(open: Open<'_>) {
    let s = open("delete");
    s.put("wal_005/A", Bytes::from_static(b"a")).await.unwrap();
    s.put("wal_005/B", Bytes::from_static(b"b")).await.unwrap();
    s.delete("wal_005/A").await.unwrap();
    assert!(!s.exists("wal_005/A").await.unwrap());
    assert_eq!(s.get("wal_005/A").await.unwrap(), None);
    s.delete("wal_005/A").await.unwrap();
    s.delete("never/was").await.unwrap();
    assert_eq!(listed(&s, "wal_005").await, vec![("wal_005/B".to_string(), 1)]);
}

/// Feed `data` to `put_stream` in pieces of `piece` bytes, ending with Done if `finish`.
async fn stream_upload(s: &Storage, key: &str, data: Vec<u8>, piece: usize, finish: bool) -> walrs_core::Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::spawn(async move {
        for chunk in data.chunks(piece) {
            if tx.send(Piece::Data(Bytes::copy_from_slice(chunk))).await.is_err() {
                return;
            }
        }
        if finish {
            let _ = tx.send(Piece::Done).await; // a closed channel means the upload already failed
        }
    });
    let result = s.put_stream(key, rx).await;
    producer.await.unwrap();
    result
}

async fn put_stream_uploads_several_parts(open: Open<'_>) {
    let s = open("multipart");
    // Three parts, the last one short.
    let data = pattern(2 * PART + 12345, 7);
    let key = "basebackups_005/base_1/tar_partitions/part_001.tar.lz4";
    let size = stream_upload(&s, key, data.clone(), 1 << 20, true).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(listed(&s, "basebackups_005").await, vec![(key.to_string(), size)]);
    let got = s.get(key).await.unwrap().unwrap();
    assert!(got == data, "get returned {} bytes that differ from the {} uploaded", got.len(), data.len());
    let mut streamed = Vec::new();
    s.open_reader(key).await.unwrap().unwrap().read_to_end(&mut streamed).await.unwrap();
    assert!(streamed == data, "open_reader returned {} bytes that differ", streamed.len());
}

async fn an_unfinished_put_stream_leaves_no_object(open: Open<'_>) {
    let s = open("aborted");
    let key = "basebackups_005/base_2/tar_partitions/part_001.tar.lz4";
    let err = stream_upload(&s, key, pattern(2 * PART + 1, 3), 1 << 20, false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::LocalIo, "{}", err.message);
    assert!(!s.exists(key).await.unwrap());
    assert!(s.list("basebackups_005").await.unwrap().is_empty());
}

#[tokio::test]
async fn file_backend() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        let url = format!("file://{}/{name}", dir.path().display());
        Storage::open(&Location::parse(&url).unwrap(), &Env::default()).unwrap()
    };
    run_suite("file://", &open, &[]).await;
}

#[tokio::test]
async fn memory_backend() {
    let open = |_: &str| Storage::open(&Location::parse("memory://").unwrap(), &Env::default()).unwrap();
    run_suite("memory://", &open, &[]).await;
}

/// Run the suite (but `skip`) against a fresh server; returns the server, for its log.
async fn server_suite(kind: Kind, test: &str, extra_env: &[(&str, &str)], skip: &[(&str, &str)]) -> Server {
    let server = Server::start(kind, test);
    let sas = extra_env.contains(&("SAS", "1"));
    let mut env = if sas { server.sas_env() } else { server.env() };
    env.overlay(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let open = |name: &str| Storage::open(&server.location(&format!("{test}/{name}")), &env).unwrap();
    let suite = AssertUnwindSafe(run_suite(test, &open, skip)).catch_unwind().await;
    if let Err(panic) = suite {
        eprintln!("--- the {kind:?} server's log ---\n{}", server.log());
        std::panic::resume_unwind(panic);
    }
    server
}

/// Whether the log shows the upload of `an_unfinished_put_stream_leaves_no_object` aborted: no
/// object is one thing, but S3 and GCS also keep (and bill) the parts of an upload never aborted.
fn aborted_upload(log: &str, test: &str) -> bool {
    let aborted = format!("DELETE /walrs-test/{test}/aborted/");
    // The gs:// client sends the slashes of object names as %2F.
    log.lines()
        .map(|l| l.replace("%2F", "/"))
        .any(|l| l.contains(&aborted) && l.contains("uploadId=") && l.contains("\" 204 "))
}

/// Whether the log shows the server refusing a create-only write of the check's object with
/// `status`: proof that `put_if_absent` used one rather than looking first.
fn refused_create(log: &str, test: &str, status: &str) -> bool {
    let key = format!("walrs-test/{test}/create/wal_005/000000010000000000000001.lz4 ");
    log.lines().any(|l| l.contains("PUT /") && l.contains(&key) && l.contains(&format!("\" {status} ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_on_moto() {
    let test = "s3_backend_on_moto";
    let log = server_suite(Kind::S3, test, &[], &[]).await.log();
    assert!(refused_create(&log, test, "412"), "no conditional PUT refused with 412 in moto's log:\n{log}");
    assert!(aborted_upload(&log, test), "the unfinished multipart upload was not aborted:\n{log}");
}

/// S3-compatible stores that ignore `If-None-Match` need create-only writes turned off; the
/// fallback (look, then write) must keep the same promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_without_conditional_put() {
    let test = "s3_backend_without_conditional_put";
    let log = server_suite(Kind::S3, test, &[("WALRS_S3_CONDITIONAL_PUT", "disabled")], &[]).await.log();
    assert!(!refused_create(&log, test, "412"), "a conditional PUT was sent although disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_backend_on_azurite() {
    let test = "azure_backend_on_azurite";
    let log = server_suite(Kind::Azure, test, &[], &[]).await.log();
    assert!(refused_create(&log, test, "409"), "no conditional PUT refused with 409 in Azurite's log:\n{log}");
}

/// gs:// against moto, which answers the XML API the client speaks (path-style URLs, S3's XML
/// documents for listings and multipart uploads) with the bucket and a static OAuth token from
/// the env_dir. Where moto is not Google Cloud Storage, this says so and checks what it can:
/// - Create-only writes: the client sends `x-goog-if-generation-match: 0`, which GCS refuses
///   with 412 when the object exists; moto ignores the header and overwrites. So
///   `put_if_absent_never_overwrites` is skipped, and this checks instead that every create sent
///   the header, and that moto did overwrite: the day moto honours it, this fails, and the check
///   belongs in the suite again.
/// - Credentials: moto takes any token, so a wrong one is not tested.
/// - Objects have no `x-goog-generation` from moto; walrs reads no generations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gs_backend_on_moto() {
    let test = "gs_backend_on_moto";
    let ignored = "moto ignores x-goog-if-generation-match (Google Cloud Storage refuses with 412); see below";
    let server = server_suite(Kind::Gs, test, &[], &[("put_if_absent_never_overwrites", ignored)]).await;
    let log = server.log();
    assert!(aborted_upload(&log, test), "the unfinished multipart upload was not aborted:\n{log}");

    let s = Storage::open(&server.location(&format!("{test}/create")), &server.env()).unwrap();
    let key = "wal_005/000000010000000000000001.lz4";
    server.moto_recorder("start-recording");
    let first = s.put_if_absent(key, Bytes::from_static(b"original")).await.unwrap();
    let second = s.put_if_absent(key, Bytes::from_static(b"different")).await.unwrap();
    server.moto_recorder("stop-recording");
    let creates: Vec<_> = server
        .moto_recording()
        .into_iter()
        .filter(|r| r["method"] == "PUT" && r["url"].as_str().unwrap_or("").ends_with(&format!("/{test}/create/{key}")))
        .collect();
    assert_eq!(creates.len(), 2, "two PUTs of {key} in moto's recording: {creates:?}");
    for r in &creates {
        let headers = r["headers"].as_object().unwrap();
        let generation = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-goog-if-generation-match"));
        assert_eq!(generation.map(|(_, v)| v.as_str()), Some(Some("0")), "a create without the condition: {r}");
        let auth = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        assert_eq!(auth.map(|(_, v)| v.as_str()), Some(Some("Bearer walrs-test-token")), "{r}");
    }
    assert!(first, "the first create stores the object");
    let now = s.get(key).await.unwrap().unwrap();
    assert!(
        second && now == Bytes::from_static(b"different"),
        "moto refused the second create (stored: {now:?}): it now honours x-goog-if-generation-match, so \
         put_if_absent_never_overwrites should run for gs:// too"
    );
    eprintln!("{test}: both creates sent x-goog-if-generation-match: 0; moto overwrote, as it ignores it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_gs_bucket_is_a_configuration_error() {
    a_missing_bucket_is_a_configuration_error(Kind::Gs, "a_missing_gs_bucket_is_a_configuration_error").await;
}

/// SAS tokens as the portal shows them (percent-encoded) must reach the server decoded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_backend_with_a_sas_token() {
    server_suite(Kind::Azure, "azure_backend_with_a_sas_token", &[("SAS", "1")], &[]).await;
}

/// Azurite checks signatures (moto accepts any key), so wrong Azure credentials are tested here:
/// a clear, non-retryable Storage error with a hint, and no secret in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_azure_credentials_fail_without_showing_them() {
    let server = Server::start(Kind::Azure, "wrong_azure_credentials_fail_without_showing_them");
    let wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleQ==";
    let good_sas = server.sas_env().get("AZURE_STORAGE_SAS_TOKEN").unwrap().to_string();
    let (sig_at, _) = good_sas.split_once("sig=").unwrap();
    let wrong_sas = format!("{sig_at}sig=V3JvbmdTaWduYXR1cmVXcm9uZ1NpZ25hdHVyZQ%3D%3D");
    let mut with_key = server.env();
    with_key.overlay([("AZURE_STORAGE_ACCESS_KEY".to_string(), wrong_key.to_string())].into());
    let mut with_sas = server.sas_env();
    with_sas.overlay([("AZURE_STORAGE_SAS_TOKEN".to_string(), wrong_sas.clone())].into());
    let secrets = [wrong_key, &wrong_sas, "V3JvbmdTaWduYXR1cmVXcm9uZ1NpZ25hdHVyZQ"];

    for (what, env) in [("a wrong key", with_key), ("a wrong SAS signature", with_sas)] {
        let storage = Storage::open(&server.location("auth"), &env).unwrap();
        let started = std::time::Instant::now();
        let err = storage.put_if_absent("wal_005/A", Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage, "{what}: {}", err.message);
        assert!(!err.retryable, "{what}: bad credentials do not heal by waiting: {}", err.message);
        assert!(err.hint.as_deref().unwrap_or("").contains("credentials"), "{what}: {:?}", err.hint);
        assert!(
            err.message.contains("azure://walrs-test/auth") && err.message.contains("wal_005/A"),
            "{}",
            err.message
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{what}: {:?}", started.elapsed());
        let shown = format!("{} {:?}", err.message, err.hint);
        for secret in secrets {
            assert!(!shown.contains(secret), "{what}: the error shows a secret: {shown}");
        }
        eprintln!("{what}: {shown}");
    }
}

/// A misnamed bucket must not look like an empty repository: "no such WAL segment" would tell
/// PostgreSQL that recovery has reached the end of the archive.
async fn a_missing_bucket_is_a_configuration_error(kind: Kind, test: &str) {
    let server = Server::start(kind, test);
    let url = format!("{}://no-such-bucket/pg", kind.name());
    let s = Storage::open(&Location::parse(&url).unwrap(), &server.env()).unwrap();
    let started = std::time::Instant::now();
    let errors = [
        ("get", s.get("wal_005/A").await.map(|_| ()).unwrap_err()),
        ("exists", s.exists("wal_005/A").await.map(|_| ()).unwrap_err()),
        ("open_reader", s.open_reader("wal_005/A").await.map(|_| ()).unwrap_err()),
        ("list", s.list("wal_005").await.map(|_| ()).unwrap_err()),
        ("put_if_absent", s.put_if_absent("wal_005/A", Bytes::from_static(b"x")).await.map(|_| ()).unwrap_err()),
        ("put", s.put("wal_005/A", Bytes::from_static(b"x")).await.unwrap_err()),
    ];
    for (op, err) in errors {
        assert_eq!(err.kind, ErrorKind::Config, "{op}: {}", err.message);
        assert!(
            err.message.contains("\"no-such-bucket\"") && err.message.contains("does not exist"),
            "{op}: {}",
            err.message
        );
        assert!(err.hint.as_deref().unwrap_or("").contains("walrs.storage"), "{op}: {:?}", err.hint);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "not retried: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_s3_bucket_is_a_configuration_error() {
    a_missing_bucket_is_a_configuration_error(Kind::S3, "a_missing_s3_bucket_is_a_configuration_error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_azure_container_is_a_configuration_error() {
    a_missing_bucket_is_a_configuration_error(Kind::Azure, "a_missing_azure_container_is_a_configuration_error").await;
}
