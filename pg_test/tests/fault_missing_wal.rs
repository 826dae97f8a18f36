//! Missing WAL: one archived segment deleted from the middle of the chain. `walrs wal-verify`
//! reports exactly that segment as lost (exit 1), and `walrs restore-test --target-time` to a
//! time after it fails clearly instead of opening a database that silently lacks data.
//! (A gap counts as lost once the segments after it are older than 10 minutes; the test ages
//! the stored objects' times by an hour, as time would.)

use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn a_lost_segment_is_reported_and_stops_a_restore_past_it() {
    let work = Workdir::new("fault-missing-wal");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())");
    pg.sql("SELECT walrs_backup_push()");
    let mut switched = Vec::new();
    for i in 1..=6 {
        pg.sql(&format!("INSERT INTO ledger (id) VALUES ({i})"));
        switched.push(pg.switch_wal());
    }
    std::thread::sleep(Duration::from_millis(1100));
    let target = pg.sql("SELECT clock_timestamp()");
    pg.sql("INSERT INTO ledger (id) VALUES (7)");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    pg.stop();

    let lost = switched[2].clone();
    let object = repo.wal_dir().join(format!("{lost}.lz4"));
    std::fs::remove_file(&object).unwrap_or_else(|e| panic!("{}: {e}", object.display()));
    run(Command::new("find").arg(&repo.dir).args(["-type", "f", "-exec", "touch", "-d", "1 hour ago", "{}", "+"]));

    let url = repo.url();
    let verify = walrs(&["--storage", &url, "wal-verify"]);
    let report = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    assert_eq!(verify.status.code(), Some(1), "wal-verify exits 1 on a lost segment: {report}");
    assert!(report.contains(&lost), "wal-verify names {lost}: {report}");
    assert!(report.contains("1 lost"), "exactly one segment is lost: {report}");

    let drill = walrs(&[
        "--storage",
        &url,
        "restore-test",
        "LATEST",
        "--target-time",
        &target,
        "--pg-bindir",
        pg_bindir().to_str().unwrap(),
        "--timeout",
        "120",
    ]);
    let drill_report = format!("{}{}", String::from_utf8_lossy(&drill.stdout), String::from_utf8_lossy(&drill.stderr));
    assert_eq!(drill.status.code(), Some(1), "restore-test past the lost segment fails: {drill_report}");
    assert!(drill_report.contains("FAILED"), "the drill says what failed: {drill_report}");
    println!("lost {lost}: wal-verify exit 1 naming it; restore-test to {target} failed:\n{drill_report}");
}
