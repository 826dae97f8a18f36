//! A base backup taken with `SELECT walrs_backup_push()` while pgbench runs, then more writes;
//! `walrs backup-fetch LATEST --recovery` and `pg_ctl start` give a cluster whose pg_dump equals
//! the primary's final pg_dump, with every btree index passing amcheck.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn latest_backup_plus_wal_restores_the_final_state() {
    let work = Workdir::new("backup-latest");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "walrs.backup_partition_size = '8MB'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "10", "-q"]);

    let load = {
        let (bindir, sock) = (pg_bindir(), work.path.clone());
        std::thread::spawn(move || {
            run(std::process::Command::new(bindir.join("pgbench"))
                .args(["-U", "postgres", "-h"])
                .arg(&sock)
                .args(["-p", "5432", "-c", "2", "-j", "2", "-T", "12", "-n", "postgres"]))
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let name = pg.sql("SELECT walrs_backup_push()");
    assert!(name.starts_with("base_000000010000"), "{name}");
    let tps = load.join().unwrap();
    assert!(tps.contains("tps"), "{tps}");

    // After the backup: more transactions and a table that only WAL replay brings back.
    pg.pgbench(&["-c", "2", "-T", "3", "-n"]);
    pg.sql("CREATE TABLE after_backup AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g");
    pg.sql("CREATE INDEX ON after_backup (v)");

    let listed = pg.sql("SELECT backup_name || ' ' || (finish_lsn > start_lsn) || ' ' || timeline || ' ' || is_permanent FROM walrs_backup_list()");
    assert_eq!(listed, format!("{name} true 1 false"));
    let parts = std::fs::read_dir(repo.dir.join("basebackups_005").join(&name).join("tar_partitions")).unwrap().count();
    assert!(parts >= 5, "several 8 MB partitions (a larger file gets one of its own) expected, got {parts}");

    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(120));
    let dump = pg.pg_dump();
    pg.stop();

    let restored = restore_and_promote(&work, &repo, &["--recovery"]);
    let restored_dump = restored.pg_dump();
    if restored_dump != dump {
        std::fs::write(work.path.join("primary.sql"), &dump).unwrap();
        std::fs::write(work.path.join("restored.sql"), &restored_dump).unwrap();
        let first = dump.lines().zip(restored_dump.lines()).position(|(a, b)| a != b);
        panic!(
            "the restored cluster's pg_dump differs from the primary's ({} vs {} lines; first difference at line {first:?}); both are in {}",
            dump.lines().count(),
            restored_dump.lines().count(),
            work.path.display()
        );
    }
    let checked = restored.amcheck_all();
    assert!(checked > 50, "amcheck ran on {checked} indexes");
    println!("backup {name} restored; pg_dump identical ({} bytes); {checked} btree indexes pass amcheck", dump.len());
    restored.stop();
}
