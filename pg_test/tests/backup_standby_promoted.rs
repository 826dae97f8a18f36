//! A standby promoted while a base backup runs on it: `pg_backup_stop` refuses (PostgreSQL
//! knows the copy may be inconsistent), the backup fails with that reason, and no sentinel is
//! written. The promoted server then takes backups as a primary.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn a_backup_on_a_standby_promoted_under_it_fails_without_a_sentinel() {
    let work = Workdir::new("standby-promoted");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, &format!("shared_preload_libraries = 'walrs'\n{SLOW_BACKUPS}"));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "4", "-q"]);
    let standby = pg.streaming_standby(&work, "standby", 5433);
    standby.start();
    wait_for("the standby to stream", Duration::from_secs(60), || {
        standby.try_sql("SELECT status FROM pg_stat_wal_receiver").is_ok_and(|s| s == "streaming")
    });

    let (caller, folder) = backup_in_flight(&standby, &repo);
    pg.stop();
    standby.pg_ctl(&["-w", "promote"]);
    assert!(!caller.is_finished(), "the backup was over before the promotion: make it slower");
    let err = caller.join().unwrap().expect_err("a backup across a promotion fails");
    assert!(err.contains("the standby was promoted during online backup"), "{err}");
    assert!(
        !repo.dir.join(format!("basebackups_005/{folder}_backup_stop_sentinel.json")).exists(),
        "no sentinel for the failed backup"
    );
    assert_eq!(standby.sql("SELECT count(*) FROM walrs_backup_list()"), "0");

    let name = standby.sql("SELECT walrs_backup_push()");
    assert!(name.starts_with("base_00000002"), "the promoted server backs up on its new timeline: {name}");
}
