//! An encrypted repository end to end: `WALG_LIBSODIUM_KEY` in `walrs.env_dir`, WAL archived
//! under pgbench, `walrs_backup_push()`, then `walrs backup-fetch` with the same env dir and a
//! point-in-time target. The restore has exactly the rows committed by the target; no stored WAL
//! or tar partition holds any 16-byte run (aligned in the source) of the segment or data file it
//! came from, while a plain lz4 copy of the same file does; sentinels and metadata stay plain.

use std::path::Path;
use std::process::Command;
use walrs_pg_test::*;

/// base64 of 32 bytes, as `head -c 32 /dev/urandom | base64` makes one.
const KEY: &str = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";

/// The 16-byte blocks at multiples of 16 in `plain`, sorted, without repeats.
fn blocks(plain: &[u8]) -> Vec<u128> {
    let mut out: Vec<u128> = plain.chunks_exact(16).map(|b| u128::from_le_bytes(b.try_into().unwrap())).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Where in `stored` some block of `plain_blocks` appears, if anywhere: every 64-byte run of the
/// source holds at least three whole aligned blocks, so none found means no such run either.
fn find_block(stored: &[u8], plain_blocks: &[u128]) -> Option<usize> {
    (0..stored.len().saturating_sub(15)).find(|&at| {
        let window = u128::from_le_bytes(stored[at..at + 16].try_into().unwrap());
        plain_blocks.binary_search(&window).is_ok()
    })
}

fn env_dir(work: &Workdir) -> String {
    let dir = work.path.join("env");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("WALG_LIBSODIUM_KEY"), format!("{KEY}\n")).unwrap();
    std::fs::write(dir.join("WALG_LIBSODIUM_KEY_TRANSFORM"), "base64\n").unwrap();
    run(Command::new("chmod").arg("-R").arg("go-rwx").arg(&dir));
    run(Command::new("chown").arg("-R").arg("postgres").arg(&dir));
    dir.display().to_string()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

#[test]
fn an_encrypted_repository_restores_to_a_point_in_time_and_holds_no_plain_bytes() {
    let work = Workdir::new("sodium");
    let repo = Repo::new(&work);
    let env = env_dir(&work);
    let pg = archiving_cluster(&work, &repo, &format!("walrs.env_dir = '{env}'"));
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.pgbench(&["-i", "-s", "2", "-q"]);
    // Text no compressor hides: a plain copy of its file holds it as literals.
    pg.sql(
        "CREATE TABLE steady AS SELECT i AS id, md5('walrs-sodium-' || i) AS payload FROM generate_series(1, 20000) i",
    );
    pg.sql("CHECKPOINT");
    pg.sql("SELECT walrs_backup_push()");
    let target = PitrTarget::after_workload(&pg);
    let steady_file = pg.data.join(pg.sql("SELECT pg_relation_filepath('steady')"));
    pg.stop();

    // Sentinels and metadata are plain JSON, as WAL-G keeps them.
    let backups = repo.dir.join("basebackups_005");
    let sentinel =
        files_under(&backups).into_iter().find(|p| p.to_string_lossy().ends_with("_backup_stop_sentinel.json"));
    let sentinel = std::fs::read_to_string(sentinel.expect("a sentinel")).unwrap();
    assert!(sentinel.trim_start().starts_with('{'), "{sentinel}");
    let backup_dir = files_under(&backups).into_iter().find(|p| p.is_dir()).unwrap();
    assert!(std::fs::read_to_string(backup_dir.join("files_metadata.json")).unwrap().contains("PG_VERSION"));

    // No plain bytes in what was stored: each archived segment against its own object.
    let mut checked = 0;
    for seg in repo.segments() {
        let source = pg.pg_wal().join(&seg);
        if !source.exists() {
            continue;
        }
        let stored = std::fs::read(repo.wal_dir().join(format!("{seg}.lz4"))).unwrap();
        assert_ne!(stored[..4], [0x04, 0x22, 0x4D, 0x18], "{seg} is stored as a plain lz4 frame");
        let plain = blocks(&std::fs::read(&source).unwrap());
        assert_eq!(find_block(&stored, &plain), None, "{seg}: plain bytes in its stored object");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} segments checked");
    // The tar partitions against a data file that did not change after the backup.
    let steady = std::fs::read(&steady_file).unwrap();
    let steady_blocks = blocks(&steady);
    let lz4 = Command::new("lz4").arg("-c").arg(&steady_file).output().expect("lz4 (scripts/install-deps.sh)");
    assert!(find_block(&lz4.stdout, &steady_blocks).is_some(), "the check must see plain bytes in a plain lz4 copy");
    for part in files_under(&backup_dir.join("tar_partitions")) {
        let stored = std::fs::read(&part).unwrap();
        assert_eq!(find_block(&stored, &steady_blocks), None, "{}: plain bytes of steady", part.display());
    }

    // Restore with the key from the same env dir (passed on to restore_command), to the mark.
    let restored = restore_and_promote(&work, &repo, &["--env-dir", &env, "--target-time", &target.time]);
    target.assert_restored(&restored);
    assert_eq!(restored.sql("SELECT count(*) FROM steady"), "20000");
    restored.stop();

    // Without the key, the restore says why it cannot read the backup.
    let out = walrs(&["--storage", &repo.url(), "backup-fetch", work.path.join("nokey").to_str().unwrap(), "LATEST"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("looks encrypted"), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
}
