use super::with_repo;
use crate::cli::Global;
use std::collections::BTreeMap;
use walrs_core::crypto::which_key::{wal_keys_needed, KeyNeeded};
use walrs_core::ops::wal_verify;
use walrs_core::Error;

pub fn run(global: &Global, json: bool, keys: bool) -> Result<(), Error> {
    let now = chrono::Utc::now();
    let (report, needed) = with_repo(global, None, |storage, _| async move {
        let report = wal_verify(&storage, now).await?;
        // Only with --keys: it reads the first bytes of every segment, one request each.
        let needed = if keys { Some(wal_keys_needed(&storage).await?) } else { None };
        Ok((report, needed))
    })?;
    let counts = |tli: u32| -> Vec<(String, u64)> {
        let none = BTreeMap::new();
        let per_key = needed.as_ref().and_then(|n| n.get(&tli)).unwrap_or(&none);
        per_key.iter().map(|(k, n): (&KeyNeeded, &u64)| (k.to_string(), *n)).collect()
    };
    if json {
        let rows: Vec<serde_json::Value> = report
            .timelines
            .iter()
            .map(|t| {
                let mut row = serde_json::json!({
                    "timeline": t.timeline,
                    "parent_timeline": t.parent.as_ref().map(|p| p.parent),
                    "switchpoint": t.parent.as_ref().map(|p| p.switchpoint.to_string()),
                    "first": t.first, "last": t.last, "segments": t.segments,
                    "partial": t.partial,
                    "gaps": t.gaps.len(),
                    "backups": t.backups,
                });
                if let (true, Some(fields)) = (needed.is_some(), row.as_object_mut()) {
                    let per_key: serde_json::Map<String, serde_json::Value> =
                        counts(t.timeline).into_iter().map(|(k, n)| (k, n.into())).collect();
                    fields.insert("keys".into(), per_key.into());
                }
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON of plain values"));
        return Ok(());
    }
    if report.timelines.is_empty() {
        eprintln!("walrs: no WAL in the repository");
        return Ok(());
    }
    println!("{:>4} {:>6} {:<24} {:<24} {:>8} {:>5}  backups", "tli", "parent", "first", "last", "segments", "gaps");
    for t in &report.timelines {
        let parent = t.parent.as_ref().map(|p| format!("{}@{}", p.parent, p.switchpoint));
        println!(
            "{:>4} {:>6} {:<24} {:<24} {:>8} {:>5}  {}",
            t.timeline,
            parent.as_deref().map(|p| p.split('@').next().unwrap_or("-")).unwrap_or("-"),
            t.first.as_deref().unwrap_or("-"),
            t.last.as_deref().unwrap_or("-"),
            t.segments,
            t.gaps.len(),
            if t.backups.is_empty() { "-".to_string() } else { t.backups.join(" ") }
        );
        if let Some(p) = &t.parent {
            println!("       branched from timeline {} at {}", p.parent, p.switchpoint);
        }
        if needed.is_some() {
            let per_key: Vec<String> = counts(t.timeline).iter().map(|(k, n)| format!("{k}: {n} segments")).collect();
            println!("       keys: {}", if per_key.is_empty() { "-".to_string() } else { per_key.join(", ") });
        }
    }
    Ok(())
}
