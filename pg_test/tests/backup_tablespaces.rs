//! A cluster with a table in a tablespace backs up and restores, the tablespace remapped to a
//! new path with `--tablespace-mapping`.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn a_tablespace_restores_to_a_new_path() {
    let work = Workdir::new("tablespaces");
    let repo = Repo::new(&work);
    let ts = work.path.join("ts1");
    std::fs::create_dir(&ts).unwrap();
    chown_postgres(&ts);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql(&format!("CREATE TABLESPACE ts1 LOCATION '{}'", ts.display()));
    pg.sql("CREATE TABLE in_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g");
    pg.sql("CREATE INDEX in_ts_v ON in_ts (v) TABLESPACE ts1");
    pg.sql("SELECT walrs_backup_push()");
    pg.sql("INSERT INTO in_ts SELECT g, md5(g::text) FROM generate_series(50001, 60000) g");
    let want = pg.sql("SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM in_ts");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    pg.stop();

    let moved = work.path.join("ts1-restored");
    let mapping = format!("{}={}", ts.display(), moved.display());
    let restored = restore_and_promote(&work, &repo, &["--tablespace-mapping", &mapping, "--recovery"]);
    assert_eq!(
        restored.sql("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts1'"),
        moved.display().to_string()
    );
    assert_eq!(restored.sql("SELECT count(*) || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM in_ts"), want);
    restored.amcheck_all();
    restored.stop();
}
