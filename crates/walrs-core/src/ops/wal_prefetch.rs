//! Prefetch for `restore_command`: while PostgreSQL replays one segment, the next ones of the
//! same timeline are fetched into `pg_wal/.walrs/prefetch/`, so the next `wal-fetch` only has
//! to rename a file.
//!
//! Safety rules:
//! - a prefetched file is written by [`wal_fetch`] (checksums, size and page header verified,
//!   a temporary name of its own, then rename), so a file under its final name is one
//!   writer's whole, checked work; its page header is checked again when it is taken;
//! - a file is only ever served under the exact name PostgreSQL asked for, which includes the
//!   timeline, so a file of another timeline is never served;
//! - the directory remembers which repository it was filled from (`.source`); if that is not
//!   the repository in use now, everything in it is dropped;
//! - files of other timelines, files at or before the one just asked for, and temporary files
//!   older than [`STALE`] are removed;
//! - one prefetcher at a time: `.lock` is held with `flock`, which the kernel releases when
//!   its owner exits, so a lock never goes stale while its owner lives, however long recovery
//!   takes, and never outlives it. The file itself stays.

use super::wal_fetch;
use crate::compress::Compression;
use crate::storage::Storage;
use crate::wal::header::check_file_start;
use crate::wal::{is_valid_segment_size, WalFileKind, WalFileName};
use crate::{Error, ErrorKind, Result};
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where prefetched segments live, relative to the directory of `%p` (`pg_wal`).
pub const PREFETCH_DIR: &str = ".walrs/prefetch";
/// Segments fetched at once by one prefetcher.
const PARALLEL: usize = 4;
/// A temporary file or fetching marker this old belongs to a writer that died.
pub const STALE: Duration = Duration::from_secs(600);

const SOURCE_FILE: &str = ".source";
const LOCK_FILE: &str = ".lock";
const WANTED_FILE: &str = ".wanted";

/// The prefetch directory for a `restore_command` destination such as `pg_wal/RECOVERYXLOG`.
pub fn prefetch_dir(dest: &Path) -> PathBuf {
    dest.parent().unwrap_or(Path::new(".")).join(PREFETCH_DIR)
}

/// The segments to prefetch after `name`: the next `count` of its timeline.
pub fn plan(name: &WalFileName, segment_size: u64, count: usize) -> Vec<WalFileName> {
    std::iter::successors(name.next_segment(segment_size), |n| n.next_segment(segment_size)).take(count).collect()
}

/// Move the prefetched copy of `name` to `dest` if there is one from `source` (the repository
/// in use); its size when taken. Also drops what is no longer useful.
pub fn take(dir: &Path, name: &WalFileName, source: &str, dest: &Path) -> Result<Option<u64>> {
    if name.kind() != WalFileKind::Segment || !dir.is_dir() {
        return Ok(None);
    }
    if std::fs::read_to_string(dir.join(SOURCE_FILE)).ok().as_deref() != Some(source) {
        clear(dir)?;
        return Ok(None);
    }
    let file = dir.join(name.as_str());
    let taken = match std::fs::metadata(&file) {
        Ok(m) if m.is_file() && is_valid_segment_size(m.len()) => {
            // The last look before a prefetched file becomes PostgreSQL's.
            if let Err(e) = check_file_start(&file, name, m.len(), None)
                .map_err(|e| e.context(format!("the prefetched copy {} was dropped", file.display())))
            {
                remove(&file)?;
                return Err(e);
            }
            std::fs::rename(&file, dest)
                .map_err(|e| Error::local_io(format!("cannot move {} to {}", file.display(), dest.display()), &e))?;
            Some(m.len())
        }
        _ => None,
    };
    tidy(dir, name, SystemTime::now())?;
    Ok(taken)
}

/// If a prefetcher is fetching `name` right now (its marker exists), or one has just
/// started (a fresh lock, no file yet), wait for it rather than fetch the same segment twice.
/// True once `name` is there to [`take`]; false when nobody is bringing it, or after `limit`.
pub fn wait_for(dir: &Path, name: &WalFileName, limit: Duration) -> bool {
    const STARTING: Duration = Duration::from_millis(25);
    let (file, tmp) = (dir.join(name.as_str()), fetching_marker(dir, name));
    let started = std::time::Instant::now();
    loop {
        if file.is_file() {
            return true;
        }
        let waited = started.elapsed();
        let coming = tmp.exists() || (waited < STARTING && Lock::is_held(dir));
        if !coming || waited >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PrefetchReport {
    /// Segments fetched now.
    pub fetched: Vec<String>,
    /// Another prefetcher holds the lock: nothing was done.
    pub busy: bool,
    /// Why prefetching stopped early, if it did (the end of the archive is not an error).
    pub stopped: Option<String>,
}

/// Fetch the `count` segments after `name` into `dir`, skipping those already there. Best
/// effort: it stops at the first segment the repository lacks or cannot give.
pub async fn wal_prefetch(
    storage: &Storage,
    name: &WalFileName,
    segment_size: u64,
    dir: &Path,
    count: usize,
    preferred: Compression,
    system_id: Option<u64>,
) -> Result<PrefetchReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::local_io(format!("cannot create {}", dir.display()), &e))?;
    let Some(_lock) = Lock::take(dir)? else {
        return Ok(PrefetchReport { busy: true, ..Default::default() });
    };
    let source = storage.location().to_string();
    if std::fs::read_to_string(dir.join(SOURCE_FILE)).ok().as_deref() != Some(source.as_str()) {
        clear(dir)?;
        std::fs::write(dir.join(SOURCE_FILE), &source)
            .map_err(|e| Error::local_io(format!("cannot write {}/{SOURCE_FILE}", dir.display()), &e))?;
    }
    let mut report = PrefetchReport::default();
    let mut from = name.clone();
    // Keep going while recovery keeps asking for later segments (each wal-fetch notes its
    // request), so one prefetcher stays ahead instead of stopping after `count`.
    loop {
        tidy(dir, &from, SystemTime::now())?;
        let wanted: Vec<WalFileName> =
            plan(&from, segment_size, count).into_iter().filter(|n| !dir.join(n.as_str()).exists()).collect();
        if let Some(stopped) = fetch_all(storage, dir, wanted, preferred, system_id, &mut report.fetched).await {
            report.stopped = Some(stopped);
            break;
        }
        match last_wanted(dir).filter(|w| w.timeline() == from.timeline() && w.as_str() > from.as_str()) {
            Some(later) => from = later,
            None => break,
        }
    }
    Ok(report)
}

/// Fetch `wanted` (several at once) into `dir`; why it stopped early, if it did.
async fn fetch_all(
    storage: &Storage,
    dir: &Path,
    wanted: Vec<WalFileName>,
    preferred: Compression,
    system_id: Option<u64>,
    fetched: &mut Vec<String>,
) -> Option<String> {
    let mut results = futures::stream::iter(wanted.into_iter().map(|n| async move {
        // The marker tells a wal-fetch asking for this segment meanwhile to wait for it.
        let marker = fetching_marker(dir, &n);
        let _ = std::fs::File::create(&marker);
        let got = wal_fetch(storage, &n, &dir.join(n.as_str()), preferred, system_id).await;
        let _ = std::fs::remove_file(&marker);
        (n, got)
    }))
    .buffered(PARALLEL);
    while let Some((n, got)) = results.next().await {
        match got {
            Ok(_) => fetched.push(n.to_string()),
            Err(e) => {
                return Some(match e.kind {
                    ErrorKind::NotFound => format!("{n} is not in the repository yet"),
                    _ => format!("{n}: {}", e.message),
                })
            }
        }
    }
    None
}

/// Note that recovery just asked for `name`, for a running prefetcher to follow.
pub fn note_wanted(dir: &Path, name: &WalFileName) {
    let tmp = dir.join(format!("{WANTED_FILE}.tmp"));
    // Best effort: without the note a new prefetcher starts once the running one is done.
    if std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&tmp, name.as_str())).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(WANTED_FILE));
    }
}

fn last_wanted(dir: &Path) -> Option<WalFileName> {
    let text = std::fs::read_to_string(dir.join(WANTED_FILE)).ok()?;
    WalFileName::parse(text.trim()).ok().filter(|n| n.kind() == WalFileKind::Segment)
}

/// The empty file that says a prefetcher is fetching `name` now.
fn fetching_marker(dir: &Path, name: &WalFileName) -> PathBuf {
    dir.join(format!("{name}.walrs-fetching"))
}

/// Remove everything in `dir` (the directory stays).
fn clear(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::local_io(format!("cannot read {}", dir.display()), &e)),
    };
    for entry in entries.flatten() {
        let n = entry.file_name();
        if n == LOCK_FILE || n == WANTED_FILE {
            continue;
        }
        remove(&entry.path())?;
    }
    Ok(())
}

/// Remove segments of other timelines, segments at or before `name`, and stale temporary files.
fn tidy(dir: &Path, name: &WalFileName, now: SystemTime) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))?;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if file == SOURCE_FILE || file == LOCK_FILE || file == WANTED_FILE {
            continue;
        }
        let useless = match WalFileName::parse(file) {
            Ok(n) => n.kind() != WalFileKind::Segment || n.timeline() != name.timeline() || n.as_str() <= name.as_str(),
            // Temporary files of a running prefetcher, unless it died long ago.
            Err(_) => is_stale(&entry.path(), now),
        };
        if useless {
            remove(&entry.path())?;
        }
    }
    Ok(())
}

fn is_stale(path: &Path, now: SystemTime) -> bool {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    now.duration_since(modified).is_ok_and(|age| age > STALE)
}

fn remove(path: &Path) -> Result<()> {
    let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::local_io(format!("cannot remove {}", path.display()), &e)),
    }
}

/// `.lock`, held with an exclusive `flock` for as long as this value lives. The file is never
/// removed: removing it would let a newcomer lock a new file while the owner still holds the
/// old one.
struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    fn take(dir: &Path) -> Result<Option<Lock>> {
        let file = Self::open(dir)?;
        // A few tries: `is_held` takes the lock for an instant to look at it.
        for _ in 0..5 {
            match file.try_lock() {
                Ok(()) => return Ok(Some(Lock(file))),
                Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(2)),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::local_io(format!("cannot lock {}/{LOCK_FILE}", dir.display()), &e))
                }
            }
        }
        Ok(None)
    }

    /// Is a prefetcher running in `dir` now?
    fn is_held(dir: &Path) -> bool {
        Self::open(dir).is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
    }

    fn open(dir: &Path) -> Result<std::fs::File> {
        let path = dir.join(LOCK_FILE);
        std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::local_io(format!("cannot open {}", path.display()), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::header::SegmentHeader;

    const SEG: u64 = 16 << 20;

    fn name(n: &str) -> WalFileName {
        WalFileName::parse(n).unwrap()
    }

    #[test]
    fn plans_the_next_segments_of_the_timeline() {
        let got: Vec<String> = plan(&name("0000000200000000000000FE"), SEG, 3).iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["0000000200000000000000FF", "000000020000000100000000", "000000020000000100000001"]);
        assert!(plan(&name("00000002.history"), SEG, 3).is_empty());
        assert!(plan(&name("000000020000000000000001"), SEG, 0).is_empty());
    }

    /// A segment whose first page says it is `n`.
    fn segment(n: &str) -> Vec<u8> {
        let mut v = vec![7u8; SEG as usize];
        let header = SegmentHeader::for_segment(&name(n), SEG, 1).to_bytes();
        v[..header.len()].copy_from_slice(&header);
        v
    }

    fn setup(source: &str, files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(SOURCE_FILE), source).unwrap();
        for f in files {
            let body =
                if f.ends_with(".history") { b"1\t0/3000000\tno recovery target\n".to_vec() } else { segment(f) };
            std::fs::write(d.path().join(f), body).unwrap();
        }
        d
    }

    fn left(d: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn takes_the_exact_name_and_drops_what_is_behind_or_on_other_timelines() {
        let d = setup(
            "file:///repo",
            &[
                "000000010000000000000004",
                "000000010000000000000005",
                "000000010000000000000006",
                "000000020000000000000006",
            ],
        );
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("RECOVERYXLOG");
        let got = take(d.path(), &name("000000010000000000000005"), "file:///repo", &dest).unwrap();
        assert_eq!(got, Some(SEG));
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), SEG);
        assert_eq!(left(d.path()), [".source", "000000010000000000000006"]);
    }

    #[test]
    fn never_serves_another_timeline_or_a_bad_size() {
        let d = setup("file:///repo", &["000000020000000000000005"]);
        std::fs::write(d.path().join("000000010000000000000006"), b"short").unwrap();
        std::fs::write(d.path().join("000000010000000000000007"), vec![0u8; SEG as usize]).unwrap();
        std::fs::write(d.path().join("000000010000000000000008"), segment("000000010000000000000009")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("RECOVERYXLOG");
        assert_eq!(take(d.path(), &name("000000010000000000000005"), "file:///repo", &dest).unwrap(), None);
        assert_eq!(take(d.path(), &name("000000010000000000000006"), "file:///repo", &dest).unwrap(), None);
        // The right size, but zeros where the header should be, or another segment's bytes:
        // refused, and removed so that nothing serves it later.
        for n in ["000000010000000000000007", "000000010000000000000008"] {
            let err = take(d.path(), &name(n), "file:///repo", &dest).unwrap_err();
            assert!(err.message.contains(n), "{}", err.message);
            assert!(!d.path().join(n).exists());
        }
        assert!(!dest.exists());
        // The other timeline's file was dropped on the first call.
        assert!(!d.path().join("000000020000000000000005").exists());
    }

    #[test]
    fn another_repository_empties_the_directory() {
        let d = setup("file:///old", &["000000010000000000000006"]);
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("RECOVERYXLOG");
        assert_eq!(take(d.path(), &name("000000010000000000000006"), "file:///new", &dest).unwrap(), None);
        assert!(left(d.path()).is_empty());
    }

    #[test]
    fn history_files_are_never_taken() {
        let d = setup("file:///repo", &["00000002.history"]);
        let dest = d.path().join("RECOVERYHISTORY");
        assert_eq!(take(d.path(), &name("00000002.history"), "file:///repo", &dest).unwrap(), None);
    }

    #[test]
    fn fresh_temporary_files_stay_stale_ones_go() {
        let d = setup("file:///repo", &[]);
        let tmp = d.path().join("000000010000000000000007.walrs-tmp");
        std::fs::write(&tmp, b"partial").unwrap();
        let n = name("000000010000000000000005");
        tidy(d.path(), &n, SystemTime::now()).unwrap();
        assert!(tmp.exists());
        tidy(d.path(), &n, SystemTime::now() + STALE + Duration::from_secs(1)).unwrap();
        assert!(!tmp.exists());
    }

    #[test]
    fn wait_for_waits_only_while_a_prefetcher_brings_the_segment() {
        let d = setup("file:///repo", &[]);
        let n = name("000000010000000000000007");
        // Nobody is fetching it: no wait.
        let t = std::time::Instant::now();
        assert!(!wait_for(d.path(), &n, Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_millis(500));
        // Being fetched: wait until it lands.
        let marker = fetching_marker(d.path(), &n);
        std::fs::write(&marker, b"").unwrap();
        let (dir, file) = (d.path().to_path_buf(), d.path().join(n.as_str()));
        let lander = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(&file, vec![0u8; 16 << 20]).unwrap();
            std::fs::remove_file(dir.join("000000010000000000000007.walrs-fetching")).unwrap();
        });
        assert!(wait_for(d.path(), &n, Duration::from_secs(5)));
        lander.join().unwrap();
        // A marker left by a prefetcher that died: give up after the limit.
        let other = name("000000010000000000000008");
        std::fs::write(fetching_marker(d.path(), &other), b"").unwrap();
        assert!(!wait_for(d.path(), &other, Duration::from_millis(50)));
    }

    #[test]
    fn one_prefetcher_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let first = Lock::take(d.path()).unwrap();
        assert!(first.is_some());
        assert!(Lock::take(d.path()).unwrap().is_none());
        drop(first);
        assert!(Lock::take(d.path()).unwrap().is_some());
    }

    #[test]
    fn a_living_prefetchers_lock_never_goes_stale() {
        let d = tempfile::tempdir().unwrap();
        let held = Lock::take(d.path()).unwrap().expect("free");
        // A long recovery: the lock is older than any staleness limit, its owner still runs.
        let old = SystemTime::now() - 2 * STALE;
        std::fs::File::options().write(true).open(d.path().join(LOCK_FILE)).unwrap().set_modified(old).unwrap();
        assert!(Lock::take(d.path()).unwrap().is_none(), "a second prefetcher took over a live lock");
        drop(held);
        assert!(Lock::take(d.path()).unwrap().is_some());
    }
}
