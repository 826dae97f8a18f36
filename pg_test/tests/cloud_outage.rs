//! An S3 outage under load. pgbench runs while the archiver ships WAL to moto through a relay;
//! the relay goes away for 60 s (connections refused, the server's data intact) and comes back.
//! The archiver survives (same PID), catches up, and every segment from the backup to the end
//! is in the repository and byte-identical to pg_wal. Transactions keep committing during the
//! outage: only archiving waits.

use std::time::{Duration, Instant};
use walrs_pg_test::*;

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn archiving_survives_an_s3_outage_and_loses_nothing() {
    let work = Workdir::new("cloud-outage");
    let server = StorageServer::start(&work, "s3");
    let mut relay = Relay::new(server.port);
    let env_dir = server.env_dir_via(&work.path.join("relay.env"), relay.port);
    let url = server.url("outage");
    let pg = Cluster::init(&work);
    pg.configure(&format!(
        "archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{url}'\nwalrs.env_dir = '{}'\n\
         wal_keep_size = '4GB'\nmax_wal_size = '4GB'",
        env_dir.display()
    ));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "5", "-q"]);
    let backup = pg.sql("SELECT walrs_backup_push()");
    let archiver = pg.archiver_pid().expect("an archiver");
    let before = pgbench_tps(&pg.pgbench(&["-c", "2", "-T", "15", "-n"]));

    relay.stop();
    let outage_started = Instant::now();
    let during = {
        let load = pg.pgbench(&["-c", "2", "-T", "60", "-n"]);
        // Segments switched during the outage pile up as .ready.
        for _ in 0..3 {
            pg.switch_wal();
        }
        load
    };
    let backlog = pg.archive_status("ready").len();
    assert!(backlog > 0, "segments waited during the outage");
    // (An attempt keeps retrying for up to 120 s before it fails with a WARNING: a 60 s outage
    // may end inside that budget, and then no attempt fails at all.)
    relay.start();
    let outage = outage_started.elapsed();

    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(300));
    assert_eq!(pg.archiver_pid(), Some(archiver), "the archiver survived the outage");

    // The chain from the backup's start to the last segment, every one byte-identical.
    let first = backup.trim_start_matches("base_").to_string();
    let segments = pg.segments_between(&first, &last);
    assert_eq!(segments.first(), Some(&first), "pg_wal still holds the backup's first segment");
    let env = env_dir.to_str().unwrap();
    let scratch = work.path.join("fetched");
    for s in &segments {
        let out = walrs(&["--storage", &url, "--env-dir", env, "wal-fetch", s, scratch.to_str().unwrap()]);
        assert_ok(&out, &format!("wal-fetch {s}"));
        assert!(std::fs::read(&scratch).unwrap() == std::fs::read(pg.pg_wal().join(s)).unwrap(), "{s} differs");
        std::fs::remove_file(&scratch).unwrap();
    }
    let during_tps = pgbench_tps(&during);
    let (_, failed, _) = pg.archiver_stats();
    println!(
        "outage {:.0} s: backlog {backlog} segments, {failed} failed attempts; {} segments from {first} to {last} archived and identical; \
         tps {before:.0} before, {during_tps:.0} during",
        outage.as_secs_f64(),
        segments.len()
    );
    assert!(
        during_tps > before * 0.5,
        "transactions kept their pace during the outage ({during_tps:.0} vs {before:.0} tps)"
    );
}
