//! Failover with one repository. A primary and a streaming standby run with the same
//! configuration (walrs preloaded, `archive_mode = always`, one file:// repository). The
//! primary crashes under pgbench; the standby is promoted and pgbench goes on against it.
//!
//! - Both archived timeline 1: each segment stored once, the second copy found identical
//!   (never refused, never overwritten).
//! - The new primary archives `00000002.history`, timeline 2's segments and the old timeline's
//!   last segment as `.partial`, into the same repository.
//! - `wal-verify` passes across the switch.
//! - The timeline-1 backup, restored to a time after the promotion, follows the history file
//!   and holds exactly what the new primary held then; a backup the new primary takes restores
//!   too.

use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

/// The timeline a server writes now, as WAL file names spell it.
const TIMELINE: &str = "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)";

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: failover does not change between the versions in between"
)]
fn after_a_failover_the_archive_is_one_chain_and_restores_past_the_promotion() {
    let work = Workdir::new("failover");
    let repo = Repo::new(&work);
    let both = "shared_preload_libraries = 'walrs'\narchive_mode = always\nwal_level = replica";
    let primary = archiving_cluster(&work, &repo, both);
    primary.start();
    primary.sql("CREATE EXTENSION walrs");
    primary.pgbench(&["-i", "-s", "2", "-q"]);
    let backup = primary.sql("SELECT walrs_backup_push()");
    let standby = primary.streaming_standby(&work, "standby", 5433);
    standby.start();
    wait_for("the standby to stream", Duration::from_secs(60), || {
        primary.sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1"
    });

    // pgbench on the primary; it crashes halfway through.
    let load = {
        let (bindir, sock, port) = (pg_bindir(), primary.socket_dir.clone(), primary.port);
        std::thread::spawn(move || {
            Command::new(bindir.join("pgbench"))
                .args(["-n", "-c", "2", "-T", "8", "-U", "postgres", "-h"])
                .arg(&sock)
                .args(["-p", &port.to_string(), "postgres"])
                .output()
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_secs(4));
    primary.pg_ctl(&["-w", "-m", "immediate", "stop"]);
    let crashed = load.join().unwrap();
    assert!(!crashed.status.success(), "pgbench lost its server");

    standby.pg_ctl(&["-w", "promote"]);
    wait_for("the promotion", Duration::from_secs(60), || standby.sql("SELECT pg_is_in_recovery()") == "f");
    assert_eq!(standby.sql(TIMELINE), "00000002", "the promoted standby writes timeline 2");
    // pgbench against the new primary, then the target time, then more writes after it.
    let target = PitrTarget::after_workload(&standby);

    let files = repo.files();
    assert!(files.contains(&"wal_005/00000002.history.lz4".to_string()), "{files:?}");
    let partial: Vec<&String> =
        files.iter().filter(|f| f.starts_with("wal_005/00000001") && f.contains(".partial")).collect();
    assert_eq!(partial.len(), 1, "timeline 1's last segment, as .partial: {files:?}");
    assert!(files.iter().any(|f| f.starts_with("wal_005/00000002") && !f.contains("history")), "timeline 2's segments");

    // Every segment of timeline 1 that both servers archived was stored once and found
    // identical the second time; nothing was refused.
    let logs = primary.server_log() + &standby.server_log();
    assert!(!logs.contains("already holds different content"), "a refusal:\n{logs}");
    assert!(!logs.contains("could not archive"), "an archiving failure:\n{logs}");
    let identical = logs.lines().filter(|l| l.contains("was already archived with identical content")).count();
    assert!(identical >= 1, "the second copy of a segment counts as archived");
    eprintln!("{identical} segment(s) found already archived, identical");

    let verified = walrs(&["--storage", &repo.url(), "wal-verify"]);
    assert_ok(&verified, "wal-verify across the timeline switch");
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(report.contains("timeline 2, branched from timeline 1"), "{report}");
    assert!(report.contains("ends with 00000001") && report.contains(".partial"), "{report}");
    assert!(report.contains(" 0 lost, 0 still uploading"), "{report}");

    let restored = restore_backup_and_promote(&work, &repo, &backup, "restored", &["--target-time", &target.time]);
    assert_eq!(
        restored.sql("SELECT timeline_id FROM pg_control_checkpoint()"),
        "3",
        "recovered into timeline 2, then promoted"
    );
    target.assert_restored(&restored);
    restored.stop();

    // A backup taken on the new primary restores too, to the end of its WAL.
    let second = standby.sql("SELECT walrs_backup_push()");
    assert!(second.starts_with("base_00000002"), "taken on timeline 2: {second}");
    standby.sql("CREATE TABLE after_second_backup AS SELECT 1 AS x");
    let last = standby.switch_wal();
    standby.wait_archived(&last, Duration::from_secs(60));
    let want = standby.sql("SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts");
    let again = restore_backup_and_promote(&work, &repo, &second, "restored-2", &["--recovery"]);
    assert_eq!(again.sql("SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts"), want);
    assert_eq!(again.sql("SELECT count(*) FROM after_second_backup"), "1", "replayed to the end");
}
