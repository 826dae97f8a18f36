use super::with_config;
use crate::cli::{BackupFetchArgs, Global};
use crate::progress::Reporter;
use std::io::IsTerminal;
use std::time::Instant;
use walrs_core::backup::find_backup;
use walrs_core::ops::{backup_fetch_with, TablespaceMapping};
use walrs_core::restore::recovery::{ArchiveMode, Mode, RecoverySettings, Target};
use walrs_core::restore::{owner, sync};
use walrs_core::Error;

pub fn run(global: &Global, args: &BackupFetchArgs) -> Result<(), Error> {
    let recovery_wanted = args.recovery
        || args.standby
        || args.target_time.is_some()
        || args.target_lsn.is_some()
        || args.target_name.is_some()
        || args.target.is_some()
        || args.target_action.is_some();
    // Check every option before touching the disk.
    if args.dir.as_os_str().is_empty() {
        return Err(Error::invalid_input("the directory to restore into is empty"));
    }
    let target = match (&args.target_time, &args.target_lsn, &args.target_name, &args.target) {
        (Some(t), _, _, _) => Target::Time(t.clone()),
        (_, Some(l), _, _) => Target::Lsn(l.parse().map_err(|e: Error| e.context("--target-lsn"))?),
        (_, _, Some(n), _) => Target::Name(n.clone()),
        (_, _, _, Some(_)) => Target::Immediate,
        _ => Target::Latest,
    };
    let action =
        args.target_action.as_deref().map(str::parse).transpose().map_err(|e: Error| e.context("--target-action"))?;
    let archive_mode = match &args.archive_mode {
        Some(mode) => mode.parse().map_err(|e: Error| e.context("--archive-mode"))?,
        None => ArchiveMode::default_for(args.standby),
    };
    let mut mapping = TablespaceMapping::new();
    for m in &args.tablespace_mapping {
        let (old, new) = m.split_once('=').filter(|(o, n)| !o.is_empty() && n.starts_with('/')).ok_or_else(|| {
            Error::invalid_input(format!("--tablespace-mapping \"{m}\" is not OLD=NEW"))
                .with_hint("for example --tablespace-mapping /srv/ts1=/srv/restored/ts1")
        })?;
        mapping.insert(old.to_string(), new.into());
    }
    let running_as_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    let ownership = if running_as_root { Some(owner::choose(&args.dir, args.owner.as_deref())?) } else { None };

    let started = Instant::now();
    let show_progress = std::io::stderr().is_terminal() || global.verbose;
    let reporter = Reporter::new("restoring", global.verbose);
    let reporter = &reporter;
    let dir = args.dir.clone();
    let mapping = &mapping;
    let (name, report, restore_command) = with_config(global, None, |storage, cfg| async move {
        let backup = find_backup(&storage, &args.backup).await?;
        if show_progress {
            eprintln!("walrs: restoring {} into {}", backup.name, dir.display());
        }
        let report = backup_fetch_with(&storage, &backup, &dir, mapping, &|p| reporter.report(p)).await?;
        reporter.finish();
        Ok((backup.name, report, super::restore_command(&cfg)))
    })?;

    if recovery_wanted {
        let mode = if args.standby { Mode::Standby } else { Mode::Recovery };
        RecoverySettings { mode, target, action, restore_command }.write(&args.dir)?;
    }
    archive_mode.write(&args.dir)?;
    for (oid, dir) in &report.tablespaces {
        eprintln!("walrs: tablespace {oid} restored into {}", dir.display());
    }
    for dir in std::iter::once(&args.dir).chain(report.tablespaces.iter().map(|(_, dir)| dir)) {
        if let Some(ids) = ownership {
            owner::chown_tree(dir, ids)?;
        }
        sync::sync_tree(dir)?;
    }
    if args.json {
        let shape = serde_json::json!({
            "backup": name.to_string(),
            "dir": args.dir.display().to_string(),
            "objects": report.objects,
            "files": report.files,
            "bytes": report.bytes,
            "seconds": started.elapsed().as_secs_f64(),
            "tablespaces": report.tablespaces.iter()
                .map(|(oid, dir)| serde_json::json!({"oid": oid, "dir": dir.display().to_string()}))
                .collect::<Vec<_>>(),
            "recovery": recovery_wanted,
            "archive_mode": if archive_mode == ArchiveMode::Off { "off" } else { "preserve" },
        });
        println!("{}", serde_json::to_string_pretty(&shape).expect("JSON of plain values"));
    }
    eprintln!(
        "walrs: restored {name} into {}: {} files, {} bytes from {} objects in {:.1} s{}",
        args.dir.display(),
        report.files,
        report.bytes,
        report.objects,
        started.elapsed().as_secs_f64(),
        if recovery_wanted { "; recovery is set up: start the server with pg_ctl start" } else { "" }
    );
    if archive_mode == ArchiveMode::Off {
        eprintln!(
            "walrs: archiving is off in the restored server (postgresql.auto.conf); restore with \
             --archive-mode preserve for a server that replaces the original"
        );
    }
    Ok(())
}
