//! The backup sentinel (`layout::sentinel_key`): uploaded last, its
//! presence is what makes a backup complete. Field names are WAL-G's (PascalCase).

use crate::lsn::Lsn;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Sentinel {
    #[serde(rename = "LSN")]
    pub lsn: u64,
    #[serde(rename = "FinishLSN")]
    pub finish_lsn: u64,
    pub pg_version: u32,
    pub system_identifier: Option<u64>,
    pub uncompressed_size: i64,
    pub compressed_size: i64,
    /// Tablespaces, in WAL-G's `TablespaceSpec` form; absent or empty without tablespaces.
    pub spec: Option<serde_json::Value>,
    pub user_data: Option<serde_json::Value>,
    pub files_metadata_disabled: bool,
    pub version: u32,
    pub start_time: Option<String>,
    pub finish_time: Option<String>,
    pub date_fmt: Option<String>,
    pub hostname: Option<String>,
    pub data_dir: Option<String>,
    pub is_permanent: bool,
    #[serde(rename = "DeltaFrom")]
    pub delta_from: Option<String>,
}

/// Tablespace locations recorded in a sentinel's `Spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablespaceSpec {
    pub oid: String,
    pub location: String,
}

impl Sentinel {
    /// Parse a sentinel; `key` names it in errors.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Sentinel> {
        if bytes.len() > super::MAX_SENTINEL_BYTES {
            return Err(Error::corrupt(format!("{key} is {} bytes: too large for a backup sentinel", bytes.len())));
        }
        let invalid = |why: String| Error::corrupt(format!("{key} is not a valid backup sentinel: {why}"));
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if !value.get("LSN").is_some_and(|l| l.is_u64()) {
            return Err(invalid("it has no start LSN".to_string()));
        }
        serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
    }

    pub fn start_lsn(&self) -> Lsn {
        Lsn(self.lsn)
    }

    pub fn finish_lsn(&self) -> Lsn {
        Lsn(self.finish_lsn)
    }

    /// The tablespaces the backup holds besides the data directory.
    pub fn tablespaces(&self) -> Vec<TablespaceSpec> {
        let Some(spec) = self.spec.as_ref().and_then(|s| s.as_object()) else { return vec![] };
        let oids = spec.get("tablespaces").and_then(|t| t.as_array()).cloned().unwrap_or_default();
        oids.iter()
            .filter_map(|oid| oid.as_str())
            .filter_map(|oid| {
                let loc = spec.get(oid)?.get("loc")?.as_str()?;
                let location = loc.trim_end_matches('/');
                Some(TablespaceSpec {
                    oid: oid.to_string(),
                    location: if location.is_empty() { "/".into() } else { location.into() },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"LSN":33554472,"PgVersion":150020,"FinishLSN":33554688,"SystemIdentifier":7710619789160403368,"UncompressedSize":24237568,"CompressedSize":4808906,"ChkpNum":null,"Version":2,"StartTime":"2026-11-21T13:42:49.141259849Z","FinishTime":"2026-11-21T13:42:49.307397092Z","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"vm","DataDir":"/tmp/walgfix.vBCH/data","IsPermanent":false}"#;

    #[test]
    fn reads_a_walg_sentinel() {
        let s = Sentinel::parse(FIXTURE.as_bytes(), "k").unwrap();
        assert_eq!(s.start_lsn().to_string(), "0/2000028");
        assert_eq!(s.finish_lsn().to_string(), "0/2000100");
        assert_eq!(s.pg_version, 150020);
        assert_eq!(s.system_identifier, Some(7710619789160403368));
        assert_eq!(s.version, 2);
        assert!(!s.is_permanent);
        assert!(s.tablespaces().is_empty());
    }

    #[test]
    fn reads_tablespaces_from_the_spec() {
        let json = r#"{"LSN":1,"Spec":{"base_prefix":"/data","tablespaces":["16384"],"16384":{"loc":"/ts/one/","link":"pg_tblspc/16384"}}}"#;
        let s = Sentinel::parse(json.as_bytes(), "k").unwrap();
        assert_eq!(s.tablespaces(), vec![TablespaceSpec { oid: "16384".into(), location: "/ts/one".into() }]);
    }

    #[test]
    fn malformed_or_oversized_sentinels_are_corrupt() {
        for bad in [&b"{"[..], b"[]", b"{}", b"{\"LSN\":\"x\"}", b"{\"LSN\":1,\"PgVersion\":\"x\"}", b"\xff\xfe"] {
            let key = crate::layout::sentinel_key(
                &crate::backup::BackupName::parse("base_000000010000000000000002").unwrap(),
            );
            let err = Sentinel::parse(bad, &key).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Corrupt);
            assert!(err.message.contains(&key), "{}", err.message);
        }
        let big = vec![b' '; super::super::MAX_SENTINEL_BYTES + 1];
        assert_eq!(Sentinel::parse(&big, "k").unwrap_err().kind, crate::ErrorKind::Corrupt);
    }
}
