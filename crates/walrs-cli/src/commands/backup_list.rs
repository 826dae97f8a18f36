use super::with_repo;
use crate::cli::Global;
use walrs_core::backup::{list_backups, BackupInfo};
use walrs_core::Error;

pub fn run(global: &Global, detail: bool, json: bool) -> Result<(), Error> {
    let (backups, problems) = with_repo(global, None, |storage, _| async move { list_backups(&storage).await })?;
    for p in &problems {
        eprintln!("walrs: warning: skipped a backup: {}", p.message);
    }
    if json {
        let rows: Vec<serde_json::Value> = backups.iter().map(as_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON of plain values"));
        return Ok(());
    }
    if backups.is_empty() {
        eprintln!("walrs: no complete backups");
        return Ok(());
    }
    if detail {
        println!(
            "{:<30} {:<30} {:<30} {:>12} {:>12} {:>4} {:>7} {:>14} {:>14} {:<9} {:<12} data_dir",
            "name",
            "start_time",
            "finish_time",
            "start_lsn",
            "finish_lsn",
            "tli",
            "pg",
            "uncompressed",
            "compressed",
            "permanent",
            "hostname"
        );
    } else {
        println!("{:<30} {:<30} {:>12} {:<9}", "name", "finish_time", "start_lsn", "permanent");
    }
    for b in &backups {
        let s = &b.sentinel;
        let (start, finish) = (s.start_time.as_deref().unwrap_or("-"), s.finish_time.as_deref().unwrap_or("-"));
        if detail {
            println!(
                "{:<30} {:<30} {:<30} {:>12} {:>12} {:>4} {:>7} {:>14} {:>14} {:<9} {:<12} {}",
                b.name.as_str(),
                start,
                finish,
                s.start_lsn().to_string(),
                s.finish_lsn().to_string(),
                b.timeline(),
                s.pg_version,
                s.uncompressed_size,
                s.compressed_size,
                s.is_permanent,
                s.hostname.as_deref().unwrap_or("-"),
                s.data_dir.as_deref().unwrap_or("-")
            );
        } else {
            println!("{:<30} {:<30} {:>12} {:<9}", b.name.as_str(), finish, s.start_lsn().to_string(), s.is_permanent);
        }
    }
    Ok(())
}

fn as_json(b: &BackupInfo) -> serde_json::Value {
    let s = &b.sentinel;
    serde_json::json!({
        "backup_name": b.name.as_str(),
        "start_time": s.start_time,
        "finish_time": s.finish_time,
        "start_lsn": s.start_lsn().to_string(),
        "finish_lsn": s.finish_lsn().to_string(),
        "timeline": b.timeline(),
        "pg_version": s.pg_version,
        "uncompressed_size": s.uncompressed_size,
        "compressed_size": s.compressed_size,
        "is_permanent": s.is_permanent,
        "hostname": s.hostname,
        "data_dir": s.data_dir,
    })
}
