//! Point in time: a ledger gets 1200 committed rows, one every ~10 ms, after a backup, across
//! WAL switches. Restoring with `--target-time T` (T taken mid-run between two
//! commits) gives exactly the rows committed at or before T: none missing, none after.
//! `WALRS_PITR_SECONDS` sets the duration (default 12; 100 rows a second).

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn restore_to_a_time_gives_exactly_the_rows_committed_by_then() {
    let seconds: usize = std::env::var("WALRS_PITR_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let rows = seconds * 100;
    let work = Workdir::new("pitr");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz NOT NULL)");
    pg.sql("CREATE TABLE marks (t timestamptz)");
    pg.sql("SELECT walrs_backup_push()");

    // One session, autocommit: each INSERT commits before the next statement runs.
    let mut script = String::new();
    for i in 1..=rows {
        script.push_str(&format!("INSERT INTO ledger VALUES ({i}, clock_timestamp());\nSELECT pg_sleep(0.01);\n"));
        if i == rows / 4 || i == 3 * rows / 4 {
            script.push_str("SELECT pg_switch_wal();\n");
        }
        if i == rows / 2 {
            // T: after row i committed, before row i+1 begins.
            script.push_str("INSERT INTO marks VALUES (clock_timestamp());\n");
        }
    }
    pg.psql_script(&script);
    let target = pg.sql("SELECT t FROM marks");
    let expected = pg.sql(&format!("SELECT count(*) || ' ' || max(id) FROM ledger WHERE at <= '{target}'"));
    assert_eq!(expected, format!("{} {}", rows / 2, rows / 2), "the mark must fall between rows");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(120));
    pg.stop();

    let restored = restore_and_promote(&work, &repo, &["--target-time", &target]);
    let got = restored.sql("SELECT count(*) || ' ' || max(id) || ' ' || (max(id) = count(*)) FROM ledger");
    assert_eq!(got, format!("{} {} true", rows / 2, rows / 2), "rows at or before {target}");
    assert!(restored.server_log().contains("recovery stopping before commit"), "recovery should stop at the target");
    println!("restored to {target}: {got}");
    restored.stop();
}
