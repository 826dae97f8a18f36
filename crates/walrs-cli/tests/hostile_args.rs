//! Every verb, given empty strings, huge numbers and garbage names, fails with exit code 1 (74
//! for a well-formed WAL name that is not archived) and a message, never a panic.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::process::Command;

#[test]
fn bad_arguments_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    walrs_fixtures::copy_repository("lz4", &repo);
    let url = format!("file://{}", repo.display());
    let out_dir = tmp.path().join("restore");
    let out = out_dir.to_str().unwrap();
    let unmounted = format!("file://{}/unmounted/walrs", tmp.path().display());
    let huge = "18446744073709551616";
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["wal-fetch", "", "x"], 1),
        (vec!["wal-fetch", "../../etc/passwd", "/tmp/x"], 1),
        (vec!["wal-fetch", "000000010000000000000001", ""], 1),
        (vec!["wal-fetch", "00000001FFFFFFFFFFFFFFFF", "/dev/null/x"], 74),
        (vec!["wal-fetch", "x"], 1),
        (vec!["wal-push", ""], 1),
        (vec!["wal-push", "/nonexistent/000000010000000000000001"], 1),
        (vec!["wal-push", "/etc/passwd"], 1),
        (vec!["wal-push", "000000010000000000000001", "--compression", "bogus"], 1),
        (vec!["backup-fetch", out, ""], 1),
        (vec!["backup-fetch", "", "LATEST"], 1),
        (vec!["backup-fetch", "/tmp/x", ""], 1),
        (vec!["backup-fetch", out, "base_../../etc"], 1),
        (vec!["backup-fetch", out, "base_FFFFFFFFFFFFFFFFFFFFFFFF"], 1),
        (vec!["backup-fetch", out, "LATEST", "--target-lsn", "zzz"], 1),
        (vec!["backup-fetch", out, "LATEST", "--target-lsn", "FFFFFFFFF/0"], 1),
        (vec!["backup-fetch", out, "LATEST", "--target-action", "bogus"], 1),
        (vec!["backup-fetch", out, "LATEST", "--archive-mode", "bogus"], 1),
        (vec!["backup-fetch", out, "LATEST", "--tablespace-mapping", "nonsense"], 1),
        (vec!["backup-fetch", out, "LATEST", "--owner", ""], 1),
        (vec!["backup-verify", "base_../../etc"], 1),
        (vec!["backup-verify", ""], 1),
        (vec!["backup-verify", "base_FFFFFFFFFFFFFFFFFFFFFFFF"], 1),
        (vec!["backup-verify"], 1),
        (vec!["backup-verify", "LATEST", "--all"], 1),
        (vec!["wal-verify", "extra"], 1),
        (vec!["wal-show", "--json", "extra"], 1),
        (vec!["backup-list", "--bogus"], 1),
        (vec!["restore-test", ""], 1),
        (vec!["restore-test", "base_../../etc"], 1),
        (vec!["restore-test", "LATEST", "--timeout", "0"], 1),
        (vec!["restore-test", "LATEST", "--timeout", huge], 1),
        (vec!["restore-test", "LATEST", "--port", "99999999"], 1),
        (vec!["restore-test", "LATEST", "--port", "80"], 1),
        (vec!["restore-test", "LATEST", "--target-time", ""], 1),
        (vec!["restore-test", "LATEST", "--sql", ""], 1),
        (vec!["restore-test", "LATEST", "--dbname", ""], 1),
        (vec!["restore-test", "LATEST", "--work-dir", "/nonexistent/dir"], 1),
        (vec!["restore-test", "LATEST", "--work-dir", ""], 1),
        (vec!["restore-test", "LATEST", "--pg-bindir", "/nonexistent"], 1),
        (vec!["--storage", "", "backup-list"], 1),
        (vec!["--storage", "bogus://x", "backup-list"], 1),
        (vec!["--storage", "s3://", "wal-verify"], 1),
        (vec!["--env-dir", "/nonexistent", "backup-list"], 1),
        (vec!["--storage", &unmounted, "wal-fetch", "000000010000000000000001", out], 1),
        (vec!["--storage", &unmounted, "wal-push", "/nonexistent/000000010000000000000001"], 1),
        (vec!["--storage", &unmounted, "backup-list"], 1),
        (vec![""], 1),
        (vec![], 1),
    ];
    for (args, want) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_walrs"));
        // Global flags given by the case come first; otherwise use the fixture repository.
        if !args.first().is_some_and(|a| a.starts_with("--")) {
            cmd.args(["--storage", &url]);
        }
        let out = cmd.args(&args).current_dir(tmp.path()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert!(stderr.contains("error"), "{args:?} said nothing: {stderr}");
    }
    assert!(!out_dir.exists(), "refused restores must write nothing");
    assert!(std::fs::read_dir(tmp.path()).unwrap().all(|e| e.unwrap().file_name() == "repo"), "nothing left behind");
}

/// In archive recovery a repository that is not there must stop recovery (128), not pass for
/// the end of the archive (74), or PostgreSQL would open the database early.
#[test]
fn a_missing_repository_stops_archive_recovery() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("recovery.signal"), b"").unwrap();
    let url = format!("file://{}/unmounted/walrs", data.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_walrs"))
        .args(["--storage", &url, "wal-fetch", "000000010000000000000001", "pg_wal/RECOVERYXLOG"])
        .current_dir(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{stderr}");
    assert!(stderr.contains("does not exist") && stderr.contains("hint"), "{stderr}");
    assert!(!data.path().join("unmounted").exists());
}
