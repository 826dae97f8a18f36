//! A restored copy must not archive into the repository it came from: promoted, it would
//! upload `00000002.history` and its segments there, and a later restore following the
//! latest timeline would replay the copy's branch instead of production's. `backup-fetch`
//! turns archiving off in the restored configuration unless `--archive-mode preserve`.

use std::time::Duration;
use walrs_pg_test::*;

/// Restore LATEST into `dir_name` with `options`, keep the production archiving settings the
/// backup carried (the harness's own `archive_mode = off` undone), promote, switch WAL.
fn promoted_copy(work: &Workdir, repo: &Repo, dir_name: &str, port: u16, options: &[&str]) -> Cluster {
    let (dest, url) = (work.path.join(dir_name), repo.url());
    let mut args = vec!["--storage", url.as_str(), "backup-fetch", dest.to_str().unwrap(), "LATEST", "--recovery"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--target-action", "promote"]);
    assert_ok(&walrs(&args), "backup-fetch");
    let copy = Cluster::adopt_on(work, dir_name, port);
    copy.configure(&format!("archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{url}'"));
    copy.start();
    wait_for("the end of recovery", Duration::from_secs(120), || copy.sql("SELECT pg_is_in_recovery()") == "f");
    copy.sql("CREATE TABLE written_on_the_copy AS SELECT 1");
    copy.switch_wal();
    copy
}

fn history_in_repo(repo: &Repo) -> bool {
    repo.files().iter().any(|f| f.starts_with("wal_005/00000002.history"))
}

#[test]
fn a_restored_copy_does_not_archive_unless_asked_to() {
    let work = Workdir::new("restore-archive-mode");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("SELECT walrs_backup_push()");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));
    pg.stop();

    let copy = promoted_copy(&work, &repo, "copy", 5433, &[]);
    assert_eq!(copy.sql("SHOW archive_mode"), "off", "the restored copy archives");
    let auto = std::fs::read_to_string(work.path.join("copy/postgresql.auto.conf")).unwrap();
    assert!(auto.contains("archive_mode = 'off'"), "{auto}");
    // Give an archiver, had there been one, time to upload the new timeline's history file.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!history_in_repo(&repo), "the copy uploaded its timeline into the production repository");
    copy.stop();

    // Asked to keep archiving (a real disaster recovery): the new timeline is archived.
    let kept = promoted_copy(&work, &repo, "kept", 5434, &["--archive-mode", "preserve"]);
    assert_eq!(kept.sql("SHOW archive_mode"), "on");
    wait_for("the new timeline's history file in the repository", Duration::from_secs(60), || history_in_repo(&repo));
    kept.stop();
}
