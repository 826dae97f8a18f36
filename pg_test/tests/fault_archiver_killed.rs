//! The archiver killed. While pgbench writes and segments upload, `kill -9` the archiver five
//! times at irregular moments. PostgreSQL treats it as a crash, restarts, and starts a new
//! archiver; at the end every segment from the first to the last is in the repository and
//! byte-identical to pg_wal.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn killing_the_archiver_five_times_loses_no_wal() {
    let work = Workdir::new("fault-archiver-killed");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "restart_after_crash = on");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "2", "-q"]);
    let first = pg.sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    let mut kills = 0;
    for round in 0..5u64 {
        // Load that tolerates the crash restart the kill causes.
        if let Err(e) = pg.try_pgbench(&["-c", "2", "-T", "3", "-n"]) {
            println!("pgbench cut short by the restart: {}", e.lines().last().unwrap_or(""));
        }
        wait_for("the server to accept connections", Duration::from_secs(60), || pg.try_sql("SELECT 1").is_ok());
        pg.switch_wal();
        std::thread::sleep(Duration::from_millis(150 + 170 * round));
        let pid = pg.archiver_pid().expect("an archiver runs");
        run(std::process::Command::new("kill").args(["-9", &pid.to_string()]));
        kills += 1;
        wait_for("a new archiver", Duration::from_secs(60), || {
            pg.try_sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'")
                .is_ok_and(|p| !p.is_empty() && p != pid.to_string())
        });
    }
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(120));
    let segments = pg.segments_between(&first, &last);
    assert!(segments.len() >= 6, "segments to compare: {segments:?}");
    let scratch = work.path.join("fetched");
    for s in &segments {
        repo.assert_fetches_identical(s, &pg.pg_wal().join(s), &scratch);
    }
    println!("{kills} archiver kills; {} segments {first}..{last} archived and identical", segments.len());
}
