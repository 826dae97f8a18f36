//! With the repository unwritable, archiving fails loudly but harmlessly: WARNINGs, .ready
//! files pile up, the archiver survives, nothing is marked done. Once storage is writable
//! again every pending segment arrives and the archive has no gap.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn archiving_survives_an_unwritable_repository_and_catches_up() {
    let work = Workdir::new("storage-failure");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    let first = pg.switch_wal();
    pg.wait_archived(&first, Duration::from_secs(60));
    let archiver = pg.archiver_pid().expect("archiver runs");

    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut pending = vec![];
    for _ in 0..4 {
        pending.push(pg.switch_wal());
    }
    wait_for("archive failures", Duration::from_secs(60), || pg.archiver_stats().1 >= 1);
    wait_for("the WARNING", Duration::from_secs(30), || pg.server_log().contains("walrs: could not archive"));
    let log = pg.server_log();
    assert!(log.contains("Permission denied"), "the WARNING should say why");
    let ready = pg.archive_status("ready");
    for name in &pending {
        assert!(ready.contains(name), "{name} should still be .ready, have {ready:?}");
        assert!(!pg.pg_wal().join("archive_status").join(format!("{name}.done")).exists(), "{name} marked done");
    }
    let before = repo.segments();
    assert!(pending.iter().all(|n| !before.contains(n)), "a segment reached the unwritable repository");
    assert_eq!(pg.archiver_pid(), Some(archiver), "the archiver died");

    std::fs::set_permissions(repo.wal_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A new segment wakes the archiver, which is waiting out its retry delay.
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(150));
    assert_eq!(pg.archiver_pid(), Some(archiver), "the archiver died");

    let segments = repo.segments();
    let first_idx = segments.iter().position(|s| *s == first).expect("first segment archived");
    for pair in segments[first_idx..].windows(2) {
        assert_eq!(next_segment(&pair[0]), pair[1], "gap in the archive after {}", pair[0]);
    }
    assert_eq!(segments.last(), Some(&last));
    for name in pending.iter().chain([&last]) {
        repo.assert_fetches_identical(name, &pg.pg_wal().join(name), &work.path.join("check"));
    }
    pg.stop();
}

/// The segment after `name` with 16 MiB segments (0x100 segments per log id).
fn next_segment(name: &str) -> String {
    let tli = &name[..8];
    let log = u32::from_str_radix(&name[8..16], 16).unwrap();
    let seg = u32::from_str_radix(&name[16..], 16).unwrap();
    let (log, seg) = if seg == 0xFF { (log + 1, 0) } else { (log, seg + 1) };
    format!("{tli}{log:08X}{seg:08X}")
}
