//! Where the tests find the repositories other WAL-G-format tools wrote (`walg-format/`, one
//! folder per compression and for delta chains): `$WALRS_FIXTURES`, else `shared/` beside the
//! repository's checkout, as CI lays it out.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The `walg-format` fixtures folder. Panics with what to set when there is none: a test that
/// needs the fixtures must fail, never pass without them.
pub fn walg_format() -> PathBuf {
    if let Some(p) = std::env::var_os("WALRS_FIXTURES") {
        let p = PathBuf::from(p);
        assert!(p.is_dir(), "WALRS_FIXTURES={} is not a directory", p.display());
        return p;
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/walg-format");
    for p in [beside, PathBuf::from("/work/shared/fixtures/walg-format")] {
        if p.is_dir() {
            return p;
        }
    }
    panic!("WAL-G fixtures not found: set WALRS_FIXTURES to the walg-format folder");
}
