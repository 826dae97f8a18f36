//! How a base backup's files are shared among the partitions written at once. Every writer
//! takes the next file from one queue (largest first) until its partition holds the target
//! size, then starts another partition. Partitions so fill at the pace of their writers: no
//! writer ends up alone at the end with an oversized share while the other cores idle (a
//! static split cannot know that, say, random data compresses three times faster than
//! pgbench rows).

use super::walk::{SourceFile, PG_CONTROL};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct WorkQueue {
    files: Mutex<VecDeque<SourceFile>>,
    target: u64,
}

impl WorkQueue {
    /// Every file but pg_control (which goes last, on its own), largest first; partitions of
    /// about `target` uncompressed bytes (a larger file makes a partition of its own).
    pub fn new(files: &[SourceFile], target: u64) -> Arc<WorkQueue> {
        let mut sorted: Vec<SourceFile> = files.iter().filter(|f| f.rel != PG_CONTROL).cloned().collect();
        sorted.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
        Arc::new(WorkQueue { files: Mutex::new(sorted.into()), target: target.max(1) })
    }

    /// The files of a new partition, drawn as the writer asks for them; None when no file is left.
    pub fn next_partition(self: &Arc<Self>) -> Option<PartitionFiles> {
        let first = self.locked().pop_front()?;
        Some(PartitionFiles { queue: self.clone(), first: Some(first), taken: 0 })
    }

    fn locked(&self) -> MutexGuard<'_, VecDeque<SourceFile>> {
        // A writer that panicked leaves the queue as it was: still usable.
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One partition's files: the first one it was started with, then more from the queue until
/// the partition is full or the queue is empty.
pub struct PartitionFiles {
    queue: Arc<WorkQueue>,
    first: Option<SourceFile>,
    taken: u64,
}

impl Iterator for PartitionFiles {
    type Item = SourceFile;

    fn next(&mut self) -> Option<SourceFile> {
        let next = match self.first.take() {
            Some(f) => f,
            None if self.taken >= self.queue.target => return None,
            None => self.queue.locked().pop_front()?,
        };
        self.taken += next.size;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn file(rel: &str, size: u64) -> SourceFile {
        SourceFile { rel: rel.into(), size, mtime: SystemTime::UNIX_EPOCH }
    }

    fn names(p: PartitionFiles) -> Vec<String> {
        p.map(|f| f.rel).collect()
    }

    #[test]
    fn largest_first_partitions_near_the_target_pg_control_apart() {
        let files = [
            file("a", 60),
            file("b", 60),
            file("c", 10),
            file("global/pg_control", 8192),
            file("huge", 500),
            file("z", 1),
        ];
        let q = WorkQueue::new(&files, 100);
        assert_eq!(names(q.next_partition().unwrap()), ["huge"]);
        assert_eq!(names(q.next_partition().unwrap()), ["a", "b"]);
        assert_eq!(names(q.next_partition().unwrap()), ["c", "z"]);
        assert!(q.next_partition().is_none());
        assert!(WorkQueue::new(&[file("global/pg_control", 1)], 100).next_partition().is_none());
    }

    #[test]
    fn writers_drawing_at_once_take_every_file_exactly_once() {
        let files: Vec<SourceFile> = (0..2000).map(|i| file(&format!("base/5/{i}"), (i * 7919) % 10_000 + 1)).collect();
        let q = WorkQueue::new(&files, 50_000);
        let taken: Vec<Vec<(String, u64)>> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = vec![];
                        while let Some(p) = q.next_partition() {
                            let part: Vec<SourceFile> = p.collect();
                            let bytes: u64 = part.iter().map(|f| f.size).sum();
                            // Full, unless the queue ran dry; never more than one file past the target.
                            assert!(bytes < 50_000 + 10_000, "{bytes}");
                            mine.extend(part.into_iter().map(|f| (f.rel, f.size)));
                        }
                        mine
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut all: Vec<String> = taken.into_iter().flatten().map(|(rel, _)| rel).collect();
        all.sort();
        let mut want: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
        want.sort();
        assert_eq!(all, want);
    }
}
