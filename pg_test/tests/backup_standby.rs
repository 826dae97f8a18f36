//! `backup-fetch --standby`: a server that stays in recovery and keeps replaying WAL as the
//! primary archives it, then promotes on `pg_ctl promote`. While it is a standby,
//! `walrs_backup_push()` there takes a backup of the standby; it starts at the standby's last
//! restartpoint, so before the standby has replayed a new checkpoint of the primary it would
//! get the name of the backup it was restored from, and is refused at once with what to do.

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
    let started = std::time::Instant::now();
    let err = standby
        .try_sql("SET statement_timeout = '20s'; SELECT walrs_backup_push()")
        .expect_err("the standby's start point is that of the backup it came from");
    assert!(err.contains("already exists") && err.contains("CHECKPOINT on the primary"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "refused at once, not after {:?}", started.elapsed());

    pg.sql("CHECKPOINT");
    let after_checkpoint = pg.sql("SELECT pg_current_wal_lsn()");
    let seg = pg.switch_wal();
    pg.wait_archived(&seg, Duration::from_secs(60));
    wait_for("the standby to replay the checkpoint", Duration::from_secs(60), || {
        standby.sql(&format!("SELECT pg_last_wal_replay_lsn() >= '{after_checkpoint}'")) == "t"
    });
    let name = std::thread::scope(|s| {
        let backup = s.spawn(|| standby.try_sql("SET statement_timeout = '60s'; SELECT walrs_backup_push()"));
        // The backup stops in the segment the primary is writing: finish it until the backup is done.
        while !backup.is_finished() {
            pg.switch_wal();
            std::thread::sleep(Duration::from_millis(500));
        }
        backup.join().unwrap().expect("a backup on the standby")
    });
    assert!(repo.dir.join(format!("basebackups_005/{name}_backup_stop_sentinel.json")).exists(), "{name}");
    assert_eq!(standby.sql("SELECT count(*) FROM walrs_backup_list()"), "2");

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
