//! Recovery settings written after a restore, so the user only runs `pg_ctl start`.

use crate::lsn::Lsn;
use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `recovery.signal`: replay archived WAL, then open (or pause, or shut down).
    Recovery,
    /// `standby.signal`: keep replaying archived WAL as it arrives.
    Standby,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Replay to the end of the archive.
    Latest,
    Time(String),
    Lsn(Lsn),
    Name(String),
    /// Stop as soon as the backup is consistent.
    Immediate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Promote,
    Pause,
    Shutdown,
}

impl std::str::FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Action> {
        match s {
            "promote" => Ok(Action::Promote),
            "pause" => Ok(Action::Pause),
            "shutdown" => Ok(Action::Shutdown),
            other => Err(Error::invalid_input(format!("unknown target action \"{}\"", other.escape_debug()))
                .with_hint("use promote, pause or shutdown")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySettings {
    pub mode: Mode,
    pub target: Target,
    pub action: Option<Action>,
    /// The full restore_command, e.g. `/usr/local/bin/walrs --storage file:///r wal-fetch %f %p`.
    pub restore_command: String,
}

/// A value as a postgresql.conf string literal: PostgreSQL reads backslash escapes inside the
/// quotes, so a backslash is doubled, and a quote is doubled as SQL does.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

impl RecoverySettings {
    /// The lines appended to `postgresql.auto.conf`.
    pub fn conf_lines(&self) -> String {
        let mut lines = vec![
            "# Recovery settings written by walrs backup-fetch".to_string(),
            format!("restore_command = {}", quoted(&self.restore_command)),
        ];
        match &self.target {
            Target::Latest => {}
            Target::Time(t) => lines.push(format!("recovery_target_time = {}", quoted(t))),
            Target::Lsn(l) => lines.push(format!("recovery_target_lsn = {}", quoted(&l.to_string()))),
            Target::Name(n) => lines.push(format!("recovery_target_name = {}", quoted(n))),
            Target::Immediate => lines.push("recovery_target = 'immediate'".to_string()),
        }
        if let Some(action) = self.action {
            let a = match action {
                Action::Promote => "promote",
                Action::Pause => "pause",
                Action::Shutdown => "shutdown",
            };
            lines.push(format!("recovery_target_action = '{a}'"));
        }
        lines.join("\n") + "\n"
    }

    /// Write the signal file and append the settings to `postgresql.auto.conf` in `data_dir`.
    pub fn write(&self, data_dir: &Path) -> Result<()> {
        let (signal, other) = match self.mode {
            Mode::Recovery => ("recovery.signal", "standby.signal"),
            Mode::Standby => ("standby.signal", "recovery.signal"),
        };
        let auto = data_dir.join("postgresql.auto.conf");
        let write = || -> std::io::Result<()> {
            // A backup taken on a standby holds its standby.signal, which would win over
            // recovery.signal and keep the restored server in recovery for ever.
            match std::fs::remove_file(data_dir.join(other)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::fs::write(data_dir.join(signal), b"")?;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&auto)?;
            f.write_all(format!("\n{}", self.conf_lines()).as_bytes())
        };
        write().map_err(|e| Error::local_io(format!("cannot write recovery settings in {}", data_dir.display()), &e))
    }
}

/// What a restored copy does about archiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveMode {
    /// `archive_mode = 'off'` and no scheduled walrs backups: a copy (an inspection, a drill,
    /// a test) must not upload its own timeline into the repository it came from, where a
    /// later restore that follows the latest timeline would replay the copy's branch.
    /// `walrs.storage` stays, so `restore_command = 'walrs wal-fetch %f %p'` works in the copy.
    #[default]
    Off,
    /// Keep the backup's settings: the copy replaces the lost server and archives as it did.
    Preserve,
}

impl std::str::FromStr for ArchiveMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<ArchiveMode> {
        match s {
            "off" => Ok(ArchiveMode::Off),
            "preserve" => Ok(ArchiveMode::Preserve),
            other => Err(Error::invalid_input(format!("unknown archive mode \"{}\"", other.escape_debug()))
                .with_hint("use off (the default) or preserve")),
        }
    }
}

impl ArchiveMode {
    /// The mode when none is asked for: a standby is a failover target, which once promoted
    /// must archive as the primary did; any other restore is a copy until the user says not.
    pub fn default_for(standby: bool) -> ArchiveMode {
        if standby {
            ArchiveMode::Preserve
        } else {
            ArchiveMode::Off
        }
    }

    /// The lines appended to `postgresql.auto.conf` (read after `postgresql.conf`, so they win
    /// wherever the server's main configuration lives).
    pub fn conf_lines(self) -> Option<&'static str> {
        match self {
            ArchiveMode::Preserve => None,
            ArchiveMode::Off => Some(
                "# Archiving turned off by walrs backup-fetch: this copy must not write into the\n\
                 # repository it was restored from. Restore with --archive-mode preserve, or remove\n\
                 # these lines, for a server that replaces the original.\n\
                 archive_mode = 'off'\n\
                 walrs.backup_schedule = ''\n",
            ),
        }
    }

    /// Append [`Self::conf_lines`] to `postgresql.auto.conf` in `data_dir`, if there are any.
    pub fn write(self, data_dir: &Path) -> Result<()> {
        let Some(lines) = self.conf_lines() else { return Ok(()) };
        let auto = data_dir.join("postgresql.auto.conf");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&auto)
            .and_then(|mut f| f.write_all(format!("\n{lines}").as_bytes()))
            .map_err(|e| Error::local_io(format!("cannot write {}", auto.display()), &e))
    }
}

/// `restore_command` for a restored server: `exe wal-fetch %f %p` on the storage at `storage`
/// (a URL), with `--env-dir` when given. Every word is quoted for /bin/sh, which PostgreSQL runs
/// it with, and its `%` doubled: PostgreSQL replaces `%f`, `%p` and `%r` anywhere in the command,
/// inside quotes too, and turns `%%` into `%`.
pub fn restore_command(exe: &str, storage: &str, env_dir: Option<&str>) -> String {
    let literal = |word: &str| shell_word(word).replace('%', "%%");
    let mut words = vec![literal(exe), "--storage".into(), literal(storage)];
    if let Some(dir) = env_dir {
        words.extend(["--env-dir".into(), literal(dir)]);
    }
    words.extend(["wal-fetch".into(), "%f".into(), "%p".into()]);
    words.join(" ")
}

/// Quote `word` for /bin/sh when it holds anything but plain path characters.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@%,".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_targets_and_quotes_values() {
        let s = RecoverySettings {
            mode: Mode::Recovery,
            target: Target::Time("2026-11-21 12:00:00+00".into()),
            action: Some(Action::Promote),
            restore_command: "walrs --storage 'file:///it''s' wal-fetch %f %p".into(),
        };
        assert_eq!(
            s.conf_lines(),
            "# Recovery settings written by walrs backup-fetch\n\
             restore_command = 'walrs --storage ''file:///it''''s'' wal-fetch %f %p'\n\
             recovery_target_time = '2026-11-21 12:00:00+00'\n\
             recovery_target_action = 'promote'\n"
        );
        let lsn = RecoverySettings { target: Target::Lsn("0/3000028".parse().unwrap()), action: None, ..s.clone() };
        assert!(lsn.conf_lines().contains("recovery_target_lsn = '0/3000028'\n"));
        let imm = RecoverySettings { target: Target::Immediate, ..s.clone() };
        assert!(imm.conf_lines().contains("recovery_target = 'immediate'\n"));
        let latest = RecoverySettings { target: Target::Latest, action: None, ..s };
        assert!(!latest.conf_lines().contains("recovery_target"));
    }

    #[test]
    fn restore_command_keeps_percent_signs_and_backslashes_literal() {
        // PostgreSQL replaces %f, %p and %r anywhere in restore_command, quotes or not, and
        // reads %% as %: a literal % in a path or URL must reach the shell as one %.
        let cmd = restore_command("/opt/walrs 100%/walrs", "file:///srv/50%fast", Some("/etc/walrs/%p"));
        assert_eq!(
            cmd,
            "'/opt/walrs 100%%/walrs' --storage file:///srv/50%%fast --env-dir /etc/walrs/%%p wal-fetch %f %p"
        );
        // postgresql.conf reads backslash escapes inside quoted values: a literal \ is doubled.
        let s = RecoverySettings {
            mode: Mode::Recovery,
            target: Target::Latest,
            action: None,
            restore_command: restore_command("/usr/local/bin/walrs", "file:///srv/a\\b", None),
        };
        assert!(
            s.conf_lines().contains(
                "restore_command = '/usr/local/bin/walrs --storage ''file:///srv/a\\\\b'' wal-fetch %f %p'\n"
            ),
            "{}",
            s.conf_lines()
        );
    }

    #[test]
    fn writes_the_signal_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("postgresql.auto.conf"), "# existing\n").unwrap();
        let s =
            RecoverySettings { mode: Mode::Standby, target: Target::Latest, action: None, restore_command: "x".into() };
        s.write(dir.path()).unwrap();
        assert!(dir.path().join("standby.signal").exists());
        assert!(!dir.path().join("recovery.signal").exists());
        let auto = std::fs::read_to_string(dir.path().join("postgresql.auto.conf")).unwrap();
        assert!(auto.starts_with("# existing\n") && auto.contains("restore_command = 'x'"), "{auto}");
    }

    #[test]
    fn the_signal_file_of_the_other_mode_is_removed() {
        for (mode, wanted, unwanted) in [
            (Mode::Recovery, "recovery.signal", "standby.signal"),
            (Mode::Standby, "standby.signal", "recovery.signal"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            // As restored from a backup of a standby (or of a server in archive recovery).
            std::fs::write(dir.path().join(unwanted), b"").unwrap();
            let s = RecoverySettings { mode, target: Target::Latest, action: None, restore_command: "x".into() };
            s.write(dir.path()).unwrap();
            assert!(dir.path().join(wanted).exists(), "{mode:?}");
            assert!(!dir.path().join(unwanted).exists(), "{mode:?}");
        }
    }

    #[test]
    fn archiving_is_turned_off_unless_preserved() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("postgresql.auto.conf"), "archive_mode = 'on'\n").unwrap();
        "off".parse::<ArchiveMode>().unwrap().write(dir.path()).unwrap();
        let auto = std::fs::read_to_string(dir.path().join("postgresql.auto.conf")).unwrap();
        let settings = crate::pgconf::parse(&auto);
        let last = |name: &str| settings.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(last("archive_mode"), Some("off"));
        assert_eq!(last("walrs.backup_schedule"), Some(""));
        // The copy still finds its WAL with a plain `walrs wal-fetch %f %p`.
        assert_eq!(last("walrs.storage"), None);
        let before = auto.clone();
        ArchiveMode::Preserve.write(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("postgresql.auto.conf")).unwrap(), before);
        assert!("bogus".parse::<ArchiveMode>().unwrap_err().hint.unwrap().contains("preserve"));
        assert_eq!(ArchiveMode::default_for(true), ArchiveMode::Preserve);
        assert_eq!(ArchiveMode::default_for(false), ArchiveMode::Off);
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("/usr/local/bin/walrs"), "/usr/local/bin/walrs");
        assert_eq!(shell_word("file:///var/lib/walrs"), "file:///var/lib/walrs");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert!("x".parse::<Action>().is_err());
    }
}
