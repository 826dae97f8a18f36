//! Extracting a backup's tar stream into a data directory, refusing anything that could write
//! outside it: `..`, links and special files. A leading `/` is dropped, as GNU tar does (WAL-G
//! names `/global/pg_control` that way): every entry lands under the target. Streams: memory
//! does not grow with the size of the archive.

use super::sync::{Submitter, EARLY_SYNC_MIN_BYTES, SYNC_EVERY_BYTES};
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

/// Where the entries of a backup's tar stream go once they passed the safety checks: files on
/// disk for a restore, nowhere for a verification. One walker serves both, so what a restore
/// refuses, a verification reports.
pub trait Sink {
    fn directory(&mut self, rel: &Path) -> Result<()>;
    /// The writer for a regular file's bytes.
    fn file(&mut self, rel: &Path, mode: u32) -> Result<Box<dyn io::Write>>;
    /// Writing a file's bytes failed (the archive is fine; the destination is not).
    fn write_error(&self, rel: &Path, err: io::Error) -> Error;
    /// A file's bytes do not match the backup's record. A restore stops; a check may go on.
    fn mismatch(&mut self, err: Error) -> Result<()> {
        Err(err)
    }
    /// A file was read whole; `checked` says whether a recorded size and CRC-32 were compared.
    fn done(&mut self, _rel: &Path, _size: u64, _checked: bool) {}
}

/// Extract the tar stream `reader` (already decompressed) under `dest`, checking every file
/// listed in `expected`. `what` names the object in errors.
pub fn extract(reader: impl Read, dest: &Path, what: &str, expected: &Expected) -> Result<Extracted> {
    walk(reader, what, expected, &mut ToDisk { dest, early: None })
}

/// As [`extract`], handing each large file to `early` to be synced while extraction goes on.
/// ([`super::sync::EarlySync`]).
pub fn extract_syncing(
    reader: impl Read,
    dest: &Path,
    what: &str,
    expected: &Expected,
    early: Submitter,
) -> Result<Extracted> {
    walk(reader, what, expected, &mut ToDisk { dest, early: Some(early) })
}

/// Read the tar stream `reader`, refusing entries that could escape the data directory,
/// checking each file's length against its header and, when `expected` records it, its size
/// and CRC-32; every entry goes to `sink`.
pub fn walk(reader: impl Read, what: &str, expected: &Expected, sink: &mut dyn Sink) -> Result<Extracted> {
    let corrupt = |e: io::Error| Error::corrupt(format!("{what} is not a valid tar archive: {e}"));
    let mut archive = tar::Archive::new(reader);
    let mut done = Extracted::default();
    let mut buf = vec![0u8; 64 << 10];
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
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            sink.directory(&rel)?;
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(Error::corrupt(format!(
                "{what} holds \"{}\" of type {kind:?}; a data directory backup holds only files and directories",
                raw.display()
            ))
            .with_hint("refusing links and special files, which could point outside the data directory"));
        }
        let expected_len = entry.header().size().map_err(corrupt)?;
        let mode = entry.header().mode().unwrap_or(0o600) & 0o640 | 0o600;
        let mut out = sink.file(&rel, mode)?;
        let mut crc = crc32fast::Hasher::new();
        let mut copied = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::corrupt(format!("{what}: reading \"{}\" failed: {e}", raw.display()))),
            };
            crc.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| sink.write_error(&rel, e))?;
            copied += n as u64;
        }
        out.flush().map_err(|e| sink.write_error(&rel, e))?;
        drop(out); // files are synced once, with everything else, when the restore is complete
        if copied != expected_len {
            return Err(Error::corrupt(format!(
                "{what}: \"{}\" is truncated ({copied} of {expected_len} bytes)",
                raw.display()
            )));
        }
        let crc = crc.finalize();
        let record = expected.get(rel.to_string_lossy().as_ref());
        if let Some(&(size, want)) = record {
            if size != copied || want != crc {
                sink.mismatch(
                    Error::corrupt(format!(
                        "{what}: \"{}\" fails verification (size {copied}, crc32 {crc:08x}; the backup recorded {size}, {want:08x})",
                        rel.display()
                    ))
                    .with_hint("the stored object is damaged; restore another backup"),
                )?;
            }
        }
        sink.done(&rel, copied, record.is_some());
        done.files += 1;
        done.bytes += copied;
    }
    Ok(done)
}

/// Files go under `dest`, created with the mode the archive gives (at most 0640, at least 0600).
struct ToDisk<'a> {
    dest: &'a Path,
    early: Option<Submitter>,
}

/// A restored file; when dropped (fully written), large ones go to the early sync.
struct Restored {
    file: Option<File>,
    path: PathBuf,
    written: u64,
    early: Option<Submitter>,
}

impl io::Write for Restored {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self.file.as_mut().expect("open until dropped");
        let n = file.write(buf)?;
        let before = self.written;
        self.written += n as u64;
        // A large file is synced while it is still being written, every SYNC_EVERY_BYTES,
        // through a second handle: the kernel would otherwise hold it all dirty until the end.
        if let Some(early) = &self.early {
            if before / SYNC_EVERY_BYTES != self.written / SYNC_EVERY_BYTES {
                if let Ok(again) = file.try_clone() {
                    early.submit(self.path.clone(), again);
                }
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open until dropped").flush()
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        if let (Some(early), Some(file)) = (&self.early, self.file.take()) {
            if self.written >= EARLY_SYNC_MIN_BYTES {
                early.submit(std::mem::take(&mut self.path), file);
            }
        }
    }
}

impl Sink for ToDisk<'_> {
    fn directory(&mut self, rel: &Path) -> Result<()> {
        create_dirs(&self.dest.join(rel))
    }

    fn file(&mut self, rel: &Path, mode: u32) -> Result<Box<dyn io::Write>> {
        let target = self.dest.join(rel);
        if let Some(parent) = target.parent() {
            create_dirs(parent)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&target)
            .map_err(|e| Error::local_io(format!("cannot create {}", target.display()), &e))?;
        Ok(Box::new(Restored { file: Some(file), path: target, written: 0, early: self.early.clone() }))
    }

    fn write_error(&self, rel: &Path, err: io::Error) -> Error {
        Error::local_io(format!("cannot write {}", self.dest.join(rel).display()), &err)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A raw header for `path` (no checks: hostile names go in as bytes).
    fn raw_header(path: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o600);
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.set_cksum();
        h
    }

    fn refused(t: &[u8], dest: &Path, entry: &str) {
        let err = extract(t, dest, "part_007.tar.zst", &Expected::new()).expect_err(entry);
        assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{entry}: {err}");
        assert!(err.message.contains("part_007.tar.zst") && err.message.contains(entry), "{}", err.message);
        assert!(err.hint.is_some(), "{entry}");
    }

    #[test]
    fn refuses_a_link_out_and_a_file_written_through_it() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("data");
        let victim = outer.path().join("victim");
        fs::create_dir_all(&victim).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut link = raw_header(b"base/evil", tar::EntryType::Symlink, 0);
        link.set_link_name(&victim).unwrap();
        link.set_cksum();
        b.append(&link, &b""[..]).unwrap();
        b.append(&raw_header(b"base/evil/owned", tar::EntryType::Regular, 1), &b"x"[..]).unwrap();
        refused(&b.into_inner().unwrap(), &dest, "base/evil");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0, "nothing may land behind the link");
        assert!(!dest.join("base/evil").exists());
    }

    #[test]
    fn refuses_devices_and_hard_links() {
        let dir = tempfile::tempdir().unwrap();
        for (entry, kind) in [
            ("base/1/char", tar::EntryType::Char),
            ("base/1/block", tar::EntryType::Block),
            ("base/1/fifo", tar::EntryType::Fifo),
            ("base/1/hard", tar::EntryType::Link),
        ] {
            let mut b = tar::Builder::new(Vec::new());
            b.append(&raw_header(entry.as_bytes(), kind, 0), &b""[..]).unwrap();
            refused(&b.into_inner().unwrap(), dir.path(), entry);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_escapes_hidden_in_long_names_and_pax_headers() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("data");
        // GNU long name: the real name travels in a ././@LongLink entry of its own.
        let long = format!("base/{}/../../../escaped", "d".repeat(120));
        let mut b = tar::Builder::new(Vec::new());
        let mut body = long.clone().into_bytes();
        body.push(0);
        b.append(&raw_header(b"././@LongLink", tar::EntryType::GNULongName, body.len() as u64), &body[..]).unwrap();
        b.append(&raw_header(b"innocent", tar::EntryType::Regular, 1), &b"x"[..]).unwrap();
        refused(&b.into_inner().unwrap(), &dest, &long);
        // PAX: a `path` record overrides the header's name.
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("path", &b"../../escaped"[..])]).unwrap();
        b.append(&raw_header(b"innocent", tar::EntryType::Regular, 1), &b"x"[..]).unwrap();
        refused(&b.into_inner().unwrap(), &dest, "../../escaped");
        assert!(!outer.path().join("escaped").exists());
    }

    #[test]
    fn a_garbage_stream_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for junk in [&b"not a tar archive at all"[..], &[0xFFu8; 1024][..], &[0u8; 10][..]] {
            match extract(junk, dir.path(), "x.tar", &Expected::new()) {
                Ok(got) => assert_eq!(got.files, 0, "only an empty archive may pass"),
                Err(e) => assert_eq!(e.kind, crate::ErrorKind::Corrupt, "{e}"),
            }
        }
    }

    #[test]
    fn absolute_names_stay_under_the_target() {
        let dir = tempfile::tempdir().unwrap();
        // WAL-G names pg_control "/global/pg_control": absolute names are confined, as GNU tar does.
        let t = tar_with(&[
            ("/global/pg_control", tar::EntryType::Regular, b"ctl"),
            ("/abs/path", tar::EntryType::Regular, b"abs"),
        ]);
        extract(&t[..], dir.path(), "pg_control.tar", &Expected::new()).unwrap();
        assert_eq!(fs::read(dir.path().join("global/pg_control")).unwrap(), b"ctl");
        assert_eq!(fs::read(dir.path().join("abs/path")).unwrap(), b"abs");
        assert!(!Path::new("/global/pg_control").exists() && !Path::new("/abs/path").exists());
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
