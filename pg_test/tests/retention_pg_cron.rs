//! The pg_cron recipe from docs/sql-api.md: one job per minute calling `walrs_backup_push()`,
//! another calling `walrs_delete_retain(2)`. After three backups and a retention run that
//! follows the last of them, exactly two backups remain, every job run succeeded, and both
//! backups restore (the newest to the primary's final state, the older to its consistent point).

use std::time::{Duration, Instant};
use walrs_pg_test::*;

/// Runs of job `jobid` with `status` (by id: unscheduling removes the job's name, not its runs).
fn runs(pg: &Cluster, jobid: &str, status: &str) -> i64 {
    pg.sql_i64(&format!("SELECT count(*) FROM cron.job_run_details WHERE jobid = {jobid} AND status = '{status}'"))
}

#[test]
#[cfg_attr(not(pg15), ignore = "runs on PostgreSQL 15 only: Debian packages pg_cron (postgresql-15-cron) for 15 alone")]
fn pg_cron_backups_and_retention_leave_two_restorable_backups() {
    let work = Workdir::new("pg-cron");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(
        &work,
        &repo,
        "shared_preload_libraries = 'walrs,pg_cron'\ncron.database_name = 'postgres'\n\
         cron.use_background_workers = on\nmax_worker_processes = 20",
    );
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE EXTENSION pg_cron");
    pg.sql("CREATE TABLE ledger (id serial PRIMARY KEY, at timestamptz DEFAULT now())");
    let backup_job = pg.sql("SELECT cron.schedule('walrs-backup', '* * * * *', 'SELECT walrs_backup_push()')");
    let retain_job =
        pg.sql("SELECT cron.schedule('walrs-retain', '* * * * *', 'SELECT count(*) FROM walrs_delete_retain(2)')");

    // Writes between the backups, until three scheduled backups succeeded.
    let started = Instant::now();
    while runs(&pg, &backup_job, "succeeded") < 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "three scheduled backups within 5 minutes");
        pg.sql("INSERT INTO ledger DEFAULT VALUES");
        pg.switch_wal();
        std::thread::sleep(Duration::from_secs(5));
    }
    pg.sql("SELECT cron.unschedule('walrs-backup')");
    let last_backup_end = pg.sql(&format!("SELECT max(end_time) FROM cron.job_run_details WHERE jobid = {backup_job}"));
    wait_for("a retention run after the last backup", Duration::from_secs(150), || {
        pg.sql_i64(&format!(
            "SELECT count(*) FROM cron.job_run_details WHERE jobid = {retain_job} AND status = 'succeeded' \
             AND start_time > '{last_backup_end}'"
        )) > 0
    });
    pg.sql("SELECT cron.unschedule('walrs-retain')");
    let failed = pg.sql(
        "SELECT coalesce(string_agg(jobid || ': ' || return_message, '; '), '') FROM cron.job_run_details \
         WHERE status = 'failed'",
    );
    assert_eq!(failed, "", "every pg_cron run succeeded");
    let backups: Vec<String> =
        pg.sql("SELECT backup_name FROM walrs_backup_list()").lines().map(String::from).collect();
    assert_eq!(backups.len(), 2, "exactly two backups remain: {backups:?}");
    let total_runs = runs(&pg, &backup_job, "succeeded");
    let retain_runs = runs(&pg, &retain_job, "succeeded");
    assert!(pg.server_log().contains("walrs: retain 2: deleted 1 backup(s)"), "retention logged its deletions");

    pg.sql("INSERT INTO ledger DEFAULT VALUES");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    // pg_cron's own tables change as soon as a server runs: compare the data, not a whole dump.
    let digest = "SELECT count(*) || ' ' || md5(string_agg(id || '@' || at, ',' ORDER BY id)) FROM ledger";
    let final_state = pg.sql(digest);
    pg.stop();
    let newest = restore_and_promote(&work, &repo, &["--recovery"]);
    assert_eq!(newest.sql(digest), final_state, "the newest backup restores to the final state");
    newest.stop();
    let older = restore_backup_and_promote(&work, &repo, &backups[0], "restored-older", &["--target", "immediate"]);
    let rows = older.sql_i64("SELECT count(*) FROM ledger");
    assert!(rows > 0, "the older backup holds the rows written before it");
    older.stop();
    println!(
        "pg_cron: {total_runs} backups and {retain_runs} retention runs in {:.0} s; {} backups remain, both restore",
        started.elapsed().as_secs_f64(),
        backups.len()
    );
}
