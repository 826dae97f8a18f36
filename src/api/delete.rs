//! Retention from SQL: `walrs_delete_*()` and `walrs_backup_mark()`. Each checks its arguments,
//! hands a policy to the core, and returns what was deleted (or, on a dry run, would be).

use super::sql_values::utc;
use crate::error::raise;
use crate::retention::{run_policy, summary};
use crate::{repo, runtime};
use pgrx::prelude::*;
use walrs_core::backup::BackupName;
use walrs_core::ops::backup_mark;
use walrs_core::retention::Policy;
use walrs_core::{chrono, Error};

// pgrx needs the row type spelled out in each signature (no type alias).

fn required<T>(value: Option<T>, what: &str, example: &str) -> T {
    value.unwrap_or_else(|| {
        raise(&Error::invalid_input(format!("{what} must not be NULL")).with_hint(format!("for example {example}")))
    })
}

fn backup_name(name: &str) -> BackupName {
    BackupName::parse(name).unwrap_or_else(|e| raise(&e))
}

/// Whether a walrs backup runs in this cluster now (any database, whatever the caller's role):
/// if none does, a folder without a sentinel is a leftover, however recent. The answer holds
/// for the rest of the caller's transaction: a backup holds the backup lock exclusively for as
/// long as it runs, and this takes it shared until the transaction ends, so no backup can
/// start between this answer and the deletes (it fails as busy instead).
fn backup_running() -> Option<bool> {
    let sql = format!("SELECT pg_try_advisory_xact_lock_shared({})", crate::worker::BACKUP_LOCK_KEY);
    crate::worker::read_one::<bool>(&sql).ok().flatten().map(|locked| !locked)
}

fn rows(
    what: &str,
    policy: Policy,
    dry_run: Option<bool>,
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let dry_run = required(dry_run, "dry_run", "false");
    let report = run_policy(policy, dry_run, backup_running()).unwrap_or_else(|e| raise(&e));
    if report.executed && !report.deleted().is_empty() {
        log!("{}", summary(what, &report));
    }
    let rows: Vec<_> =
        report.plan.delete.into_iter().map(|d| (d.kind.as_str().to_string(), d.name, d.reason)).collect();
    TableIterator::new(rows)
}

/// Keep the newest `full_count` full backups and the WAL they need; delete older backups and WAL.
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_delete_retain(
    full_count: Option<i32>,
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let count = required(full_count, "full_count", "walrs_delete_retain(7)");
    if count < 1 {
        raise(&Error::invalid_input(format!("full_count must be at least 1, not {count}")).with_hint(
            "walrs_delete_retain(N) keeps the N newest full backups; to delete everything use `walrs delete everything`",
        ));
    }
    rows(&format!("retain {count}"), Policy::RetainFull(count as u32), dry_run)
}

/// Delete backups that started before `before` (and the WAL only they needed); one must remain.
#[pg_extern(volatile, parallel_unsafe, name = "walrs_delete_before")]
fn walrs_delete_before_time(
    before: Option<TimestampWithTimeZone>,
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let before = required(before, "the time", "walrs_delete_before(now() - interval '14 days')");
    rows("delete before", Policy::BeforeTime(utc(before)), dry_run)
}

/// Delete backups older than the backup `before` names, or, if it is a time, started before it.
#[pg_extern(volatile, parallel_unsafe, name = "walrs_delete_before")]
fn walrs_delete_before_text(
    before: Option<&str>,
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let before = required(before, "the backup name or time", "walrs_delete_before('base_000000010000000000000002')");
    if before.starts_with("base_") {
        return rows("delete before", Policy::BeforeBackup(backup_name(before)), dry_run);
    }
    match before.parse::<TimestampWithTimeZone>() {
        Ok(t) if t.is_finite() => rows("delete before", Policy::BeforeTime(utc(t)), dry_run),
        _ => raise(
            &Error::invalid_input(format!("{} is neither a backup name nor a time", walrs_core::error::quoted(before)))
                .with_hint("give a name from walrs_backup_list() or a timestamp such as '2026-11-01 00:00:00+00'"),
        ),
    }
}

/// Delete one backup (never WAL). Permanent backups are refused.
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_delete_target(
    backup: Option<&str>,
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let name = required(backup, "the backup name", "walrs_delete_target('base_000000010000000000000002')");
    rows("delete target", Policy::Target(backup_name(name)), dry_run)
}

/// Delete WAL no backup needs and partial backups no longer being written.
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_delete_garbage(
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    rows("delete garbage", Policy::Garbage, dry_run)
}

/// Keep backups that started within `keep` (and always the newest full one); delete older ones.
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_delete_retain_within(
    keep: Option<Interval>,
    dry_run: default!(Option<bool>, false),
) -> TableIterator<'static, (name!(kind, String), name!(name, String), name!(reason, String))> {
    let keep = required(keep, "the interval", "walrs_delete_retain_within('14 days')");
    let micros = keep.as_micros();
    if micros <= 0 {
        raise(&Error::invalid_input("the interval must be positive").with_hint("for example '14 days'"));
    }
    let window = chrono::Duration::microseconds(micros.min(i64::MAX as i128) as i64);
    rows("retain within", Policy::KeepWithin(window), dry_run)
}

/// Make a backup permanent (retention never deletes it) or, with `false`, not.
#[pg_extern(volatile, parallel_unsafe)]
fn walrs_backup_mark(backup: Option<&str>, permanent: default!(Option<bool>, true)) {
    let name = required(backup, "the backup name", "walrs_backup_mark('base_000000010000000000000002')");
    let permanent = required(permanent, "permanent", "true");
    let name = backup_name(name).to_string();
    let marked = repo::open()
        .and_then(|repo| runtime::block_on(async move { backup_mark(&repo.storage, &name, permanent).await })?);
    match marked {
        Ok(m) if m.changed => {
            log!("walrs: backup {} is now {}", m.name, if permanent { "permanent" } else { "impermanent" })
        }
        Ok(m) => notice!("walrs: backup {} already is {}", m.name, if permanent { "permanent" } else { "impermanent" }),
        Err(e) => raise(&e),
    }
}
