//! Writing files into a tar stream for a backup, the way PostgreSQL's base backup treats a
//! live data directory: the size is taken when the file is opened; a file that shrinks while
//! it is read is padded with zeros and one that grows is cut at that size (WAL replay repairs
//! both); a file that vanishes is left out. With data checksums on, relation pages are verified
//! as they pass (see [`super::checksum`]); a page that fails twice is recorded, not dropped.

use super::checksum::{first_block, page_ok, BLOCK_SIZE};
use super::walk::SourceFile;
use crate::lsn::Lsn;
use crate::monitor::backup::BackupObserver;
use crate::timefmt::rfc3339;
use crate::{Error, Result};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What was stored for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub rel: String,
    pub size: u64,
    pub crc32: u32,
    pub mtime: String,
    /// Blocks whose page checksum failed twice (relation files, with checksum verification on).
    pub corrupt_blocks: Vec<u32>,
}

/// Bytes read from a data file at a time.
const READ_BUFFER: usize = 256 << 10;

/// Append the directories and `files` of `data_dir` to `tar`. Returns a record per file stored.
/// `verify_pages` is the backup's start LSN when relation pages should be checksum-verified.
/// `observer` hears of each file's bytes as they are read, and of each file done.
pub fn append_all<W: Write>(
    tar: &mut tar::Builder<W>,
    data_dir: &Path,
    dirs: &[String],
    files: impl IntoIterator<Item = SourceFile>,
    verify_pages: Option<Lsn>,
    observer: &dyn BackupObserver,
) -> Result<Vec<FileRecord>> {
    for d in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o700);
        h.set_size(0);
        tar.append_data(&mut h, d, io::empty())
            .map_err(|e| Error::local_io(format!("cannot add {d} to the backup"), &e))?;
    }
    let mut records = Vec::new();
    for f in files {
        if let Some(r) = append_file(tar, data_dir, &f, verify_pages, observer)? {
            records.push(r);
        }
        observer.file_done();
    }
    Ok(records)
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    data_dir: &Path,
    f: &SourceFile,
    verify_pages: Option<Lsn>,
    observer: &dyn BackupObserver,
) -> Result<Option<FileRecord>> {
    let path = data_dir.join(&f.rel);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::local_io(format!("cannot open {}", path.display()), &e)),
    };
    let size = file.metadata().map_err(|e| Error::local_io(format!("cannot stat {}", path.display()), &e))?.len();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o600);
    h.set_size(size);
    h.set_mtime(f.mtime.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
    let check = match (verify_pages, first_block(&f.rel)) {
        (Some(start), Some(block)) => {
            let again =
                file.try_clone().map_err(|e| Error::local_io(format!("cannot reopen {}", path.display()), &e))?;
            Some(PageCheck { file: again, start, block, offset: 0, corrupt: vec![] })
        }
        _ => None,
    };
    // Large reads: the tar writer asks for 8 KiB at a time, one system call each without this.
    let source = io::BufReader::with_capacity(READ_BUFFER, file).take(size);
    let pages = Pages { inner: source, check, page: Box::new([0; BLOCK_SIZE]), filled: 0, served: 0 };
    let mut reader = Padded { inner: pages, left: size, crc: crc32fast::Hasher::new(), observer };
    tar.append_data(&mut h, &f.rel, &mut reader)
        .map_err(|e| Error::local_io(format!("cannot back up {}", path.display()), &e))?;
    let corrupt_blocks = reader.inner.check.map(|c| c.corrupt).unwrap_or_default();
    Ok(Some(FileRecord {
        rel: f.rel.clone(),
        size,
        crc32: reader.crc.finalize(),
        mtime: rfc3339(f.mtime, false),
        corrupt_blocks,
    }))
}

/// Verification state of one relation file.
struct PageCheck {
    /// The same file, for reading a failed page once more.
    file: File,
    start: Lsn,
    /// Block number of the next page (the file's segment number × blocks per segment, onwards).
    block: u32,
    offset: u64,
    corrupt: Vec<u32>,
}

/// A file's bytes a page at a time; with a [`PageCheck`], each whole page is verified before it
/// is passed on, and a page that fails is read again (it may have been caught mid-write) and
/// the second reading is what the backup stores.
struct Pages<R> {
    inner: R,
    check: Option<PageCheck>,
    page: Box<[u8; BLOCK_SIZE]>,
    filled: usize,
    served: usize,
}

impl<R: Read> Read for Pages<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(check) = self.check.as_mut() else { return self.inner.read(buf) };
        if self.served == self.filled {
            self.filled = 0;
            self.served = 0;
            while self.filled < BLOCK_SIZE {
                match self.inner.read(&mut self.page[self.filled..]) {
                    Ok(0) => break,
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            // A short last page (the file shrank, or is not whole pages) is not verified.
            if self.filled == BLOCK_SIZE {
                if !page_ok(&self.page, check.block, check.start) {
                    let mut again = [0u8; BLOCK_SIZE];
                    match check.file.read_exact_at(&mut again, check.offset) {
                        Ok(()) if page_ok(&again, check.block, check.start) => *self.page = again,
                        Ok(()) => check.corrupt.push(check.block),
                        // Truncated meanwhile (VACUUM): WAL replay truncates it again.
                        Err(_) => {}
                    }
                }
                check.block = check.block.wrapping_add(1);
                check.offset += BLOCK_SIZE as u64;
            }
        }
        let n = buf.len().min(self.filled - self.served);
        buf[..n].copy_from_slice(&self.page[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

/// Exactly `left` bytes: the file's, then zeros if it came up short. Hashes what it yields,
/// and tells the observer how much.
struct Padded<'a, R> {
    inner: R,
    left: u64,
    crc: crc32fast::Hasher,
    observer: &'a dyn BackupObserver,
}

impl<R: Read> Read for Padded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let mut n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            buf[..want].fill(0);
            n = want;
        }
        self.crc.update(&buf[..n]);
        self.observer.read(n as u64);
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_shrank_is_padded_and_one_that_vanished_is_left_out() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("short"), b"abc").unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH;
        let files = [
            SourceFile { rel: "short".into(), size: 3, mtime: t },
            SourceFile { rel: "gone".into(), size: 10, mtime: t },
        ];
        let mut tar = tar::Builder::new(Vec::new());
        let counters = crate::monitor::backup::ProgressCounters::default();
        let records = append_all(&mut tar, d.path(), &["base".to_string()], files.clone(), None, &counters).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].crc32, crc32fast::hash(b"abc"));
        // The vanished file is done too: files_done reaches files_total.
        let c = counters.counts();
        assert_eq!((c.bytes_done, c.files_done), (3, 2));
        // Padding: a reader asked for more than the file holds yields zeros, and counts them.
        let mut p = Padded { inner: &b"ab"[..], left: 4, crc: crc32fast::Hasher::new(), observer: &counters };
        let mut out = Vec::new();
        p.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab\0\0");
        assert_eq!(counters.counts().bytes_done, 7);
    }
}
