//! `walrs.backup_on = standby` with one configuration on a primary and its streaming standby,
//! both scheduling a backup every minute: the standby takes each one, the primary logs why it
//! skips, and the repository gets one backup per minute, not two.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn nodes_sharing_a_schedule_take_one_backup_per_run() {
    let work = Workdir::new("standby-schedule");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(
        &work,
        &repo,
        "shared_preload_libraries = 'walrs'\nwal_keep_size = '128MB'\n\
         walrs.backup_schedule = '* * * * *'\nwalrs.backup_on = 'standby'",
    );
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    let standby = pg.streaming_standby(&work, "standby", 5433);
    standby.start();
    wait_for("the scheduler on the standby", Duration::from_secs(30), || {
        standby.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walrs scheduler'") == "1"
    });

    // Checkpoints on the primary, so each run on the standby starts at a later restartpoint
    // (and its backup gets a name of its own); WAL switches, so the segment each backup stops
    // in is archived within seconds.
    let done = |log: &str| log.matches("walrs: scheduled backup base_").count();
    wait_for("two scheduled backups on the standby", Duration::from_secs(150), || {
        pg.sql("CHECKPOINT");
        pg.switch_wal();
        std::thread::sleep(Duration::from_secs(4));
        done(&standby.server_log()) >= 2
    });
    let (primary_log, standby_log) = (pg.server_log(), standby.server_log());
    let sentinels: Vec<String> =
        repo.files().into_iter().filter(|f| f.ends_with("_backup_stop_sentinel.json")).collect();
    assert_eq!(sentinels.len(), done(&standby_log), "one backup per run: {sentinels:?}");
    assert!(!primary_log.contains("walrs: scheduled backup starting"), "the primary takes none");
    assert!(
        primary_log.contains(
            "walrs: scheduled backup skipped ('* * * * *'): this server is the primary and walrs.backup_on = 'standby': a standby takes it"
        ),
        "the primary says why it skips"
    );
    assert!(standby_log.contains("started on this standby"));
    standby.stop();
    pg.stop();
}
