//! The command with libsodium keys from the env dir and from the process environment:
//! restore, verify, fetch and push against the libsodium fixture (WAL-G-format, encrypted).
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::path::Path;
use std::process::{Command, Output};

const SEGMENT: &str = "000000010000000000000003";

fn key() -> String {
    std::fs::read_to_string(walrs_fixtures::walg_format().join("libsodium-lz4.key")).unwrap().trim().to_string()
}

/// `walrs ARGS` against the fixture copy at `repo`, in `cwd`, with `vars` in its environment.
fn walrs(cwd: &Path, repo: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_walrs"));
    cmd.arg("--storage").arg(format!("file://{}", repo.display())).args(args).current_dir(cwd);
    for var in [
        "WALG_LIBSODIUM_KEY",
        "WALG_LIBSODIUM_KEY_PATH",
        "WALG_LIBSODIUM_KEY_TRANSFORM",
        "WALRS_LIBSODIUM_KEY_PREVIOUS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied()).output().unwrap()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_verb_reads_the_key_from_the_env_dir_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, cwd) = (dir.path().join("repo"), dir.path().join("cwd"));
    walrs_fixtures::copy_repository("libsodium-lz4", &repo);
    std::fs::create_dir(&cwd).unwrap();
    let env_dir = dir.path().join("env");
    std::fs::create_dir(&env_dir).unwrap();
    std::fs::write(env_dir.join("WALG_LIBSODIUM_KEY"), format!("{}\n", key())).unwrap();
    std::fs::write(env_dir.join("WALG_LIBSODIUM_KEY_TRANSFORM"), "base64\n").unwrap();
    let env_dir_arg = env_dir.to_str().unwrap();
    let from_env = [("WALG_LIBSODIUM_KEY", key()), ("WALG_LIBSODIUM_KEY_TRANSFORM", "base64".to_string())];
    let from_env: Vec<(&str, &str)> = from_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let restored = dir.path().join("restored");
    ok(&walrs(&cwd, &repo, &[], &["--env-dir", env_dir_arg, "backup-fetch", restored.to_str().unwrap(), "LATEST"]));
    assert!(restored.join("global/pg_control").is_file());
    ok(&walrs(&cwd, &repo, &from_env, &["backup-verify", "LATEST"]));

    let fetched = cwd.join(SEGMENT);
    ok(&walrs(&cwd, &repo, &from_env, &["wal-fetch", "--prefetch", "0", SEGMENT, fetched.to_str().unwrap()]));
    assert_eq!(std::fs::metadata(&fetched).unwrap().len(), 16 << 20);
    // The same segment pushed again is already archived (plain bytes compared), key from the env dir.
    ok(&walrs(&cwd, &repo, &[], &["--env-dir", env_dir_arg, "wal-push", fetched.to_str().unwrap()]));

    // Without a key: the repository looks encrypted. With a wrong one: which object, never the key.
    let again = cwd.join("again");
    let out = walrs(&cwd, &repo, &[], &["wal-fetch", "--prefetch", "0", SEGMENT, again.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("looks encrypted") && stderr.contains("WALG_LIBSODIUM_KEY"), "{stderr}");
    let wrong = "wrong-key-of-thirty-two-bytes!!!";
    let out = walrs(&cwd, &repo, &[("WALG_LIBSODIUM_KEY", wrong)], &["wal-fetch", "--prefetch", "0", SEGMENT, "x"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot decrypt wal_005/{SEGMENT}.lz4 (wrong key?)")), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
    // An unusable key stops the command before it touches the repository.
    let out = walrs(&cwd, &repo, &[("WALG_LIBSODIUM_KEY", "short")], &["wal-push", fetched.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("WALG_LIBSODIUM_KEY is not a usable libsodium key"), "{stderr}");
}
