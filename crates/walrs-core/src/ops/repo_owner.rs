//! Whose database system a repository holds, so that a server never archives into another
//! cluster's repository. Two clusters name their WAL files alike (both begin on timeline 1 at
//! the same segments): mixed under one prefix, their WAL restores as neither. The newest backup
//! whose sentinel records a system identifier says whose the repository is; with none, the
//! first page of a stored WAL segment does.

use super::with_decoded;
use crate::backup::Sentinel;
use crate::layout::{parse_sentinel_key, parse_wal_key, BACKUP_DIR, WAL_DIR};
use crate::storage::Storage;
use crate::wal::header::{SegmentHeader, LONG_HEADER_LEN};
use crate::wal::WalFileKind;
use crate::{Error, ErrorKind, Result};
use std::io::Read;

/// What tells whose a repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A backup's sentinel records the system identifier.
    Backup { name: String, system_id: u64 },
    /// No sentinel does; a stored WAL segment's first page has it.
    Wal { key: String, system_id: u64 },
    /// Nothing looked at says: an empty repository, or one without either.
    Unknown,
}

/// Newest sentinels read for an identifier (WAL-G's older ones have none), and WAL objects
/// looked at for a segment when no sentinel has one.
const SENTINELS_READ: usize = 3;
const WAL_SAMPLE: usize = 100;

/// Whose the repository is. Sentinels that cannot be read as one are passed over: a damaged
/// backup is for `backup-verify` to report, not a reason to stop archiving.
pub async fn repository_owner(storage: &Storage) -> Result<Owner> {
    let mut sentinels: Vec<_> =
        storage.list_top(BACKUP_DIR).await?.into_iter().filter(|o| parse_sentinel_key(&o.key).is_some()).collect();
    // Newest first: a repository reused after re-creating a cluster is the new one's.
    sentinels.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.key.cmp(&a.key)));
    for object in sentinels.iter().take(SENTINELS_READ) {
        let Some(bytes) = storage.get(&object.key).await? else { continue };
        let Ok(sentinel) = Sentinel::parse(&bytes, &object.key) else { continue };
        if let (Some(system_id), Some(name)) = (sentinel.system_identifier, parse_sentinel_key(&object.key)) {
            return Ok(Owner::Backup { name: name.to_string(), system_id });
        }
    }
    for object in storage.list_some(WAL_DIR, WAL_SAMPLE).await? {
        let Some((name, compression)) = parse_wal_key(&object.key) else { continue };
        if !matches!(name.kind(), WalFileKind::Segment | WalFileKind::Partial) {
            continue;
        }
        let first_page = with_decoded(storage, storage.read_stages(compression, &object.key), |body| {
            let mut first = [0u8; LONG_HEADER_LEN];
            Ok(body.read_exact(&mut first).ok().and_then(|()| SegmentHeader::parse(&first)))
        })
        .await;
        // Unreadable (another key, damaged, removed meanwhile): try the next one.
        if let Ok(Some(Some(header))) = first_page {
            return Ok(Owner::Wal { key: object.key, system_id: header.system_id });
        }
    }
    Ok(Owner::Unknown)
}

/// Refuse a repository that holds another database system than `ours`, naming both.
pub fn check_owner(owner: &Owner, ours: u64, repository: &str) -> Result<()> {
    let (theirs, evidence) = match owner {
        Owner::Backup { name, system_id } => (*system_id, format!("its backup {name}")),
        Owner::Wal { key, system_id } => (*system_id, format!("its WAL file {key}")),
        Owner::Unknown => return Ok(()),
    };
    if theirs == ours {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Conflict,
        format!(
            "the repository {repository} belongs to database system {theirs} ({evidence}), \
             but this server is database system {ours}: refusing to archive into it"
        ),
    )
    .with_hint(
        "two clusters must never share a repository: set walrs.storage to a prefix of this cluster's own. \
         A cluster made anew (initdb, pg_upgrade) is another database system and needs a new prefix too",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_another_known_system_is_refused() {
        let backup = Owner::Backup { name: "base_000000010000000000000002".into(), system_id: 7 };
        let wal = Owner::Wal { key: "wal_005/000000010000000000000001.lz4".into(), system_id: 7 };
        for owner in [&backup, &wal, &Owner::Unknown] {
            check_owner(owner, 7, "file:///r").unwrap();
        }
        check_owner(&Owner::Unknown, 8, "file:///r").unwrap();
        for (owner, evidence) in
            [(&backup, "its backup base_000000010000000000000002"), (&wal, "its WAL file wal_005/")]
        {
            let e = check_owner(owner, 8, "s3://b/p").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Conflict);
            assert!(e.message.contains("s3://b/p belongs to database system 7"), "{}", e.message);
            assert!(
                e.message.contains(evidence) && e.message.contains("this server is database system 8"),
                "{}",
                e.message
            );
            assert!(e.hint.as_deref().unwrap_or("").contains("walrs.storage"));
        }
    }
}
