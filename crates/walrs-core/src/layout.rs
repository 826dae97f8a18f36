//! Where things live in a repository: WAL-G's layout (`wal_005/`, `basebackups_005/`).

use crate::compress::Compression;
use crate::wal::WalFileName;

/// Folder of archived WAL, timeline history and backup history files.
pub const WAL_DIR: &str = "wal_005";

/// Folder of walrs's own checksums of archived WAL files stored in a format without one
/// (uncompressed, brotli). WAL-G never looks here: the objects in `wal_005/` stay exactly
/// WAL-G's, and WAL-G reads them as ever.
pub const WAL_CHECKSUM_DIR: &str = "walrs_wal_checksums";

/// The key of the checksum of WAL file `name`: `walrs_wal_checksums/<name>.json`.
pub fn wal_checksum_key(name: &WalFileName) -> String {
    format!("{WAL_CHECKSUM_DIR}/{name}.json")
}

/// The key of an archived WAL file: `wal_005/<name>.<ext>` (no suffix when uncompressed).
pub fn wal_key(name: &WalFileName, compression: Compression) -> String {
    with_extension(&format!("{WAL_DIR}/{name}"), compression)
}

fn with_extension(base: &str, compression: Compression) -> String {
    match compression.extension() {
        "" => base.to_string(),
        ext => format!("{base}.{ext}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_keys_match_walg() {
        let seg = WalFileName::parse("000000010000000000000003").unwrap();
        assert_eq!(wal_key(&seg, Compression::Lz4), "wal_005/000000010000000000000003.lz4");
        assert_eq!(wal_key(&seg, Compression::Zstd), "wal_005/000000010000000000000003.zst");
        assert_eq!(wal_key(&seg, Compression::Brotli), "wal_005/000000010000000000000003.br");
        assert_eq!(wal_key(&seg, Compression::None), "wal_005/000000010000000000000003");
        let hist = WalFileName::parse("00000002.history").unwrap();
        assert_eq!(wal_key(&hist, Compression::Lz4), "wal_005/00000002.history.lz4");
        let backup = WalFileName::parse("000000010000000000000002.00000028.backup").unwrap();
        assert_eq!(wal_key(&backup, Compression::Zstd), "wal_005/000000010000000000000002.00000028.backup.zst");
        let partial = WalFileName::parse("000000010000000000000005.partial").unwrap();
        assert_eq!(wal_key(&partial, Compression::None), "wal_005/000000010000000000000005.partial");
    }
}
