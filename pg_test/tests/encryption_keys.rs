//! The libsodium key over a cluster's life. A key file the server cannot read (newly named in
//! `walrs.env_dir`) stops archiving
//! (a WARNING naming `WALG_LIBSODIUM_KEY_PATH`, `.ready` files kept, nothing stored), and once
//! it is readable again archiving catches up with no gap, every object encrypted. Rotating the
//! key as docs/security.md says (old key to `WALRS_LIBSODIUM_KEY_PREVIOUS`, no restart) writes
//! new WAL under the new key only, and a backup taken under the old key still restores through
//! WAL of both keys; with the old key gone, its objects fail with "(wrong key?)".

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use walrs_pg_test::*;

/// Two base64 keys of 32 bytes each.
const KEY_A: &str = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";
const KEY_B: &str = "3q2+7wAREiIzRFVmd4iZqrvM3e7/ABEiM0RVZneImao=";

/// An env dir `work`/`name` holding `vars` (name, value), owned by postgres, mode 0700.
fn env_dir(work: &Workdir, name: &str, vars: &[(&str, &str)]) -> PathBuf {
    let dir = work.path.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (var, value) in vars {
        std::fs::write(dir.join(var), format!("{value}\n")).unwrap();
    }
    run(Command::new("chmod").arg("-R").arg("go-rwx").arg(&dir));
    chown_postgres(&dir);
    dir
}

/// `walrs --env-dir env --storage repo wal-fetch name scratch/<env's name>/name`. One directory
/// per env dir: wal-fetch prefetches the next segments into the directory it writes to, and a
/// later fetch there takes them as they are, whatever keys it has itself.
fn wal_fetch(repo: &Repo, env: &Path, name: &str, scratch: &Path) -> Output {
    let scratch = scratch.join(env.file_name().unwrap());
    std::fs::create_dir_all(&scratch).unwrap();
    let dest = scratch.join(name);
    let _ = std::fs::remove_file(&dest); // not there on the first fetch
    let url = repo.url();
    walrs(&["--env-dir", env.to_str().unwrap(), "--storage", &url, "wal-fetch", name, dest.to_str().unwrap()])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Names of the objects under wal_005/, sorted.
fn wal_objects(repo: &Repo) -> Vec<String> {
    repo.files().into_iter().filter(|f| f.starts_with("wal_005/")).collect()
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: keys do not depend on the server version"
)]
fn an_unusable_key_stops_archiving_and_fixing_it_catches_up() {
    let work = Workdir::new("keys-unusable");
    let repo = Repo::new(&work);
    let keys = work.path.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key_file = keys.join("sodium.key");
    std::fs::write(&key_file, format!("{KEY_A}\n")).unwrap();
    chown_postgres(&keys);
    run(Command::new("chmod").arg("600").arg(&key_file));
    let env = env_dir(
        &work,
        "env",
        &[("WALG_LIBSODIUM_KEY_PATH", key_file.to_str().unwrap()), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")],
    );
    let pg = archiving_cluster(&work, &repo, &format!("walrs.env_dir = '{}'", env.display()));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE ledger (id int)");
    let first = pg.switch_wal();
    pg.wait_archived(&first, Duration::from_secs(60));
    let before = wal_objects(&repo);
    assert!(before.iter().any(|f| f.contains(&first)), "{first} archived with the key readable: {before:?}");

    // The env dir now names a key file the server's user cannot read (as root, the test still
    // reads it): the archiver opens the repository again because a variable changed (a file
    // changed in place is not noticed, as docs/security.md says).
    let new_key_file = keys.join("sodium-new.key");
    std::fs::write(&new_key_file, format!("{KEY_A}\n")).unwrap();
    chown_postgres(&keys);
    run(Command::new("chmod").arg("000").arg(&new_key_file));
    let probe = as_postgres("cat").arg(&new_key_file).output().expect("run cat as postgres");
    assert!(!probe.status.success(), "postgres can still read a key file of mode 000");
    env_dir(
        &work,
        "env",
        &[("WALG_LIBSODIUM_KEY_PATH", new_key_file.to_str().unwrap()), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64")],
    );
    let log_start = pg.server_log().len();
    let mut switched = Vec::new();
    for i in 1..=3 {
        pg.sql(&format!("INSERT INTO ledger SELECT g FROM generate_series({i} * 1000, {i} * 1000 + 999) g"));
        switched.push(pg.switch_wal());
    }
    let last = switched.last().unwrap().clone();
    wait_for("a WARNING naming the key file's variable", Duration::from_secs(60), || {
        pg.server_log()[log_start..]
            .lines()
            .any(|l| l.contains("WARNING") && l.contains("WALG_LIBSODIUM_KEY_PATH") && l.contains("cannot be read"))
    });
    wait_for("the switched segments kept as .ready", Duration::from_secs(30), || {
        let ready = pg.archive_status("ready");
        switched.iter().all(|s| ready.contains(s))
    });
    // Long enough for PostgreSQL's archiver to ask again (it retries three times, then waits 60 s).
    std::thread::sleep(Duration::from_secs(3));
    let log = pg.server_log();
    assert!(!log.contains(KEY_A), "the key text is in the server log");
    assert_eq!(wal_objects(&repo), before, "objects stored while the key was unreadable");
    assert!(pg.archive_status("ready").len() >= 3, "{:?}", pg.archive_status("ready"));

    // Fixed: the archiver catches up (PostgreSQL's retry wait is 60 s at most).
    run(Command::new("chmod").arg("600").arg(&new_key_file));
    pg.wait_archived(&last, Duration::from_secs(150));
    let archived = repo.segments();
    for seg in pg.segments_between(&first, &last) {
        assert!(archived.contains(&seg), "{seg} missing from the repository after the key was fixed: {archived:?}");
    }
    let url = repo.url();
    let verify = walrs(&["--env-dir", env.to_str().unwrap(), "--storage", &url, "wal-verify"]);
    let report = format!("{}{}", String::from_utf8_lossy(&verify.stdout), stderr(&verify));
    assert!(verify.status.success() && report.contains(" 0 lost"), "wal-verify: {report}");

    // Every stored segment is encrypted: unreadable without the key, identical with it.
    let no_key = env_dir(&work, "env-none", &[]);
    let scratch = work.path.join("fetched");
    let mut checked = 0;
    for seg in &archived {
        let out = wal_fetch(&repo, &no_key, seg, &scratch);
        let err = stderr(&out);
        assert!(!out.status.success() && err.contains("looks encrypted"), "{seg} without the key: {err}");
        assert_ok(&wal_fetch(&repo, &env, seg, &scratch), &format!("wal-fetch {seg} with the key"));
        let want = std::fs::read(pg.pg_wal().join(seg)).unwrap();
        assert!(std::fs::read(scratch.join("env").join(seg)).unwrap() == want, "{seg} differs from pg_wal's");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} segments checked");
    println!("{checked} segments archived after the key was fixed, all encrypted: {report}");
    pg.stop();
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: keys do not depend on the server version"
)]
fn rotation_keeps_older_objects_readable() {
    let work = Workdir::new("keys-rotation");
    let repo = Repo::new(&work);
    let transform = ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64");
    let live = env_dir(&work, "env", &[("WALG_LIBSODIUM_KEY", KEY_A), transform]);
    let only_a = env_dir(&work, "env-a", &[("WALG_LIBSODIUM_KEY", KEY_A), transform]);
    let only_b = env_dir(&work, "env-b", &[("WALG_LIBSODIUM_KEY", KEY_B), transform]);
    let b_then_a =
        env_dir(&work, "env-b-a", &[("WALG_LIBSODIUM_KEY", KEY_B), ("WALRS_LIBSODIUM_KEY_PREVIOUS", KEY_A), transform]);
    let pg = archiving_cluster(&work, &repo, &format!("walrs.env_dir = '{}'", live.display()));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE TABLE ledger (id int PRIMARY KEY, era text)");
    pg.sql("INSERT INTO ledger SELECT g, 'backup' FROM generate_series(1, 100) g");
    pg.sql("SELECT walrs_backup_push()");
    pg.sql("INSERT INTO ledger SELECT g, 'key A' FROM generate_series(101, 200) g");
    pg.switch_wal();
    let last_a = pg.switch_wal();
    pg.wait_archived(&last_a, Duration::from_secs(60));

    // Rotate as docs/security.md says: the old key to the older keys, the new one in its place,
    // and nothing restarted or reloaded.
    std::fs::copy(live.join("WALG_LIBSODIUM_KEY"), live.join("WALRS_LIBSODIUM_KEY_PREVIOUS")).unwrap();
    std::fs::write(live.join("WALG_LIBSODIUM_KEY"), format!("{KEY_B}\n")).unwrap();
    // The copy belongs to root, who made it: without the docs' chown, archiving stops.
    run(Command::new("chown").arg(OS_USER).arg(live.join("WALRS_LIBSODIUM_KEY_PREVIOUS")));
    pg.sql("INSERT INTO ledger SELECT g, 'key B' FROM generate_series(201, 300) g");
    pg.switch_wal();
    let last_b = pg.switch_wal();
    pg.wait_archived(&last_b, Duration::from_secs(60));
    pg.stop();

    let scratch = work.path.join("fetched");
    let segments = repo.segments();
    let (under_a, under_b): (Vec<&String>, Vec<&String>) = segments.iter().partition(|s| s.as_str() <= last_a.as_str());
    assert!(under_a.len() >= 3 && under_b.len() >= 2, "under A: {under_a:?}, under B: {under_b:?}");
    for seg in &under_b {
        assert_ok(&wal_fetch(&repo, &only_b, seg, &scratch), &format!("{seg} with key B alone"));
        let out = wal_fetch(&repo, &only_a, seg, &scratch);
        assert!(!out.status.success(), "{seg}, written after the rotation, opens with key A");
    }
    for seg in &under_a {
        assert_ok(&wal_fetch(&repo, &only_a, seg, &scratch), &format!("{seg} with key A alone"));
        assert_ok(&wal_fetch(&repo, &b_then_a, seg, &scratch), &format!("{seg} with key B and A as older"));
        // With A gone, the message names the object and guesses the cause, never showing a key.
        let out = wal_fetch(&repo, &only_b, seg, &scratch);
        let err = stderr(&out);
        let object = format!("cannot decrypt wal_005/{seg}.lz4 (wrong key?)");
        assert!(!out.status.success() && err.contains(&object), "{seg} with key B alone: {err}");
        assert!(!err.contains(KEY_A) && !err.contains(KEY_B), "{err}");
    }

    // The backup taken under A, replayed through WAL of both keys, with the rotated env dir.
    let dest = work.path.join("restored");
    let url = repo.url();
    let out = walrs(&[
        "--env-dir",
        b_then_a.to_str().unwrap(),
        "--storage",
        &url,
        "backup-fetch",
        dest.to_str().unwrap(),
        "LATEST",
        "--target-action",
        "promote",
    ]);
    assert_ok(&out, "backup-fetch with key B and A as older");
    let restored = Cluster::adopt(&work, "restored");
    restored.start();
    wait_for("the end of recovery", Duration::from_secs(120), || restored.sql("SELECT pg_is_in_recovery()") == "f");
    let rows = restored.sql("SELECT era || ':' || count(*) FROM ledger GROUP BY era ORDER BY era");
    assert_eq!(rows, "backup:100\nkey A:100\nkey B:100");
    println!("restored through {} segments under A and {} under B: {rows:?}", under_a.len(), under_b.len());
    restored.stop();
}
