//! Making a restored tree durable. [`sync_tree`] is the final pass: it syncs every file and
//! directory, so a restore that reported success survives a crash, and correctness depends on
//! it alone. [`EarlySync`] syncs large files while the restore goes on; it only moves most of
//! the disk writing off the end of the restore, where it would otherwise be waited for after
//! all the decompression is done.

use crate::{Error, ErrorKind, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Files at least this large are synced as soon as they are written.
pub const EARLY_SYNC_MIN_BYTES: u64 = 1 << 20;
/// A file being written is also synced every time this much more of it is written.
pub const SYNC_EVERY_BYTES: u64 = 64 << 20;
/// Written files waiting for a sync thread; a full queue makes the writer wait (bounding the
/// open files and the dirty data ahead of the disk).
const QUEUE: usize = 16;

pub struct EarlySync {
    queue: Option<SyncSender<(PathBuf, File)>>,
    threads: Vec<JoinHandle<()>>,
    first_error: Arc<Mutex<Option<Error>>>,
}

impl EarlySync {
    pub fn start(threads: usize) -> EarlySync {
        let (queue, rx) = sync_channel::<(PathBuf, File)>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let first_error = Arc::new(Mutex::new(None));
        let threads = (0..threads.max(1))
            .map(|_| {
                let (rx, first_error) = (rx.clone(), first_error.clone());
                std::thread::spawn(move || sync_until_closed(&rx, &first_error))
            })
            .collect();
        EarlySync { queue: Some(queue), threads, first_error }
    }

    /// A handle that hands written files over; drop every one before [`EarlySync::finish`].
    pub fn submitter(&self) -> Submitter {
        Submitter(self.queue.clone())
    }

    /// Wait until every submitted file is synced; the first failure, if any.
    pub fn finish(mut self) -> Result<()> {
        self.queue.take();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                return Err(Error::new(ErrorKind::LocalIo, "a sync thread panicked"));
            }
        }
        match locked(&self.first_error).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[derive(Clone)]
pub struct Submitter(Option<SyncSender<(PathBuf, File)>>);

impl Submitter {
    /// Hand a fully written file over to be synced.
    pub fn submit(&self, path: PathBuf, file: File) {
        if let Some(q) = &self.0 {
            // A send fails only once every thread is gone; the final pass syncs the file then.
            let _ = q.send((path, file));
        }
    }
}

fn sync_until_closed(rx: &Mutex<Receiver<(PathBuf, File)>>, first_error: &Mutex<Option<Error>>) {
    loop {
        let next = locked(rx).recv();
        let Ok((path, file)) = next else { return };
        if let Err(e) = file.sync_all() {
            locked(first_error).get_or_insert_with(|| Error::local_io(format!("cannot sync {}", path.display()), &e));
        }
    }
}

/// A poisoned lock only means another sync thread panicked; what it guards is still usable.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// fsync every file and directory under `root` (and `root` itself), so a restore that
/// reported success survives a crash. Files are synced by several threads at once (fsync
/// mostly waits for the disk, so this overlaps the waits), directories after their files.
pub fn sync_tree(root: &Path) -> Result<()> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))? {
            let entry = entry.map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))?;
            let kind = entry
                .file_type()
                .map_err(|e| Error::local_io(format!("cannot stat {}", entry.path().display()), &e))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
        dirs.push(dir);
    }
    sync_all(&files)?;
    sync_all(&dirs)
}

/// Threads that sync at once.
const SYNC_THREADS: usize = 8;

fn sync_all(paths: &[PathBuf]) -> Result<()> {
    let sync = |p: &Path| {
        File::open(p)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::local_io(format!("cannot sync {}", p.display()), &e))
    };
    if paths.len() < 2 * SYNC_THREADS {
        return paths.iter().try_for_each(|p| sync(p));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SYNC_THREADS)
            .map(|_| {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = paths.get(i) else { return Ok(()) };
                    sync(p)?;
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| Err(Error::new(ErrorKind::LocalIo, "a sync thread panicked")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_what_it_is_given_and_reports_the_first_failure() {
        let d = tempfile::tempdir().unwrap();
        let early = EarlySync::start(3);
        let submit = early.submitter();
        for i in 0..40 {
            let p = d.path().join(format!("f{i}"));
            std::fs::write(&p, vec![7u8; 4096]).unwrap();
            submit.submit(p.clone(), File::open(&p).unwrap());
        }
        drop(submit);
        early.finish().unwrap();

        // fsync of a pipe fails (EINVAL).
        let early = EarlySync::start(2);
        let (reader, _writer) = std::io::pipe().unwrap();
        let pipe: File = std::os::fd::OwnedFd::from(reader).into();
        early.submitter().submit(PathBuf::from("a-pipe"), pipe);
        let err = early.finish().unwrap_err();
        assert!(err.message.contains("cannot sync a-pipe"), "{}", err.message);
    }

    #[test]
    fn sync_tree_syncs_many_files_in_parallel_and_reports_failures() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..50 {
            let dir = d.path().join(format!("base/{}", i % 5));
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(format!("f{i}")), b"x").unwrap();
        }
        sync_tree(d.path()).unwrap();
        assert!(sync_tree(&d.path().join("missing")).is_err());
        let gone: Vec<PathBuf> = (0..40).map(|i| d.path().join(format!("gone{i}"))).collect();
        assert!(sync_all(&gone).unwrap_err().message.contains("cannot sync"));
    }
}
