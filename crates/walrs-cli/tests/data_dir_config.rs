//! The `walrs.*` settings of the data directory walrs runs in: a `postgresql.conf` that is
//! there but cannot be read is reported, never taken for an empty one.

use std::process::Command;

#[test]
fn an_unreadable_postgresql_conf_is_an_error_that_names_it() {
    let data = tempfile::tempdir().unwrap();
    // Tests run as root, whom mode 000 does not keep out; a directory by that name fails for root too.
    std::fs::create_dir(data.path().join("postgresql.conf")).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_walrs")).args(["backup-list"]).current_dir(data.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read") && stderr.contains("postgresql.conf"), "names the file: {stderr}");
    assert!(stderr.contains("walrs: hint:"), "{stderr}");
    assert!(!stderr.contains("no repository is configured"), "not taken for an empty file: {stderr}");
}

#[test]
fn an_absent_postgresql_conf_is_no_configuration() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_walrs"))
        .args(["backup-list"])
        .env_remove("WALG_FILE_PREFIX")
        .env_remove("WALG_S3_PREFIX")
        .env_remove("WALG_AZ_PREFIX")
        .env_remove("WALG_GS_PREFIX")
        .current_dir(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no repository is configured"), "{stderr}");
}
