//! Secrets stay secret. Credentials in `walrs.env_dir` (a wrong Azure account key, a wrong SAS
//! token, an S3 secret key for a bucket that does not exist) produce authentication and
//! storage failures in the archiver, in `walrs_backup_push()` / `walrs_backup_list()` and in the
//! CLI (`-v`, `--json` included). None of the secret values appears in the server log (at
//! `log_min_messages = debug2`), in `pg_settings` / `SHOW ALL`, or in any CLI output.

use std::time::Duration;
use walrs_pg_test::*;

const AZURE_KEY: &str = "d2FscnMtZTJlLXNlY3JldC1henVyZS1rZXktMDEyMzQ1Njc4OWFiY2RlZg==";
const SAS_SIG: &str = "walrsE2ESasSignatureSecretValue";
const AWS_SECRET: &str = "walrs-e2e-aws-secret-9f8e7d6c5b4a";

fn env_dir(work: &Workdir, name: &str, vars: &[(&str, String)]) -> String {
    let dir = work.path.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (k, v) in vars {
        std::fs::write(dir.join(k), format!("{v}\n")).unwrap();
    }
    run(std::process::Command::new("chmod").arg("-R").arg("go-rwx").arg(&dir));
    run(std::process::Command::new("chown").arg("-R").arg("postgres").arg(&dir));
    dir.display().to_string()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [AZURE_KEY, SAS_SIG, AWS_SECRET] {
        assert!(!text.contains(secret), "{what} contains a secret:\n{text}");
    }
}

#[test]
#[cfg_attr(
    not(any(pg15, pg18)),
    ignore = "runs on PostgreSQL 15 and 18 only: storage does not depend on the server version"
)]
fn credentials_never_appear_in_logs_settings_or_cli_output() {
    let work = Workdir::new("cloud-secrets");
    let azurite = StorageServer::start(&work, "azure");
    let endpoint = format!("http://127.0.0.1:{}/devstoreaccount1", azurite.port);
    let account = ("AZURE_STORAGE_ACCOUNT", "devstoreaccount1".to_string());
    let wrong_key = env_dir(
        &work,
        "wrong-key.env",
        &[
            account.clone(),
            ("AZURE_STORAGE_ENDPOINT", endpoint.clone()),
            ("AZURE_STORAGE_ACCESS_KEY", AZURE_KEY.into()),
        ],
    );
    let sas = format!("sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig={SAS_SIG}");
    let wrong_sas = env_dir(
        &work,
        "wrong-sas.env",
        &[account, ("AZURE_STORAGE_ENDPOINT", endpoint), ("AZURE_STORAGE_SAS_TOKEN", sas)],
    );
    let moto = StorageServer::start(&work, "s3");
    let refused = env_dir(
        &work,
        "s3-no-bucket.env",
        &[
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", moto.port)),
            ("AWS_ACCESS_KEY_ID", "walrs-e2e-key-id".into()),
            ("AWS_SECRET_ACCESS_KEY", AWS_SECRET.into()),
        ],
    );
    let cases = [
        (azurite.url("secrets"), wrong_key, "authentication failure (wrong account key)"),
        (azurite.url("secrets"), wrong_sas, "authentication failure (wrong SAS token)"),
        ("s3://no-such-bucket/secrets".to_string(), refused, "storage failure (the bucket does not exist)"),
    ];

    let pg = Cluster::init(&work);
    pg.configure(
        "archive_mode = on\narchive_library = 'walrs'\nlog_min_messages = debug2\nwalrs.backup_wal_timeout = 5",
    );
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    for (url, env, what) in &cases {
        pg.configure(&format!("walrs.storage = '{url}'\nwalrs.env_dir = '{env}'"));
        pg.reload();
        let failures = pg.archiver_stats().1;
        pg.switch_wal();
        wait_for(&format!("a failed archive attempt: {what}"), Duration::from_secs(120), || {
            pg.archiver_stats().1 > failures
        });
        let push = pg.try_sql("SELECT walrs_backup_push()").expect_err("a backup cannot succeed");
        let list = pg.try_sql("SELECT * FROM walrs_backup_list()").expect_err("listing cannot succeed");
        assert_no_secret(&format!("walrs_backup_push() error, {what}"), &push);
        assert_no_secret(&format!("walrs_backup_list() error, {what}"), &list);

        for args in [
            vec!["-v", "backup-list", "--json"],
            vec!["-v", "backup-list", "--detail"],
            vec!["-v", "wal-fetch", "000000010000000000000001", "/tmp/walrs-e2e/never-written"],
            vec!["-v", "delete", "retain", "1"],
            vec!["-v", "backup-fetch", "/tmp/walrs-e2e/never-restored", "LATEST"],
        ] {
            let mut full = vec!["--storage", url.as_str(), "--env-dir", env.as_str()];
            full.extend(args.iter().copied());
            let out = walrs(&full);
            assert!(!out.status.success(), "walrs {args:?} cannot succeed: {what}");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(text.contains("walrs: error"), "walrs {args:?} says it failed: {text}");
            assert_no_secret(&format!("walrs {args:?}, {what}"), &text);
        }
    }
    let log = pg.server_log();
    assert!(log.matches("WARNING:  walrs:").count() >= 3, "the failures were logged");
    assert_no_secret("the server log", &log);
    assert_no_secret("pg_settings", &pg.sql("SELECT string_agg(name || '=' || setting, E'\\n') FROM pg_settings"));
    assert_no_secret("SHOW ALL", &pg.psql_script("SHOW ALL;"));
    pg.stop();
    assert_no_secret("the server log after shutdown", &pg.server_log());
    println!(
        "{} failure cases; no secret in {} bytes of server log, pg_settings, SHOW ALL or CLI output",
        cases.len(),
        log.len()
    );
}
