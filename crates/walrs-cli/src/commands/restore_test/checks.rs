//! What a restore drill checks once the server runs: recovery ends in time, the database
//! answers, all archived WAL was replayed, indexes pass amcheck, the user's SQL succeeds.

use super::server::Server;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};
use walrs_core::wal::{SegmentPos, WalFileKind, WalFileName};
use walrs_core::ErrorKind;

/// Where the drill's own queries go: template1 exists in every cluster.
const ADMIN_DB: &str = "template1";

/// What one check found. The drill fails on any `Failed`; `NotChecked` is shown as such and
/// fails nothing, so a check this machine cannot run never passes for one that held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed(String),
    Failed(String),
    NotChecked(String),
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
}

impl Check {
    fn new(name: &'static str, result: Result<String, String>) -> Check {
        match result {
            Ok(detail) => Check::passed(name, detail),
            Err(detail) => Check::failed(name, detail),
        }
    }

    pub fn passed(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Passed(detail.into()) }
    }

    pub fn failed(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Failed(detail.into()) }
    }

    pub fn not_checked(name: &'static str, why: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::NotChecked(why.into()) }
    }

    pub fn has_failed(&self) -> bool {
        matches!(self.verdict, Verdict::Failed(_))
    }
}

/// Why recovery did not end with a promoted server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryFailure {
    /// The server exited during recovery (`status`), with the last FATAL line of its log.
    ServerStopped { status: String, fatal: Option<String> },
    /// Still in recovery after `--timeout`.
    TimedOut(Duration),
    /// psql's refusal of a `--db-user` the restored cluster does not have.
    NoSuchRole(String),
}

impl RecoveryFailure {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RecoveryFailure::ServerStopped { .. } => ErrorKind::Corrupt,
            RecoveryFailure::TimedOut(_) => ErrorKind::Timeout,
            RecoveryFailure::NoSuchRole(_) => ErrorKind::Config,
        }
    }
}

impl std::fmt::Display for RecoveryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryFailure::ServerStopped { status, fatal: Some(line) } => {
                write!(f, "the server stopped during recovery ({status}): {line}")
            }
            RecoveryFailure::ServerStopped { status, fatal: None } => {
                write!(f, "the server stopped during recovery ({status})")
            }
            RecoveryFailure::TimedOut(timeout) => {
                write!(f, "recovery did not finish within {} s (--timeout)", timeout.as_secs())
            }
            RecoveryFailure::NoSuchRole(refusal) => {
                write!(f, "{refusal} (pass --db-user with a superuser of the backed-up cluster)")
            }
        }
    }
}

pub struct Recovered {
    /// When the server first answered in recovery (consistent), and when it was promoted.
    pub consistent_after: Duration,
    pub done_after: Duration,
}

/// Poll until the server has finished recovery and promoted, it stops, or `timeout` passes.
pub fn wait_for_recovery(server: &mut Server, timeout: Duration) -> Result<Recovered, RecoveryFailure> {
    let started = Instant::now();
    let mut consistent = None;
    loop {
        if let Some(status) = server.exited() {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            let fatal = last_fatal(&log).map(str::to_string);
            return Err(RecoveryFailure::ServerStopped { status: status.to_string(), fatal });
        }
        match server.psql(ADMIN_DB, "SELECT pg_is_in_recovery()") {
            Ok(v) if v == "f" => {
                let done_after = started.elapsed();
                return Ok(Recovered { consistent_after: consistent.unwrap_or(done_after), done_after });
            }
            Ok(_) => {
                consistent.get_or_insert_with(|| started.elapsed());
            }
            Err(e) if e.contains("role \"") && e.contains("does not exist") => {
                return Err(RecoveryFailure::NoSuchRole(e));
            }
            Err(_) => {} // starting up, or not consistent yet
        }
        if started.elapsed() > timeout {
            return Err(RecoveryFailure::TimedOut(timeout));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The last FATAL message of a server log, leaving out the ones about connections refused
/// while the server starts.
fn last_fatal(log: &str) -> Option<&str> {
    log.lines()
        .rev()
        .filter_map(|l| l.split_once("FATAL:").map(|(_, m)| m.trim()))
        .find(|m| !m.contains("the database system is starting up") && !m.contains("not yet accepting connections"))
}

/// The LSN recovery ended at and the time of the last transaction it replayed.
pub fn end_position(server: &Server) -> (String, String) {
    let sql = "SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text || '|' || \
               coalesce(pg_last_xact_replay_timestamp()::text, 'none')";
    match server.psql(ADMIN_DB, sql) {
        Ok(v) => match v.split_once('|') {
            Some((lsn, at)) => (lsn.to_string(), at.to_string()),
            None => (v, String::new()),
        },
        Err(e) => (format!("unknown ({e})"), String::new()),
    }
}

pub fn connection(server: &Server, db: &str) -> Check {
    Check::new(
        "connection",
        server.psql(db, "SELECT current_user || ' on ' || current_database() || ', ' || version()"),
    )
}

/// With no recovery target, recovery must end where the archive ends. The server log names
/// each segment `walrs wal-fetch` did not find; if the archive held a later segment of that
/// timeline, stored after the backup started (older ones belong to another cluster), a
/// segment in between is missing and recovery stopped early.
pub fn wal_complete(log: &str, archive: &[(WalFileName, DateTime<Utc>)], backup_started: DateTime<Utc>) -> Check {
    let asked: Vec<SegmentPos> = log
        .lines()
        .filter_map(|l| l.strip_prefix("walrs: error: "))
        .filter_map(|rest| rest.split_once(" is not in the repository").map(|(name, _)| name))
        .filter_map(|name| WalFileName::parse(name).ok())
        .filter(|n| n.kind() == WalFileKind::Segment)
        .filter_map(|n| SegmentPos::of_wal(&n))
        .collect();
    let Some(end) = asked.iter().min_by_key(|p| p.log_seg()) else {
        return Check::passed("wal", "no archived segment was missing during recovery");
    };
    let later = archive
        .iter()
        .filter(|(n, at)| n.kind() == WalFileKind::Segment && *at >= backup_started)
        .filter_map(|(n, _)| SegmentPos::of_wal(n).map(|p| (p, n)))
        .filter(|(p, _)| asked.iter().any(|a| a.timeline == p.timeline && p.log_seg() > a.log_seg()))
        .max_by_key(|(p, _)| p.log_seg());
    let first_missing = end.to_string();
    match later {
        None => Check::passed(
            "wal",
            format!("replayed to the end of the archive (next segment {first_missing} not yet archived)"),
        ),
        Some((_, newest)) => Check::failed(
            "wal",
            format!(
                "recovery stopped at {first_missing}, which is missing, but the archive holds later WAL up to {newest}: \
                 run `walrs wal-verify`"
            ),
        ),
    }
}

/// bt_index_check on every valid btree index of every database that allows connections.
/// amcheck is created where it is missing and dropped again afterwards.
pub fn amcheck(server: &Server) -> Check {
    let available = server.psql(ADMIN_DB, "SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'");
    if let Some(unavailable) = amcheck_unavailable(&available) {
        return unavailable;
    }
    let dbs = match server.psql(ADMIN_DB, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1") {
        Ok(v) => v.lines().map(str::to_string).collect::<Vec<_>>(),
        Err(e) => return Check::failed("amcheck", e),
    };
    let mut indexes = 0usize;
    for db in &dbs {
        match amcheck_db(server, db) {
            Ok(n) => indexes += n,
            Err(e) => return Check::failed("amcheck", format!("database {db}: {e}")),
        }
    }
    Check::passed("amcheck", format!("{indexes} btree indexes in {} databases", dbs.len()))
}

/// The verdict when amcheck cannot run, from the count of `amcheck` in pg_available_extensions:
/// not installed here is "not checked" (no index was looked at, so it cannot pass); a query
/// that failed is a failed check.
fn amcheck_unavailable(available: &Result<String, String>) -> Option<Check> {
    match available.as_deref() {
        Ok("1") => None,
        Ok(_) => Some(Check::not_checked(
            "amcheck",
            "amcheck is not installed for this PostgreSQL (it comes with the contrib package); no index was checked",
        )),
        Err(e) => Some(Check::failed("amcheck", e.clone())),
    }
}

fn amcheck_db(server: &Server, db: &str) -> Result<usize, String> {
    let had = server.psql(db, "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'")? == "1";
    if !had {
        server.psql(db, "CREATE EXTENSION IF NOT EXISTS amcheck")?;
    }
    let checked = server.psql(
        db,
        "SELECT c.oid::regclass, bt_index_check(c.oid) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam \
         WHERE am.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready",
    );
    if !had {
        // Leave the copy as it was restored; a failure here does not change the verdict.
        if let Err(e) = server.psql(db, "DROP EXTENSION IF EXISTS amcheck") {
            eprintln!("walrs: warning: cannot drop amcheck again in {db}: {e}");
        }
    }
    Ok(checked?.lines().filter(|l| !l.is_empty()).count())
}

/// The user's SQL, which must succeed; its first line of output is shown.
pub fn user_sql(server: &Server, db: &str, sql: &str) -> Check {
    let result = server.psql(db, sql).map(|out| {
        let first = out.lines().next().unwrap_or("(no rows)");
        if first.chars().count() > 200 {
            format!("{}…", first.chars().take(200).collect::<String>())
        } else {
            first.to_string()
        }
    });
    Check::new("sql", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amcheck_that_cannot_run_is_not_checked_or_failed_never_passed() {
        assert!(amcheck_unavailable(&Ok("1".into())).is_none(), "installed: it runs");
        let missing = amcheck_unavailable(&Ok("0".into())).expect("not installed: no run");
        assert!(matches!(&missing.verdict, Verdict::NotChecked(why) if why.contains("not installed")), "{missing:?}");
        assert!(!missing.has_failed());
        let broken = amcheck_unavailable(&Err("connection lost".into())).expect("unknown: no run");
        assert_eq!(broken.verdict, Verdict::Failed("connection lost".into()));
        assert!(broken.has_failed());
    }

    #[test]
    fn recovery_failures_keep_their_words_and_kinds() {
        let stopped = RecoveryFailure::ServerStopped { status: "exit status: 1".into(), fatal: Some("no WAL".into()) };
        assert_eq!(stopped.to_string(), "the server stopped during recovery (exit status: 1): no WAL");
        assert_eq!(stopped.kind(), ErrorKind::Corrupt);
        let timed_out = RecoveryFailure::TimedOut(Duration::from_secs(120));
        assert_eq!(timed_out.to_string(), "recovery did not finish within 120 s (--timeout)");
        assert_eq!(timed_out.kind(), ErrorKind::Timeout);
    }
}
