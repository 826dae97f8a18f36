//! An OpenPGP-encrypted repository end to end, with a key made by GnuPG: an ed25519 primary key
//! with a cv25519 encryption subkey, its armored secret ring given to the server through
//! `walrs.env_dir` (`WALG_PGP_KEY_PATH` and `WALG_PGP_KEY_PASSPHRASE`). WAL archived under
//! pgbench, `walrs_backup_push()`, then `walrs backup-fetch` with the same env dir and a
//! point-in-time target: the restore has exactly the rows committed by the target. Then gpg
//! itself opens a stored WAL object into an LZ4 frame that `lz4 -d` turns back into the segment.
//! Storage does not depend on the server version, so this runs on PostgreSQL 15 and 18 only.

use std::path::{Path, PathBuf};
use std::process::Command;
use walrs_pg_test::*;

const PASSPHRASE: &str = "walrs-e2e-passphrase";

/// A throwaway GnuPG home; its gpg-agent is killed on drop, whatever the test's outcome.
struct GnuPgHome {
    home: PathBuf,
}

impl GnuPgHome {
    fn new(work: &Workdir) -> GnuPgHome {
        let home = work.path.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        run(Command::new("chmod").arg("700").arg(&home));
        GnuPgHome { home }
    }

    /// gpg in batch mode with this home, the passphrase given on the command line.
    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", &self.home).args(["--batch", "--pinentry-mode", "loopback", "--passphrase", PASSPHRASE]);
        cmd
    }
}

impl Drop for GnuPgHome {
    fn drop(&mut self) {
        let out = Command::new("gpgconf").env("GNUPGHOME", &self.home).args(["--kill", "gpg-agent"]).output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("gpgconf --kill gpg-agent for {} failed: {out:?}", self.home.display());
        }
    }
}

/// Make the key with gpg and export its armored secret ring (protected by the passphrase).
fn make_ring(gpg: &GnuPgHome, ring: &Path) {
    Command::new("gpg").arg("--version").output().expect("gpg (Debian's gnupg package)");
    run(gpg.gpg().args(["--quick-gen-key", "walrs <w@example.org>", "ed25519", "cert", "never"]));
    let listed = run(gpg.gpg().args(["--with-colons", "--list-secret-keys", "w@example.org"]));
    let fpr = listed
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("gpg lists the new key's fingerprint")
        .to_string();
    run(gpg.gpg().args(["--quick-add-key", &fpr, "cv25519", "encr", "never"]));
    let armored = run(gpg.gpg().args(["--armor", "--export-secret-keys", &fpr]));
    assert!(armored.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"), "{armored}");
    std::fs::write(ring, armored).unwrap();
}

fn env_dir(work: &Workdir, ring: &Path) -> String {
    let dir = work.path.join("env");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("WALG_PGP_KEY_PATH"), format!("{}\n", ring.display())).unwrap();
    std::fs::write(dir.join("WALG_PGP_KEY_PASSPHRASE"), format!("{PASSPHRASE}\n")).unwrap();
    for path in [&dir, &ring.to_path_buf()] {
        run(Command::new("chmod").arg("-R").arg("go-rwx").arg(path));
        chown_postgres(path);
    }
    dir.display().to_string()
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: encryption does not depend on the server version"
)]
fn a_gpg_made_key_encrypts_what_gpg_and_lz4_read_back_and_restores_to_a_point_in_time() {
    let work = Workdir::new("openpgp");
    let gpg = GnuPgHome::new(&work);
    let ring = work.path.join("ring.asc");
    make_ring(&gpg, &ring);
    let repo = Repo::new(&work);
    let env = env_dir(&work, &ring);
    let pg = archiving_cluster(&work, &repo, &format!("walrs.env_dir = '{env}'"));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "2", "-q"]);
    pg.sql("SELECT walrs_backup_push()");
    let target = PitrTarget::after_workload(&pg);
    pg.stop();

    // gpg opens a stored segment (wal_keep_size keeps its original in pg_wal) into an LZ4 frame.
    let seg = repo.segments().into_iter().find(|s| pg.pg_wal().join(s).exists()).expect("an archived segment");
    let stored = repo.wal_dir().join(format!("{seg}.lz4"));
    let sealed = std::fs::read(&stored).unwrap();
    assert_ne!(sealed[..4], [0x04, 0x22, 0x4D, 0x18], "{seg} is stored as a plain lz4 frame");
    let frame = work.path.join(format!("{seg}.frame"));
    run(gpg.gpg().arg("--output").arg(&frame).arg("--decrypt").arg(&stored));
    assert_eq!(std::fs::read(&frame).unwrap()[..4], [0x04, 0x22, 0x4D, 0x18], "gpg gives an LZ4 frame");
    let plain = Command::new("lz4").arg("-d").arg("-c").arg(&frame).output().expect("lz4 (scripts/install-deps.sh)");
    assert!(plain.status.success(), "lz4 -d: {}", String::from_utf8_lossy(&plain.stderr));
    assert!(plain.stdout == std::fs::read(pg.pg_wal().join(&seg)).unwrap(), "{seg}: gpg | lz4 -d differs from pg_wal");
    println!("{seg}: gpg --decrypt | lz4 -d gives the segment back");

    // Restore with the ring from the same env dir (passed on to restore_command), to the mark.
    let restored = restore_and_promote(&work, &repo, &["--env-dir", &env, "--target-time", &target.time]);
    target.assert_restored(&restored);
    assert!(restored.server_log().contains("restored log file"), "recovery fetched WAL through wal-fetch");
    restored.stop();

    // Without the ring, the restore says why it cannot read the backup.
    let out = walrs(&["--storage", &repo.url(), "backup-fetch", work.path.join("nokey").to_str().unwrap(), "LATEST"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("looks encrypted"), "{stderr}");
    assert!(!stderr.contains(PASSPHRASE), "{stderr}");

    // No gpg-agent is left behind: it answers before the home is dropped, and not after.
    let home = gpg.home.clone();
    let agent_pid = || {
        let out = Command::new("gpg-connect-agent")
            .env("GNUPGHOME", &home)
            .args(["--no-autostart", "GETINFO pid", "/bye"])
            .output()
            .expect("gpg-connect-agent (Debian's gnupg package)");
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("D ").map(str::to_string))
    };
    assert!(agent_pid().is_some(), "gpg ran through an agent of {}", home.display());
    drop(gpg);
    assert_eq!(agent_pid(), None, "a gpg-agent still runs for {}", home.display());
}
