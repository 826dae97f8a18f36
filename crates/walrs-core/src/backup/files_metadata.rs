//! `files_metadata.json`: WAL-G's per-file record of a backup, plus what walrs adds so a
//! restore can verify every file it writes (`Size`, `Crc32`). WAL-G ignores the extra fields.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest files_metadata.json read (it lists every file of the cluster).
pub const MAX_BYTES: usize = 512 << 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesMetadata {
    #[serde(default)]
    pub files: BTreeMap<String, FileMeta>,
    #[serde(default)]
    pub tar_file_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub databases_by_names: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileMeta {
    #[serde(default)]
    pub is_incremented: bool,
    #[serde(default)]
    pub is_skipped: bool,
    #[serde(rename = "MTime", default)]
    pub mtime: String,
    #[serde(default)]
    pub updates_count: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// CRC-32 of the bytes stored, 8 lower-case hex digits.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc32: Option<String>,
}

impl FilesMetadata {
    pub fn parse(bytes: &[u8], key: &str) -> Result<FilesMetadata> {
        if bytes.len() > MAX_BYTES {
            return Err(Error::corrupt(format!("{key} is {} bytes: too large", bytes.len())));
        }
        serde_json::from_slice(bytes).map_err(|e| Error::corrupt(format!("{key} is not valid: {e}")))
    }

    /// (size, crc32) of every file that has them, for verification on restore.
    pub fn checksums(&self) -> BTreeMap<String, (u64, u32)> {
        self.files
            .iter()
            .filter_map(|(path, m)| {
                let crc = u32::from_str_radix(m.crc32.as_deref()?, 16).ok()?;
                Some((path.trim_start_matches('/').to_string(), (m.size?, crc)))
            })
            .collect()
    }
}
