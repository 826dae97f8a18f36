//! A corrupt object: one byte flipped in a stored tar partition and one in a stored WAL segment.
//! `backup-verify`, `wal-fetch` and `backup-fetch` each fail with an error naming the object;
//! `wal-fetch` writes nothing, and the failed restore leaves no directory that looks like a
//! data directory PostgreSQL could start (pg_control is restored last).

use std::time::Duration;
use walrs_pg_test::*;

fn flip_middle_byte(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

fn failure(args: &[&str]) -> String {
    let out = walrs(args);
    assert!(!out.status.success(), "walrs {args:?} must fail");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn corrupt_objects_are_named_and_never_restored() {
    let work = Workdir::new("fault-corrupt");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "walrs.backup_partition_size = '4MB'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "3", "-q"]);
    let name = pg.sql("SELECT walrs_backup_push()");
    pg.pgbench(&["-c", "2", "-T", "3", "-n"]);
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    pg.stop();
    let url = repo.url();
    assert_ok(&walrs(&["--storage", &url, "backup-verify", "LATEST"]), "backup-verify of an intact backup");

    let parts = repo.dir.join("basebackups_005").join(&name).join("tar_partitions");
    let part = parts.join("part_001.tar.lz4");
    flip_middle_byte(&part);
    let part_key = format!("basebackups_005/{name}/tar_partitions/part_001.tar.lz4");
    let verify = failure(&["--storage", &url, "backup-verify", &name]);
    assert!(verify.contains(&part_key), "backup-verify names the object: {verify}");

    let dest = work.path.join("restored");
    let fetch = failure(&["--storage", &url, "backup-fetch", dest.to_str().unwrap(), "LATEST"]);
    assert!(fetch.contains("part_001.tar.lz4"), "backup-fetch names the object: {fetch}");
    assert!(!dest.join("global/pg_control").exists(), "the failed restore has no pg_control: it cannot be started");

    let segment = last.clone();
    let wal_key = repo.wal_dir().join(format!("{segment}.lz4"));
    flip_middle_byte(&wal_key);
    let scratch = work.path.join("fetched");
    let wal = failure(&["--storage", &url, "wal-fetch", &segment, scratch.to_str().unwrap()]);
    assert!(wal.contains(&format!("wal_005/{segment}.lz4")), "wal-fetch names the object: {wal}");
    assert!(!scratch.exists(), "wal-fetch wrote nothing");
    println!("corrupt partition and WAL object: backup-verify, backup-fetch and wal-fetch each failed naming them");
}
