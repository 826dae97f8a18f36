//! Harness for end-to-end scenarios on real PostgreSQL clusters.
//!
//! Tests run as root; clusters run as the `postgres` OS user (PostgreSQL refuses root). Each
//! cluster lives in its own directory under /tmp/walrs-e2e, listens only on a Unix socket in
//! that directory, and is stopped when dropped. A failed test keeps its directory for
//! inspection and prints where it is.
//!
//! Environment: `WALRS_PG_BINDIR` (server binaries, default PostgreSQL 15's) and `WALRS_BIN`
//! (the `walrs` command, default `target/release/walrs`).

mod servers;
pub use servers::{free_port, Relay, StorageServer};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const OS_USER: &str = "postgres";

pub fn pg_bindir() -> PathBuf {
    std::env::var_os("WALRS_PG_BINDIR").map(PathBuf::from).unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into())
}

/// The `walrs` command under test.
pub fn walrs_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WALRS_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("target");
    for profile in ["release", "debug"] {
        let p = root.join(profile).join("walrs");
        if p.is_file() {
            return p;
        }
    }
    panic!("walrs binary not found: build it (make install) or set WALRS_BIN");
}

/// The major version of the server binaries under test.
pub fn pg_major() -> u32 {
    let out = run(Command::new(pg_bindir().join("pg_config")).arg("--version"));
    out.split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .expect("pg_config --version")
}

/// Run a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command that runs as the `postgres` OS user.
pub fn as_postgres(program: impl AsRef<Path>) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", OS_USER, "--"]).arg(program.as_ref());
    cmd
}

/// The walrs command, run as root (which reads any repository) with `args`.
pub fn walrs(args: &[&str]) -> Output {
    Command::new(walrs_bin()).args(args).output().expect("run walrs")
}

/// Panic with the command's stderr unless it succeeded; return its stderr.
pub fn assert_ok(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed with {}: {stderr}", out.status);
    stderr
}

pub fn chown_postgres(path: &Path) {
    run(Command::new("chown").args(["-R", OS_USER]).arg(path));
}

/// Poll `check` every 200 ms until it is true, panicking after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch directory owned by `postgres`, removed on drop unless the test failed.
pub struct Workdir {
    pub path: PathBuf,
}

impl Workdir {
    pub fn new(name: &str) -> Workdir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/tmp/walrs-e2e/{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path); // a leftover from a crashed run with the same pid
        std::fs::create_dir_all(&path).unwrap();
        run(Command::new("chmod").arg("755").arg("/tmp/walrs-e2e"));
        chown_postgres(&path);
        Workdir { path }
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.path.display());
        } else if let Err(e) = remove_when_quiet(&self.path) {
            eprintln!("could not remove {}: {e}", self.path.display());
        }
    }
}

/// Remove a directory tree, retrying for up to 10 s while something still writes into it:
/// `wal-fetch` leaves a detached prefetcher behind that may still be placing its last segments.
fn remove_when_quiet(path: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && tries < 40 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// A file:// repository in a directory owned by `postgres`.
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn new(work: &Workdir) -> Repo {
        let dir = work.path.join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        chown_postgres(&dir);
        Repo { dir }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal_005")
    }

    /// Fetch `name` with `walrs wal-fetch` into `scratch` and assert it equals `original`.
    pub fn assert_fetches_identical(&self, name: &str, original: &Path, scratch: &Path) {
        let out = walrs(&["--storage", &self.url(), "wal-fetch", name, scratch.to_str().unwrap()]);
        assert_ok(&out, &format!("wal-fetch {name}"));
        let want = std::fs::read(original).unwrap_or_else(|e| panic!("{}: {e}", original.display()));
        assert!(std::fs::read(scratch).unwrap() == want, "{name} differs from {}", original.display());
        std::fs::remove_file(scratch).unwrap();
    }

    /// Every file in the repository (paths relative to it), sorted.
    pub fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &self.dir, &mut out);
        out.sort();
        out
    }

    /// Names of archived WAL segments (not history, backup or partial files), sorted.
    pub fn segments(&self) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(self.wal_dir()) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter_map(|f| f.split('.').next().map(str::to_string).filter(|n| n.len() == 24 && !f.contains('#')))
                .filter(|n| n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect(),
            Err(_) => vec![],
        };
        names.sort();
        names.dedup();
        names
    }
}

pub struct Cluster {
    pub data: PathBuf,
    pub socket_dir: PathBuf,
    /// Port number (only names the Unix socket: clusters never listen on TCP).
    pub port: u16,
    pub log: PathBuf,
    bindir: PathBuf,
}

impl Cluster {
    /// initdb a new cluster in `work`/data with trust authentication.
    pub fn init(work: &Workdir) -> Cluster {
        let bindir = pg_bindir();
        let data = work.path.join("data");
        run(as_postgres(bindir.join("initdb"))
            .args(["--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "-D"])
            .arg(&data));
        let c = Cluster { socket_dir: work.path.clone(), port: 5432, log: work.path.join("server.log"), data, bindir };
        c.configure(&format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\nfsync = off\n\
             log_line_prefix = '%m [%p] %b '\n",
            c.socket_dir.display()
        ));
        c
    }

    /// Take over a data directory restored into `work`/`dir_name`: our socket, no TCP, no archiving.
    pub fn adopt(work: &Workdir, dir_name: &str) -> Cluster {
        Self::adopt_on(work, dir_name, 5432)
    }

    /// As `adopt`, on another port, to run beside a cluster on 5432.
    pub fn adopt_on(work: &Workdir, dir_name: &str, port: u16) -> Cluster {
        let c = Cluster {
            socket_dir: work.path.clone(),
            port,
            log: work.path.join(format!("{dir_name}.log")),
            data: work.path.join(dir_name),
            bindir: pg_bindir(),
        };
        c.configure(&format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nport = {port}\narchive_mode = off\n",
            c.socket_dir.display()
        ));
        c
    }

    /// A streaming hot standby of this (running) cluster in `work`/`dir_name` on `port`: a
    /// `pg_basebackup -R` copy, so it keeps this cluster's postgresql.conf (archiving, walrs
    /// settings) and differs only in its port. Not started.
    pub fn streaming_standby(&self, work: &Workdir, dir_name: &str, port: u16) -> Cluster {
        let data = work.path.join(dir_name);
        run(as_postgres(self.bindir.join("pg_basebackup"))
            .args(["-U", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-R", "-X", "stream", "--no-sync", "-c", "fast", "-D"])
            .arg(&data));
        let c = Cluster {
            socket_dir: work.path.clone(),
            port,
            log: work.path.join(format!("{dir_name}.log")),
            data,
            bindir: self.bindir.clone(),
        };
        c.configure(&format!("port = {port}"));
        c
    }

    /// Append lines to postgresql.conf (later lines win).
    pub fn configure(&self, lines: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(self.data.join("postgresql.conf")).unwrap();
        writeln!(f, "{lines}").unwrap();
    }

    pub fn pg_ctl(&self, args: &[&str]) -> String {
        run(as_postgres(self.bindir.join("pg_ctl")).arg("-D").arg(&self.data).arg("-l").arg(&self.log).args(args))
    }

    pub fn start(&self) {
        self.pg_ctl(&["-w", "-t", "60", "start"]);
    }

    pub fn stop(&self) {
        self.pg_ctl(&["-w", "-t", "120", "-m", "fast", "stop"]);
    }

    pub fn reload(&self) {
        self.pg_ctl(&["reload"]);
    }

    fn is_running(&self) -> bool {
        self.data.join("postmaster.pid").exists()
    }

    /// A psql session reading `script` on standard input (statements autocommit one by one).
    pub fn psql_script(&self, script: &str) -> String {
        use std::io::Write;
        let mut cmd = Command::new(self.bindir.join("psql"));
        cmd.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run psql");
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "psql script failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn psql_cmd(&self, sql: &str) -> Command {
        self.psql_cmd_as("postgres", sql)
    }

    fn psql_cmd_as(&self, user: &str, sql: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join("psql"));
        cmd.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-c", sql]);
        cmd
    }

    /// Run SQL, returning trimmed output; panics on error.
    pub fn sql(&self, sql: &str) -> String {
        run(&mut self.psql_cmd(sql)).trim().to_string()
    }

    pub fn sql_i64(&self, sql: &str) -> i64 {
        let out = self.sql(sql);
        out.parse().unwrap_or_else(|_| panic!("{sql}: not a number: {out}"))
    }

    pub fn pgbench(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(self.bindir.join("pgbench"));
        cmd.args(["-U", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string()])
            .args(args)
            .arg("postgres");
        run(&mut cmd)
    }

    /// pgbench that may fail (the server may restart under it): its output or error.
    pub fn try_pgbench(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(self.bindir.join("pgbench"))
            .args(["-U", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string()])
            .args(args)
            .arg("postgres")
            .output()
            .expect("run pgbench");
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// Archive everything written so far, then dump the `postgres` database and stop: the state a
    /// restore to the end of the archive must reproduce.
    pub fn archive_dump_and_stop(&self) -> String {
        let last = self.switch_wal();
        self.wait_archived(&last, Duration::from_secs(120));
        let dump = self.pg_dump();
        self.stop();
        dump
    }

    /// A plain-text dump of the `postgres` database.
    pub fn pg_dump(&self) -> String {
        let mut cmd = Command::new(self.bindir.join("pg_dump"));
        cmd.args(["-U", "postgres", "-h"]).arg(&self.socket_dir).args([
            "-p",
            &self.port.to_string(),
            "--no-sync",
            "--restrict-key=walrse2e",
            "postgres",
        ]);
        run(&mut cmd)
    }

    /// Run `bt_index_check` on every btree index; returns how many were checked.
    pub fn amcheck_all(&self) -> i64 {
        self.sql("CREATE EXTENSION IF NOT EXISTS amcheck");
        self.sql_i64(
            "SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid",
        )
    }

    /// Try SQL; the error text on failure.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        self.try_sql_as("postgres", sql)
    }

    /// Try SQL as another role; the error text on failure.
    pub fn try_sql_as(&self, user: &str, sql: &str) -> Result<String, String> {
        let out = self.psql_cmd_as(user, sql).output().expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pg_wal(&self) -> PathBuf {
        self.data.join("pg_wal")
    }

    /// The segments in pg_wal from `first` to `last` (names, sorted).
    pub fn segments_between(&self, first: &str, last: &str) -> Vec<String> {
        let mut segments: Vec<String> = std::fs::read_dir(self.pg_wal())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 24 && n.as_str() >= first && n.as_str() <= last)
            .collect();
        segments.sort();
        segments
    }

    /// Names in pg_wal/archive_status with the given suffix (`ready` or `done`).
    pub fn archive_status(&self, suffix: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.pg_wal().join("archive_status"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter_map(|f| f.strip_suffix(&format!(".{suffix}")).map(str::to_string))
            .collect();
        v.sort();
        v
    }

    /// The archiver's PID, if it runs.
    pub fn archiver_pid(&self) -> Option<i64> {
        let out = self.sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'");
        out.parse().ok()
    }

    /// (archived_count, failed_count, last_archived_wal) from pg_stat_archiver.
    pub fn archiver_stats(&self) -> (i64, i64, String) {
        let out = self.sql("SELECT archived_count || '|' || failed_count || '|' || coalesce(last_archived_wal, '') FROM pg_stat_archiver");
        let mut parts = out.split('|');
        let a = parts.next().unwrap().parse().unwrap();
        let f = parts.next().unwrap().parse().unwrap();
        (a, f, parts.next().unwrap_or("").to_string())
    }

    /// Write a little, switch to a new segment, and return the name of the segment closed.
    pub fn switch_wal(&self) -> String {
        self.sql(
            "CREATE TABLE IF NOT EXISTS walrs_e2e_ticks (t timestamptz); INSERT INTO walrs_e2e_ticks VALUES (now())",
        );
        self.sql("SELECT pg_walfile_name(pg_switch_wal())")
    }

    /// Wait until every segment up to `name` is archived (no .ready left at or before it).
    pub fn wait_archived(&self, name: &str, timeout: Duration) {
        wait_for(&format!("{name} to be archived"), timeout, || {
            let done = self.pg_wal().join("archive_status").join(format!("{name}.done")).exists();
            done && self.archive_status("ready").iter().all(|r| r.as_str() > name)
        });
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = as_postgres(self.bindir.join("pg_ctl")) // best effort: the test is over
                .arg("-D")
                .arg(&self.data)
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
        if std::thread::panicking() {
            let log = self.server_log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Settings that make a base backup slow enough to act on while it uploads: small partitions,
/// one upload at a time, brotli.
pub const SLOW_BACKUPS: &str =
    "walrs.backup_partition_size = '8MB'\nwalrs.upload_concurrency = 1\nwalrs.compression = 'brotli'";

/// `SELECT walrs_backup_push()` from another thread: the backup's name, or psql's error output.
pub fn backup_push_in_background(pg: &Cluster) -> std::thread::JoinHandle<Result<String, String>> {
    let (bindir, sock, port) = (pg_bindir(), pg.socket_dir.clone(), pg.port);
    std::thread::spawn(move || {
        let out = std::process::Command::new(bindir.join("psql"))
            .args(["-X", "-At", "-U", "postgres", "-h"])
            .arg(&sock)
            .args(["-p", &port.to_string(), "-c", "SELECT walrs_backup_push()", "postgres"])
            .output()
            .unwrap();
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    })
}

/// Start a backup in the background and wait until it has uploaded a partition; return the
/// caller's thread (which gets the backup's error) and the folder being written.
pub fn backup_in_flight(pg: &Cluster, repo: &Repo) -> (std::thread::JoinHandle<Result<String, String>>, String) {
    let before: Vec<String> = repo.files();
    let caller = backup_push_in_background(pg);
    let mut folder = String::new();
    wait_for("a partition of the backup in the repository", Duration::from_secs(60), || {
        let new: Vec<String> =
            repo.files().into_iter().filter(|f| !before.contains(f) && f.contains("part_")).collect();
        if let Some(f) = new.first() {
            folder = f.split('/').nth(1).unwrap().to_string();
        }
        !new.is_empty()
    });
    (caller, folder)
}

/// `walrs backup-fetch` of LATEST from `repo` into `work`/restored with `options` and
/// `--target-action promote`, then start it and wait until recovery has ended.
pub fn restore_and_promote(work: &Workdir, repo: &Repo, options: &[&str]) -> Cluster {
    restore_backup_and_promote(work, repo, "LATEST", "restored", options)
}

/// As [`restore_and_promote`], for the backup `backup`, into `work`/`dir_name`.
pub fn restore_backup_and_promote(
    work: &Workdir,
    repo: &Repo,
    backup: &str,
    dir_name: &str,
    options: &[&str],
) -> Cluster {
    let (dest, url) = (work.path.join(dir_name), repo.url());
    let mut args = vec!["--storage", url.as_str(), "backup-fetch", dest.to_str().unwrap(), backup];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--target-action", "promote"]);
    assert_ok(&walrs(&args), &format!("backup-fetch {backup} {}", options.join(" ")));
    let restored = Cluster::adopt(work, dir_name);
    restored.start();
    wait_for("the end of recovery", Duration::from_secs(120), || restored.sql("SELECT pg_is_in_recovery()") == "f");
    restored
}

/// The `tps = …` figure of pgbench's output.
pub fn pgbench_tps(output: &str) -> f64 {
    let line = output.lines().find(|l| l.starts_with("tps = ")).expect("pgbench reports tps");
    line[6..].split_whitespace().next().unwrap().parse().unwrap()
}

/// Make a cluster archiving with `archive_library = 'walrs'` to `repo`.
pub fn archiving_cluster(work: &Workdir, repo: &Repo, extra: &str) -> Cluster {
    let c = Cluster::init(work);
    c.configure(&format!(
        "archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{}'\n\
         wal_keep_size = '4GB'\nmax_wal_size = '4GB'\n{extra}",
        repo.url()
    ));
    c
}

/// The state a point-in-time restore must come back to: a target time and what pgbench's
/// tables held then. Made by [`PitrTarget::after_workload`].
pub struct PitrTarget {
    pub time: String,
    accounts: String,
    history: String,
}

const ACCOUNTS: &str = "SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts";
const HISTORY: &str = "SELECT count(*) || ' ' || sum(delta) FROM pgbench_history";

impl PitrTarget {
    /// After a base backup of a pgbench database: pgbench for 4 s, then mark the target time,
    /// change more after it (a table, 100 accounts) and wait until all of it is archived.
    pub fn after_workload(pg: &Cluster) -> PitrTarget {
        pg.pgbench(&["-T", "4", "-c", "2"]);
        pg.sql("CREATE TABLE marks (t timestamptz)");
        pg.sql("INSERT INTO marks VALUES (clock_timestamp())");
        let time = pg.sql("SELECT t FROM marks");
        let (accounts, history) = (pg.sql(ACCOUNTS), pg.sql(HISTORY));
        pg.sql("SELECT pg_sleep(0.05)");
        pg.sql("CREATE TABLE after_target AS SELECT 1 AS x");
        pg.sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 100");
        let last = pg.switch_wal();
        pg.wait_archived(&last, Duration::from_secs(120));
        PitrTarget { time, accounts, history }
    }

    /// `restored` holds exactly what the primary held at the target time, nothing after it.
    pub fn assert_restored(&self, restored: &Cluster) {
        assert_eq!(restored.sql(ACCOUNTS), self.accounts, "pgbench_accounts as at {}", self.time);
        assert_eq!(restored.sql(HISTORY), self.history, "pgbench_history as at {}", self.time);
        assert_eq!(
            restored.sql("SELECT count(*) FROM pg_class WHERE relname = 'after_target'"),
            "0",
            "nothing after the target"
        );
        println!("restored to {}: accounts {}, history {}", self.time, self.accounts, self.history);
    }
}
