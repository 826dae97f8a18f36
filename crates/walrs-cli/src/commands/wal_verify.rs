use super::with_repo;
use crate::cli::Global;
use walrs_core::ops::wal_verify;
use walrs_core::ops::wal_verify::{GapStatus, WalReport};
use walrs_core::Error;

pub fn run(global: &Global, json: bool) -> Result<(), Error> {
    let now = chrono::Utc::now();
    let report = with_repo(global, None, |storage, _| async move { wal_verify(&storage, now).await })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("JSON of plain values"));
    } else {
        print_text(&report);
    }
    verdict(&report)
}

fn print_text(r: &WalReport) {
    println!("WAL segment size: {} MiB", r.segment_size >> 20);
    for t in &r.timelines {
        let from = match &t.parent {
            Some(p) => format!(", branched from timeline {} at {}", p.parent, p.switchpoint),
            None => String::new(),
        };
        println!("timeline {}{from}", t.timeline);
        for c in &t.checked {
            println!("  checked {} .. {} ({} segments)", c.first, c.last, c.count);
        }
        for g in &t.gaps {
            let what = match g.status {
                GapStatus::Lost => "LOST",
                GapStatus::Uploading => "still uploading",
            };
            println!("  {what}: {} .. {} ({} segments)", g.first, g.last, g.count);
        }
        if let Some(p) = &t.partial {
            println!("  ends with {p}");
        }
        for s in &t.switches {
            println!("  timeline {} branched off at {}", s.timeline, s.switchpoint);
        }
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    for p in &r.problems {
        println!("problem: {p}");
    }
    if let (Some(name), Some(at)) = (&r.newest_segment, &r.newest_stored_at) {
        println!("newest segment: {name}, stored {at}");
    }
    println!(
        "{} segments checked: {} lost, {} still uploading",
        r.checked_segments, r.lost_segments, r.uploading_segments
    );
}

/// Exit 1 (through an error) when a segment is lost or a timeline cannot be followed.
fn verdict(r: &WalReport) -> Result<(), Error> {
    if r.is_ok() {
        return Ok(());
    }
    let mut what = Vec::new();
    if r.lost_segments > 0 {
        what.push(format!("{} WAL segment(s) are lost", r.lost_segments));
    }
    if !r.problems.is_empty() {
        what.push(format!("{} problem(s)", r.problems.len()));
    }
    Err(Error::corrupt(format!("wal-verify: {}", what.join(" and ")))
        .with_hint("backups before a lost segment cannot be recovered past it; take a new backup now"))
}
