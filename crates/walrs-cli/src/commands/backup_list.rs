use super::with_repo;
use crate::cli::Global;
use walrs_core::backup::{list_backups, BackupInfo};
use walrs_core::crypto::which_key::{backup_key_needed, KeyNeeded};
use walrs_core::Error;

pub fn run(global: &Global, detail: bool, json: bool) -> Result<(), Error> {
    let (backups, problems, keys) = with_repo(global, None, |storage, _| async move {
        let (backups, problems) = list_backups(&storage).await?;
        // With --detail, the key each backup needs: one object's first bytes per backup.
        let mut keys = Vec::new();
        if detail {
            for b in &backups {
                keys.push(backup_key_needed(&storage, &b.name).await?);
            }
        }
        Ok((backups, problems, keys))
    })?;
    let key_of = |i: usize| keys.get(i).map(|k| k.as_ref().map_or_else(|| "-".to_string(), KeyNeeded::to_string));
    for p in &problems {
        eprintln!("walrs: warning: skipped a backup: {}", p.message);
    }
    if json {
        let rows: Vec<serde_json::Value> = backups
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut row = as_json(b);
                if let (Some(key), Some(fields)) = (key_of(i), row.as_object_mut()) {
                    fields.insert("key".into(), key.into());
                }
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON of plain values"));
        return Ok(());
    }
    if backups.is_empty() {
        eprintln!("walrs: no complete backups");
        return Ok(());
    }
    if detail {
        println!(
            "{:<30} {:<30} {:<30} {:>12} {:>12} {:>4} {:>7} {:>14} {:>14} {:<9} {:<12} {:<20} data_dir",
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
            "hostname",
            "key"
        );
    } else {
        println!("{:<30} {:<30} {:>12} {:<9}", "name", "finish_time", "start_lsn", "permanent");
    }
    for (i, b) in backups.iter().enumerate() {
        let s = &b.sentinel;
        let (start, finish) = (s.start_time.as_deref().unwrap_or("-"), s.finish_time.as_deref().unwrap_or("-"));
        if detail {
            println!(
                "{:<30} {:<30} {:<30} {:>12} {:>12} {:>4} {:>7} {:>14} {:>14} {:<9} {:<12} {:<20} {}",
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
                key_of(i).unwrap_or_default(),
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
