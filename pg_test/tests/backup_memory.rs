//! Peak RSS of the backup worker on a database of more than 2 GB stays under 256 MB.
//! Slow (it builds the database), so it runs on demand:
//! `cargo test -p walrs-pg-test --test backup_memory -- --ignored --nocapture`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use walrs_pg_test::*;

/// VmHWM (peak resident set) of a process, in kB.
fn peak_rss_kb(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

#[test]
#[ignore = "on demand: builds a database of more than 2 GB (run with --ignored)"]
fn backup_worker_memory_stays_bounded_on_a_large_database() {
    let work = Workdir::new("backup-memory");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "walrs.backup_partition_size = '1GB'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "150", "-q"]);
    let size = pg.sql_i64("SELECT pg_database_size('postgres')");
    assert!(size > 2_000_000_000, "database is only {size} bytes");

    let (done, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let (done, peak, socket) = (done.clone(), peak.clone(), work.path.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let out = std::process::Command::new(pg_bindir().join("psql"))
                    .args(["-X", "-At", "-U", "postgres", "-h"])
                    .arg(&socket)
                    .args(["-c", "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walrs backup'"])
                    .output()
                    .unwrap();
                for pid in String::from_utf8_lossy(&out.stdout).lines() {
                    if let Some(kb) = peak_rss_kb(pid.trim()) {
                        peak.fetch_max(kb, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let started = std::time::Instant::now();
    let name = pg.sql("SELECT walrs_backup_push()");
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let peak_mb = peak.load(Ordering::SeqCst) / 1024;
    println!("backup {name} of a {} MB database took {took:?}; backup worker peak RSS {peak_mb} MB", size >> 20);
    assert!(peak_mb > 0, "the backup worker was never observed");
    assert!(peak_mb < 256, "peak RSS {peak_mb} MB");
    pg.stop();
}
