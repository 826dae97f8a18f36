//! Two clusters, one repository by mistake. The second cluster's archiver refuses to archive
//! into a repository whose backups (or, with no backups, whose WAL) belong to the first one,
//! naming both system identifiers, and stores nothing there: the first cluster's objects stay
//! byte for byte as they were. Pointed at a repository of its own, it archives at once.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

/// Every file under `dir` with its content, sorted by path.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let repo = Repo { dir: dir.to_path_buf() };
    repo.files().into_iter().map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap())).collect()
}

fn point_at(pg: &Cluster, dir: &Path) {
    pg.sql(&format!("ALTER SYSTEM SET walrs.storage = 'file://{}'", dir.display()));
    pg.sql("SELECT pg_reload_conf()"); // also wakes the archiver, which waits after failures
}

/// Wait until the server log has a line with every one of `parts`, and return it.
fn log_line(pg: &Cluster, parts: &[&str]) -> String {
    let mut found = String::new();
    wait_for(&format!("a log line with {parts:?}"), Duration::from_secs(60), || {
        let log = pg.server_log();
        found = log.lines().find(|l| parts.iter().all(|p| l.contains(p))).unwrap_or_default().to_string();
        !found.is_empty()
    });
    found
}

#[test]
fn a_second_cluster_is_refused_the_first_ones_repository() {
    let work = Workdir::new("foreign-repo");
    let repo = Repo::new(&work);
    let first = archiving_cluster(&work, &repo, "");
    first.start();
    first.sql("CREATE EXTENSION walrs");
    let backup = first.sql("SELECT walrs_backup_push()");
    let last = first.switch_wal();
    first.wait_archived(&last, Duration::from_secs(60));
    let first_id = first.sql("SELECT system_identifier FROM pg_control_system()");
    first.stop();
    let before = contents(&repo.dir);
    assert!(before.iter().any(|(f, _)| f.starts_with("wal_005/")), "the first cluster archived");

    // The same WAL without the backups, and an empty repository.
    let wal_only = work.path.join("wal-only");
    let own = work.path.join("own");
    std::fs::create_dir_all(&wal_only).unwrap();
    std::fs::create_dir_all(&own).unwrap();
    run(Command::new("cp").arg("-a").arg(repo.wal_dir()).arg(&wal_only));
    run(Command::new("chown").arg("-R").arg("postgres").arg(&wal_only).arg(&own));
    let wal_only_before = contents(&wal_only);

    let other = Workdir::new("foreign-repo-second");
    let second = archiving_cluster(&other, &repo, "");
    second.start();
    let second_id = second.sql("SELECT system_identifier FROM pg_control_system()");
    assert_ne!(first_id, second_id, "initdb made another database system");

    // 1. Its backups say whose the repository is.
    let refused = second.switch_wal();
    let line = log_line(
        &second,
        &[
            &format!("could not archive {refused}"),
            &format!("belongs to database system {first_id} (its backup {backup})"),
            &format!("this server is database system {second_id}: refusing to archive into it"),
        ],
    );
    eprintln!("{line}");
    assert!(second.server_log().contains("HINT:  two clusters must never share a repository"), "a hint follows");
    let (archived, failed, _) = second.archiver_stats();
    assert_eq!(archived, 0, "nothing archived");
    assert!(failed >= 1, "pg_stat_archiver counts the failures");
    assert!(second.archive_status("ready").contains(&refused), "PostgreSQL keeps {refused}");
    assert!(contents(&repo.dir) == before, "the first cluster's repository is unchanged");

    // 2. Without backups, its WAL does.
    point_at(&second, &wal_only);
    log_line(&second, &[&format!("belongs to database system {first_id} (its WAL file wal_005/")]);
    assert!(contents(&wal_only) == wal_only_before, "nothing was added or changed");

    // 3. A repository of its own: everything waiting is archived.
    point_at(&second, &own);
    second.wait_archived(&refused, Duration::from_secs(60));
    let own_repo = Repo { dir: own.clone() };
    assert!(own_repo.segments().contains(&refused), "{:?}", own_repo.segments());
    assert!(contents(&repo.dir) == before && contents(&wal_only) == wal_only_before);
}
