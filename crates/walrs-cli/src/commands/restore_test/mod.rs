//! `walrs restore-test`: the restore drill. Fetch a backup into a temporary directory, recover
//! it with a private PostgreSQL of the backup's major version (restore_command = this walrs),
//! check the result, print a report, stop the server and remove the directory. Exit 0 only if
//! no check failed (a check that could not run is shown as not checked). Needs no terminal, so
//! cron can run it.

mod checks;
mod server;

use crate::cli::{Global, RestoreTestArgs};
use crate::progress::Reporter;
use checks::{Check, RecoveryFailure, Verdict};
use server::{command_as, find_bindir, free_port, Ids, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use walrs_core::backup::{find_backup, BackupInfo};
use walrs_core::layout::{parse_wal_key, WAL_DIR};
use walrs_core::ops::{backup_fetch_with, FetchReport, TablespaceMapping};
use walrs_core::restore::owner;
use walrs_core::restore::recovery::{Action, Mode, RecoverySettings, Target};
use walrs_core::wal::WalFileName;
use walrs_core::Error;

/// Longest path a Unix socket may have (sun_path, less the final NUL).
const MAX_SOCKET_PATH: usize = 107;
const LOG_TAIL_LINES: usize = 30;

pub fn run(global: &Global, args: &RestoreTestArgs) -> Result<(), Error> {
    check_args(args)?;
    let base = args
        .work_dir
        .clone()
        .or_else(|| std::env::var_os("TMPDIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let base =
        std::path::absolute(&base).map_err(|e| Error::local_io(format!("bad --work-dir {}", base.display()), &e))?;
    let ids: Ids = if running_as_root() {
        Some(owner::choose(&base.join("walrs-restore-test"), args.owner.as_deref())?)
    } else {
        None
    };
    let work = WorkDir::create(&base, args.keep)?;
    let port = match args.port {
        Some(p) => p,
        None => free_port(&work.path)?,
    };
    let socket = work.path.join(format!(".s.PGSQL.{port}"));
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::invalid_input(format!("the socket path {} is too long", socket.display()))
            .with_hint("pass a shorter --work-dir"));
    }
    let data = work.path.join("data");

    let fetched = super::with_config(global, None, |storage, cfg| {
        let (data, work) = (data.clone(), work.path.clone());
        async move {
            let backup = find_backup(&storage, &args.backup).await?;
            let major = backup.sentinel.pg_version / 10000;
            let bindir = find_bindir(major, args.pg_bindir.as_deref())?;
            let restore_command = super::restore_command(&cfg);
            if let Some(ids) = ids {
                check_owner_can_fetch(ids, &cfg)?;
            }
            let mapping: TablespaceMapping = backup
                .sentinel
                .tablespaces()
                .into_iter()
                .map(|t| (t.oid.clone(), work.join("tablespaces").join(&t.oid)))
                .collect();
            eprintln!("walrs: restore-test: fetching {} into {}", backup.name, data.display());
            let started = Instant::now();
            let reporter = Reporter::new("restoring", false);
            let report = backup_fetch_with(&storage, &backup, &data, &mapping, &|p| reporter.report(p)).await?;
            reporter.finish();
            let fetch_time = started.elapsed();
            // Listed before the server starts: segments archived during the drill do not count.
            let archive: Vec<(WalFileName, chrono::DateTime<chrono::Utc>)> = storage
                .list(WAL_DIR)
                .await?
                .into_iter()
                .filter_map(|o| segment_of(&o.key).map(|n| (n, o.modified)))
                .collect();
            Ok(Fetched { backup, major, bindir, restore_command, report, fetch_time, archive })
        }
    })?;

    let target = match &args.target_time {
        Some(t) => Target::Time(t.clone()),
        None => Target::Latest,
    };
    let restore_command = fetched.restore_command.clone();
    RecoverySettings { mode: Mode::Recovery, target, action: Some(Action::Promote), restore_command }.write(&data)?;
    server::configure(&data, &work.path, port)?;
    if let Some(ids) = ids {
        owner::chown_tree(&work.path, ids)?;
    }

    eprintln!(
        "walrs: restore-test: starting PostgreSQL {} on port {port}, socket in {}",
        fetched.major,
        work.path.display()
    );
    let db_user = args.db_user.clone();
    let mut server = Server::start(&fetched.bindir, &data, &work.path, port, &db_user, ids)?;
    let outcome = drill(&mut server, args, &fetched);
    server.stop();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json_report(&fetched, &outcome, &work, &server)).expect("JSON"));
    } else {
        print_report(&fetched, &outcome, &work, &server);
    }
    verdict(&fetched.backup.name.to_string(), &outcome)
}

/// Failed if recovery failed or any check failed; checks that could not run fail nothing.
fn verdict(backup: &str, outcome: &Outcome) -> Result<(), Error> {
    if let Err(why) = &outcome.recovery {
        return Err(Error::new(why.kind(), format!("restore-test of {backup} failed: {why}")));
    }
    let failed: Vec<&str> = outcome.checks.iter().filter(|c| c.has_failed()).map(|c| c.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::corrupt(format!("restore-test of {backup} failed: {}", failed.join(", "))))
    }
}

struct Fetched {
    backup: BackupInfo,
    major: u32,
    bindir: PathBuf,
    restore_command: String,
    report: FetchReport,
    fetch_time: Duration,
    archive: Vec<(WalFileName, chrono::DateTime<chrono::Utc>)>,
}

struct Outcome {
    recovery: Result<checks::Recovered, RecoveryFailure>,
    end: Option<(String, String)>,
    checks: Vec<Check>,
}

/// Wait for recovery, then run the checks. A check that cannot run is a failed check, except
/// amcheck that is not installed here, which is not checked.
fn drill(server: &mut Server, args: &RestoreTestArgs, fetched: &Fetched) -> Outcome {
    let timeout = Duration::from_secs(args.timeout);
    let recovery = checks::wait_for_recovery(server, timeout);
    let mut outcome = Outcome { recovery, end: None, checks: vec![] };
    if outcome.recovery.is_err() {
        return outcome;
    }
    outcome.end = Some(checks::end_position(server));
    let connection = checks::connection(server, &args.dbname);
    let connected = !connection.has_failed();
    outcome.checks.push(connection);
    if args.target_time.is_none() {
        // The log names the segments recovery did not find: an empty one would pass for "none".
        let check = match std::fs::read_to_string(&server.log) {
            Ok(log) => {
                let started = fetched.backup.started_at().unwrap_or(chrono::DateTime::UNIX_EPOCH);
                checks::wal_complete(&log, &fetched.archive, started)
            }
            Err(e) => Check::failed("wal", format!("cannot read the server log {}: {e}", server.log.display())),
        };
        outcome.checks.push(check);
    }
    if !connected {
        return outcome;
    }
    if !args.no_amcheck {
        outcome.checks.push(checks::amcheck(server));
    }
    for sql in &args.sql {
        outcome.checks.push(checks::user_sql(server, &args.dbname, sql));
    }
    outcome
}

fn print_report(f: &Fetched, o: &Outcome, work: &WorkDir, server: &Server) {
    println!("walrs restore-test: {} (PostgreSQL {})", f.backup.name, f.major);
    println!(
        "  restored   {:.1} MB ({} bytes, {} files) in {:.1} s",
        f.report.bytes as f64 / 1e6,
        f.report.bytes,
        f.report.files,
        f.fetch_time.as_secs_f64()
    );
    match &o.recovery {
        Ok(r) => println!(
            "  recovery   {:.1} s (consistent after {:.1} s)",
            r.done_after.as_secs_f64(),
            r.consistent_after.as_secs_f64()
        ),
        Err(why) => println!("  recovery   FAILED: {why}"),
    }
    if let Some((lsn, at)) = &o.end {
        println!("  end        LSN {lsn}; last replayed transaction committed at {at}");
    }
    for c in &o.checks {
        println!("{}", check_line(c));
    }
    let ok = o.recovery.is_ok() && !o.checks.iter().any(Check::has_failed);
    if !ok {
        println!("  server log (last {LOG_TAIL_LINES} lines):");
        for line in server.log_tail(LOG_TAIL_LINES).lines() {
            println!("    {line}");
        }
    }
    if work.keep {
        println!("  kept       {} (start it with: pg_ctl -D {} start)", work.path.display(), server.data.display());
    }
    println!("{}", result_line(o));
}

/// The report as `--json` prints it; docs/cli.md documents the shape.
fn json_report(f: &Fetched, o: &Outcome, work: &WorkDir, server: &Server) -> serde_json::Value {
    let ok = o.recovery.is_ok() && !o.checks.iter().any(Check::has_failed);
    let checks: Vec<serde_json::Value> = o
        .checks
        .iter()
        .map(|c| {
            let (verdict, detail) = match &c.verdict {
                Verdict::Passed(d) => ("passed", d),
                Verdict::Failed(d) => ("failed", d),
                Verdict::NotChecked(d) => ("not_checked", d),
            };
            serde_json::json!({"name": c.name, "verdict": verdict, "detail": detail})
        })
        .collect();
    serde_json::json!({
        "backup": f.backup.name.to_string(),
        "major": f.major,
        "restored": {"files": f.report.files, "bytes": f.report.bytes, "seconds": f.fetch_time.as_secs_f64()},
        "recovery": match &o.recovery {
            Ok(r) => serde_json::json!({"ok": true, "seconds": r.done_after.as_secs_f64(),
                "consistent_after_seconds": r.consistent_after.as_secs_f64(), "error": null}),
            Err(why) => serde_json::json!({"ok": false, "seconds": null, "consistent_after_seconds": null,
                "error": why.to_string()}),
        },
        "end": o.end.as_ref().map(|(lsn, at)| serde_json::json!({"lsn": lsn, "committed_at": at})),
        "checks": checks,
        "server_log_tail": if ok { vec![] } else {
            server.log_tail(LOG_TAIL_LINES).lines().map(str::to_string).collect::<Vec<_>>()
        },
        "kept": work.keep.then(|| work.path.display().to_string()),
        "result": if ok { "OK" } else { "FAILED" },
    })
}

fn check_line(c: &Check) -> String {
    match &c.verdict {
        Verdict::Passed(detail) => format!("  {:<10} ok     {detail}", c.name),
        Verdict::Failed(detail) => format!("  {:<10} FAILED {detail}", c.name),
        Verdict::NotChecked(why) => format!("  {:<10} not checked: {why}", c.name),
    }
}

/// "result: OK" or "result: FAILED", naming the checks that could not run.
fn result_line(o: &Outcome) -> String {
    let failed = o.recovery.is_err() || o.checks.iter().any(Check::has_failed);
    let not_checked: Vec<&str> =
        o.checks.iter().filter(|c| matches!(c.verdict, Verdict::NotChecked(_))).map(|c| c.name).collect();
    let result = if failed { "FAILED" } else { "OK" };
    if not_checked.is_empty() {
        format!("result: {result}")
    } else {
        format!("result: {result} (not checked: {})", not_checked.join(", "))
    }
}

fn check_args(args: &RestoreTestArgs) -> Result<(), Error> {
    if args.timeout == 0 || args.timeout > 7 * 86_400 {
        return Err(Error::invalid_input(format!("--timeout {} is out of range", args.timeout))
            .with_hint("give the seconds recovery may take, 1 to 604800"));
    }
    if args.port.is_some_and(|p| p < 1024) {
        return Err(Error::invalid_input("--port must be 1024 or higher"));
    }
    if let Some(t) = &args.target_time {
        if t.trim().is_empty() || t.chars().any(char::is_control) {
            return Err(Error::invalid_input(format!("--target-time \"{}\" is not a time", t.escape_debug()))
                .with_hint("e.g. --target-time '2026-11-21 12:00:00+00'"));
        }
    }
    for (what, v) in [("--dbname", &args.dbname), ("--db-user", &args.db_user)] {
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(Error::invalid_input(format!("{what} \"{}\" is not a name", v.escape_debug())));
        }
    }
    if args.sql.iter().any(|s| s.trim().is_empty()) {
        return Err(Error::invalid_input("--sql is empty"));
    }
    Ok(())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// The restored server runs restore_command as `ids`: make sure that user can run this walrs
/// and read the repository (and the env dir) before anything is fetched.
fn check_owner_can_fetch(ids: (u32, u32), cfg: &crate::config::Resolved) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::local_io("cannot find the walrs executable", &e))?;
    let mut cmd = command_as(&exe, Some(ids));
    cmd.arg("--storage").arg(cfg.repo.location.to_string());
    if let Some(dir) = &cfg.env_dir {
        cmd.arg("--env-dir").arg(dir);
    }
    let out = cmd
        .args(["backup-list", "--json"])
        .current_dir("/")
        .output()
        .map_err(|e| Error::local_io(format!("cannot run {}", exe.display()), &e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::config(format!(
        "the user PostgreSQL will run as (uid {}) cannot use {} with this repository: {}",
        ids.0,
        exe.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
    .with_hint("the executable, the repository and the env dir must be readable by that user (see --owner)"))
}

/// The segment a key of the WAL folder holds, if it is one.
fn segment_of(key: &str) -> Option<WalFileName> {
    parse_wal_key(key).map(|(name, _)| name).filter(|n| n.kind() == walrs_core::wal::WalFileKind::Segment)
}

/// The drill's directory: created private and new, removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(base: &Path, keep: bool) -> Result<WorkDir, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path = base.join(format!("walrs-restore-test-{}-{stamp:x}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::local_io(format!("cannot create {}", path.display()), &e))?;
        Ok(WorkDir { path, keep })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                eprintln!("walrs: warning: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walrs_core::ErrorKind;

    fn recovered(checks: Vec<Check>) -> Outcome {
        let done = Duration::from_secs(1);
        Outcome { recovery: Ok(checks::Recovered { consistent_after: done, done_after: done }), end: None, checks }
    }

    #[test]
    fn a_check_not_done_is_shown_and_fails_nothing() {
        let o = recovered(vec![
            Check::passed("connection", "postgres on postgres"),
            Check::not_checked("amcheck", "amcheck is not installed"),
        ]);
        assert!(verdict("base_1", &o).is_ok());
        assert_eq!(check_line(&o.checks[0]), "  connection ok     postgres on postgres");
        assert_eq!(check_line(&o.checks[1]), "  amcheck    not checked: amcheck is not installed");
        assert_eq!(result_line(&o), "result: OK (not checked: amcheck)");
        assert_eq!(result_line(&recovered(vec![Check::passed("amcheck", "3 btree indexes")])), "result: OK");
    }

    #[test]
    fn a_failed_check_or_recovery_fails_the_drill_with_its_kind() {
        let o = recovered(vec![Check::failed("sql", "no_such_table"), Check::not_checked("amcheck", "not installed")]);
        let err = verdict("base_1", &o).expect_err("a failed check fails the drill");
        assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Corrupt, "restore-test of base_1 failed: sql"));
        assert_eq!(check_line(&o.checks[0]), "  sql        FAILED no_such_table");
        assert_eq!(result_line(&o), "result: FAILED (not checked: amcheck)");

        let timed_out =
            Outcome { recovery: Err(RecoveryFailure::TimedOut(Duration::from_secs(5))), end: None, checks: vec![] };
        let err = verdict("base_1", &timed_out).expect_err("recovery that did not end fails the drill");
        assert_eq!(err.kind, ErrorKind::Timeout);
        assert_eq!(err.message, "restore-test of base_1 failed: recovery did not finish within 5 s (--timeout)");
        assert_eq!(result_line(&timed_out), "result: FAILED");
    }
}
