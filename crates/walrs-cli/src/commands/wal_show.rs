use super::with_repo;
use crate::cli::Global;
use walrs_core::ops::wal_verify;
use walrs_core::Error;

pub fn run(global: &Global, json: bool) -> Result<(), Error> {
    let now = chrono::Utc::now();
    let report = with_repo(global, None, |storage, _| async move { wal_verify(&storage, now).await })?;
    if json {
        let rows: Vec<serde_json::Value> = report
            .timelines
            .iter()
            .map(|t| {
                serde_json::json!({
                    "timeline": t.timeline,
                    "parent_timeline": t.parent.as_ref().map(|p| p.parent),
                    "switchpoint": t.parent.as_ref().map(|p| p.switchpoint.to_string()),
                    "first": t.first, "last": t.last, "segments": t.segments,
                    "partial": t.partial,
                    "gaps": t.gaps.len(),
                    "backups": t.backups,
                })
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
    }
    Ok(())
}
