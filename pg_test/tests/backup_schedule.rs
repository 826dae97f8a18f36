//! Scheduled backups: with `shared_preload_libraries = 'walrs'` and
//! `walrs.backup_schedule = '* * * * *'`, two backups complete within ~2.5 minutes; with
//! `walrs.retain_full = 1` the scheduler then deletes the older one and logs it, so
//! `walrs_backup_list()` shows one. A reload that clears the schedule is obeyed, and the
//! scheduler stops cleanly with the server.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn the_scheduler_takes_backups_when_due_and_follows_reloads() {
    let work = Workdir::new("schedule");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(
        &work,
        &repo,
        "shared_preload_libraries = 'walrs'\nwalrs.backup_schedule = '* * * * *'\nwalrs.retain_full = 1",
    );
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    wait_for("the scheduler in pg_stat_activity", Duration::from_secs(30), || {
        pg.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walrs scheduler'") == "1"
    });
    wait_for("two scheduled backups and retention after the second", Duration::from_secs(150), || {
        pg.server_log().contains("walrs: retention (walrs.retain_full = 1): deleted 1 backup(s)")
    });
    let log = pg.server_log();
    assert!(log.contains("walrs: backup scheduler started: '* * * * *'"), "the scheduler says what it does");
    assert!(log.matches("walrs: scheduled backup base_").count() >= 2, "each run is logged");
    assert!(
        log.contains("walrs: retention (walrs.retain_full = 1): deleted 0 backup(s)"),
        "the first run kept its backup"
    );
    assert_eq!(pg.sql("SELECT count(*) FROM walrs_backup_list()"), "1", "retain_full = 1 leaves one backup");

    pg.configure("walrs.backup_schedule = ''");
    pg.reload();
    wait_for("the reload", Duration::from_secs(30), || pg.server_log().contains("walrs: backup schedule cleared"));
    pg.stop();
    assert!(pg.server_log().contains("walrs: backup scheduler stopped"), "the scheduler stops cleanly");
}
