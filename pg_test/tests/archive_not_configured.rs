//! With `walrs.storage` empty or invalid, the archive module says what to set and PostgreSQL
//! keeps the WAL; once it is set and reloaded, the backlog is archived.

use std::time::Duration;
use walrs_pg_test::*;

#[test]
fn unconfigured_archiving_says_what_to_set_then_catches_up_after_reload() {
    let work = Workdir::new("not-configured");
    let repo = Repo::new(&work);
    let pg = Cluster::init(&work);
    pg.configure("archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = 'ftp://nowhere/x'\n");
    pg.start();
    let seg = pg.switch_wal();
    wait_for("the not-configured message", Duration::from_secs(90), || {
        pg.server_log().contains("walrs: archiving is not configured")
    });
    let log = pg.server_log();
    assert!(log.contains("invalid value for parameter \"walrs.storage\""), "the bad value is reported");
    assert!(log.contains("unknown repository scheme"), "the reason is reported");
    assert!(log.contains("HINT:  set walrs.storage"), "the hint says what to set");
    assert!(pg.archive_status("ready").contains(&seg));
    assert!(repo.segments().is_empty());

    pg.configure(&format!("walrs.storage = '{}'", repo.url()));
    pg.reload();
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(120));
    assert!(repo.segments().contains(&seg));
    assert!(pg.server_log().contains(&format!("walrs: using repository {}", repo.url())));
    pg.stop();
}
