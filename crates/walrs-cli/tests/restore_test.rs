//! `walrs restore-test` for real: WAL-G-format fixture repositories (PostgreSQL 15) restored,
//! recovered to the end of the archive and checked, by the built binary running as root with
//! PostgreSQL as the `postgres` user. Needs root, a `postgres` user and PostgreSQL 15 in
//! /usr/lib/postgresql/15/bin (or $WALRS_PG15_BINDIR): missing any of them fails the test.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const EXPECTED: &str = "7000 e2aea2b7433808dcdc83cd8dbc738023";
const DATA_SQL: &str = "SELECT count(*)||' '||md5(string_agg(payload, ',' ORDER BY id)) FROM fixture_data";

fn pg15_bindir() -> PathBuf {
    let dir =
        std::env::var_os("WALRS_PG15_BINDIR").map(PathBuf::from).unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
    assert!(dir.join("postgres").is_file(), "PostgreSQL 15 is required: no {}/postgres", dir.display());
    dir
}

fn check_environment() {
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    assert_eq!(uid, 0, "restore-test's test runs as root (PostgreSQL then runs as postgres)");
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(passwd.lines().any(|l| l.starts_with("postgres:")), "a postgres OS user is required");
    pg15_bindir();
}

/// A private copy of one fixture repository, readable by postgres.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(method: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        walrs_fixtures::copy_repository(method, &dir.path().join("repo"));
        for args in [vec!["-R", "u+w"], vec!["755"]] {
            assert!(Command::new("chmod").args(&args).arg(dir.path()).status().unwrap().success());
        }
        assert!(Command::new("chown").args(["-R", "postgres"]).arg(dir.path()).status().unwrap().success());
        Scratch { dir }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().join("repo").display())
    }

    fn wal(&self, segment: &str) -> PathBuf {
        let wal = self.dir.path().join("repo/wal_005");
        std::fs::read_dir(&wal)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name().unwrap().to_string_lossy().split('.').next() == Some(segment)
                    && !p.to_string_lossy().contains(".backup")
            })
            .unwrap_or_else(|| panic!("{segment} not in {}", wal.display()))
    }

    fn restore_test(&self, extra: &[&str]) -> (Output, String, String) {
        self.restore_test_with(&pg15_bindir(), extra)
    }

    fn restore_test_with(&self, bindir: &Path, extra: &[&str]) -> (Output, String, String) {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_walrs"))
            .args(["--storage", &self.url(), "restore-test", "--pg-bindir"])
            .arg(bindir)
            .args(["--work-dir"])
            .arg(self.dir.path())
            .args(["--timeout", "120"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(180), "restore-test took {:?}", started.elapsed());
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out, stdout, stderr)
    }

    /// Drill directories left in the scratch directory.
    fn leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("walrs-restore-test-"))
            .collect()
    }
}

#[test]
fn every_fixture_passes_the_drill_with_the_expected_data() {
    check_environment();
    for method in ["lz4", "zstd", "brotli"] {
        let s = Scratch::new(method);
        let (out, stdout, stderr) = s.restore_test(&["--sql", DATA_SQL, "--sql", "SELECT note FROM after_backup"]);
        assert!(out.status.success(), "{method}: {stdout}\n{stderr}");
        println!("{method}:\n{stdout}");
        assert!(stdout.contains("base_000000010000000000000002 (PostgreSQL 15)"), "{stdout}");
        assert!(stdout.contains(&format!("sql        ok     {EXPECTED}")), "{method}: {stdout}");
        assert!(stdout.contains("sql        ok     replayed from wal_005"), "{method}: {stdout}");
        assert!(stdout.contains("amcheck    ok"), "{stdout}");
        assert!(stdout.contains("wal        ok     replayed to the end of the archive"), "{stdout}");
        assert!(stdout.contains("end        LSN 0/"), "{stdout}");
        assert!(stdout.trim_end().ends_with("result: OK"), "{stdout}");
        assert!(s.leftovers().is_empty(), "{method}: the drill directory must be removed");
    }
}

#[test]
fn missing_wal_fails_clearly_and_quickly() {
    check_environment();
    // The backup's own start segment: recovery cannot even begin.
    let s = Scratch::new("zstd");
    std::fs::remove_file(s.wal("000000010000000000000002")).unwrap();
    let (out, stdout, stderr) = s.restore_test(&[]);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("recovery   FAILED: the server stopped during recovery"), "{stdout}");
    assert!(stdout.contains("server log (last 30 lines)"), "{stdout}");
    assert!(stdout.trim_end().ends_with("result: FAILED"), "{stdout}");
    assert!(stderr.contains("walrs: error: restore-test of base_000000010000000000000002 failed"), "{stderr}");
    assert!(s.leftovers().is_empty());

    // A hole after it: PostgreSQL would stop there and open; the drill sees later WAL and fails.
    let s = Scratch::new("lz4");
    std::fs::remove_file(s.wal("000000010000000000000003")).unwrap();
    let (out, stdout, _) = s.restore_test(&["--sql", DATA_SQL]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("wal        FAILED recovery stopped at 000000010000000000000003"), "{stdout}");
    assert!(!stdout.contains(EXPECTED), "the rows after the hole cannot be there: {stdout}");

    // A target time after the end of the archive cannot be reached.
    let s = Scratch::new("brotli");
    let (out, stdout, _) = s.restore_test(&["--target-time", "2099-01-01 00:00:00+00"]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("recovery ended before configured recovery target was reached"), "{stdout}");
}

#[test]
fn failing_sql_fails_the_drill_and_keep_keeps_the_directory() {
    check_environment();
    let s = Scratch::new("lz4");
    let (out, stdout, _) = s.restore_test(&["--sql", "SELECT * FROM no_such_table", "--keep", "--no-amcheck"]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("sql        FAILED") && stdout.contains("no_such_table"), "{stdout}");
    assert!(!stdout.contains("amcheck"), "{stdout}");
    let kept = s.leftovers();
    assert_eq!(kept.len(), 1, "--keep keeps the drill directory");
    assert!(kept[0].join("data/PG_VERSION").is_file());
    assert!(!kept[0].join("data/postmaster.pid").exists(), "the server is stopped even when kept");
    assert!(Path::new(&kept[0]).join("server.log").is_file());
}

#[test]
fn json_reports_the_drill_in_its_documented_shape() {
    check_environment();
    let s = Scratch::new("lz4");
    let (out, stdout, stderr) = s.restore_test(&["--json", "--sql", DATA_SQL, "--sql", "SELECT * FROM no_such_table"]);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort_unstable();
        k
    };
    let expected = ["backup", "checks", "end", "kept", "major", "recovery", "restored", "result", "server_log_tail"];
    assert_eq!(keys(&report), expected);
    assert_eq!(keys(&report["restored"]), ["bytes", "files", "seconds"]);
    assert_eq!(keys(&report["recovery"]), ["consistent_after_seconds", "error", "ok", "seconds"]);
    assert_eq!(keys(&report["end"]), ["committed_at", "lsn"]);
    assert_eq!((&report["backup"], &report["major"]), (&"base_000000010000000000000002".into(), &15.into()));
    assert_eq!(
        (&report["recovery"]["ok"], &report["result"], &report["kept"]),
        (&true.into(), &"FAILED".into(), &serde_json::Value::Null)
    );
    let checks = report["checks"].as_array().unwrap();
    let verdict = |name: &str, detail: &str| {
        let detail_has = |c: &&serde_json::Value| c["detail"].as_str().is_some_and(|d| d.contains(detail));
        checks.iter().filter(|c| c["name"] == name).find(detail_has).map(|c| c["verdict"].clone())
    };
    assert_eq!(verdict("sql", EXPECTED), Some("passed".into()), "{stdout}");
    assert_eq!(verdict("sql", "no_such_table"), Some("failed".into()), "{stdout}");
    assert_eq!(keys(&checks[0]), ["detail", "name", "verdict"]);
    assert!(!report["server_log_tail"].as_array().unwrap().is_empty(), "a failed drill carries the log: {stdout}");
}

/// A copy of PostgreSQL 15 without amcheck, for the drill to find it missing. The copy keeps
/// the installation's layout under a new prefix, so PostgreSQL finds its own share and lib
/// directories there (it locates them relative to its executable).
fn pg15_without_amcheck(scratch: &Path) -> PathBuf {
    let bindir = pg15_bindir();
    let pg_config = Command::new(bindir.join("pg_config")).args(["--sharedir", "--pkglibdir"]).output().unwrap();
    let shown = String::from_utf8(pg_config.stdout).unwrap();
    let dirs: Vec<PathBuf> = std::iter::once(bindir.clone()).chain(shown.lines().map(PathBuf::from)).collect();
    let prefix = dirs
        .iter()
        .skip(1)
        .fold(dirs[0].clone(), |common, d| common.ancestors().find(|a| d.starts_with(a)).unwrap().to_path_buf());
    let copy = scratch.join("pg15-without-amcheck");
    for dir in &dirs {
        let to = copy.join(dir.strip_prefix(&prefix).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        assert!(Command::new("cp").arg("-a").arg(dir).arg(&to).status().unwrap().success());
    }
    let (share, lib) =
        (copy.join(dirs[1].strip_prefix(&prefix).unwrap()), copy.join(dirs[2].strip_prefix(&prefix).unwrap()));
    for dir in [share.join("extension"), lib] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("amcheck") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    assert!(Command::new("chmod").args(["-R", "a+rX"]).arg(scratch).status().unwrap().success());
    copy.join(bindir.strip_prefix(&prefix).unwrap())
}

#[test]
fn a_missing_amcheck_is_shown_as_not_checked_and_fails_nothing() {
    check_environment();
    let s = Scratch::new("lz4");
    let bindir = pg15_without_amcheck(s.dir.path());
    let (out, stdout, stderr) = s.restore_test_with(&bindir, &["--sql", DATA_SQL]);
    assert!(out.status.success(), "amcheck not checked does not fail the drill: {stdout}\n{stderr}");
    assert!(stdout.contains("amcheck    not checked: amcheck is not installed"), "{stdout}");
    assert!(!stdout.contains("amcheck    ok"), "amcheck did not run, so it did not pass: {stdout}");
    assert!(stdout.contains(&format!("sql        ok     {EXPECTED}")), "{stdout}");
    assert!(stdout.trim_end().ends_with("result: OK (not checked: amcheck)"), "{stdout}");
    assert!(s.leftovers().is_empty());
}
