//! A backup interrupted two ways: its worker killed with `kill -9` mid-upload, and the whole
//! server stopped with `pg_ctl stop -m immediate` mid-upload. Each time PostgreSQL recovers,
//! the interrupted backup has no sentinel and is not listed, the next backup succeeds, and
//! `walrs_delete_garbage()` removes the leftovers. The last backup restores.

use std::time::Duration;
use walrs_pg_test::*;

fn assert_left_alone(pg: &Cluster, repo: &Repo, folder: &str, how: &str) {
    assert!(
        !repo.dir.join(format!("basebackups_005/{folder}_backup_stop_sentinel.json")).exists(),
        "{how}: no sentinel"
    );
    assert!(
        !pg.sql("SELECT coalesce(string_agg(backup_name, ','), '') FROM walrs_backup_list()").contains(folder),
        "{how}: not listed"
    );
    assert!(repo.dir.join("basebackups_005").join(folder).exists(), "{how}: its objects are left over");
}

#[test]
fn interrupted_backups_are_never_listed_and_are_cleaned_up() {
    let work = Workdir::new("fault-backup-interrupted");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, SLOW_BACKUPS);
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "10", "-q"]);

    // 1. The worker killed.
    let (caller, killed) = backup_in_flight(&pg, &repo);
    let worker = pg.sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walrs backup'");
    assert!(!worker.is_empty(), "the backup worker runs");
    run(std::process::Command::new("kill").args(["-9", &worker]));
    let err = caller.join().unwrap().expect_err("the interrupted backup fails its caller");
    println!("caller of the killed backup got: {}", err.lines().next().unwrap_or(""));
    wait_for("recovery after the kill", Duration::from_secs(60), || pg.try_sql("SELECT 1").is_ok());
    assert_left_alone(&pg, &repo, &killed, "worker killed");
    let next = pg.sql("SELECT walrs_backup_push()");
    assert_ne!(next, killed);

    // 2. The server stopped hard.
    let (caller, crashed) = backup_in_flight(&pg, &repo);
    pg.pg_ctl(&["-m", "immediate", "stop"]);
    assert!(caller.join().unwrap().is_err(), "the caller lost its server");
    pg.start();
    assert_left_alone(&pg, &repo, &crashed, "server crashed");
    let last_backup = pg.sql("SELECT walrs_backup_push()");

    let garbage =
        pg.sql("SELECT kind || ' ' || name FROM walrs_delete_garbage() WHERE kind = 'partial_backup' ORDER BY 1");
    let mut expected = vec![format!("partial_backup {killed}"), format!("partial_backup {crashed}")];
    expected.sort();
    assert_eq!(garbage.lines().collect::<Vec<_>>(), expected, "garbage removes both leftovers");
    assert!(!repo.dir.join("basebackups_005").join(&killed).exists());
    assert!(!repo.dir.join("basebackups_005").join(&crashed).exists());
    assert_eq!(
        pg.sql("SELECT string_agg(backup_name, ',' ORDER BY start_time) FROM walrs_backup_list()"),
        format!("{next},{last_backup}")
    );

    pg.sql("CREATE TABLE after AS SELECT 1 AS x");
    let dump = pg.archive_dump_and_stop();
    let restored = restore_and_promote(&work, &repo, &["--recovery"]);
    assert!(restored.pg_dump() == dump, "the backup after the faults restores to the final state");
    restored.stop();
}
