//! The checksum walrs stores beside a WAL object whose format carries none. lz4 and zstd
//! objects hold a content checksum in their frames; an uncompressed object or a brotli stream
//! does not, so a wrong object that still decodes (bit rot in an uncompressed object, another
//! segment's bytes under this name) would be restored as it is. For those, archiving stores
//! the CRC-32 and size of the segment at [`wal_checksum_key`], and fetching checks them.
//! Objects without one (written by WAL-G, or before walrs stored them) are restored unchecked,
//! as WAL-G restores them.

use crate::body::Counted;
use crate::compress::Compression;
use crate::layout::wal_checksum_key;
use crate::storage::Storage;
use crate::wal::WalFileName;
use crate::{Error, Result};
use bytes::Bytes;

/// What is recorded: `{"crc32":"0a1b2c3d","size":16777216}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    #[serde(with = "hex8")]
    pub crc32: u32,
    pub size: u64,
}

impl Recorded {
    /// What checksummed body stages ([`crate::body`]) counted of a segment's plain bytes.
    pub fn of(counted: Counted) -> Recorded {
        Recorded { crc32: counted.crc32.expect("the body stages were built checksummed"), size: counted.size }
    }
}

/// Does an object in `method` need walrs's checksum beside it?
pub fn needed(method: Compression) -> bool {
    matches!(method, Compression::None | Compression::Brotli)
}

pub async fn store(storage: &Storage, name: &WalFileName, recorded: Recorded) -> Result<()> {
    let body = serde_json::to_vec(&recorded).expect("two plain fields");
    storage.put(&wal_checksum_key(name), Bytes::from(body)).await
}

pub async fn load(storage: &Storage, name: &WalFileName) -> Result<Option<Recorded>> {
    let key = wal_checksum_key(name);
    let Some(body) = storage.get_at_most(&key, 4096).await? else { return Ok(None) };
    serde_json::from_slice(&body).map(Some).map_err(|e| Error::corrupt(format!("{key} is not a WAL checksum: {e}")))
}

/// Compare what was fetched with what was recorded at archiving.
pub fn check(key: &str, recorded: Recorded, got: Recorded) -> Result<()> {
    if recorded == got {
        return Ok(());
    }
    Err(Error::corrupt(format!(
        "{key} does not match the checksum recorded when it was archived (CRC-32 {:08x} of {} bytes recorded, {:08x} of {} bytes read)",
        recorded.crc32, recorded.size, got.crc32, got.size
    ))
    .with_hint("the object was damaged or replaced in storage; do not use it"))
}

mod hex8 {
    pub fn serialize<S: serde::Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:08x}"))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        u32::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_round_trips_as_json() {
        let r = Recorded { crc32: 0x0a1b_2c3d, size: 16 << 20 };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"crc32":"0a1b2c3d","size":16777216}"#);
        assert_eq!(serde_json::from_str::<Recorded>(&text).unwrap(), r);
        assert!(check("k", r, r).is_ok());
        let err = check("k", r, Recorded { crc32: 1, size: r.size }).unwrap_err();
        assert!(err.message.contains("0a1b2c3d") && err.message.contains("00000001"), "{}", err.message);
    }
}
