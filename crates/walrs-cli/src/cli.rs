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
    /// Fetch one WAL file from the repository: restore_command = 'walrs wal-fetch %f %p'.
    /// Exits 0 when fetched, 74 when the repository does not have it.
    WalFetch {
        /// WAL file name, as PostgreSQL's %f.
        name: String,
        /// Where to write it, as PostgreSQL's %p; written whole or not at all.
        dest: PathBuf,
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
