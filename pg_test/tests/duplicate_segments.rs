//! A segment pushed twice with identical content is success; different content under an
//! existing name is refused and the stored object stays as it was. Checked through the archive
//! module and through `walrs wal-push`.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn identical_content_succeeds_and_different_content_is_refused() {
    let work = Workdir::new("duplicates");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    let seg = pg.switch_wal();
    pg.wait_archived(&seg, Duration::from_secs(60));
    let stored = repo.wal_dir().join(format!("{seg}.lz4"));
    let stored_bytes = std::fs::read(&stored).unwrap();

    // 1. PostgreSQL archives the same segment again (as after a crash before .done was written).
    let status = pg.pg_wal().join("archive_status");
    std::fs::rename(status.join(format!("{seg}.done")), status.join(format!("{seg}.ready"))).unwrap();
    let next = pg.switch_wal();
    pg.wait_archived(&next, Duration::from_secs(60));
    assert!(status.join(format!("{seg}.done")).exists());
    assert_eq!(pg.archiver_stats().1, 0, "identical re-archive counted as a failure");
    assert!(pg.server_log().contains(&format!("walrs: {seg} was already archived with identical content")));
    assert_eq!(std::fs::read(&stored).unwrap(), stored_bytes);

    // 2. Someone else's segment already sits under the name PostgreSQL archives next.
    let upcoming = pg.sql("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
    let foreign_dir = work.path.join("foreign");
    std::fs::create_dir_all(&foreign_dir).unwrap();
    let foreign = foreign_dir.join(&upcoming);
    // A segment of that name (its first page as PostgreSQL wrote it, so it passes the page
    // header check), with other bytes after it.
    let mut other = vec![0x5Au8; 16 << 20];
    pg.sql("CREATE TABLE flushes_the_first_page ()"); // a commit flushes WAL to disk
    let first_page = std::fs::read(pg.pg_wal().join(&upcoming)).unwrap();
    other[..8192].copy_from_slice(&first_page[..8192]);
    std::fs::write(&foreign, other).unwrap();
    let out = walrs(&["--storage", &repo.url(), "wal-push", foreign.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let foreign_key = repo.wal_dir().join(format!("{upcoming}.lz4"));
    let foreign_stored = std::fs::read(&foreign_key).unwrap();

    let switched = pg.switch_wal();
    assert_eq!(switched, upcoming);
    wait_for("the refusal", Duration::from_secs(60), || {
        pg.server_log().contains(&format!("already holds different content for {upcoming}"))
    });
    assert!(pg.archiver_stats().1 >= 1, "refusal not counted as a failure");
    assert!(pg.archive_status("ready").contains(&upcoming), "refused segment must stay .ready");
    assert_eq!(std::fs::read(&foreign_key).unwrap(), foreign_stored, "stored object changed");
    assert!(pg.archiver_pid().is_some(), "archiver died");

    // 3. The same through the command line, as archive_command would run it.
    let copy = work.path.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    let seg_copy = copy.join(&seg);
    std::fs::copy(pg.pg_wal().join(&seg), &seg_copy).unwrap();
    for _ in 0..2 {
        let out = walrs(&["--storage", &repo.url(), "wal-push", seg_copy.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("already archived with identical content"));
    }
    let mut changed = std::fs::read(&seg_copy).unwrap();
    changed[8 << 20] ^= 0xFF;
    std::fs::write(&seg_copy, &changed).unwrap();
    let out = walrs(&["--storage", &repo.url(), "wal-push", "--compression", "zstd", seg_copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("different content") && stderr.contains("hint:"), "{stderr}");
    assert_eq!(std::fs::read(&stored).unwrap(), stored_bytes, "stored object changed");
    assert!(!repo.wal_dir().join(format!("{seg}.zst")).exists(), "a second copy was written");
    pg.pg_ctl(&["-m", "immediate", "stop"]);
}
