//! What the walrs command shows: a progress bar when standard error is a terminal (checked in a
//! real pseudo-terminal, tmux's), none when it is a file, and the documented `--json` shape of
//! every verb that reports (docs/cli.md), on a copy of a WAL-G fixture repository.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BACKUP: &str = "base_000000010000000000000002";

fn repo(dir: &Path) -> String {
    walrs_fixtures::copy_repository("lz4", &dir.join("repo"));
    format!("file://{}", dir.join("repo").display())
}

fn walrs(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_walrs")).arg("--storage").arg(url).args(args).output().unwrap()
}

/// The screen tmux shows once `command` has run in a 200x50 terminal.
fn on_a_terminal(command: &str, done: &Path) -> String {
    let session = format!("walrs-progress-{}", std::process::id());
    let script = format!("{command}; touch {}; sleep 30", done.display());
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "200", "-y", "50", &script])
        .status()
        .expect("tmux is required (apt-get install tmux)");
    assert!(started.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let screen = Command::new("tmux").args(["capture-pane", "-p", "-t", &session]).output().unwrap();
    let killed = Command::new("tmux").args(["kill-session", "-t", &session]).status().unwrap();
    assert!(done.exists(), "the command did not finish within 60 s");
    assert!(killed.success());
    String::from_utf8(screen.stdout).unwrap()
}

#[test]
fn backup_fetch_draws_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = repo(dir.path());
    let exe = env!("CARGO_BIN_EXE_walrs");
    let data = dir.path().join("tty");
    let screen = on_a_terminal(
        &format!("{exe} --storage {url} backup-fetch {} LATEST", data.display()),
        &dir.path().join("done"),
    );
    let bar = screen.lines().find(|l| l.starts_with(&format!("walrs: restoring {BACKUP} ["))).unwrap_or_else(|| {
        panic!("no progress line on the terminal:\n{screen}");
    });
    // Bytes done / total, rate, time left.
    assert!(bar.contains("MiB/") && bar.contains("MiB/s") && bar.ends_with("left"), "{bar}");
    assert!(screen.contains(&format!("walrs: restored {BACKUP}")), "{screen}");

    let log = dir.path().join("stderr.log");
    let status = Command::new(exe)
        .args(["--storage", &url, "backup-fetch"])
        .arg(dir.path().join("file"))
        .arg("LATEST")
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&format!("walrs: restored {BACKUP}")), "{logged}");
    assert!(!logged.contains(" left") && !logged.contains('\r') && !logged.contains('\u{1b}'), "{logged}");
}

fn json(url: &str, args: &[&str]) -> Value {
    let out = walrs(url, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON: {e}"))
}

/// The keys of an object, or of the first element of an array of objects.
fn keys(v: &Value) -> Vec<&str> {
    let object = match v {
        Value::Array(items) => items.first().unwrap_or_else(|| panic!("an empty array: {v}")),
        other => other,
    };
    let mut keys: Vec<&str> =
        object.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn every_verb_that_reports_prints_its_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = repo(dir.path());
    let listed = [
        "backup_name",
        "compressed_size",
        "data_dir",
        "finish_lsn",
        "finish_time",
        "hostname",
        "is_permanent",
        "pg_version",
        "start_lsn",
        "start_time",
        "timeline",
        "uncompressed_size",
    ];
    assert_eq!(keys(&json(&url, &["backup-list", "--json"])), listed);
    let mut detailed = listed.to_vec();
    detailed.insert(7, "key");
    assert_eq!(keys(&json(&url, &["backup-list", "--detail", "--json"])), detailed);
    assert_eq!(
        keys(&json(&url, &["wal-verify", "--json"])),
        [
            "checked_segments",
            "lost_segments",
            "newest_segment",
            "newest_stored_at",
            "notes",
            "problems",
            "segment_size",
            "timelines",
            "uploading_segments"
        ]
    );
    assert_eq!(
        keys(&json(&url, &["wal-show", "--json"])),
        ["backups", "first", "gaps", "last", "parent_timeline", "partial", "segments", "switchpoint", "timeline"]
    );
    let verified = json(&url, &["backup-verify", "LATEST", "--json"]);
    assert_eq!(
        keys(&verified),
        [
            "backup",
            "bytes",
            "checksums_recorded",
            "files",
            "files_checksummed",
            "objects",
            "problems",
            "recorded_corrupt_pages",
            "wal_first",
            "wal_last",
            "wal_missing"
        ]
    );
    assert_eq!(keys(&verified[0]["objects"]), ["bytes", "files", "key", "problem"]);
    assert_eq!(keys(&json(&url, &["delete", "everything", "--json"])), ["kind", "name", "reason"]);
    let marked = json(&url, &["backup-mark", BACKUP, "--json"]);
    assert_eq!(keys(&marked), ["backup", "changed", "permanent"]);
    assert_eq!(
        (&marked["backup"], &marked["permanent"], &marked["changed"]),
        (&Value::from(BACKUP), &Value::from(true), &Value::from(true))
    );
    let data = dir.path().join("data");
    let fetched = json(&url, &["backup-fetch", data.to_str().unwrap(), "LATEST", "--json"]);
    assert_eq!(
        keys(&fetched),
        ["archive_mode", "backup", "bytes", "dir", "files", "objects", "recovery", "seconds", "tablespaces"]
    );
    assert_eq!(
        (&fetched["objects"], &fetched["files"], &fetched["archive_mode"]),
        (&Value::from(3), &Value::from(969), &Value::from("off"))
    );
}
