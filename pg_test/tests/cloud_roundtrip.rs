//! The full cycle against real protocol servers on 127.0.0.1: moto (S3), moto again through the
//! gs:// client (it answers Google Cloud Storage's XML API; create-only writes are not refused
//! there, see storage_conformance.rs) and Azurite (Azure Blob).
//! Archive with `archive_library = 'walrs'`, take a base backup, write more, then
//! `walrs backup-fetch LATEST --recovery` and recovery through `walrs wal-fetch`: the restored
//! pg_dump equals the primary's. Credentials come from `walrs.env_dir`, as in WAL-G guides.
//! Storage does not depend on the server version, so this runs on PostgreSQL 15 and 18 only.

use std::time::Duration;
use walrs_pg_test::*;

fn roundtrip(kind: &'static str) {
    let work = Workdir::new(&format!("cloud-{kind}"));
    let server = StorageServer::start(&work, kind);
    let url = server.url("e2e/main");
    let env_dir = server.env_dir();
    let pg = Cluster::init(&work);
    pg.configure(&format!(
        "archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{url}'\nwalrs.env_dir = '{}'\n\
         wal_keep_size = '4GB'\nmax_wal_size = '4GB'\nwalrs.backup_partition_size = '16MB'",
        env_dir.display()
    ));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "5", "-q"]);
    let name = pg.sql("SELECT walrs_backup_push()");
    pg.pgbench(&["-c", "2", "-T", "5", "-n"]);
    pg.sql("CREATE TABLE after_backup AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(120));
    let (archived, failed, _) = pg.archiver_stats();
    let dump = pg.pg_dump();
    pg.stop();

    let env = env_dir.to_str().unwrap();
    let listed = walrs(&["--storage", &url, "--env-dir", env, "backup-list"]);
    assert_ok(&listed, "backup-list");
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&name), "backup-list shows {name}");
    let dest = work.path.join("restored");
    assert_ok(
        &walrs(&[
            "--storage",
            &url,
            "--env-dir",
            env,
            "backup-fetch",
            dest.to_str().unwrap(),
            "LATEST",
            "--recovery",
            "--target-action",
            "promote",
        ]),
        "backup-fetch",
    );
    // restore_command is plain `walrs wal-fetch %f %p`: it reads walrs.storage and walrs.env_dir
    // from the restored postgresql.conf.
    let restored = Cluster::adopt(&work, "restored");
    restored.start();
    wait_for("the end of recovery", Duration::from_secs(120), || restored.sql("SELECT pg_is_in_recovery()") == "f");
    assert!(restored.pg_dump() == dump, "the cluster restored from {kind} equals the primary");
    assert!(restored.server_log().contains("restored log file"), "recovery fetched WAL through wal-fetch");
    restored.stop();
    println!("{kind}: {archived} segments archived ({failed} failed attempts), backup {name} restored identical");
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn s3_archive_backup_restore() {
    roundtrip("s3");
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn azure_archive_backup_restore() {
    roundtrip("azure");
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn gs_archive_backup_restore() {
    roundtrip("gs");
}
