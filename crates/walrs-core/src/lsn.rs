//! Log sequence numbers and the WAL segment that holds them.

use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A position in the WAL, as PostgreSQL's `pg_lsn` (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

/// WAL segment size of a default `initdb`.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

impl Lsn {
    /// The name of the segment on `timeline` that contains this LSN.
    pub fn segment_name(self, timeline: u32, segment_size: u64) -> String {
        let segno = self.0 / segment_size;
        let per_log = 0x1_0000_0000 / segment_size;
        format!("{timeline:08X}{:08X}{:08X}", segno / per_log, segno % per_log)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = Error;

    fn from_str(s: &str) -> Result<Lsn> {
        let bad = || {
            Error::invalid_input(format!("\"{}\" is not an LSN", s.escape_debug()))
                .with_hint("write it as PostgreSQL does, e.g. 0/3000028")
        };
        let (hi, lo) = s.trim().split_once('/').ok_or_else(bad)?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn(((hi as u64) << 32) | lo as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_postgres() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        for bad in ["", "16", "x/1", "1/2/3", "100000000/0", "-1/0"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn segment_names() {
        // The fixture's backup starts at 33554472 = 0/2000028, in segment 2 of timeline 1.
        assert_eq!(Lsn(33554472).segment_name(1, DEFAULT_SEGMENT_SIZE), "000000010000000000000002");
        assert_eq!(Lsn(0x1_0000_0000).segment_name(1, DEFAULT_SEGMENT_SIZE), "000000010000000100000000");
        assert_eq!(Lsn(0x1_FF00_0000).segment_name(2, DEFAULT_SEGMENT_SIZE), "0000000200000001000000FF");
        assert_eq!(Lsn(0x30_0000).segment_name(1, 1 << 20), "000000010000000000000003");
    }
}
