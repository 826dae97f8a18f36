//! `walrs_stat_archiver` tells the truth about the archiver, and `walrs_wal_verify()` about
//! the repository: under pgbench its counts match pg_stat_archiver and the objects stored; with
//! the repository unwritable it shows the failure, its cause and `.ready` files piling up; after
//! the repair the run of failures ends and no segment is lost. pg_monitor may read it all, a
//! plain role nothing.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

/// One column of the view, as text ('' for NULL).
fn stat(pg: &Cluster, column: &str) -> String {
    pg.sql(&format!("SELECT coalesce({column}::text, '') FROM walrs_stat_archiver"))
}

fn stat_i64(pg: &Cluster, column: &str) -> i64 {
    pg.sql_i64(&format!("SELECT {column} FROM walrs_stat_archiver"))
}

/// Objects in the repository's wal_005 (segments, history and backup history files).
fn wal_objects(repo: &Repo) -> i64 {
    std::fs::read_dir(repo.wal_dir()).map(|d| d.count() as i64).unwrap_or(0)
}

#[test]
fn the_archiver_view_matches_postgresql_and_shows_failures_and_their_end() {
    let work = Workdir::new("monitor-archiver");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "shared_preload_libraries = 'walrs'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    assert_eq!(stat(&pg, "preloaded"), "true");
    pg.pgbench(&["-i", "-s", "2", "-q"]);
    let backup = pg.sql("SELECT walrs_backup_push()");
    assert!(backup.starts_with("base_"), "{backup}");

    // Archiving under load.
    let load = {
        let (bindir, sock) = (pg_bindir(), work.path.clone());
        std::thread::spawn(move || {
            run(Command::new(bindir.join("pgbench"))
                .args(["-U", "postgres", "-h"])
                .arg(&sock)
                .args(["-p", "5432", "-c", "2", "-j", "2", "-T", "6", "-n", "postgres"]))
        })
    };
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(2));
        pg.switch_wal();
    }
    assert!(load.join().unwrap().contains("tps"));
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    // pg_stat_archiver counts a file once the callback has returned: wait for it to settle.
    wait_for("pg_stat_archiver to count the last segment", Duration::from_secs(10), || pg.archiver_stats().2 == last);
    let (archived, failed, _) = pg.archiver_stats();
    assert!(archived >= 5, "only {archived} files archived");
    assert_eq!(stat_i64(&pg, "archived_count"), archived, "walrs and pg_stat_archiver disagree");
    assert_eq!(wal_objects(&repo), archived, "the repository holds another number of WAL objects");
    assert_eq!(stat(&pg, "last_archived_wal"), last);
    assert_eq!(stat_i64(&pg, "failed_count"), failed);
    let (original, stored) = (stat_i64(&pg, "archived_bytes"), stat_i64(&pg, "stored_bytes"));
    assert!(original >= (archived - 2) * (16 << 20), "{original} bytes for {archived} files");
    assert!(stored > 0 && stored < original, "stored {stored} of {original}: lz4 compresses WAL");
    assert!(stat_i64(&pg, "archived_last_minute") >= 1);
    assert!(pg.sql("SELECT bytes_per_second > 0 FROM walrs_stat_archiver") == "t");
    assert_eq!(stat_i64(&pg, "failures_in_a_row"), 0);

    // The repository becomes unwritable: the view shows the failure within one retry.
    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let failing = pg.switch_wal();
    wait_for("the view to show a failure", Duration::from_secs(30), || stat_i64(&pg, "failures_in_a_row") >= 1);
    assert_eq!(stat(&pg, "last_failed_wal"), failing);
    let failure = stat(&pg, "last_failure");
    assert!(failure.contains("Permission denied"), "the failure should say why: {failure}");
    assert!(!failure.contains('\n'), "{failure}");
    assert!(pg.sql("SELECT last_failed_time > now() - interval '1 minute' FROM walrs_stat_archiver") == "t");
    let ready = stat_i64(&pg, "ready_count");
    assert!(ready >= 1, "{ready} .ready files");
    pg.switch_wal();
    pg.switch_wal();
    assert_eq!(stat_i64(&pg, "ready_count"), ready + 2, ".ready files should pile up");
    assert_eq!(stat_i64(&pg, "archived_count"), archived, "nothing was archived meanwhile");
    // A reload keeps the counters.
    pg.reload();
    std::thread::sleep(Duration::from_millis(500));
    assert!(stat_i64(&pg, "failed_count") >= 1);
    assert_eq!(stat_i64(&pg, "archived_count"), archived);

    // Repaired: the run of failures ends, nothing is lost.
    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(150));
    wait_for("the run of failures to end", Duration::from_secs(10), || stat_i64(&pg, "failures_in_a_row") == 0);
    assert_eq!(stat_i64(&pg, "ready_count"), 0);
    wait_for("pg_stat_archiver to settle", Duration::from_secs(10), || pg.archiver_stats().2 == last);
    let (archived, failed, _) = pg.archiver_stats();
    assert_eq!(stat_i64(&pg, "archived_count"), archived);
    assert_eq!(stat_i64(&pg, "failed_count"), failed);
    assert_eq!(wal_objects(&repo), archived);
    let verified = pg.sql(
        "SELECT timeline || ' ' || status || ' ' || (checked_segments > 0) || ' ' || lost_segments \
         FROM walrs_wal_verify()",
    );
    assert_eq!(verified, "1 ok true 0", "wal-verify from SQL");

    // Who may read it.
    pg.sql("CREATE ROLE watcher LOGIN IN ROLE pg_monitor; CREATE ROLE nobody LOGIN");
    let seen = pg.try_sql_as("watcher", "SELECT archived_count FROM walrs_stat_archiver");
    assert_eq!(seen, Ok(archived.to_string()), "pg_monitor reads the view");
    let verified = pg.try_sql_as("watcher", "SELECT sum(lost_segments) FROM walrs_wal_verify()");
    assert_eq!(verified, Ok("0".to_string()), "pg_monitor runs wal-verify");
    for sql in ["SELECT * FROM walrs_stat_archiver", "SELECT * FROM walrs_wal_verify()", "SELECT walrs_stat_reset()"] {
        let denied = pg.try_sql_as("nobody", sql).expect_err(sql);
        assert!(denied.contains("permission denied"), "{sql}: {denied}");
    }
    let denied = pg.try_sql_as("watcher", "SELECT walrs_stat_reset()").expect_err("pg_monitor resets");
    assert!(denied.contains("permission denied"), "{denied}");

    // A lost segment: one in the middle gone, the ones after it stored an hour ago.
    let segments = repo.segments();
    let gone = &segments[segments.len() - 3];
    for f in std::fs::read_dir(repo.wal_dir()).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if name.starts_with(gone.as_str()) {
            std::fs::remove_file(f.path()).unwrap();
        } else {
            run(Command::new("touch").args(["-d", "1 hour ago"]).arg(f.path()));
        }
    }
    let verified =
        pg.sql("SELECT status || ' ' || lost_segments || ' ' || array_to_string(lost, ',') FROM walrs_wal_verify()");
    assert_eq!(verified, format!("lost 1 {gone}"));
    let cli = walrs(&["--storage", &repo.url(), "wal-verify", "--json"]);
    let report = String::from_utf8_lossy(&cli.stdout);
    assert!(report.contains("\"lost_segments\": 1,"), "the command and the SQL function disagree: {report}");

    // Reset: from zero again, and the reset time moves.
    let before = stat(&pg, "stats_reset");
    assert_eq!(pg.sql("SELECT walrs_stat_reset()"), "t");
    assert_eq!(stat_i64(&pg, "archived_count"), 0);
    assert_eq!(stat_i64(&pg, "failed_count"), 0);
    assert_eq!(stat(&pg, "last_failure"), "");
    assert!(stat(&pg, "stats_reset") > before);
    pg.stop();
}
