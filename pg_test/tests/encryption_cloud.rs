//! A libsodium-encrypted repository on S3 (moto on 127.0.0.1): `WALG_LIBSODIUM_KEY` beside the
//! endpoint and credentials in `walrs.env_dir`. Archive under pgbench, `walrs_backup_push()`,
//! more writes, then `walrs backup-fetch LATEST --recovery` with the same env dir: the restored
//! pg_dump equals the primary's. A stored segment read back with the key equals the original;
//! with the credentials alone it fails saying it looks encrypted, so moto holds it sealed.
//! Storage does not depend on the server version, so this runs on PostgreSQL 15 and 18 only.

use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

/// base64 of 32 bytes, as `head -c 32 /dev/urandom | base64` makes one.
const KEY: &str = "3q2+7wEjRWeJq83vASNFZ4nerb7vASNFZ4mrze8BI0U=";

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn s3_libsodium_archive_backup_restore() {
    let work = Workdir::new("sodium-s3");
    let server = StorageServer::start(&work, "s3");
    let url = server.url("e2e/sealed");
    let keyless = server.env_dir();
    let env_dir = work.path.join("env");
    run(Command::new("cp").arg("-a").arg(&keyless).arg(&env_dir));
    std::fs::write(env_dir.join("WALG_LIBSODIUM_KEY"), format!("{KEY}\n")).unwrap();
    std::fs::write(env_dir.join("WALG_LIBSODIUM_KEY_TRANSFORM"), "base64\n").unwrap();
    run(Command::new("chmod").arg("-R").arg("go-rwx").arg(&env_dir));
    chown_postgres(&env_dir);
    let pg = Cluster::init(&work);
    pg.configure(&format!(
        "archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{url}'\nwalrs.env_dir = '{}'\n\
         wal_keep_size = '4GB'\nmax_wal_size = '4GB'\nwalrs.backup_partition_size = '16MB'",
        env_dir.display()
    ));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "3", "-q"]);
    let name = pg.sql("SELECT walrs_backup_push()");
    pg.pgbench(&["-c", "2", "-T", "4", "-n"]);
    pg.sql("CREATE TABLE after_backup AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    let dump = pg.archive_dump_and_stop();

    let env = env_dir.to_str().unwrap();
    let dest = work.path.join("restored");
    let fetch = [
        "--storage",
        &url,
        "--env-dir",
        env,
        "backup-fetch",
        dest.to_str().unwrap(),
        "LATEST",
        "--recovery",
        "--target-action",
        "promote",
    ];
    assert_ok(&walrs(&fetch), "backup-fetch with the key");
    let restored = Cluster::adopt(&work, "restored");
    restored.start();
    wait_for("the end of recovery", Duration::from_secs(120), || restored.sql("SELECT pg_is_in_recovery()") == "f");
    assert!(restored.pg_dump() == dump, "the cluster restored from an encrypted S3 repository equals the primary");
    assert!(restored.server_log().contains("restored log file"), "recovery fetched WAL through wal-fetch");
    restored.stop();

    // One segment of the backup's own WAL, read back from moto with and without the key.
    let seg = name["base_".len()..].to_string();
    let original = pg.pg_wal().join(&seg);
    assert!(original.exists(), "{seg} is still in the primary's pg_wal");
    let scratch = work.path.join("fetched");
    let with_key = walrs(&["--storage", &url, "--env-dir", env, "wal-fetch", &seg, scratch.to_str().unwrap()]);
    assert_ok(&with_key, &format!("wal-fetch {seg} with the key"));
    assert!(std::fs::read(&scratch).unwrap() == std::fs::read(&original).unwrap(), "{seg} differs from pg_wal");
    std::fs::remove_file(&scratch).unwrap();
    let keyless = keyless.to_str().unwrap();
    let out = walrs(&["--storage", &url, "--env-dir", keyless, "wal-fetch", &seg, scratch.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("looks encrypted"), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
    assert!(!scratch.exists(), "nothing is written from an object that cannot be opened");
    println!("backup {name} restored identical from encrypted S3; {seg} reads only with the key");
}
