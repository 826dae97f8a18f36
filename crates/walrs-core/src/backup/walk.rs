//! What a base backup copies from a data directory: everything PostgreSQL's own base backup
//! copies, with the same exclusions (basebackup.c), and `global/pg_control` set apart to be
//! stored last.

use crate::{Error, Result};
use std::fs;
use std::path::Path;
use std::time::SystemTime;

/// Directories whose contents are not copied (the directory itself is, empty).
const EMPTY_DIRS: &[&str] =
    &["pg_wal", "pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans"];
/// Files never copied, wherever they are (pg_internal.init) or at the top (the rest).
const SKIP_TOP_FILES: &[&str] = &[
    "postmaster.pid",
    "postmaster.opts",
    "backup_label",
    "backup_label.old",
    "tablespace_map",
    "backup_manifest",
    "backup_manifest.tmp",
    "current_logfiles",
    "postgresql.auto.conf.tmp",
];
pub const PG_CONTROL: &str = "global/pg_control";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the data directory, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub mtime: SystemTime,
}

#[derive(Debug, Default)]
pub struct Inventory {
    pub dirs: Vec<String>,
    pub files: Vec<SourceFile>,
    /// Tablespaces found in pg_tblspc: (OID, location).
    pub tablespaces: Vec<(String, String)>,
    /// Things skipped that the user may want to know about (never secrets).
    pub notes: Vec<String>,
}

/// Walk `data_dir`. Files that vanish while we walk are left out, as PostgreSQL does.
pub fn inventory(data_dir: &Path) -> Result<Inventory> {
    let mut inv = Inventory::default();
    walk(data_dir, "", &mut inv)?;
    // Tablespaces: their files go into the backup under pg_tblspc/<oid>/, read through the link.
    let oids: Vec<String> = inv.tablespaces.iter().map(|(oid, _)| oid.clone()).collect();
    for oid in oids {
        let rel = format!("pg_tblspc/{oid}");
        inv.dirs.push(rel.clone());
        walk(data_dir, &rel, &mut inv)?;
    }
    inv.dirs.sort();
    inv.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    if !inv.files.iter().any(|f| f.rel == PG_CONTROL) {
        return Err(Error::invalid_input(format!("{} has no {PG_CONTROL}: not a data directory", data_dir.display())));
    }
    Ok(inv)
}

fn walk(root: &Path, rel_dir: &str, inv: &mut Inventory) -> Result<()> {
    let dir = root.join(rel_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rel_dir.is_empty() => return Ok(()),
        Err(e) => return Err(Error::local_io(format!("cannot read {}", dir.display()), &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
        if name.starts_with("pgsql_tmp")
            || name == "pg_internal.init"
            || (rel_dir.is_empty() && SKIP_TOP_FILES.contains(&name.as_str()))
        {
            continue;
        }
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::local_io(format!("cannot stat {}", entry.path().display()), &e)),
        };
        if rel_dir == "pg_tblspc" {
            if meta.file_type().is_symlink() {
                let target = fs::read_link(entry.path())
                    .map_err(|e| Error::local_io(format!("cannot read the link {}", entry.path().display()), &e))?;
                inv.tablespaces.push((name, target.to_string_lossy().trim_end_matches('/').to_string()));
            } else {
                inv.notes.push(format!("skipped {rel}: not a tablespace link"));
            }
            continue;
        }
        let is_dir = meta.is_dir() || (meta.file_type().is_symlink() && rel == "pg_wal");
        if is_dir {
            inv.dirs.push(rel.clone());
            if rel_dir.is_empty() && EMPTY_DIRS.contains(&name.as_str()) {
                if name == "pg_wal" {
                    inv.dirs.push("pg_wal/archive_status".to_string());
                }
                continue;
            }
            walk(root, &rel, inv)?;
        } else if meta.is_file() {
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            inv.files.push(SourceFile { rel, size: meta.len(), mtime });
        } else {
            inv.notes.push(format!("skipped {rel}: not a regular file or directory"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str, len: usize) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, vec![1u8; len]).unwrap();
    }

    #[test]
    fn copies_what_postgres_copies() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for (rel, len) in [
            ("PG_VERSION", 3),
            ("global/pg_control", 8192),
            ("global/1262", 8192),
            ("global/pg_internal.init", 100),
            ("base/1/1259", 16384),
            ("base/pgsql_tmp/pgsql_tmp123.0", 10),
            ("postmaster.pid", 10),
            ("postmaster.opts", 10),
            ("postgresql.auto.conf", 10),
            ("pg_wal/000000010000000000000001", 100),
            ("pg_wal/archive_status/000000010000000000000001.done", 0),
            ("pg_stat_tmp/global.stat", 10),
            ("pg_replslot/s/state", 10),
            ("pg_subtrans/0000", 10),
            ("pg_xact/0000", 8192),
        ] {
            touch(r, rel, len);
        }
        fs::create_dir_all(r.join("pg_tblspc")).unwrap();
        std::os::unix::fs::symlink("/somewhere", r.join("pg_tblspc/16384")).unwrap();
        // A dangling link (the test has no /somewhere): the walk reads nothing through it.
        let inv = inventory(r).unwrap();
        let files: Vec<&str> = inv.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            files,
            ["PG_VERSION", "base/1/1259", "global/1262", "global/pg_control", "pg_xact/0000", "postgresql.auto.conf"]
        );
        for d in [
            "pg_wal",
            "pg_wal/archive_status",
            "pg_stat_tmp",
            "pg_replslot",
            "pg_subtrans",
            "base",
            "base/1",
            "pg_tblspc",
        ] {
            assert!(inv.dirs.contains(&d.to_string()), "{d} missing from {:?}", inv.dirs);
        }
        assert!(!inv.dirs.iter().any(|d| d.contains("pgsql_tmp") || d == "pg_replslot/s"));
        assert_eq!(inv.tablespaces, [("16384".to_string(), "/somewhere".to_string())]);
    }

    #[test]
    fn refuses_a_directory_without_pg_control() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "PG_VERSION", 3);
        assert_eq!(inventory(d.path()).unwrap_err().kind, crate::ErrorKind::InvalidInput);
    }
}
