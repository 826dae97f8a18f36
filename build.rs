//! Keeps pgrx's schema section in the extension's shared library.
//!
//! `cargo pgrx` reads the SQL schema from a `.pgrxsc` section that the linker's
//! `--gc-sections` may drop. cargo-pgrx's own remedy passes `-Wl,--no-gc-sections` as a
//! target-wide rustflag, which changes every crate's build flags: the `walrs` command then
//! compiled `walrs-core` and every dependency a second time. Given here as a link argument of
//! the cdylib alone, it changes no other crate, so the extension and the command share one build
//! (the Makefile sets `CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND`). Test binaries are not
//! cdylibs and keep `--gc-sections`, which they need to drop unreferenced PostgreSQL symbols.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let unix = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"));
    if unix && target_os != "macos" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--no-gc-sections");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
