//! Retention run by a role without `pg_read_all_stats` (the `backup_operator` of
//! docs/sql-api.md, as a pg_cron job would run it) while a backup uploads: the running
//! backup's objects are not garbage, the backup completes, and it restores.

use walrs_pg_test::*;

#[test]
fn retention_by_a_plain_role_never_removes_a_running_backup() {
    let work = Workdir::new("retention-running-backup");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, SLOW_BACKUPS);
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.psql_script(
        "CREATE ROLE backup_operator LOGIN;\n\
         GRANT EXECUTE ON FUNCTION walrs_delete_retain(int, bool) TO backup_operator;\n\
         GRANT EXECUTE ON FUNCTION walrs_delete_garbage(bool) TO backup_operator;\n",
    );
    pg.pgbench(&["-i", "-s", "10", "-q"]);

    let (caller, folder) = backup_in_flight(&pg, &repo);
    let garbage = pg
        .try_sql_as("backup_operator", "SELECT kind || ' ' || name FROM walrs_delete_garbage()")
        .expect("walrs_delete_garbage() as backup_operator");
    assert!(!garbage.contains(&folder), "the running backup {folder} was deleted as garbage: {garbage}");
    assert!(repo.dir.join("basebackups_005").join(&folder).exists());
    let done = caller.join().unwrap().expect("the backup completes");
    assert_eq!(done, folder);

    let verified = walrs(&["--storage", &repo.url(), "backup-verify", "LATEST"]);
    assert_ok(&verified, "backup-verify LATEST");
    let dump = pg.archive_dump_and_stop();
    let restored = restore_and_promote(&work, &repo, &["--recovery"]);
    assert!(restored.pg_dump() == dump, "the backup restores to the final state");
    restored.stop();
}
