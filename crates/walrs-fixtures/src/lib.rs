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

/// Copy the fixture repository `name` (`lz4`, `zstd`, `delta-lz4`, …) to `to`, a directory
/// made for it, so a test may write into its copy. Panics, naming the path, on any failure.
pub fn copy_repository(name: &str, to: &Path) {
    let from = walg_format().join(name);
    assert!(from.is_dir(), "no fixture repository {}", from.display());
    copy_tree(&from, to);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| fail("create", to, e));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| fail("list", from, e)) {
        let entry = entry.unwrap_or_else(|e| fail("list", from, e));
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap_or_else(|e| fail("stat", &source, e)).is_dir() {
            copy_tree(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap_or_else(|e| fail("copy", &source, e));
        }
    }
}

fn fail(what: &str, path: &Path, e: std::io::Error) -> ! {
    panic!("cannot {what} {}: {e}", path.display())
}
