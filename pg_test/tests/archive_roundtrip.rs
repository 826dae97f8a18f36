//! pgbench writes through `archive_library = 'walrs'` (also preloaded); every archived segment
//! comes back from `walrs wal-fetch` byte for byte, and the archiver never failed.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn every_archived_segment_fetches_back_identical() {
    let work = Workdir::new("roundtrip");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "shared_preload_libraries = 'walrs'\nwalrs.compression = 'lz4'");
    pg.start();
    let archiver = pg.archiver_pid().expect("archiver runs");

    pg.pgbench(&["-i", "-s", "8", "-q"]);
    pg.pgbench(&["-c", "2", "-j", "2", "-T", "8", "-n"]);
    let mut last = pg.switch_wal();
    while repo_segments_after_wait(&pg, &repo, &last) < 20 {
        pg.sql("INSERT INTO pgbench_history SELECT 1, 1, 1, g, now() FROM generate_series(1, 20000) g");
        last = pg.switch_wal();
    }
    pg.wait_archived(&last, Duration::from_secs(120));

    // A backup history file: pg_backup_stop(true) returns only once it and the backup's last
    // segment are archived.
    pg.sql("SELECT pg_backup_start('walrs e2e', true); SELECT lsn FROM pg_backup_stop(true)");
    let backup_files: Vec<_> = std::fs::read_dir(repo.wal_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".backup.lz4"))
        .collect();
    assert_eq!(backup_files.len(), 1, "{backup_files:?}");
    let backup_name = backup_files[0].trim_end_matches(".lz4");
    let dest = work.path.join("backup-history");
    repo.assert_fetches_identical(backup_name, &pg.pg_wal().join(backup_name), &dest);

    let segments = repo.segments();
    assert!(segments.len() >= 20, "only {} segments archived", segments.len());
    let (archived, failed, _) = pg.archiver_stats();
    assert_eq!(failed, 0, "pg_stat_archiver.failed_count on the happy path");
    assert!(archived as usize >= segments.len());
    assert_eq!(pg.archiver_pid(), Some(archiver), "the archiver restarted");
    assert!(!pg.server_log().contains("walrs: could not archive"), "a WARNING on the happy path");

    // Every object is lz4 and every segment comes back as PostgreSQL wrote it.
    let out_dir = work.path.join("fetched");
    std::fs::create_dir_all(&out_dir).unwrap();
    for name in &segments {
        assert!(repo.wal_dir().join(format!("{name}.lz4")).is_file(), "{name} not stored as lz4");
        repo.assert_fetches_identical(name, &pg.pg_wal().join(name), &out_dir.join(name));
    }

    // As restore_command runs it: as postgres, in the data directory, with no flags.
    let name = &segments[segments.len() / 2];
    let out = as_postgres(walrs_bin())
        .current_dir(&pg.data)
        .args(["wal-fetch", name, "pg_wal/RECOVERYXLOG"])
        .output()
        .unwrap();
    assert_ok(&out, "wal-fetch in the data directory");
    assert!(std::fs::read(pg.pg_wal().join("RECOVERYXLOG")).unwrap() == std::fs::read(pg.pg_wal().join(name)).unwrap());
    std::fs::remove_file(pg.pg_wal().join("RECOVERYXLOG")).unwrap();
    println!("archived and verified {} segments", segments.len());
    pg.stop();
}

fn repo_segments_after_wait(pg: &Cluster, repo: &Repo, last: &str) -> usize {
    pg.wait_archived(last, Duration::from_secs(120));
    repo.segments().len()
}
