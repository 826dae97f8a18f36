//! `walrs wal-fetch` as restore_command: a missing file exits 74 and creates nothing; a
//! damaged object is an error, which during archive recovery exits above 125 so PostgreSQL
//! stops instead of ending recovery early.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn missing_and_damaged_segments() {
    let work = Workdir::new("fetch-codes");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "walrs.compression = 'zstd'");
    pg.start();
    let seg = pg.switch_wal();
    pg.wait_archived(&seg, Duration::from_secs(60));
    pg.stop();

    let dest = work.path.join("RECOVERYXLOG");
    let dest_s = dest.to_str().unwrap();
    let url = repo.url();

    // Missing: 74, nothing written, a message.
    let out = walrs(&["--storage", &url, "wal-fetch", "0000000100000000000000FE", dest_s]);
    assert_eq!(out.status.code(), Some(74));
    assert!(!dest.exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the repository"));
    let out = walrs(&["--storage", &url, "wal-fetch", "00000009.history", dest_s]);
    assert_eq!(out.status.code(), Some(74));

    // Found: 0.
    let out = walrs(&["--storage", &url, "wal-fetch", &seg, dest_s]);
    assert!(out.status.success());
    std::fs::remove_file(&dest).unwrap();

    // Damaged: an error naming the object, never 74, nothing written.
    let key = repo.wal_dir().join(format!("{seg}.zst"));
    let mut bytes = std::fs::read(&key).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&key, &bytes).unwrap();
    let out = walrs(&["--storage", &url, "wal-fetch", &seg, dest_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("wal_005/{seg}.zst")));
    assert!(!dest.exists());

    // The same from a data directory in archive recovery: 128 (stop), but missing is still 74.
    std::fs::write(pg.data.join("recovery.signal"), "").unwrap();
    let in_data_dir = |name: &str| {
        as_postgres(walrs_bin())
            .current_dir(&pg.data)
            .args(["wal-fetch", name, "pg_wal/RECOVERYXLOG"])
            .output()
            .unwrap()
    };
    assert_eq!(in_data_dir(&seg).status.code(), Some(128));
    assert_eq!(in_data_dir("0000000100000000000000FE").status.code(), Some(74));
    // A standby asks again later, so there an error is an ordinary failure.
    std::fs::write(pg.data.join("standby.signal"), "").unwrap();
    assert_eq!(in_data_dir(&seg).status.code(), Some(1));
    assert!(!pg.pg_wal().join("RECOVERYXLOG").exists());

    // Bad invocations: an invalid name and no repository at all.
    let out = walrs(&["--storage", &url, "wal-fetch", "../../etc/passwd", dest_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WAL file name"));
    let out = std::process::Command::new(walrs_bin())
        .current_dir(&work.path)
        .env_remove("WALG_S3_PREFIX")
        .env_remove("WALG_FILE_PREFIX")
        .args(["wal-fetch", &seg, dest_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no repository is configured"));
    // WAL-G's variable works where nothing else is set.
    std::fs::write(&key, {
        let mut b = bytes.clone();
        b[mid] ^= 0x01;
        b
    })
    .unwrap();
    let out = std::process::Command::new(walrs_bin())
        .current_dir(&work.path)
        .env("WALG_FILE_PREFIX", &repo.dir)
        .args(["wal-fetch", &seg, dest_s])
        .output()
        .unwrap();
    assert_ok(&out, "wal-fetch with WALG_FILE_PREFIX");
}
