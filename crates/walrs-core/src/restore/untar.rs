//! Extracting a backup's tar stream into a data directory, refusing anything that could write
//! outside it: `..`, links and special files. A leading `/` is dropped, as GNU tar does (WAL-G
//! names `/global/pg_control` that way): every entry lands under the target. Streams: memory
//! does not grow with the size of the archive.

use crate::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

/// Size and CRC-32 that files must have, by path relative to the data directory.
pub type Expected = std::collections::BTreeMap<String, (u64, u32)>;

/// Extract the tar stream `reader` (already decompressed) under `dest`, checking every file
/// listed in `expected`. `what` names the object in errors.
pub fn extract(reader: impl Read, dest: &Path, what: &str, expected: &Expected) -> Result<Extracted> {
    let corrupt = |e: io::Error| Error::corrupt(format!("{what} is not a valid tar archive: {e}"));
    let mut archive = tar::Archive::new(reader);
    let mut done = Extracted::default();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let rel = safe_relative(&raw).ok_or_else(|| {
            Error::corrupt(format!(
                "{what} holds the entry \"{}\", which points outside the data directory",
                raw.display()
            ))
            .with_hint("the object was not written by walrs or WAL-G, or was tampered with: refusing it")
        })?;
        let target = dest.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            create_dirs(&target)?;
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(Error::corrupt(format!(
                "{what} holds \"{}\" of type {kind:?}; a data directory backup holds only files and directories",
                raw.display()
            ))
            .with_hint("refusing links and special files, which could point outside the data directory"));
        }
        if let Some(parent) = target.parent() {
            create_dirs(parent)?;
        }
        let expected_len = entry.header().size().map_err(corrupt)?;
        let mode = entry.header().mode().unwrap_or(0o600) & 0o640 | 0o600;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&target)
            .map_err(|e| Error::local_io(format!("cannot create {}", target.display()), &e))?;
        let mut hashing = Hashing { inner: &mut file, crc: crc32fast::Hasher::new() };
        let copied = io::copy(&mut entry, &mut hashing).map_err(|e| match e.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::PermissionDenied => {
                Error::local_io(format!("cannot write {}", target.display()), &e)
            }
            _ => Error::corrupt(format!("{what}: reading \"{}\" failed: {e}", raw.display())),
        })?;
        if copied != expected_len {
            return Err(Error::corrupt(format!(
                "{what}: \"{}\" is truncated ({copied} of {expected_len} bytes)",
                raw.display()
            )));
        }
        let crc = hashing.crc.finalize();
        if let Some(&(size, want)) = expected.get(rel.to_string_lossy().as_ref()) {
            if size != copied || want != crc {
                return Err(Error::corrupt(format!(
                    "{what}: \"{}\" fails verification (size {copied}, crc32 {crc:08x}; the backup recorded {size}, {want:08x})",
                    rel.display()
                ))
                .with_hint("the stored object is damaged; restore another backup"));
            }
        }
        drop(file); // synced once, with everything else, when the restore is complete
        done.files += 1;
        done.bytes += copied;
    }
    Ok(done)
}

/// A writer that computes the CRC-32 of what passes through.
struct Hashing<'a, W> {
    inner: &'a mut W,
    crc: crc32fast::Hasher,
}

impl<W: io::Write> io::Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `path` as a plain path relative to the target (a leading `/` or `./` dropped), or None if
/// it climbs out with `..`.
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn create_dirs(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::local_io(format!("cannot create {}", dir.display()), &e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::local_io(format!("cannot set the mode of {}", dir.display()), &e))
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
            w.join().unwrap_or_else(|_| Err(Error::new(crate::ErrorKind::LocalIo, "a sync thread panicked")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn tar_with(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            // set_path refuses "..": write the name bytes directly, as a hostile tool would.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc").unwrap();
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn extracts_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_with(&[
            ("base/", tar::EntryType::Directory, b""),
            ("base/1/1259", tar::EntryType::Regular, b"relation"),
            ("./PG_VERSION", tar::EntryType::Regular, b"15\n"),
        ]);
        let got = extract(&t[..], dir.path(), "part_001.tar", &Expected::new()).unwrap();
        assert_eq!(got, Extracted { files: 2, bytes: 11 });
        assert_eq!(fs::read(dir.path().join("base/1/1259")).unwrap(), b"relation");
        assert_eq!(fs::read_to_string(dir.path().join("PG_VERSION")).unwrap(), "15\n");
        let mode = fs::metadata(dir.path().join("base/1")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn refuses_entries_that_escape_or_link() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("data");
        fs::create_dir(&dest).unwrap();
        let cases: [(&str, tar::EntryType); 5] = [
            ("../escaped", tar::EntryType::Regular),
            ("base/../../escaped", tar::EntryType::Regular),
            ("/../escaped", tar::EntryType::Regular),
            ("pg_tblspc/16384", tar::EntryType::Symlink),
            ("base/1/hard", tar::EntryType::Link),
        ];
        for (path, kind) in cases {
            let t = tar_with(&[(path, kind, b"x")]);
            let err = extract(&t[..], &dest, "part_009.tar.lz4", &Expected::new()).expect_err(path);
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{path}");
            assert!(err.message.contains("part_009.tar.lz4"), "{}", err.message);
        }
        assert!(!outer.path().join("escaped").exists());
        assert_eq!(fs::read_dir(&dest).unwrap().count(), 0, "nothing may be written for refused entries");
        let fifo = tar_with(&[("base/fifo", tar::EntryType::Fifo, b"")]);
        assert!(extract(&fifo[..], &dest, "x", &Expected::new()).is_err());
    }

    #[test]
    fn absolute_names_stay_under_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_with(&[("/global/pg_control", tar::EntryType::Regular, b"ctl")]);
        extract(&t[..], dir.path(), "pg_control.tar", &Expected::new()).unwrap();
        assert_eq!(fs::read(dir.path().join("global/pg_control")).unwrap(), b"ctl");
        assert!(!Path::new("/global/pg_control").exists());
    }

    #[test]
    fn a_file_that_does_not_match_its_record_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_with(&[("base/1/1259", tar::EntryType::Regular, b"relation")]);
        let good: Expected = [("base/1/1259".to_string(), (8, crc32fast::hash(b"relation")))].into();
        extract(&t[..], dir.path(), "p", &good).unwrap();
        let bad: Expected = [("base/1/1259".to_string(), (8, crc32fast::hash(b"relatioN")))].into();
        let err = extract(&t[..], &dir.path().join("again"), "part_001.tar.zst", &bad).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Corrupt);
        assert!(err.message.contains("base/1/1259") && err.message.contains("part_001.tar.zst"), "{}", err.message);
    }

    #[test]
    fn a_truncated_archive_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_with(&[("big", tar::EntryType::Regular, &[7u8; 5000])]);
        let err = extract(&t[..1200], dir.path(), "x.tar", &Expected::new()).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{err}");
    }
}
