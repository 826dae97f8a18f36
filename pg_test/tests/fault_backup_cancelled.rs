//! A running backup answers PostgreSQL while it uploads: `pg_terminate_backend` on its
//! worker and a fast shutdown end it within seconds (no sentinel, not listed), and
//! `DROP DATABASE` (which waits for every process to absorb a signal barrier) does not wait
//! for the upload to finish. The backups are slow on purpose: brotli, one upload at a time.

use std::time::{Duration, Instant};
use walrs_pg_test::*;

/// Longest a running backup may take to answer; its whole upload takes far longer.
const PROMPT: Duration = Duration::from_secs(10);

fn worker_pid(pg: &Cluster) -> String {
    pg.sql("SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity WHERE backend_type = 'walrs backup'")
}

fn no_sentinel(repo: &Repo, folder: &str) -> bool {
    !repo.dir.join(format!("basebackups_005/{folder}_backup_stop_sentinel.json")).exists()
}

#[test]
fn a_running_backup_stops_or_yields_within_seconds() {
    let work = Workdir::new("fault-backup-cancelled");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, SLOW_BACKUPS);
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "20", "-q"]);
    pg.sql("CREATE DATABASE scratch");

    // 1. DROP DATABASE while a backup uploads: it completes at once, and so does the backup.
    let (caller, folder) = backup_in_flight(&pg, &repo);
    let t = Instant::now();
    pg.sql("DROP DATABASE scratch");
    let dropped_in = t.elapsed();
    println!("DROP DATABASE took {dropped_in:?} during a backup");
    assert!(!caller.is_finished(), "the backup was over before the drop: make it slower");
    assert!(dropped_in < PROMPT, "DROP DATABASE waited {dropped_in:?} for the backup's upload");
    assert_eq!(caller.join().unwrap().expect("the backup completes"), folder);

    // 2. The worker terminated: it stops within seconds, leaving no sentinel.
    let (caller, folder) = backup_in_flight(&pg, &repo);
    let pid = worker_pid(&pg);
    assert!(!pid.is_empty(), "the backup worker runs");
    let t = Instant::now();
    pg.sql(&format!("SELECT pg_terminate_backend({pid})"));
    wait_for("the terminated worker to exit", Duration::from_secs(300), || worker_pid(&pg).is_empty());
    let stopped_in = t.elapsed();
    println!("the terminated backup worker exited after {stopped_in:?}");
    assert!(stopped_in < PROMPT, "the terminated worker went on for {stopped_in:?}");
    let err = caller.join().unwrap().expect_err("a terminated backup fails its caller");
    println!("caller of the terminated backup got: {}", err.lines().next().unwrap_or(""));
    assert!(no_sentinel(&repo, &folder), "a terminated backup wrote its sentinel");

    // 3. A fast shutdown during a backup: the server stops within seconds.
    let (caller, folder) = backup_in_flight(&pg, &repo);
    let t = Instant::now();
    pg.pg_ctl(&["-m", "fast", "-t", "300", "stop"]);
    let shut_in = t.elapsed();
    println!("pg_ctl stop -m fast took {shut_in:?} during a backup");
    assert!(shut_in < PROMPT, "a fast shutdown waited {shut_in:?} for the backup");
    assert!(caller.join().unwrap().is_err(), "the caller lost its server");
    assert!(no_sentinel(&repo, &folder), "a backup cut by shutdown wrote its sentinel");

    pg.start();
    assert!(
        !pg.sql("SELECT coalesce(string_agg(backup_name, ','), '') FROM walrs_backup_list()").contains(&folder),
        "not listed"
    );
    pg.stop();
}
