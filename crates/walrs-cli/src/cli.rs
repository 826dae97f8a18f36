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
        /// Also show sizes, LSNs, host, data directory, and which key the backup needs (read
        /// from the first bytes of its first tar partition: one request per backup).
        #[arg(long)]
        detail: bool,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into an empty directory; with a recovery option, also set up recovery
    /// so that `pg_ctl start` brings the database back.
    BackupFetch(BackupFetchArgs),
    /// Delete backups and WAL by a retention policy; a dry run unless --confirm.
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// Make a backup permanent (retention never deletes it), or with --impermanent, not.
    BackupMark {
        /// A backup name from `walrs backup-list`.
        name: String,
        #[arg(long)]
        impermanent: bool,
        /// Print JSON ({backup, permanent, changed}) instead of a line.
        #[arg(long)]
        json: bool,
    },
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
    /// Check that the archived WAL is a chain every backup can replay: per timeline, from the
    /// oldest backup to the newest segment. Exits 1 when a segment is lost.
    WalVerify {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the archived WAL per timeline: first and last segment, count, gaps, timeline
    /// switches and the backups on each timeline.
    WalShow {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also count, per timeline, the segments each key opens ("current key", "previous key
        /// 1", ...). Reads the first bytes of every segment: one request per segment.
        #[arg(long)]
        keys: bool,
    },
    /// Read a backup back completely (every object decompressed, every file checked against its
    /// recorded size and CRC-32) and check the WAL it needs is archived. Exits 1 on any problem.
    BackupVerify {
        /// LATEST or a backup name; omit with --all.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        backup: Option<String>,
        /// Verify every complete backup.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The restore drill: restore a backup into a temporary directory, recover it with a private
    /// PostgreSQL (of the backup's major version), check it (amcheck, your SQL), report, and clean
    /// up. Exits 0 only when every check held. Runs as the --owner user's PostgreSQL when root.
    RestoreTest(RestoreTestArgs),
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
    /// `off` (the default, except with --standby): the restored server does not archive
    /// (archive_mode = 'off' and no scheduled walrs backups in its postgresql.auto.conf), so a
    /// copy never writes its timeline into this repository. `preserve` (the default with
    /// --standby, a failover target): keep the backup's settings.
    #[arg(long, value_name = "off|preserve")]
    pub archive_mode: Option<String>,
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
    /// Print the summary as JSON on standard output (see docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Keep the newest N full backups (and the WAL they need); delete older ones.
    /// `FULL` or `FIND_FULL` may precede N, as in WAL-G (both mean full backups here).
    Retain {
        /// [FULL|FIND_FULL] N
        #[arg(num_args = 1..=2, value_name = "[FULL] N")]
        args: Vec<String>,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Keep backups that started within DURATION (e.g. 14d, 36h; always the newest full one);
    /// delete older ones.
    RetainWithin {
        #[arg(value_name = "DURATION")]
        duration: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete backups older than the backup NAME, or started before TIME (RFC 3339, e.g.
    /// 2026-11-01T00:00:00Z); at least one backup must remain.
    Before {
        #[arg(value_name = "NAME|TIME")]
        target: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete one backup (never WAL). Permanent backups are refused.
    Target {
        name: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete every backup and all WAL. FORCE also deletes permanent backups.
    Everything {
        #[arg(value_name = "FORCE", value_parser = ["FORCE"])]
        force: Option<String>,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete WAL no backup needs and partial backups (no sentinel, not written for 6 hours).
    Garbage {
        #[command(flatten)]
        confirm: Confirm,
    },
}

#[derive(Debug, Args)]
pub struct Confirm {
    /// Really delete. Without it, print what would be deleted and delete nothing.
    #[arg(long)]
    pub confirm: bool,
    /// Print JSON (one array of {kind, name, reason}) instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreTestArgs {
    /// LATEST, or a backup name from `walrs backup-list`.
    #[arg(default_value = "LATEST")]
    pub backup: String,
    /// Recover up to this time instead of the end of the archive.
    #[arg(long, value_name = "TIME")]
    pub target_time: Option<String>,
    /// SQL that must succeed on the restored database, e.g. 'SELECT count(*) FROM orders' (repeatable).
    #[arg(long, value_name = "SQL")]
    pub sql: Vec<String>,
    /// Database the connection check and --sql use.
    #[arg(long, value_name = "NAME", default_value = "postgres")]
    pub dbname: String,
    /// Role to connect as: a superuser of the backed-up cluster.
    #[arg(long, value_name = "ROLE", default_value = "postgres")]
    pub db_user: String,
    /// Keep the restored directory (stopped) instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// Port number of the private server (it listens only on a Unix socket in the work directory).
    /// Default: a free one in 42000-42999.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Where to create the temporary directory. Default: $TMPDIR, else /tmp.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// PostgreSQL server binaries. Default: /usr/lib/postgresql/MAJOR/bin, /opt/walrs-pg/MAJOR/bin,
    /// then pg_config --bindir, whichever matches the backup's major version.
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
    /// OS user PostgreSQL runs as when walrs runs as root (default: postgres).
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// Seconds recovery may take before the drill fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Skip the amcheck index check.
    #[arg(long)]
    pub no_amcheck: bool,
    /// Print the report as JSON on standard output (see docs/cli.md).
    #[arg(long)]
    pub json: bool,
}
