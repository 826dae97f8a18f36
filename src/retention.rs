//! Running a retention policy against the configured repository: the one run behind the
//! `walrs_delete_*()` functions and the scheduler's `walrs.retain_full`.

use crate::{repo, runtime};
use walrs_core::ops::{delete, DeleteReport};
use walrs_core::retention::Policy;
use walrs_core::{chrono, Error};

/// Run a policy against the configured repository; what was removed (or, on a dry run, would be).
pub fn run_policy(policy: Policy, dry_run: bool, backup_running: Option<bool>) -> Result<DeleteReport, Error> {
    let storage = repo::open()?.storage;
    let now = chrono::Utc::now();
    runtime::block_on(async move { delete(&storage, &policy, now, dry_run, backup_running).await })?
}

/// One LOG line for a delete that removed something.
pub fn summary(what: &str, report: &DeleteReport) -> String {
    let count = |kind: &str| report.deleted().iter().filter(|d| d.kind.as_str() == kind).count();
    let backups: Vec<&str> =
        report.deleted().iter().filter(|d| d.kind.as_str() == "backup").map(|d| d.name.as_str()).collect();
    format!(
        "walrs: {what}: deleted {} backup(s){}, {} partial backup(s), {} WAL file(s)",
        backups.len(),
        if backups.is_empty() { String::new() } else { format!(" ({})", backups.join(", ")) },
        count("partial_backup"),
        count("wal"),
    )
}
