//! Helpers shared by the integration tests. Each test file includes what it needs with
//! `mod support;`, so some helpers go unused in some files.
#![allow(dead_code)]

pub mod servers;
pub mod slow_http;

/// Short storage timeouts, so a failure shows within seconds.
pub fn quick_policy() -> walrs_core::storage::RetryPolicy {
    use std::time::Duration;
    walrs_core::storage::RetryPolicy {
        attempt_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(1),
        budget: Duration::from_millis(1500),
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    }
}

/// A real WAL segment, `000000010000000000000003` of the lz4 fixture, fetched without a key
/// into `dir/pg_wal` (the fixture copied to `dir/fixture` first): what a server would archive.
pub async fn fixture_segment(dir: &std::path::Path) -> (walrs_core::wal::WalFileName, std::path::PathBuf) {
    use walrs_core::storage::{Location, Storage};
    walrs_fixtures::copy_repository("lz4", &dir.join("fixture"));
    let location = Location::parse(&format!("file://{}/fixture", dir.display())).unwrap();
    let plain = Storage::open(&location, &walrs_core::env::Env::default()).unwrap();
    let name = walrs_core::wal::WalFileName::parse("000000010000000000000003").unwrap();
    let path = dir.join("pg_wal").join(name.to_string());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    walrs_core::ops::wal_fetch(&plain, &name, &path, walrs_core::compress::Compression::Lz4, None).await.unwrap();
    (name, path)
}
