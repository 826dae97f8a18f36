//! A panic must exit with the failure code of the exit table, never Rust's 101: PostgreSQL
//! reads 101 from `restore_command` as "not in the archive" and ends archive recovery there.
//! Debug builds panic on request (`WALRS_FAULT_PANIC`) so these tests can cause one.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::path::Path;
use std::process::{Command, Output};

/// Run `walrs wal-fetch` in `dir` (as PostgreSQL does, in the data directory), panicking at
/// `fault`: "wal-fetch" when the command starts, "runtime" inside the I/O runtime.
fn wal_fetch_panicking(dir: &Path, fault: &str) -> Output {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(dir.join("pg_wal")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_walrs"))
        .args(["--storage", &format!("file://{}", repo.display())])
        .args(["wal-fetch", "000000010000000000000001", "pg_wal/RECOVERYXLOG", "--prefetch", "0"])
        .env("WALRS_FAULT_PANIC", fault)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn check(out: &Output, want: i32, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(want), "{what}: {stderr}");
    assert!(stderr.contains("fault injected by WALRS_FAULT_PANIC"), "{what}: the panic message is lost: {stderr}");
}

#[test]
fn a_panicking_wal_fetch_stops_archive_recovery() {
    for fault in ["wal-fetch", "runtime"] {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("recovery.signal"), b"").unwrap();
        check(&wal_fetch_panicking(tmp.path(), fault), 128, &format!("{fault}, archive recovery"));
    }
}

#[test]
fn a_panicking_wal_fetch_elsewhere_is_a_plain_failure() {
    for fault in ["wal-fetch", "runtime"] {
        // Run by hand: no signal file.
        let tmp = tempfile::tempdir().unwrap();
        check(&wal_fetch_panicking(tmp.path(), fault), 1, &format!("{fault}, by hand"));
        // A standby asks again, so a failure there is 1 as well.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("recovery.signal"), b"").unwrap();
        std::fs::write(tmp.path().join("standby.signal"), b"").unwrap();
        check(&wal_fetch_panicking(tmp.path(), fault), 1, &format!("{fault}, standby"));
    }
}
