use super::with_repo;
use crate::cli::{Confirm, DeleteCommand, Global};
use crate::progress::Reporter;
use walrs_core::backup::BackupName;
use walrs_core::chrono::{DateTime, Duration, Utc};
use walrs_core::ops::delete_with;
use walrs_core::retention::Policy;
use walrs_core::Error;

pub fn run(global: &Global, command: &DeleteCommand) -> Result<(), Error> {
    let (policy, confirm) = policy(command)?;
    let now = Utc::now();
    let dry_run = !confirm.confirm;
    let reporter = Reporter::new("deleting", false);
    let reporter = &reporter;
    let report = with_repo(global, None, |storage, _| async move {
        let report = delete_with(&storage, &policy, now, dry_run, None, &|p| reporter.report(p)).await;
        reporter.finish();
        report
    })?;
    if confirm.json {
        let rows: Vec<serde_json::Value> = report
            .deleted()
            .iter()
            .map(|d| serde_json::json!({"kind": d.kind.as_str(), "name": d.name, "reason": d.reason}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON of plain values"));
    } else {
        let verb = if dry_run { "would delete" } else { "deleted" };
        for d in report.deleted() {
            println!("{verb} {} {}: {}", d.kind.as_str(), d.name, d.reason);
        }
        if global.verbose {
            for k in &report.plan.keep {
                eprintln!("keep {} {}: {}", k.kind.as_str(), k.name, k.reason);
            }
        }
    }
    match (dry_run, report.deleted().is_empty()) {
        (_, true) => eprintln!("walrs: nothing to delete"),
        (true, false) => eprintln!(
            "walrs: dry run: {} item(s) would be deleted; add --confirm to delete them",
            report.deleted().len()
        ),
        (false, false) => eprintln!("walrs: deleted {} item(s)", report.deleted().len()),
    }
    Ok(())
}

fn policy(command: &DeleteCommand) -> Result<(Policy, &Confirm), Error> {
    Ok(match command {
        DeleteCommand::Retain { args, confirm } => (Policy::RetainFull(retain_count(args)?), confirm),
        DeleteCommand::RetainWithin { duration, confirm } => (Policy::KeepWithin(parse_duration(duration)?), confirm),
        DeleteCommand::Before { target, confirm } => {
            let policy = if target.starts_with("base_") {
                Policy::BeforeBackup(BackupName::parse(target)?)
            } else {
                Policy::BeforeTime(parse_time(target)?)
            };
            (policy, confirm)
        }
        DeleteCommand::Target { name, confirm } => (Policy::Target(BackupName::parse(name)?), confirm),
        DeleteCommand::Everything { force, confirm } => (Policy::Everything { force: force.is_some() }, confirm),
        DeleteCommand::Garbage { confirm } => (Policy::Garbage, confirm),
    })
}

/// `N`, `FULL N` or `FIND_FULL N`.
fn retain_count(args: &[String]) -> Result<u32, Error> {
    let count = match args {
        [n] => n,
        [modifier, n] if modifier.eq_ignore_ascii_case("FULL") || modifier.eq_ignore_ascii_case("FIND_FULL") => n,
        _ => {
            return Err(Error::invalid_input(format!("unexpected arguments: {}", args.join(" ")))
                .with_hint("walrs delete retain [FULL|FIND_FULL] N"))
        }
    };
    match count.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Error::invalid_input(format!("\"{}\" is not a number of backups to keep", count.escape_debug()))
            .with_hint("give a whole number of at least 1, e.g. `walrs delete retain 7`")),
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        Error::invalid_input(format!("{} is neither a backup name nor a time: {e}", walrs_core::error::quoted(text)))
            .with_hint("give a backup name from `walrs backup-list` or an RFC 3339 time such as 2026-11-01T00:00:00Z")
    })
}

fn parse_duration(text: &str) -> Result<Duration, Error> {
    let invalid = || {
        Error::invalid_input(format!("\"{}\" is not a duration", text.escape_debug()))
            .with_hint("for example 14d, 36h or 2w")
    };
    let d = humantime::parse_duration(text).map_err(|_| invalid())?;
    match Duration::from_std(d) {
        Ok(d) if d > Duration::zero() => Ok(d),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retain_counts() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(retain_count(&s(&["3"])).unwrap(), 3);
        assert_eq!(retain_count(&s(&["FULL", "2"])).unwrap(), 2);
        assert_eq!(retain_count(&s(&["find_full", "2"])).unwrap(), 2);
        for bad in [&["0"][..], &["-1"], &["x"], &["FULL"], &["DELTA", "2"], &["99999999999"], &[""]] {
            assert!(retain_count(&s(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_and_durations() {
        assert!(parse_time("2026-11-01T00:00:00Z").is_ok());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_duration("14d").unwrap(), Duration::days(14));
        assert_eq!(parse_duration("36h").unwrap(), Duration::hours(36));
        for bad in ["", "0s", "-3d", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
