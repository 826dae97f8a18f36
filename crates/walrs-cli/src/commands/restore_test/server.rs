//! The throwaway server of a restore drill: finding binaries of the right major version,
//! settings that keep it private and away from production, start, queries, stop.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use walrs_core::Error;

/// (uid, gid) to run PostgreSQL as when walrs runs as root; None: as ourselves.
pub type Ids = Option<(u32, u32)>;

/// A command that runs as `ids` (PostgreSQL refuses to run as root).
pub fn command_as(program: impl AsRef<std::ffi::OsStr>, ids: Ids) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// The server binaries for `major`: `--pg-bindir`, else the Debian/Ubuntu layout, else
/// /opt/walrs-pg, else `pg_config --bindir` from PATH; each must hold postgres, pg_ctl and psql
/// of that major version.
pub fn find_bindir(major: u32, flag: Option<&Path>) -> Result<PathBuf, Error> {
    let mut tried = Vec::new();
    let candidates: Vec<PathBuf> = match flag {
        Some(dir) => vec![dir.to_path_buf()],
        None => {
            let mut c = vec![
                PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
                format!("/opt/walrs-pg/{major}/bin").into(),
            ];
            match Command::new("pg_config").arg("--bindir").stdin(Stdio::null()).output() {
                Ok(out) if out.status.success() => c.push(String::from_utf8_lossy(&out.stdout).trim().into()),
                _ => tried.push("pg_config --bindir: no pg_config on PATH".to_string()),
            }
            c
        }
    };
    for dir in candidates {
        match check_bindir(&dir, major) {
            Ok(()) => return Ok(dir),
            Err(why) => tried.push(format!("{}: {why}", dir.display())),
        }
    }
    Err(Error::config(format!("no PostgreSQL {major} server binaries found; looked in: {}", tried.join("; ")))
        .with_hint(format!("install PostgreSQL {major} or pass --pg-bindir DIR")))
}

fn check_bindir(dir: &Path, major: u32) -> Result<(), String> {
    for program in ["postgres", "pg_ctl", "psql"] {
        if !dir.join(program).is_file() {
            return Err(format!("no {program}"));
        }
    }
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run postgres --version: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    let found = text.split_whitespace().nth(2).and_then(|v| v.split('.').next()).and_then(|m| m.parse::<u32>().ok());
    match found {
        Some(m) if m == major => Ok(()),
        Some(m) => Err(format!("PostgreSQL {m}, not {major}")),
        None => Err(format!("unexpected postgres --version output \"{}\"", text.trim())),
    }
}

/// Settings appended to the restored `postgresql.auto.conf`, after the recovery settings: the
/// drill listens only on a socket in its own directory, trusts only that socket, never
/// archives (it would write a new timeline into the production repository), and keeps walrs's
/// scheduled backups, pg_cron's jobs and logical replication workers from acting on a copy of
/// production. `restored` are the texts of the restored configuration files, in the order
/// PostgreSQL reads them.
pub fn drill_settings(work: &Path, port: u16, restored: &[&str]) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\'', "''"));
    let dir = work.display().to_string();
    [
        "# Restore drill settings written by walrs restore-test".to_string(),
        format!("port = {port}"),
        "listen_addresses = ''".into(),
        format!("unix_socket_directories = {}", q(&dir)),
        format!("hba_file = {}", q(&format!("{dir}/pg_hba.conf"))),
        "ssl = off".into(),
        "archive_mode = off".into(),
        "archive_library = ''".into(),
        "archive_command = ''".into(),
        "hot_standby = on".into(),
        "logging_collector = off".into(),
        "log_destination = 'stderr'".into(),
        "max_logical_replication_workers = 0".into(),
        "walrs.storage = ''".into(),
        "walrs.backup_schedule = ''".into(),
        // pg_cron 1.5 and later: its launcher starts no job.
        "cron.launch_active_jobs = off".into(),
    ]
    .into_iter()
    .chain(without_pg_cron(restored).map(|libs| format!("shared_preload_libraries = {}", q(&libs))))
    .collect::<Vec<_>>()
    .join("\n")
        + "\n"
}

/// The restored `shared_preload_libraries` without pg_cron, if pg_cron is in it: without its
/// library loaded at start, pg_cron starts no launcher, so no job of the backup runs on the
/// copy (older pg_cron has no setting that stops jobs). Its tables stay readable.
fn without_pg_cron(restored: &[&str]) -> Option<String> {
    let value = restored
        .iter()
        .flat_map(|text| walrs_core::pgconf::parse(text))
        .rfind(|(name, _)| name == "shared_preload_libraries")?
        .1;
    let libs: Vec<&str> = value.split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
    let kept: Vec<&str> = libs.iter().copied().filter(|l| l.trim_matches('"') != "pg_cron").collect();
    (kept.len() != libs.len()).then(|| kept.join(","))
}

/// Prepare the configuration files a drill needs in `data` (Debian keeps postgresql.conf
/// outside the data directory, so a backup may have none) and its private pg_hba.conf.
pub fn configure(data: &Path, work: &Path, port: u16) -> Result<(), Error> {
    let io = |what: &Path, e: std::io::Error| Error::local_io(format!("cannot write {}", what.display()), &e);
    for f in ["postgresql.conf", "pg_ident.conf"] {
        let p = data.join(f);
        if !p.exists() {
            std::fs::write(&p, "").map_err(|e| io(&p, e))?;
        }
    }
    let hba = work.join("pg_hba.conf");
    std::fs::write(&hba, "# only the drill's private socket\nlocal all all trust\n").map_err(|e| io(&hba, e))?;
    let auto = data.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    let main = std::fs::read_to_string(data.join("postgresql.conf")).unwrap_or_default();
    let settings = drill_settings(work, port, &[&main, &text]);
    text.push('\n');
    text.push_str(&settings);
    std::fs::write(&auto, text).map_err(|e| io(&auto, e))
}

/// A port whose TCP number is free on the loopback (the server listens on none, but other tools
/// may look there) and whose socket name is unused in `work`.
pub fn free_port(work: &Path) -> Result<u16, Error> {
    let first = 42000 + (std::process::id() % 1000) as u16;
    (0..1000u16)
        .map(|i| 42000 + (first - 42000 + i) % 1000)
        .find(|&p| {
            std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() && !work.join(format!(".s.PGSQL.{p}")).exists()
        })
        .ok_or_else(|| Error::new(walrs_core::ErrorKind::Busy, "no free port in 42000-42999").with_hint("pass --port"))
}

pub struct Server {
    child: Option<Child>,
    pub bindir: PathBuf,
    pub data: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    pub db_user: String,
    ids: Ids,
}

impl Server {
    /// Start `postgres -D data` as a child, its output into `log`.
    pub fn start(bindir: &Path, data: &Path, work: &Path, port: u16, db_user: &str, ids: Ids) -> Result<Server, Error> {
        let log = work.join("server.log");
        let open = || File::create(&log).map_err(|e| Error::local_io(format!("cannot create {}", log.display()), &e));
        let (out, err) = (open()?, open()?);
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(&log, Some(uid), Some(gid))
                .map_err(|e| Error::local_io(format!("cannot change the owner of {}", log.display()), &e))?;
        }
        let child = command_as(bindir.join("postgres"), ids)
            .arg("-D")
            .arg(data)
            .current_dir(data)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::local_io(format!("cannot start {}", bindir.join("postgres").display()), &e))?;
        Ok(Server {
            child: Some(child),
            bindir: bindir.to_path_buf(),
            data: data.to_path_buf(),
            socket_dir: work.to_path_buf(),
            port,
            log,
            db_user: db_user.to_string(),
            ids,
        })
    }

    /// The server's exit status if it has stopped.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(status)) => status,
            Some(Err(_)) | None => None,
        }
    }

    /// Run `sql` in `db` with psql; the output (unaligned, tuples only) or psql's error text.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = command_as(self.bindir.join("psql"), self.ids)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", &self.db_user, "-d", db, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Fast shutdown with pg_ctl; if that fails, kill the postmaster. Waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let stopped = command_as(self.bindir.join("pg_ctl"), self.ids)
            .args(["stop", "-m", "fast", "-w", "-t", "120", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            // A throwaway copy: an immediate end loses nothing anyone needs.
            if let Err(e) = child.kill() {
                eprintln!("walrs: warning: cannot stop the drill's server (pid {}): {e}", child.id());
            }
        }
        if let Err(e) = child.wait() {
            eprintln!("walrs: warning: waiting for the drill's server failed: {e}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(text: &str, name: &str) -> Option<String> {
        walrs_core::pgconf::parse(text).into_iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn the_drill_starts_without_pg_cron_and_keeps_other_libraries() {
        let restored = ["shared_preload_libraries = 'pg_stat_statements, pg_cron,walrs'\n", "# nothing here\n"];
        let drill = drill_settings(Path::new("/w"), 42001, &restored);
        assert_eq!(setting(&drill, "shared_preload_libraries").as_deref(), Some("pg_stat_statements,walrs"));
        assert_eq!(setting(&drill, "cron.launch_active_jobs").as_deref(), Some("off"));
        // Nothing preloaded, or no pg_cron: the libraries are left as they are.
        let plain = drill_settings(Path::new("/w"), 42001, &["shared_preload_libraries = 'walrs'\n"]);
        assert_eq!(setting(&plain, "shared_preload_libraries"), None);
        assert_eq!(setting(&drill_settings(Path::new("/w"), 42001, &[]), "shared_preload_libraries"), None);
        // The last assignment wins, as in PostgreSQL (postgresql.auto.conf after postgresql.conf).
        let later = ["shared_preload_libraries = 'walrs'\n", "shared_preload_libraries = '\"pg_cron\"'\n"];
        assert_eq!(
            setting(&drill_settings(Path::new("/w"), 42001, &later), "shared_preload_libraries").as_deref(),
            Some("")
        );
    }
}
