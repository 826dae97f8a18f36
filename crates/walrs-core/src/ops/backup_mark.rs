//! `backup-mark`: make a backup permanent (retention never deletes it) or not.
//!
//! The sentinel and metadata.json are edited as JSON, so fields walrs does not model (WAL-G
//! writes more) survive. The sentinel changes last: it is what retention reads.

use crate::backup::{find_backup, BackupName};
use crate::storage::Storage;
use crate::{Error, Result};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq)]
pub struct MarkOutcome {
    pub name: BackupName,
    /// False when the backup already was as asked.
    pub changed: bool,
}

pub async fn backup_mark(storage: &Storage, which: &str, permanent: bool) -> Result<MarkOutcome> {
    if which.eq_ignore_ascii_case("LATEST") {
        return Err(Error::invalid_input("backup-mark needs a backup name, not LATEST")
            .with_hint("`walrs backup-list` shows the names"));
    }
    let backup = find_backup(storage, which).await?;
    if backup.sentinel.is_permanent == permanent {
        return Ok(MarkOutcome { name: backup.name, changed: false });
    }
    if !permanent {
        // A delta keeps its base alive; WAL-G refuses to unmark a base a permanent delta needs.
        let (all, _) = crate::backup::list_backups(storage).await?;
        if let Some(delta) = all
            .iter()
            .find(|b| b.sentinel.is_permanent && b.sentinel.delta_from.as_deref() == Some(backup.name.as_str()))
        {
            return Err(Error::new(
                crate::ErrorKind::Conflict,
                format!("the permanent delta backup {} is based on {}", delta.name, backup.name),
            )
            .with_hint("make the delta impermanent first"));
        }
    }
    let metadata_key = crate::layout::metadata_key(&backup.name);
    if let Some(bytes) = storage.get_at_most(&metadata_key, crate::backup::MAX_SENTINEL_BYTES).await? {
        storage.put(&metadata_key, set_flag(&bytes, "is_permanent", permanent, &metadata_key)?).await?;
    }
    let sentinel_key = crate::layout::sentinel_key(&backup.name);
    let bytes = storage.get_at_most(&sentinel_key, crate::backup::MAX_SENTINEL_BYTES).await?.ok_or_else(|| {
        Error::not_found(format!("the sentinel of {} disappeared while it was being marked", backup.name))
    })?;
    storage.put(&sentinel_key, set_flag(&bytes, "IsPermanent", permanent, &sentinel_key)?).await?;
    Ok(MarkOutcome { name: backup.name, changed: true })
}

fn set_flag(json: &[u8], field: &str, value: bool, key: &str) -> Result<Bytes> {
    if json.len() > crate::backup::MAX_SENTINEL_BYTES {
        return Err(Error::corrupt(format!("{key} is {} bytes: too large for backup metadata", json.len())));
    }
    let mut doc: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Error::corrupt(format!("{key} is not valid JSON: {e}")))?;
    let object = doc.as_object_mut().ok_or_else(|| Error::corrupt(format!("{key} is not a JSON object")))?;
    object.insert(field.to_string(), serde_json::Value::Bool(value));
    Ok(Bytes::from(serde_json::to_vec(&doc).expect("a JSON value serializes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_set_and_other_fields_kept() {
        let out = set_flag(br#"{"LSN":1,"DeltaLSN":7,"IsPermanent":false}"#, "IsPermanent", true, "k").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["IsPermanent"], true);
        assert_eq!(v["DeltaLSN"], 7);
        assert!(set_flag(b"[1]", "IsPermanent", true, "k").is_err());
        for bad in [&b"{"[..], b"", b"null", b"\"x\"", b"\xff"] {
            let err = set_flag(bad, "is_permanent", true, "base_x/metadata.json").unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Corrupt);
            assert!(err.message.contains("base_x/metadata.json"), "{}", err.message);
        }
        let big = vec![b' '; crate::backup::MAX_SENTINEL_BYTES + 1];
        assert_eq!(set_flag(&big, "is_permanent", true, "k").unwrap_err().kind, crate::ErrorKind::Corrupt);
    }
}
