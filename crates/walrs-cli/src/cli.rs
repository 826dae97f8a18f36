//! Command-line syntax. WAL-G's verbs, so runbooks carry over.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "walrs", version, about = "Continuous backup and point-in-time recovery for PostgreSQL")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Repository URL (file:///path, s3://bucket/prefix, azure://container/prefix, gs://bucket/prefix).
    /// Default: walrs.storage from ./postgresql.conf or ./postgresql.auto.conf, then WALG_*_PREFIX.
    #[arg(long, global = true, value_name = "URL")]
    pub storage: Option<String>,
    /// envdir-style directory with credentials and storage options (as /etc/wal-g.d/env).
    /// Default: walrs.env_dir from ./postgresql.conf or ./postgresql.auto.conf.
    #[arg(long, global = true, value_name = "DIR")]
    pub env_dir: Option<PathBuf>,
    /// Say what was done, on standard error.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List complete backups (those with a sentinel), oldest first.
    BackupList {
        /// Also show sizes, LSNs, host and data directory.
        #[arg(long)]
        detail: bool,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into an empty directory; with a recovery option, also set up recovery
    /// so that `pg_ctl start` brings the database back.
    BackupFetch(BackupFetchArgs),
    /// Fetch one WAL file from the repository: restore_command = 'walrs wal-fetch %f %p'.
    /// Exits 0 when fetched, 74 when the repository does not have it.
    WalFetch {
        /// WAL file name, as PostgreSQL's %f.
        name: String,
        /// Where to write it, as PostgreSQL's %p; written whole or not at all.
        dest: PathBuf,
        /// Segments to fetch ahead in the background into pg_wal/.walrs/prefetch (0: none).
        #[arg(long, value_name = "N", default_value_t = 8)]
        prefetch: usize,
    },
    /// Fetch the segments after NAME into DIR (started in the background by wal-fetch).
    #[command(hide = true)]
    WalPrefetch {
        /// The segment just fetched.
        name: String,
        /// The prefetch directory.
        dir: PathBuf,
        /// Size of a segment in bytes.
        #[arg(long)]
        segment_size: u64,
        /// Segments to fetch.
        #[arg(long, default_value_t = 8)]
        count: usize,
    },
    /// Archive one WAL file: archive_command = 'walrs wal-push %p', for servers without archive_library.
    WalPush {
        /// Path of the WAL file, as PostgreSQL's %p; its file name is the archived name.
        path: PathBuf,
        /// lz4, zstd, brotli or none. Default: walrs.compression, then WALG_COMPRESSION_METHOD, then lz4.
        #[arg(long, value_name = "METHOD")]
        compression: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct BackupFetchArgs {
    /// Directory to restore into; must be empty or not exist.
    pub dir: PathBuf,
    /// LATEST, or a backup name from `walrs backup-list`.
    pub backup: String,
    /// Recover to the end of the archive (writes recovery.signal and restore_command).
    #[arg(long)]
    pub recovery: bool,
    /// Recover up to this time (a timestamp PostgreSQL accepts, e.g. '2026-11-21 12:00:00+00').
    #[arg(long, value_name = "TIME", conflicts_with_all = ["target_lsn", "target_name", "target"])]
    pub target_time: Option<String>,
    /// Recover up to this LSN.
    #[arg(long, value_name = "LSN", conflicts_with_all = ["target_name", "target"])]
    pub target_lsn: Option<String>,
    /// Recover up to this restore point (pg_create_restore_point).
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub target_name: Option<String>,
    /// `immediate`: stop as soon as the backup is consistent.
    #[arg(long, value_name = "immediate", value_parser = ["immediate"])]
    pub target: Option<String>,
    /// What to do at the target: promote, pause or shutdown (PostgreSQL's default: pause).
    #[arg(long, value_name = "ACTION")]
    pub target_action: Option<String>,
    /// Set up a standby fed from the archive (standby.signal) instead of a one-off recovery.
    #[arg(long, conflicts_with_all = ["recovery", "target_time", "target_lsn", "target_name", "target", "target_action"])]
    pub standby: bool,
    /// Put a tablespace elsewhere: OLDDIR=NEWDIR or OID=NEWDIR (repeatable). Others return to
    /// the location they had.
    #[arg(long, value_name = "OLD=NEW")]
    pub tablespace_mapping: Vec<String>,
    /// Owner of the restored files when run as root (default: the owner of DIR's parent, or postgres).
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
}
