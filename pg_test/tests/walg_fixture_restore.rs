//! Interop: repositories written by another WAL-G-format tool (lz4, zstd, brotli) restore with
//! `walrs backup-fetch LATEST --recovery` and `walrs wal-fetch` as restore_command, and hold
//! exactly the data the fixtures' README promises (including rows only WAL replay brings back);
//! so does the one encrypted with libsodium, given its key.

use std::time::Duration;
use walrs_pg_test::*;

/// `backup-fetch LATEST --recovery` of the repository at `url` into `work`/data, with `extra`
/// options; started, and recovery (WAL replay through wal-fetch) waited for.
fn restore_with_replay(work: &Workdir, url: &str, extra: &[&str]) -> Cluster {
    let data = work.path.join("data");
    let mut args = vec!["--storage", url, "backup-fetch", data.to_str().unwrap(), "LATEST", "--recovery"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--target-action", "promote"]);
    let stderr = assert_ok(&walrs(&args), &format!("backup-fetch {}", extra.join(" ")));
    assert!(stderr.contains("restored base_000000010000000000000002"), "{stderr}");
    let pg = Cluster::adopt(work, "data");
    pg.start();
    wait_for("the end of recovery", Duration::from_secs(60), || pg.sql("SELECT pg_is_in_recovery()") == "f");
    pg
}

#[test]
#[cfg_attr(not(pg15), ignore = "runs on PostgreSQL 15 only: the fixtures are PostgreSQL 15 clusters")]
fn walg_repositories_restore_with_wal_replay() {
    for method in ["lz4", "zstd", "brotli"] {
        let work = Workdir::new(&format!("walg-{method}"));
        let repo = work.path.join("repo");
        walrs_fixtures::copy_repository(method, &repo);
        chown_postgres(&repo);
        let url = format!("file://{}", repo.display());

        let list = walrs(&["--storage", &url, "backup-list", "--json"]);
        assert_ok(&list, "backup-list");
        let listed = String::from_utf8_lossy(&list.stdout);
        assert!(listed.contains("\"backup_name\": \"base_000000010000000000000002\""), "{listed}");

        let pg = restore_with_replay(&work, &url, &[]);
        assert_eq!(
            pg.sql("SELECT count(*)||' '||md5(string_agg(payload, ',' ORDER BY id)) FROM fixture_data"),
            "7000 e2aea2b7433808dcdc83cd8dbc738023",
            "{method}"
        );
        assert_eq!(pg.sql("SELECT note FROM after_backup"), "replayed from wal_005", "{method}");
        assert!(pg.server_log().contains("archive recovery complete"), "{method}: recovery did not run");
        pg.stop();
    }
}

/// The fixture every WAL and backup object of which is sealed with libsodium's secretstream: the
/// key in an env dir given to `backup-fetch`, which passes it on to restore_command.
#[test]
#[cfg_attr(not(pg15), ignore = "runs on PostgreSQL 15 only: the fixtures are PostgreSQL 15 clusters")]
fn walg_libsodium_repository_restores_with_wal_replay() {
    let work = Workdir::new("walg-libsodium-lz4");
    let repo = work.path.join("repo");
    walrs_fixtures::copy_repository("libsodium-lz4", &repo);
    chown_postgres(&repo);
    let url = format!("file://{}", repo.display());
    let env = work.path.join("env");
    std::fs::create_dir_all(&env).unwrap();
    let key = std::fs::read_to_string(walrs_fixtures::walg_format().join("libsodium-lz4.key")).unwrap();
    std::fs::write(env.join("WALG_LIBSODIUM_KEY"), format!("{}\n", key.trim())).unwrap();
    std::fs::write(env.join("WALG_LIBSODIUM_KEY_TRANSFORM"), "base64\n").unwrap();
    run(std::process::Command::new("chmod").arg("-R").arg("go-rwx").arg(&env));
    chown_postgres(&env);

    let pg = restore_with_replay(&work, &url, &["--env-dir", env.to_str().unwrap()]);
    assert_eq!(
        pg.sql("SELECT count(*)||' '||md5(string_agg(id||':'||payload, ',' ORDER BY id)) FROM fixture_data"),
        "7000 6260799d2ef9a8964f2fab6d5efa4876"
    );
    assert_eq!(pg.sql("SELECT note FROM after_backup"), "replayed from wal_005");
    assert!(pg.server_log().contains("archive recovery complete"), "recovery did not run");
    assert!(pg.server_log().contains("restored log file"), "recovery fetched no WAL through wal-fetch");
    pg.stop();

    // Without the key, nothing of it reads.
    let out = walrs(&["--storage", &url, "backup-fetch", work.path.join("nokey").to_str().unwrap(), "LATEST"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("looks encrypted"), "{stderr}");
}
