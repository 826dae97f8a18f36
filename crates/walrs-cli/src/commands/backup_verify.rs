use super::with_repo;
use crate::cli::Global;
use crate::progress::Reporter;
use walrs_core::backup::{find_backup, list_backups};
use walrs_core::ops::{backup_verify, BackupCheck};
use walrs_core::Error;

pub fn run(global: &Global, which: Option<&str>, all: bool, json: bool) -> Result<(), Error> {
    let reporter = Reporter::new("verifying", !json && global.verbose);
    let reporter = &reporter;
    let checks = with_repo(global, None, |storage, _| async move {
        let backups = if all {
            let (backups, problems) = list_backups(&storage).await?;
            for p in &problems {
                eprintln!("walrs: warning: skipped a backup: {}", p.message);
            }
            backups
        } else {
            vec![find_backup(&storage, which.unwrap_or("LATEST")).await?]
        };
        let checks = backup_verify(&storage, &backups, &|p| reporter.report(p)).await;
        reporter.finish();
        checks
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&checks).expect("JSON of plain values"));
    } else {
        checks.iter().for_each(print_text);
        if checks.is_empty() {
            eprintln!("walrs: no complete backups to verify");
        }
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.is_ok()).map(|c| c.backup.as_str()).collect();
    match failed.first() {
        None => Ok(()),
        Some(_) => Err(Error::corrupt(format!("backup-verify: {} failed verification", failed.join(", ")))
            .with_hint("restore from another backup, and take a new one")),
    }
}

fn print_text(c: &BackupCheck) {
    println!("{}: {}", c.backup, if c.is_ok() { "OK" } else { "FAILED" });
    println!("  {} objects, {} files, {} bytes read back", c.objects.len(), c.files, c.bytes);
    if c.checksums_recorded {
        println!("  {} files matched their recorded size and CRC-32", c.files_checksummed);
    } else {
        println!("  checksums were not recorded (a WAL-G backup): checked decompression, tar structure and sizes");
    }
    println!(
        "  WAL to consistency: {} .. {}{}",
        c.wal_first,
        c.wal_last,
        if c.wal_missing.is_empty() { ", archived".to_string() } else { format!(", {} missing", c.wal_missing.len()) }
    );
    if c.recorded_corrupt_pages > 0 {
        println!(
            "  warning: {} page(s) failed their checksum when the backup was taken (CorruptBlocks in files_metadata.json)",
            c.recorded_corrupt_pages
        );
    }
    for p in &c.problems {
        println!("  problem: {p}");
    }
}
