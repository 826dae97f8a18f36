//! What walrs reads from a data directory's `global/pg_control`.

use std::io::Read;
use std::path::Path;

/// The system identifier of the cluster in `data_dir` (the first field of `pg_control`, in the
/// server's byte order, little-endian here), or None when there is no readable control file:
/// then the caller has no identifier to check against.
pub fn system_identifier(data_dir: &Path) -> Option<u64> {
    let mut first = [0u8; 8];
    std::fs::File::open(data_dir.join("global/pg_control")).and_then(|mut f| f.read_exact(&mut first)).ok()?;
    Some(u64::from_le_bytes(first)).filter(|id| *id != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_field_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(system_identifier(d.path()), None);
        std::fs::create_dir(d.path().join("global")).unwrap();
        std::fs::write(d.path().join("global/pg_control"), [1u8, 2]).unwrap();
        assert_eq!(system_identifier(d.path()), None);
        let mut control = 7_300_000_000_000_000_001u64.to_le_bytes().to_vec();
        control.resize(8192, 0);
        std::fs::write(d.path().join("global/pg_control"), control).unwrap();
        assert_eq!(system_identifier(d.path()), Some(7_300_000_000_000_000_001));
    }
}
