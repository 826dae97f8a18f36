//! Load: pgbench with 8 clients with archiving on, one base backup taken during the run, then
//! `walrs restore-test LATEST` passes (amcheck included), and the restored pg_dump equals the
//! primary's. The same cluster first runs pgbench with `archive_mode = off` for a baseline, so
//! the TPS cost of archiving is reported. The load lasts `WALRS_LOAD_SECONDS` (default 60 s);
//! `WALRS_SOAK=1` makes it the full 10 minutes.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn a_backup_under_load_restores_identically() {
    let seconds: u64 = match std::env::var("WALRS_SOAK").as_deref() {
        Ok("1") => 600,
        _ => std::env::var("WALRS_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60),
    };
    let work = Workdir::new("load");
    let repo = Repo::new(&work);
    let pg = Cluster::init(&work);
    pg.configure("archive_mode = off\nmax_wal_size = '4GB'\nwal_keep_size = '4GB'");
    pg.start();
    pg.pgbench(&["-i", "-s", "10", "-q"]);
    let baseline_secs = (seconds / 4).max(15).to_string();
    let off = pgbench_tps(&pg.pgbench(&["-c", "8", "-j", "2", "-T", &baseline_secs, "-n"]));
    pg.stop();

    pg.configure(&format!("archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{}'", repo.url()));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    let load = {
        let (bindir, sock, secs) = (pg_bindir(), work.path.clone(), seconds.to_string());
        std::thread::spawn(move || {
            run(std::process::Command::new(bindir.join("pgbench"))
                .args(["-U", "postgres", "-h"])
                .arg(&sock)
                .args(["-p", "5432", "-c", "8", "-j", "2", "-T", &secs, "-n", "postgres"]))
        })
    };
    std::thread::sleep(Duration::from_secs(seconds / 3));
    let name = pg.sql("SELECT walrs_backup_push()");
    let on = pgbench_tps(&load.join().unwrap());
    let backlog = pg.archive_status("ready").len();
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(300));
    let dump = pg.pg_dump();
    pg.stop();

    let drill = walrs(&[
        "--storage",
        &repo.url(),
        "restore-test",
        "LATEST",
        "--pg-bindir",
        pg_bindir().to_str().unwrap(),
        "--timeout",
        "600",
    ]);
    let report = String::from_utf8_lossy(&drill.stdout).into_owned();
    assert!(drill.status.success(), "restore-test passes: {report}{}", String::from_utf8_lossy(&drill.stderr));
    assert!(report.contains("amcheck    ok"), "amcheck ran clean: {report}");

    let restored = restore_and_promote(&work, &repo, &["--recovery"]);
    assert!(restored.pg_dump() == dump, "the restored pg_dump equals the primary's");
    restored.stop();
    println!(
        "load {seconds} s, 8 clients: backup {name} during the run; tps {on:.0} with archiving vs {off:.0} with \
         archive_mode = off ({:+.1} %); {backlog} segments waiting when the load ended\n{report}",
        (on / off - 1.0) * 100.0
    );
}
