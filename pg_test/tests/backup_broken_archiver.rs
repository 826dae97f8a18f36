//! With archiving broken, `walrs_backup_push()` fails with a clear error within
//! `walrs.backup_wal_timeout`, writes no sentinel, and lists nothing; once archiving works again,
//! the next backup succeeds. A second backup while one runs is refused. A backup terminated
//! while it waits for its WAL ends at once.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use walrs_pg_test::*;

#[test]
fn a_backup_fails_in_bounded_time_when_its_wal_cannot_be_archived() {
    let work = Workdir::new("backup-broken-archiver");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "walrs.backup_wal_timeout = '10s'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    let first = pg.switch_wal();
    pg.wait_archived(&first, Duration::from_secs(60));

    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let started = Instant::now();
    let first = backup_push_in_background(&pg);
    // While that one waits for its WAL, a second backup is refused.
    wait_for("the first backup to run", Duration::from_secs(30), || {
        pg.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walrs backup'") == "1"
    });
    std::thread::sleep(Duration::from_millis(500));
    let busy = pg.try_sql("SELECT walrs_backup_push()").expect_err("a second backup must be refused");
    assert!(busy.contains("another walrs backup is running"), "{busy}");
    let err = first.join().unwrap().expect_err("the backup must fail");
    let took = started.elapsed();
    assert!(err.contains("was not archived within 10 s") && err.contains("no sentinel was written"), "{err}");
    assert!(err.contains("HINT:") && err.contains("pg_stat_archiver"), "{err}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let sentinels: Vec<_> = std::fs::read_dir(repo.dir.join("basebackups_005"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with("_backup_stop_sentinel.json"))
        .collect();
    assert!(sentinels.is_empty(), "a sentinel was written");
    assert_eq!(pg.sql("SELECT count(*) FROM walrs_backup_list()"), "0");

    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(150));
    let name = pg.sql("SELECT walrs_backup_push()");
    assert_eq!(pg.sql("SELECT string_agg(backup_name, ',') FROM walrs_backup_list()"), name);
    println!("failed in {took:?} with: {}", err.lines().next().unwrap_or(""));

    // Terminated while it waits for its WAL (a long wait this time): it stops within seconds.
    pg.sql("ALTER SYSTEM SET walrs.backup_wal_timeout = '300s'");
    pg.reload();
    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let waiting = backup_push_in_background(&pg);
    wait_for("the backup to wait for its WAL", Duration::from_secs(60), || {
        pg.server_log().matches("started at").count() >= 3
    });
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walrs backup'");
    wait_for("the terminated backup to end", Duration::from_secs(320), || {
        pg.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walrs backup'") == "0"
    });
    let stopped_in = t.elapsed();
    let err = waiting.join().unwrap().expect_err("a terminated backup fails its caller");
    println!("terminated while waiting for WAL: ended after {stopped_in:?}: {}", err.lines().next().unwrap_or(""));
    assert!(stopped_in < Duration::from_secs(10), "the terminated backup waited {stopped_in:?} for its WAL");
    assert!(err.contains("cancelled"), "{err}");
    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    pg.stop();
}
