//! `backup-list --detail` and `wal-show --keys` name the key each object needs across a
//! rotation: the libsodium fixture is written under key A; the key then becomes B with A
//! previous, and a segment is archived again under B. The output names keys by their place,
//! never by their text.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

use std::path::Path;
use std::process::{Command, Output};

const SEGMENT: &str = "000000010000000000000003";
/// Key B: 32 bytes, base64 as the fixture's key A.
const B: &str = "a2V5LWItb2YtdGhpcnR5LXR3by1ieXRlcy0xMTExMTE=";

fn key_a() -> String {
    std::fs::read_to_string(walrs_fixtures::walg_format().join("libsodium-lz4.key")).unwrap().trim().to_string()
}

fn walrs(cwd: &Path, repo: &Path, vars: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_walrs"));
    cmd.arg("--storage").arg(format!("file://{}", repo.display())).args(args).current_dir(cwd);
    for var in ["WALG_LIBSODIUM_KEY", "WALG_LIBSODIUM_KEY_PATH", "WALRS_LIBSODIUM_KEY_PREVIOUS"] {
        cmd.env_remove(var);
    }
    cmd.env("WALG_LIBSODIUM_KEY_TRANSFORM", "base64");
    let out: Output = cmd.envs(vars.iter().copied()).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    for key in [key_a(), B.to_string()] {
        assert!(!stdout.contains(&key) && !stderr.contains(&key), "{args:?} shows a key: {stdout}{stderr}");
    }
    stdout.into_owned()
}

/// The segments of timeline 1 per key, from `wal-show --keys --json`.
fn counts(json: &str) -> serde_json::Value {
    let rows: serde_json::Value = serde_json::from_str(json).unwrap();
    let tli1 = rows.as_array().unwrap().iter().find(|r| r["timeline"] == 1).unwrap();
    tli1["keys"].clone()
}

#[test]
fn each_object_is_named_by_the_key_that_opens_it_across_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, cwd) = (dir.path().join("repo"), dir.path().join("cwd"));
    walrs_fixtures::copy_repository("libsodium-lz4", &repo);
    std::fs::create_dir(&cwd).unwrap();
    let a = key_a();
    let under_a = [("WALG_LIBSODIUM_KEY", a.as_str())];
    let rotated = [("WALG_LIBSODIUM_KEY", B), ("WALRS_LIBSODIUM_KEY_PREVIOUS", a.as_str())];

    // Under A: everything needs the current key.
    let listed = walrs(&cwd, &repo, &under_a, &["backup-list", "--detail"]);
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains(" current key ")), "{listed}");
    let all = counts(&walrs(&cwd, &repo, &under_a, &["wal-show", "--keys", "--json"]));
    let total = all["current key"].as_u64().unwrap();
    assert!(total >= 2 && all.as_object().unwrap().len() == 1, "{all}");
    // Without --keys, no header is read and no key field is shown.
    let plain: serde_json::Value =
        serde_json::from_str(&walrs(&cwd, &repo, &under_a, &["wal-show", "--json"])).unwrap();
    assert!(plain[0].get("keys").is_none(), "{plain}");

    // Rotated to B, with A previous; one segment archived again under B.
    let fetched = cwd.join(SEGMENT);
    walrs(&cwd, &repo, &rotated, &["wal-fetch", "--prefetch", "0", SEGMENT, fetched.to_str().unwrap()]);
    std::fs::remove_file(repo.join(format!("wal_005/{SEGMENT}.lz4"))).unwrap();
    walrs(&cwd, &repo, &rotated, &["wal-push", fetched.to_str().unwrap()]);

    let json: serde_json::Value =
        serde_json::from_str(&walrs(&cwd, &repo, &rotated, &["backup-list", "--detail", "--json"])).unwrap();
    assert!(json.as_array().unwrap().iter().all(|b| b["key"] == "previous key 1"), "{json}");
    let now = counts(&walrs(&cwd, &repo, &rotated, &["wal-show", "--keys", "--json"]));
    assert_eq!(now, serde_json::json!({"current key": 1, "previous key 1": total - 1}));
    let table = walrs(&cwd, &repo, &rotated, &["wal-show", "--keys"]);
    assert!(
        table.contains(&format!("keys: current key: 1 segments, previous key 1: {} segments", total - 1)),
        "{table}"
    );

    // With B alone, what only A opens needs a key that is not configured.
    let b_only = [("WALG_LIBSODIUM_KEY", B)];
    let now = counts(&walrs(&cwd, &repo, &b_only, &["wal-show", "--keys", "--json"]));
    assert_eq!(now, serde_json::json!({"current key": 1, "no configured key": total - 1}));
    let listed = walrs(&cwd, &repo, &b_only, &["backup-list", "--detail"]);
    assert!(listed.lines().skip(1).all(|r| r.contains(" no configured key ")), "{listed}");
    // With no key at all, encrypted objects are not taken for plain ones.
    let now = counts(&walrs(&cwd, &repo, &[], &["wal-show", "--keys", "--json"]));
    assert_eq!(now, serde_json::json!({"no configured key": total}));
}
