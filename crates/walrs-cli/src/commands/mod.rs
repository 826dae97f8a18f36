//! One file per verb. Each resolves its configuration, calls the core, and reports.

mod backup_fetch;
mod backup_list;
mod backup_mark;
mod backup_verify;
mod delete;
mod restore_test;
mod wal_fetch;
mod wal_push;
mod wal_show;
mod wal_verify;

use crate::cli::{Cli, Command, Global};
use crate::config;
use std::future::Future;
use walrs_core::compress::Compression;
use walrs_core::storage::Storage;
use walrs_core::Error;

pub fn run(cli: &Cli) -> Result<(), Error> {
    #[cfg(debug_assertions)]
    fault_point(verb(&cli.command));
    match &cli.command {
        Command::BackupList { detail, json } => backup_list::run(&cli.global, *detail, *json),
        Command::BackupFetch(args) => backup_fetch::run(&cli.global, args),
        Command::Delete(command) => delete::run(&cli.global, command),
        Command::BackupMark { name, impermanent, json } => backup_mark::run(&cli.global, name, *impermanent, *json),
        Command::WalVerify { json } => wal_verify::run(&cli.global, *json),
        Command::WalShow { json, keys } => wal_show::run(&cli.global, *json, *keys),
        Command::BackupVerify { backup, all, json } => backup_verify::run(&cli.global, backup.as_deref(), *all, *json),
        Command::RestoreTest(args) => restore_test::run(&cli.global, args),
        Command::WalFetch { name, dest, prefetch } => wal_fetch::run(&cli.global, name, dest, *prefetch),
        Command::WalPrefetch { name, dir, segment_size, count } => {
            wal_fetch::prefetch(&cli.global, name, dir, *segment_size, *count)
        }
        Command::WalPush { path, compression } => wal_push::run(&cli.global, path, compression.as_deref()),
    }
}

/// Resolve the configuration, open the repository, and run `op` against it.
fn with_repo<T, F, Fut>(global: &Global, compression_flag: Option<&str>, op: F) -> Result<T, Error>
where
    F: FnOnce(Storage, Compression) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    with_config(global, compression_flag, |storage, cfg| op(storage, cfg.repo.compression))
}

/// As `with_repo`, for commands that need the whole resolved configuration.
fn with_config<T, F, Fut>(global: &Global, compression_flag: Option<&str>, op: F) -> Result<T, Error>
where
    F: FnOnce(Storage, config::Resolved) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let cfg = config::resolve(global, compression_flag)?;
    for w in &cfg.warnings {
        eprintln!("walrs: warning: {w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::local_io("cannot start the I/O runtime", &e))?;
    rt.block_on(async {
        #[cfg(debug_assertions)]
        fault_point("runtime");
        let storage = Storage::open(&cfg.repo.location, &cfg.repo.env)?;
        op(storage, cfg).await
    })
}

/// Test-only fault injection, compiled into debug builds alone: panic here when
/// `WALRS_FAULT_PANIC` names this point (a verb, when the verb starts; `runtime`, inside the
/// I/O runtime), so the CLI tests can check what a panic exits with.
#[cfg(debug_assertions)]
fn fault_point(point: &str) {
    if std::env::var_os("WALRS_FAULT_PANIC").is_some_and(|v| v == point) {
        panic!("fault injected by WALRS_FAULT_PANIC={point}");
    }
}

#[cfg(debug_assertions)]
fn verb(command: &Command) -> &'static str {
    match command {
        Command::BackupList { .. } => "backup-list",
        Command::BackupFetch(_) => "backup-fetch",
        Command::Delete(_) => "delete",
        Command::BackupMark { .. } => "backup-mark",
        Command::WalVerify { .. } => "wal-verify",
        Command::WalShow { .. } => "wal-show",
        Command::BackupVerify { .. } => "backup-verify",
        Command::RestoreTest(_) => "restore-test",
        Command::WalFetch { .. } => "wal-fetch",
        Command::WalPrefetch { .. } => "wal-prefetch",
        Command::WalPush { .. } => "wal-push",
    }
}

/// `restore_command` for a restored server: this walrs, on the same repository.
fn restore_command(cfg: &config::Resolved) -> String {
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "walrs".to_string());
    let env_dir = cfg.env_dir.as_ref().map(|d| d.display().to_string());
    walrs_core::restore::recovery::restore_command(&exe, &cfg.repo.location.to_string(), env_dir.as_deref())
}
