//! `backup-fetch --standby`: a server that stays in recovery and keeps replaying WAL as the
//! primary archives it, then promotes on `pg_ctl promote`. While it is a standby,
//! `walrs_backup_push()` there is refused at once, before anything is uploaded.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn a_standby_fed_from_the_archive_follows_the_primary_and_promotes() {
    let work = Workdir::new("standby");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE t (v text)");
    pg.sql("SELECT walrs_backup_push()");

    let out = walrs(&[
        "--storage",
        &repo.url(),
        "backup-fetch",
        work.path.join("standby").to_str().unwrap(),
        "LATEST",
        "--standby",
    ]);
    assert_ok(&out, "backup-fetch --standby");
    let standby = Cluster::adopt_on(&work, "standby", 5433);
    standby.configure("wal_retrieve_retry_interval = '1s'");
    standby.start();
    wait_for("the standby to accept connections", Duration::from_secs(60), || standby.try_sql("SELECT 1").is_ok());
    assert_eq!(standby.sql("SELECT pg_is_in_recovery()"), "t");
    let backups =
        || -> Vec<String> { repo.files().into_iter().filter(|f| f.starts_with("basebackups_005/")).collect() };
    let before = backups();
    let started = std::time::Instant::now();
    // The timeout ends the call if it waits instead of refusing.
    let err = standby
        .try_sql("SET statement_timeout = '20s'; SELECT walrs_backup_push()")
        .expect_err("a base backup on a standby is refused");
    assert!(err.contains("standby"), "the error says the server is a standby: {err}");
    assert!(started.elapsed() < Duration::from_secs(10), "refused at once, not after {:?}", started.elapsed());
    assert_eq!(backups(), before, "nothing was uploaded for the refused backup");

    pg.sql("INSERT INTO t VALUES ('written after the standby started')");
    let seg = pg.switch_wal();
    pg.wait_archived(&seg, Duration::from_secs(60));
    wait_for("the row on the standby", Duration::from_secs(60), || {
        standby.sql("SELECT count(*) FROM t WHERE v = 'written after the standby started'") == "1"
    });
    assert_eq!(standby.sql("SELECT pg_is_in_recovery()"), "t", "a standby stays in recovery");

    standby.pg_ctl(&["-w", "promote"]);
    assert_eq!(standby.sql("SELECT pg_is_in_recovery()"), "f");
    standby.sql("INSERT INTO t VALUES ('written on the promoted standby')");
    assert_eq!(standby.sql("SELECT count(*) FROM t"), "2");
    standby.stop();
    pg.stop();
}
