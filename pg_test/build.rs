//! Tells the scenarios which PostgreSQL major they run against, as a cfg (`pg15` … `pg18`), so a
//! scenario that does not run on a version is an ignored test with its reason in the runner's
//! output (`… ignored, runs on PostgreSQL 15 and 18 only: …`), not a pass.
//! The version is that of `$WALRS_PG_BINDIR/pg_config` (default PostgreSQL 15's), as at run time.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg15, pg16, pg17, pg18)");
    println!("cargo::rerun-if-env-changed=WALRS_PG_BINDIR");
    let bindir =
        std::env::var_os("WALRS_PG_BINDIR").map(PathBuf::from).unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
    let pg_config = bindir.join("pg_config");
    println!("cargo::rerun-if-changed={}", pg_config.display());
    let out = Command::new(&pg_config).arg("--version").output();
    let version = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!("cannot run {} --version: set WALRS_PG_BINDIR to a server's bin directory", pg_config.display()),
    };
    let major = version.split_whitespace().nth(1).and_then(|v| v.split('.').next()).unwrap_or("");
    match major {
        "15" | "16" | "17" | "18" => println!("cargo::rustc-cfg=pg{major}"),
        _ => panic!("{} reports {version:?}: walrs supports PostgreSQL 15 to 18", pg_config.display()),
    }
}
