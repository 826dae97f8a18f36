//! How far a long operation has got, as numbers: the operations report it object by object and
//! the adapters decide how to show it (a bar on a terminal, a log line, nothing).

use crate::backup::BackupInfo;
use crate::snapshot::BackupObjects;
use serde::Serialize;

/// Where a backup fetch, a backup verification or a delete has got to. Totals are what the
/// backup recorded (files_metadata.json, else the sentinel): `None` when it recorded nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The backup being read, when the operation reads one.
    pub backup: Option<String>,
    /// The object just finished; `None` in the first report, before any object.
    pub object: Option<ObjectDone>,
    pub objects_done: u64,
    pub objects_total: u64,
    pub files_done: u64,
    pub files_total: Option<u64>,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

/// One object finished: its key, what it held, and what was wrong with it (backup
/// verification goes on past a damaged object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectDone {
    pub key: String,
    pub files: u64,
    pub bytes: u64,
    pub problem: Option<String>,
}

/// What the operations call with each report.
pub type OnProgress<'a> = &'a (dyn Fn(&Progress) + Sync);

impl Progress {
    /// The first report of reading `backup`: nothing done, the totals it recorded.
    pub fn of_backup(backup: &BackupInfo, objects: &BackupObjects) -> Progress {
        let listed = objects.listed.as_ref().map(|l| l.files.values().filter(|m| !m.is_skipped).collect::<Vec<_>>());
        let listed_bytes = listed.as_ref().and_then(|files| files.iter().map(|m| m.size).sum::<Option<u64>>());
        let recorded_bytes = u64::try_from(backup.sentinel.uncompressed_size).ok().filter(|&b| b > 0);
        Progress {
            backup: Some(backup.name.to_string()),
            objects_total: objects.in_restore_order().count() as u64,
            files_total: listed.as_ref().map(|files| files.len() as u64),
            bytes_total: listed_bytes.or(recorded_bytes),
            ..Progress::default()
        }
    }

    /// The first report of an operation on `objects_total` objects with no byte or file totals.
    pub fn of_objects(objects_total: u64) -> Progress {
        Progress { objects_total, ..Progress::default() }
    }

    /// Count one more object finished.
    pub fn finished(&mut self, key: &str, files: u64, bytes: u64, problem: Option<String>) {
        self.objects_done += 1;
        self.files_done += files;
        self.bytes_done += bytes;
        self.object = Some(ObjectDone { key: key.to_string(), files, bytes, problem });
    }

    /// The line a log shows for the object just finished.
    pub fn line(&self) -> Option<String> {
        let o = self.object.as_ref()?;
        if self.backup.is_none() {
            return Some(o.key.clone());
        }
        Some(format!(
            "{}: {} files, {} bytes{}",
            o.key,
            o.files,
            o.bytes,
            if o.problem.is_some() { ", FAILED" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_add_up_and_log_lines_name_the_object() {
        let mut p = Progress { backup: Some("base_1".into()), objects_total: 2, ..Progress::default() };
        assert_eq!(p.line(), None);
        p.finished("a.tar.lz4", 3, 100, None);
        p.finished("b.tar.lz4", 1, 20, Some("bad".into()));
        assert_eq!((p.objects_done, p.files_done, p.bytes_done), (2, 4, 120));
        assert_eq!(p.line().unwrap(), "b.tar.lz4: 1 files, 20 bytes, FAILED");
        let mut d = Progress::of_objects(1);
        d.finished("wal_005/x", 0, 0, None);
        assert_eq!(d.line().unwrap(), "wal_005/x");
    }
}
