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
    /// Pages whose checksum failed when the backup read them (WAL-G's field and shape).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub corrupt_blocks: Option<CorruptBlocks>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// CRC-32 of the bytes stored, 8 lower-case hex digits.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc32: Option<String>,
}

/// WAL-G's `CorruptBlocksInfo`: how many pages failed, and their block numbers (walrs lists up to
/// [`MAX_LISTED_CORRUPT_BLOCKS`]; WAL-G lists 10 unless asked for all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CorruptBlocks {
    #[serde(default)]
    pub corrupt_blocks_count: u64,
    #[serde(default)]
    pub some_corrupt_blocks: Vec<u32>,
}

/// Block numbers listed per file; the count is always exact.
pub const MAX_LISTED_CORRUPT_BLOCKS: usize = 1000;

impl CorruptBlocks {
    /// The record of `blocks` (in any order), or None when there are none.
    pub fn of(blocks: &[u32]) -> Option<CorruptBlocks> {
        if blocks.is_empty() {
            return None;
        }
        let mut sorted = blocks.to_vec();
        sorted.sort_unstable();
        let count = sorted.len() as u64;
        sorted.truncate(MAX_LISTED_CORRUPT_BLOCKS);
        Some(CorruptBlocks { corrupt_blocks_count: count, some_corrupt_blocks: sorted })
    }
}

impl FilesMetadata {
    pub fn parse(bytes: &[u8], key: &str) -> Result<FilesMetadata> {
        if bytes.len() > MAX_BYTES {
            return Err(Error::corrupt(format!("{key} is {} bytes: too large", bytes.len())));
        }
        // serde would read a struct from a JSON array too; the file is always an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::corrupt(format!("{key} is not valid: it is not a JSON object")));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_walrs_and_walg_records() {
        let walg = br#"{"Files":{"base/1/1259":{"IsIncremented":false,"IsSkipped":false,"MTime":"2026-11-21T13:42:48Z","UpdatesCount":0,"CorruptBlocks":{"CorruptBlocksCount":2,"SomeCorruptBlocks":[3,9]}}},"TarFileSets":{"part_001.tar":["base/1/1259"]}}"#;
        let m = FilesMetadata::parse(walg, "k").unwrap();
        assert!(m.checksums().is_empty(), "WAL-G records no checksums");
        let blocks = m.files["base/1/1259"].corrupt_blocks.clone().unwrap();
        assert_eq!((blocks.corrupt_blocks_count, blocks.some_corrupt_blocks), (2, vec![3, 9]));
        assert_eq!(m.tar_file_sets["part_001.tar"], vec!["base/1/1259".to_string()]);
        let walrs = br#"{"Files":{"/global/1262":{"MTime":"x","Size":8192,"Crc32":"0000002a"}}}"#;
        assert_eq!(FilesMetadata::parse(walrs, "k").unwrap().checksums()["global/1262"], (8192, 42));
    }

    #[test]
    fn corrupt_blocks_are_written_as_walg_writes_them() {
        let meta = FileMeta { corrupt_blocks: CorruptBlocks::of(&[9, 3]), ..Default::default() };
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(json["CorruptBlocks"], serde_json::json!({"CorruptBlocksCount": 2, "SomeCorruptBlocks": [3, 9]}));
        assert!(serde_json::to_value(FileMeta::default()).unwrap().get("CorruptBlocks").is_none());
        let many: Vec<u32> = (0..5000).rev().collect();
        let c = CorruptBlocks::of(&many).unwrap();
        assert_eq!((c.corrupt_blocks_count, c.some_corrupt_blocks.len()), (5000, MAX_LISTED_CORRUPT_BLOCKS));
        assert_eq!(c.some_corrupt_blocks[0], 0);
    }

    #[test]
    fn malformed_or_oversized_lists_are_corrupt() {
        let key = &crate::layout::files_metadata_key(
            &crate::backup::BackupName::parse("base_000000010000000000000002").unwrap(),
        );
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            br#"{"Files":[]}"#,
            br#"{"Files":{"a":{"Size":-1}}}"#,
            br#"{"Files":{"a":{"Size":1e400}}}"#,
            br#"{"TarFileSets":{"part_001.tar":"not a list"}}"#,
            b"\xff\xfe",
        ] {
            let err = FilesMetadata::parse(bad, key).expect_err(&String::from_utf8_lossy(bad));
            assert_eq!(err.kind, crate::ErrorKind::Corrupt);
            assert!(err.message.contains(key), "{}", err.message);
        }
        let big = vec![b' '; MAX_BYTES + 1];
        assert_eq!(FilesMetadata::parse(&big, key).unwrap_err().kind, crate::ErrorKind::Corrupt);
        // A bad CRC text is no checksum, not a crash.
        let odd = br#"{"Files":{"a":{"Size":1,"Crc32":"zz"}}}"#;
        assert!(FilesMetadata::parse(odd, key).unwrap().checksums().is_empty());
    }
}
