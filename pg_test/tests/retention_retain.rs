//! Retention on a real cluster: four backups with WAL between them, the 2nd marked permanent.
//! `walrs_delete_retain(2, dry_run => true)` changes nothing; `walrs_delete_retain(2)` removes the
//! 1st backup and the WAL only it needed, keeps the permanent 2nd with its own WAL, and keeps the
//! 3rd and 4th with all WAL from the 3rd on. A second run deletes nothing. Afterwards the newest
//! backup restores to the latest state and the permanent one to its own consistent point.

use walrs_pg_test::*;

/// The segment holding `lsn` (not the one before a boundary, as pg_walfile_name reports).
fn segment_of(pg: &Cluster, lsn_expr: &str) -> String {
    pg.sql(&format!("SELECT pg_walfile_name(({lsn_expr}) + 1)"))
}

#[test]
fn retain_two_keeps_the_permanent_backup_and_what_restores_need() {
    let work = Workdir::new("retention-retain");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let mut names = Vec::new();
    for i in 0..4 {
        pg.sql(&format!(
            "INSERT INTO t SELECT g, md5(g::text) FROM generate_series({}, {}) g",
            i * 1000 + 1,
            i * 1000 + 1000
        ));
        pg.switch_wal();
        pg.switch_wal();
        names.push(pg.sql("SELECT walrs_backup_push()"));
    }
    pg.sql(&format!("SELECT walrs_backup_mark('{}')", names[1]));
    let permanent = pg.sql("SELECT string_agg(backup_name, ',') FROM walrs_backup_list() WHERE is_permanent");
    assert_eq!(permanent, names[1]);
    let start = |n: &str| n.trim_start_matches("base_").to_string();
    let finish_2 =
        segment_of(&pg, &format!("(SELECT finish_lsn FROM walrs_backup_list() WHERE backup_name = '{}')", names[1]));

    let before = repo.files();
    let dry = pg.sql("SELECT kind || ' ' || name FROM walrs_delete_retain(2, dry_run => true) ORDER BY 1");
    assert_eq!(repo.files(), before, "a dry run deletes nothing");
    let dry_backups: Vec<&str> = dry.lines().filter(|l| l.starts_with("backup ")).collect();
    assert_eq!(dry_backups, vec![format!("backup {}", names[0])]);

    let deleted = pg.sql("SELECT kind || ' ' || name FROM walrs_delete_retain(2) ORDER BY 1");
    assert_eq!(deleted, dry, "the run deletes what the dry run showed");
    let listed = pg.sql("SELECT string_agg(backup_name, ',' ORDER BY start_time) FROM walrs_backup_list()");
    assert_eq!(listed, names[1..].join(","));
    assert!(!repo.dir.join("basebackups_005").join(&names[0]).exists(), "the 1st backup's folder is gone");
    assert!(pg.server_log().contains(&format!("walrs: retain 2: deleted 1 backup(s) ({})", names[0])));

    // WAL left: the permanent backup's own range, and everything from the 3rd backup's start.
    let segments = repo.segments();
    for s in &segments {
        let needed = (s.as_str() >= start(&names[1]).as_str() && s.as_str() <= finish_2.as_str())
            || s.as_str() >= start(&names[2]).as_str();
        assert!(needed, "{s} was kept but no backup needs it (segments: {segments:?})");
    }
    let gone: Vec<&str> = deleted.lines().filter_map(|l| l.strip_prefix("wal ")).collect();
    assert!(gone.iter().any(|w| *w < start(&names[1]).as_str()), "WAL only the 1st backup needed is deleted");
    assert!(
        gone.iter().any(|w| w.len() == 24 && *w > finish_2.as_str() && *w < start(&names[2]).as_str()),
        "WAL between the permanent backup's end and the 3rd backup is deleted: {gone:?}"
    );
    for n in &names[1..] {
        assert!(segments.contains(&start(n)), "the start segment of {n} is kept");
    }
    assert_eq!(pg.sql("SELECT count(*) FROM walrs_delete_retain(2)"), "0", "a second run deletes nothing");

    // The newest backup still restores to the latest point.
    pg.sql("INSERT INTO t SELECT g, 'after' FROM generate_series(100001, 100500) g");
    let dump = pg.archive_dump_and_stop();
    let latest = restore_and_promote(&work, &repo, &["--recovery"]);
    assert!(latest.pg_dump() == dump, "the newest backup restores to the primary's final state");
    latest.stop();

    // The permanent backup restores to its own consistent point: the rows written before it.
    let old = restore_backup_and_promote(&work, &repo, &names[1], "restored-permanent", &["--target", "immediate"]);
    assert_eq!(old.sql("SELECT count(*) || ' ' || max(id) FROM t"), "2000 2000");
    old.stop();
    println!("retain 2: deleted {} item(s); kept {}; both restores verified", deleted.lines().count(), listed);
}
