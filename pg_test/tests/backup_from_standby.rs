//! A base backup taken on a streaming hot standby while pgbench writes on the primary (both
//! nodes preload walrs, share one configuration and one `file://` repository): the backup waits
//! for the primary to archive the segment it stops in, and restores to exactly the primary's
//! data, with clean btree indexes. The restored server promotes although the backup holds the
//! standby's `standby.signal`. Without `archive_timeout` on an idle primary, a standby backup
//! times out waiting for the segment it stops in, and the error says to set it.

use std::time::{Duration, Instant};
use walrs_pg_test::*;

/// The configuration both nodes share. archive_timeout bounds how long a standby backup waits
/// for the primary to finish the segment it stops in.
pub const SHARED: &str = "shared_preload_libraries = 'walrs'\narchive_timeout = '2s'\nwalrs.backup_wal_timeout = '60s'";

#[test]
fn a_backup_taken_on_a_standby_under_load_restores_the_primarys_data() {
    let work = Workdir::new("standby-backup");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, SHARED);
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "2", "-q"]);
    let standby = pg.streaming_standby(&work, "standby", 5433);
    standby.start();
    wait_for("the standby to stream", Duration::from_secs(60), || {
        standby.try_sql("SELECT status FROM pg_stat_wal_receiver").is_ok_and(|s| s == "streaming")
    });

    let (name, took) = std::thread::scope(|s| {
        let load = s.spawn(|| pg.pgbench(&["-T", "10", "-c", "2"]));
        std::thread::sleep(Duration::from_secs(2));
        let t = Instant::now();
        let name = standby.sql("SELECT walrs_backup_push()");
        let took = t.elapsed();
        assert!(!load.is_finished(), "the backup ran under load");
        load.join().unwrap();
        (name, took)
    });
    println!("standby backup {name} took {took:?} under pgbench");
    assert!(name.starts_with("base_0000000100"), "{name}");
    assert!(standby.server_log().contains(&format!("walrs: backup {name} started on this standby")));
    assert_eq!(standby.sql("SELECT pg_is_in_recovery()"), "t", "the backup leaves the standby a standby");
    assert!(repo.dir.join(format!("basebackups_005/{name}_backup_stop_sentinel.json")).exists());

    // With the primary idle and no archive_timeout, nothing finishes the segment a standby
    // backup stops in: it times out, says why, and leaves no sentinel.
    pg.sql("ALTER SYSTEM SET archive_timeout = 0");
    pg.reload();
    standby.configure("walrs.backup_wal_timeout = '3s'");
    standby.reload();
    std::thread::sleep(Duration::from_secs(1));
    pg.sql("CHECKPOINT");
    let lsn = pg.sql("SELECT pg_current_wal_lsn()");
    wait_for("the standby to replay the checkpoint", Duration::from_secs(30), || {
        standby.sql(&format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'")) == "t"
    });
    let err = standby.try_sql("SELECT walrs_backup_push()").expect_err("the stop segment is never archived");
    assert!(err.contains("where the backup stops, was not archived within 3 s"), "{err}");
    assert!(err.contains("set archive_timeout on the primary"), "{err}");
    assert_eq!(standby.sql("SELECT count(*) FROM walrs_backup_list()"), "1", "no sentinel for it");

    standby.stop();
    let dump = pg.archive_dump_and_stop();
    let restored = restore_and_promote(&work, &repo, &[]);
    let label = std::fs::read_to_string(restored.data.join("backup_label.old")).unwrap();
    assert!(label.contains("BACKUP FROM: standby"), "restored from the standby's backup: {label}");
    assert!(restored.pg_dump() == dump, "the restored data equals the primary's");
    let checked = restored.amcheck_all();
    assert!(checked > 0);
    println!("restored {name}: pg_dump identical, {checked} btree indexes pass bt_index_check");
}
