//! `walrs_stat_backup` and `walrs_backup_status()` on a real backup of about 300 MB, to S3
//! (moto) through a relay.
//!
//! Polled every 200 ms, the view shows the backup's phases in order and `bytes_done` rising to
//! `bytes_total`; each phase that waits on something is held open by the real thing it waits
//! for: `starting` by retention's lock (a transaction that ran `walrs_delete_*()`), `waiting
//! for WAL` by WAL uploads the store does not answer yet, `writing sentinel` by a sentinel
//! upload the store does not answer yet (the relay holds those requests back, as a slow store
//! would). The row goes when the backup ends, whether it succeeded or its worker was
//! terminated, and `walrs_backup_status()` names the backup. Only `pg_monitor` members may read
//! either.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use walrs_pg_test::*;

const ROW: &str = "SELECT pid || '|' || coalesce(backup_name, '') || '|' || kind || '|' || phase || '|' || bytes_done \
     || '|' || bytes_total || '|' || files_done || '|' || files_total || '|' || partitions_uploaded \
     || '|' || (estimated_finish IS NOT NULL) FROM walrs_stat_backup";

#[derive(Debug, Clone)]
struct Seen {
    pid: i64,
    name: String,
    kind: String,
    phase: String,
    bytes_done: i64,
    bytes_total: i64,
    files_done: i64,
    files_total: i64,
    partitions: i64,
    estimated: bool,
}

fn poll(pg: &Cluster) -> Option<Seen> {
    let out = pg.sql(ROW);
    if out.is_empty() {
        return None;
    }
    assert_eq!(out.lines().count(), 1, "one backup runs: {out}");
    let f: Vec<&str> = out.split('|').collect();
    let n = |i: usize| f[i].parse::<i64>().unwrap();
    Some(Seen {
        pid: n(0),
        name: f[1].into(),
        kind: f[2].into(),
        phase: f[3].into(),
        bytes_done: n(4),
        bytes_total: n(5),
        files_done: n(6),
        files_total: n(7),
        partitions: n(8),
        estimated: f[9] == "true",
    })
}

/// A session that holds the backup lock shared, as retention does for its transaction.
fn hold_retention_lock(pg: &Cluster) -> Child {
    let mut psql = Command::new(pg_bindir().join("psql"))
        .args(["-X", "-q", "-U", "postgres", "-d", "postgres", "-h"])
        .arg(&pg.socket_dir)
        .args(["-p", &pg.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = psql.stdin.as_mut().unwrap();
    stdin.write_all(b"BEGIN;\nSELECT pg_advisory_xact_lock_shared(hashtext('walrs backup')::bigint);\n").unwrap();
    stdin.flush().unwrap();
    wait_for("the retention lock", Duration::from_secs(10), || {
        pg.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted") == "1"
    });
    psql
}

fn release(mut psql: Child) {
    psql.stdin.take().unwrap().write_all(b"COMMIT;\n").unwrap(); // stdin closes: psql ends
    psql.wait().unwrap();
}

#[test]
fn a_running_backup_shows_its_phases_and_progress_and_then_its_status() {
    let started = Instant::now();
    let work = Workdir::new("monitor-backup");
    let server = StorageServer::start(&work, "s3");
    let relay = Relay::new(server.port);
    let env_dir = server.env_dir_via(&work.path.join("relay.env"), relay.port);
    let pg = Cluster::init(&work);
    pg.configure(&format!(
        "archive_mode = on\narchive_library = 'walrs'\nwalrs.storage = '{}'\nwalrs.env_dir = '{}'\n\
         wal_keep_size = '4GB'\nmax_wal_size = '4GB'\nshared_preload_libraries = 'walrs'\nwalrs.upload_concurrency = 2",
        server.url("monitor"),
        env_dir.display()
    ));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE ROLE watcher LOGIN IN ROLE pg_monitor; CREATE ROLE plain LOGIN");
    // About 300 MB of data: pgbench_accounts without its index.
    pg.pgbench(&["-i", "-s", "22", "-q", "-I", "dtgv"]);
    let size = pg.sql_i64("SELECT pg_database_size('postgres')");
    assert!(size > 250 << 20, "{size} bytes");
    eprintln!("database of {} MB after {:?}", size >> 20, started.elapsed());

    // Privileges: pg_monitor reads both, a plain role neither.
    assert_eq!(pg.try_sql_as("watcher", "SELECT count(*) FROM walrs_stat_backup").unwrap(), "0");
    pg.try_sql_as("watcher", "SELECT backup_count FROM walrs_backup_status()").unwrap();
    for sql in [
        "SELECT * FROM walrs_stat_backup",
        "SELECT * FROM walrs_backup_status()",
        "SELECT * FROM walrs_stat_get_backup()",
    ] {
        let err = pg.try_sql_as("plain", sql).expect_err(sql);
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }

    // 1. A backup whose worker is terminated while it starts: its row goes with it.
    let lock = hold_retention_lock(&pg);
    let caller = backup_push_in_background(&pg);
    let mut first = None;
    wait_for("the backup's row", Duration::from_secs(20), || {
        first = poll(&pg);
        first.is_some()
    });
    let first = first.unwrap();
    assert_eq!((first.phase.as_str(), first.kind.as_str(), first.name.as_str()), ("starting", "full", ""));
    let worker = format!("SELECT backend_type FROM pg_stat_activity WHERE pid = {}", first.pid);
    assert_eq!(pg.sql(&worker), "walrs backup", "pid is the worker's");
    pg.sql(&format!("SELECT pg_terminate_backend({})", first.pid));
    let err = caller.join().unwrap().expect_err("a terminated backup fails");
    assert!(err.contains("cancelled"), "{err}");
    assert!(poll(&pg).is_none(), "the row of a cancelled backup is gone");
    release(lock);

    // 2. A backup seen from start to end. Requests that store a WAL segment, and then the one
    // that stores the sentinel, wait in the relay until their phase has been seen twice.
    let (wal_puts, sentinel) = ("PUT /walrs-test/monitor/wal_005/", "_backup_stop_sentinel.json");
    let (mut wal_held, mut sentinel_held) = (false, false);
    let lock = hold_retention_lock(&pg);
    let caller = backup_push_in_background(&pg);
    let mut lock = Some(lock);
    let mut seen: Vec<Seen> = vec![];
    let deadline = Instant::now() + Duration::from_secs(90);
    while !caller.is_finished() {
        assert!(Instant::now() < deadline, "the backup took too long: {seen:?}");
        if let Some(s) = poll(&pg) {
            let phase = s.phase.clone();
            if phase == "starting" && lock.is_some() && seen.iter().any(|p| p.phase == "starting") {
                release(lock.take().unwrap()); // seen twice: let it start
            }
            if phase == "streaming files" && s.bytes_done > 0 && !wal_held {
                relay.hold(wal_puts); // archiving waits from here: so will the backup, for its WAL
                wal_held = true;
            }
            if phase == "waiting for WAL" && !sentinel_held {
                relay.hold(sentinel); // armed after the backup's start checked for a sentinel
                sentinel_held = true;
            }
            if phase == "waiting for WAL" && seen.iter().filter(|p| p.phase == phase).count() == 2 {
                relay.release(wal_puts);
            }
            if phase == "writing sentinel" && seen.iter().filter(|p| p.phase == phase).count() == 2 {
                assert_eq!(relay.waiting(), 1, "the sentinel's upload waits in the relay");
                relay.release(sentinel);
            }
            seen.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    relay.release(wal_puts);
    relay.release(sentinel);
    let name = caller.join().unwrap().expect("the backup succeeds");
    assert!(poll(&pg).is_none(), "the row of a finished backup is gone");

    let phases: Vec<&str> = seen.iter().map(|s| s.phase.as_str()).collect();
    let mut order: Vec<&str> = phases.clone();
    order.dedup();
    eprintln!("phases seen: {order:?} ({} polls)", phases.len());
    let expected = ["starting", "streaming files", "waiting for WAL", "writing sentinel"];
    let indices: Vec<usize> = order.iter().map(|p| expected.iter().position(|e| e == p).expect(p)).collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "phases out of order: {order:?}");
    assert_eq!(order, expected, "every phase, in order");
    let streaming: Vec<&Seen> = seen.iter().filter(|s| s.phase == "streaming files").collect();
    assert!(streaming.len() >= 3, "streaming seen {} times", streaming.len());
    assert!(streaming.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done), "bytes_done never falls");
    assert!(streaming.first().unwrap().bytes_done < streaming.last().unwrap().bytes_done, "bytes_done rises");
    assert!(streaming.iter().any(|s| s.estimated), "an estimate of the end while streaming");
    let done = seen.iter().find(|s| s.phase == "waiting for WAL").unwrap();
    assert_eq!(done.bytes_done, done.bytes_total, "every byte streamed");
    assert!(done.bytes_total > 250 << 20, "{done:?}");
    assert_eq!(done.files_done, done.files_total);
    assert!(done.partitions >= 2 && !done.estimated, "{done:?}");
    assert!(seen.iter().all(|s| s.name == name || (s.phase == "starting" && s.name.is_empty())), "{name} {seen:?}");

    // 3. The status names it; a second call within a minute answers from the same listing.
    let status = |who: &str| {
        pg.try_sql_as(
            who,
            "SELECT newest_backup || '|' || backup_count || '|' || (repository_bytes > 0) || '|' || (newest_age < '1 minute') \
             || '|' || preloaded || '|' || listed_at FROM walrs_backup_status()",
        )
        .unwrap()
    };
    let now = status("watcher");
    let f: Vec<&str> = now.split('|').collect();
    assert_eq!(&f[..5], [name.as_str(), "1", "true", "true", "true"], "{now}");
    // Another session lists again: the cache is per session.
    let cached = pg.psql_script(
        "SELECT listed_at FROM walrs_backup_status();\nSELECT pg_sleep(0.2);\nSELECT listed_at FROM walrs_backup_status();\n",
    );
    let times: Vec<&str> = cached.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(times.len(), 2, "{cached}");
    assert_eq!(times[0], times[1], "the second call reuses the listing");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
}
