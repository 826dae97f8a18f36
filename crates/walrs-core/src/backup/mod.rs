//! Base backups as stored in a repository: names, the sentinel (the commit marker), and
//! metadata, in WAL-G's format.

pub(crate) mod catalog;
pub mod checksum;
pub mod files_metadata;
pub mod placement;
mod sentinel;
pub mod tarball;
pub mod walk;
pub mod work_queue;

pub use catalog::{find_backup, list_backups, BackupInfo};
pub use sentinel::{Sentinel, TablespaceSpec};

use crate::wal::SegmentPos;
use crate::{Error, Result};

/// Largest sentinel walrs reads: they are a few hundred bytes; more means something is wrong.
pub const MAX_SENTINEL_BYTES: usize = 1 << 20;

/// A validated backup name: `base_<24 hex>` or, for a delta backup, `base_<24 hex>_D_<24 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupName(String);

fn is_upper_hex24(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

impl BackupName {
    pub fn parse(name: &str) -> Result<BackupName> {
        let valid = match name.strip_prefix("base_") {
            Some(rest) => match rest.split_once("_D_") {
                None => is_upper_hex24(rest),
                Some((a, b)) => is_upper_hex24(a) && is_upper_hex24(b),
            },
            None => false,
        };
        if !valid {
            return Err(Error::invalid_input(format!("{} is not a backup name", crate::error::quoted(name)))
                .with_hint("backup names look like base_000000010000000000000002; `walrs backup-list` shows them"));
        }
        Ok(BackupName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_delta(&self) -> bool {
        self.0.contains("_D_")
    }

    /// The segment the backup started in: the segment name after `base_`.
    pub fn start_segment(&self) -> SegmentPos {
        SegmentPos::parse(&self.0[5..29]).expect("validated name")
    }
}

impl std::fmt::Display for BackupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names() {
        let n = BackupName::parse("base_000000010000000000000002").unwrap();
        assert_eq!(n.as_str(), "base_000000010000000000000002");
        assert!(!n.is_delta());
        assert!(BackupName::parse("base_000000010000000000000004_D_000000010000000000000002").unwrap().is_delta());
        for bad in [
            "",
            "LATEST",
            "base_",
            "base_00000001000000000000002",
            "base_00000001000000000000000a",
            "base_000000010000000000000002/../x",
            "../base_000000010000000000000002",
            "base_000000010000000000000002_D_",
        ] {
            assert!(BackupName::parse(bad).is_err(), "{bad}");
        }
    }
}
