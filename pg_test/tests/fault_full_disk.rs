//! A full disk on restore: `walrs backup-fetch` into a 16 MB tmpfs fails with a clear
//! out-of-space error and a hint, and leaves no directory PostgreSQL could start.

use std::process::Command;
use walrs_pg_test::*;

/// A small tmpfs, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output(); // best effort: the test is over
    }
}

#[test]
fn restoring_onto_a_full_disk_fails_clearly() {
    let work = Workdir::new("fault-full-disk");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "3", "-q"]);
    pg.sql("SELECT walrs_backup_push()");
    pg.stop();

    let mount = work.path.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    run(Command::new("mount").args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"]).arg(&mount));
    let _disk = SmallDisk(mount.clone());
    chown_postgres(&mount);
    let dest = mount.join("data");
    let out = walrs(&["--storage", &repo.url(), "backup-fetch", dest.to_str().unwrap(), "LATEST"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "backup-fetch fails: {stderr}");
    assert!(stderr.contains("No space left on device"), "the error says the disk is full: {stderr}");
    assert!(stderr.contains("hint: free space"), "with a hint: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dest.join("global/pg_control").exists(), "no startable data directory is left");
    println!("backup-fetch onto a 16 MB tmpfs: {}", stderr.lines().next().unwrap_or(""));
}
