//! Retention: which backups and WAL files to delete, decided by a pure function of the
//! repository [`Snapshot`], a [`Policy`] and `now`, with the reason for every decision.
//!
//! The rules, whatever the policy:
//! - a permanent backup is never deleted (except `everything` with `force`), and neither is the
//!   WAL from its start to its finish;
//! - WAL from the start of the oldest backup kept by the policy onwards is never deleted, on any
//!   timeline, so every kept backup recovers to the present; the newest backup always counts as
//!   kept for this, so marking it permanent does not unpin the WAL after it;
//! - timeline history files are kept (only `everything` removes them);
//! - a folder without a sentinel whose last write is recent may be a backup in progress: kept;
//! - backups are ordered by start time, timeline and start LSN, never by name;
//! - unreadable sentinels stop the planner: deciding around a backup it cannot see is unsafe.

mod position;
#[cfg(test)]
mod tests;

use crate::snapshot::{PartialBackup, Snapshot};
pub use position::infer_segment_size;

use crate::backup::{BackupInfo, BackupName};
use crate::wal::{SegmentPos, WalFileKind};
use crate::{Error, ErrorKind, Result};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// How long after its last write a folder without a sentinel still counts as a backup in progress.
pub const IN_PROGRESS_GRACE_HOURS: i64 = 6;

#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Keep the newest N full backups (and everything newer than the oldest of them).
    RetainFull(u32),
    /// Keep backups that started within this long before `now`, and always the newest full one.
    KeepWithin(Duration),
    /// Delete backups that started before this time; at least one backup must remain.
    BeforeTime(DateTime<Utc>),
    /// Delete backups older than this one.
    BeforeBackup(BackupName),
    /// Delete this one backup (complete or partial), and no WAL.
    Target(BackupName),
    /// Delete every backup and all WAL; permanent backups only with `force`.
    Everything { force: bool },
    /// Delete WAL no backup needs and partial backups that are no longer being written.
    Garbage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Backup,
    PartialBackup,
    Wal,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Backup => "backup",
            ItemKind::PartialBackup => "partial_backup",
            ItemKind::Wal => "wal",
        }
    }
}

/// One thing kept or deleted, and why. `keys` are its objects, in deletion order.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub kind: ItemKind,
    pub name: String,
    pub reason: String,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub keep: Vec<Decision>,
    pub delete: Vec<Decision>,
}

/// Why a complete backup stays, or None when the policy lets it go.
type Verdicts = Vec<Option<String>>;

pub fn plan(snap: &Snapshot, policy: &Policy, now: DateTime<Utc>) -> Result<Plan> {
    if let Some(first) = snap.problems.first() {
        return Err(Error::corrupt(format!(
            "retention cannot run: {} backup sentinel(s) cannot be read, the first: {first}",
            snap.problems.len()
        ))
        .with_hint("inspect that object; delete the broken backup's folder and sentinel by hand if it is garbage"));
    }
    let mut backups = snap.backups.clone();
    backups.sort_by_key(|b| b.order_key());
    if let Policy::Target(name) = policy {
        return plan_target(snap, &backups, name, now);
    }
    let mut verdicts = policy_verdicts(&backups, policy, now)?;
    let force = matches!(policy, Policy::Everything { force: true });
    protect_permanent(&backups, &mut verdicts, force);
    // Anchors pin the WAL to the present: kept by policy, or the newest backup (before
    // permanence is considered, so a permanent backup kept only for that pins only its own WAL).
    let mut anchors: Vec<&BackupInfo> = backups
        .iter()
        .zip(&verdicts)
        .filter(|(b, v)| v.is_some() && !b.sentinel.is_permanent)
        .map(|(b, _)| b)
        .collect();
    if !matches!(policy, Policy::Everything { .. }) {
        anchors.extend(backups.last());
    }
    protect_delta_bases(&backups, &mut verdicts);

    let mut plan = Plan::default();
    for (b, verdict) in backups.iter().zip(verdicts) {
        let decision = |reason: String| Decision {
            kind: ItemKind::Backup,
            name: b.name.to_string(),
            reason,
            keys: backup_keys(snap, &b.name),
        };
        match verdict {
            Some(reason) => plan.keep.push(decision(reason)),
            None => plan.delete.push(decision(deletion_reason(policy))),
        }
    }
    let removes_partials = matches!(policy, Policy::Garbage | Policy::Everything { .. });
    for p in &snap.partial {
        let d = partial_decision(snap, p, now, removes_partials);
        if d.1 {
            plan.delete.push(d.0)
        } else {
            plan.keep.push(d.0)
        }
    }
    let kept_names: Vec<&str> =
        plan.keep.iter().filter(|d| d.kind == ItemKind::Backup).map(|d| d.name.as_str()).collect();
    let permanent: Vec<&BackupInfo> =
        backups.iter().filter(|b| b.sentinel.is_permanent && kept_names.contains(&b.name.as_str())).collect();
    let in_progress: Vec<&PartialBackup> = snap.partial.iter().filter(|p| in_progress(snap, p, now)).collect();
    plan_wal(snap, policy, &backups, &anchors, &permanent, &in_progress, &mut plan);
    Ok(plan)
}

fn invalid(message: String, hint: &str) -> Error {
    Error::invalid_input(message).with_hint(hint)
}

/// For each backup, oldest first: why the policy keeps it, or None.
fn policy_verdicts(backups: &[BackupInfo], policy: &Policy, now: DateTime<Utc>) -> Result<Verdicts> {
    let n = backups.len();
    Ok(match policy {
        Policy::RetainFull(0) => {
            return Err(invalid(
                "the number of full backups to retain must be at least 1".into(),
                "to delete every backup, use `walrs delete everything`",
            ))
        }
        Policy::RetainFull(count) => {
            let fulls: Vec<usize> = (0..n).filter(|&i| !backups[i].name.is_delta()).collect();
            let kept = fulls.iter().rev().take(*count as usize);
            let oldest_kept = kept.min().copied().unwrap_or(n);
            (0..n)
                .map(|i| {
                    (i >= oldest_kept).then(|| match fulls.contains(&i) {
                        true => format!("one of the {count} newest full backups"),
                        false => "newer than the oldest full backup kept".to_string(),
                    })
                })
                .collect()
        }
        Policy::KeepWithin(window) => {
            if *window <= Duration::zero() {
                return Err(invalid("the retention window must be longer than zero".into(), "e.g. 7 days"));
            }
            let cutoff = now - *window;
            let newest_full = (0..n).rev().find(|&i| !backups[i].name.is_delta());
            (0..n)
                .map(|i| {
                    if backups[i].started_at().is_some_and(|t| t >= cutoff) {
                        Some(format!("started after {}", cutoff.format("%Y-%m-%d %H:%M:%S UTC")))
                    } else if Some(i) == newest_full {
                        Some("the newest full backup is always kept".to_string())
                    } else {
                        None
                    }
                })
                .collect()
        }
        Policy::BeforeTime(t) => {
            if *t > now {
                return Err(invalid(
                    format!("{} is in the future", t.format("%Y-%m-%d %H:%M:%S UTC")),
                    "give a time in the past; backups that started before it are deleted",
                ));
            }
            let verdicts: Verdicts = backups
                .iter()
                .map(|b| b.started_at().is_some_and(|s| s >= *t).then(|| "started after the given time".to_string()))
                .collect();
            if n > 0 && verdicts.iter().all(|v| v.is_none()) && backups.iter().any(|b| !b.sentinel.is_permanent) {
                return Err(invalid(
                    format!(
                        "every backup started before {}: this would delete all of them",
                        t.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    "choose an earlier time; to remove everything on purpose, use `walrs delete everything`",
                ));
            }
            verdicts
        }
        Policy::BeforeBackup(name) => {
            let target = position_of(backups, name)?;
            (0..n).map(|i| (i >= target).then(|| format!("not older than {name}"))).collect()
        }
        Policy::Everything { force: false } if backups.iter().any(|b| b.sentinel.is_permanent) => {
            return Err(Error::new(ErrorKind::Conflict, "the repository holds permanent backups".to_string())
                .with_hint("make them impermanent first, or add FORCE to delete them too"))
        }
        Policy::Everything { .. } => vec![None; n],
        Policy::Garbage => vec![Some("complete backups are not garbage".to_string()); n],
        Policy::Target(_) => unreachable!("planned by plan_target"),
    })
}

fn position_of(backups: &[BackupInfo], name: &BackupName) -> Result<usize> {
    backups.iter().position(|b| &b.name == name).ok_or_else(|| {
        Error::not_found(format!("there is no complete backup named {name}"))
            .with_hint("`walrs backup-list` or SELECT * FROM walrs_backup_list() shows the backups")
    })
}

fn protect_permanent(backups: &[BackupInfo], verdicts: &mut Verdicts, force: bool) {
    for (b, v) in backups.iter().zip(verdicts.iter_mut()) {
        if v.is_none() && b.sentinel.is_permanent && !force {
            *v = Some("permanent".to_string());
        }
    }
}

/// A delta backup restores on top of its base: keep the chain under every kept delta.
fn protect_delta_bases(backups: &[BackupInfo], verdicts: &mut Verdicts) {
    loop {
        let mut changed = false;
        for i in 0..backups.len() {
            let Some(base) = verdicts[i].as_ref().and(backups[i].sentinel.delta_from.as_deref()) else { continue };
            if let Some(j) = backups.iter().position(|b| b.name.as_str() == base) {
                if verdicts[j].is_none() {
                    verdicts[j] = Some(format!("base of the kept delta backup {}", backups[i].name));
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

fn deletion_reason(policy: &Policy) -> String {
    match policy {
        Policy::RetainFull(n) => format!("older than the {n} newest full backups"),
        Policy::KeepWithin(_) => "older than the retention window".into(),
        Policy::BeforeTime(_) => "started before the given time".into(),
        Policy::BeforeBackup(name) => format!("older than {name}"),
        Policy::Everything { .. } => "delete everything".into(),
        Policy::Target(_) | Policy::Garbage => "requested".into(),
    }
}

/// The objects of a complete backup: the sentinel first, so it stops being a backup at once.
fn backup_keys(snap: &Snapshot, name: &BackupName) -> Vec<String> {
    let mut keys = vec![crate::layout::sentinel_key(name)];
    keys.extend(snap.backup_objects.get(name).cloned().unwrap_or_default());
    keys
}

/// May `p` still be being written? Not if the caller knows no backup runs; else if it is recent.
fn in_progress(snap: &Snapshot, p: &PartialBackup, now: DateTime<Utc>) -> bool {
    snap.backup_running != Some(false) && now - p.last_write < Duration::hours(IN_PROGRESS_GRACE_HOURS)
}

/// A partial backup's decision, and whether it is a deletion.
fn partial_decision(snap: &Snapshot, p: &PartialBackup, now: DateTime<Utc>, removable: bool) -> (Decision, bool) {
    let (reason, delete) = if in_progress(snap, p, now) {
        (
            format!(
                "no sentinel yet, last written {}: may be in progress",
                p.last_write.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            false,
        )
    } else if removable {
        ("no sentinel: an interrupted or failed backup".to_string(), true)
    } else {
        ("incomplete; `delete garbage` removes it".to_string(), false)
    };
    (Decision { kind: ItemKind::PartialBackup, name: p.name.to_string(), reason, keys: p.keys.clone() }, delete)
}

fn plan_target(snap: &Snapshot, backups: &[BackupInfo], name: &BackupName, now: DateTime<Utc>) -> Result<Plan> {
    let mut plan = Plan::default();
    if let Some(p) = snap.partial.iter().find(|p| &p.name == name) {
        let (decision, delete) = partial_decision(snap, p, now, true);
        if !delete {
            return Err(Error::new(ErrorKind::Busy, format!("{name} {}", decision.reason)).with_hint(format!(
                "wait {IN_PROGRESS_GRACE_HOURS} hours after its last write, or until it completes"
            )));
        }
        plan.delete.push(decision);
        return Ok(plan);
    }
    let target = &backups[position_of(backups, name)?];
    if target.sentinel.is_permanent {
        return Err(Error::new(ErrorKind::Conflict, format!("backup {name} is permanent")).with_hint(format!(
            "make it impermanent first: SELECT walrs_backup_mark('{name}', false), or `walrs backup-mark {name} --impermanent`"
        )));
    }
    if let Some(delta) = backups.iter().find(|b| b.sentinel.delta_from.as_deref() == Some(name.as_str())) {
        return Err(Error::new(ErrorKind::Conflict, format!("delta backup {} is based on {name}", delta.name))
            .with_hint("delete the delta backups based on it first"));
    }
    plan.delete.push(Decision {
        kind: ItemKind::Backup,
        name: name.to_string(),
        reason: "requested".into(),
        keys: backup_keys(snap, name),
    });
    Ok(plan)
}

fn plan_wal(
    snap: &Snapshot,
    policy: &Policy,
    backups: &[BackupInfo],
    anchors: &[&BackupInfo],
    permanent: &[&BackupInfo],
    in_progress: &[&PartialBackup],
    plan: &mut Plan,
) {
    let segment_size = infer_segment_size(backups);
    // The oldest position any anchor or in-progress backup starts from: WAL from there stays.
    let floor = anchors
        .iter()
        .map(|b| (b.name.start_segment().log_seg(), b.name.as_str()))
        .chain(in_progress.iter().map(|p| (p.name.start_segment().log_seg(), p.name.as_str())))
        .min();
    let ranges: BTreeMap<&str, (SegmentPos, SegmentPos)> = permanent
        .iter()
        .map(|b| {
            let start = b.name.start_segment();
            let end = SegmentPos::of_lsn(start.timeline, b.sentinel.finish_lsn(), segment_size)
                .expect("an inferred segment size is one PostgreSQL can use");
            (b.name.as_str(), (start, end))
        })
        .collect();
    for w in &snap.wal {
        let keep = |reason: String| (reason, false);
        let (reason, delete) = match (policy, SegmentPos::of_wal(&w.name), floor) {
            (Policy::Target(_), _, _) => keep("deleting one backup never removes WAL".into()),
            (Policy::Everything { .. }, _, _) => ("delete everything".to_string(), true),
            (_, None, _) => keep("timeline history is always kept".into()),
            (_, Some(_), None) => keep("no backup to measure from: WAL is kept".into()),
            (_, Some(seg), Some((floor, anchor))) if seg.log_seg() >= floor => {
                keep(format!("needed by {anchor} to recover to the present"))
            }
            (_, Some(seg), Some((_, anchor))) => {
                match ranges
                    .iter()
                    .find(|(_, (start, end))| seg.timeline == start.timeline && *start <= seg && seg <= *end)
                {
                    Some((name, _)) => keep(format!("WAL of the permanent backup {name}")),
                    None if w.name.kind() == WalFileKind::BackupHistory => {
                        (format!("backup history older than {anchor}, the oldest backup whose WAL is kept"), true)
                    }
                    None => (format!("older than {anchor}, the oldest backup whose WAL is kept"), true),
                }
            }
        };
        let d = Decision { kind: ItemKind::Wal, name: w.name.to_string(), reason, keys: vec![w.key.clone()] };
        if delete {
            plan.delete.push(d)
        } else {
            plan.keep.push(d)
        }
    }
}
