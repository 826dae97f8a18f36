use super::with_repo;
use crate::cli::Global;
use std::path::Path;
use walrs_core::ops::wal_fetch;
use walrs_core::wal::WalFileName;
use walrs_core::Error;

pub fn run(global: &Global, name: &str, dest: &Path) -> Result<(), Error> {
    let name = WalFileName::parse(name)?;
    if dest.as_os_str().is_empty() {
        return Err(Error::invalid_input("the destination path is empty")
            .with_hint("restore_command = 'walrs wal-fetch %f %p'"));
    }
    let out = with_repo(global, None, |storage, compression| {
        let name = name.clone();
        async move { wal_fetch(&storage, &name, dest, compression).await }
    })?;
    if global.verbose {
        eprintln!("walrs: fetched {name} from {} ({} bytes) to {}", out.key, out.bytes, dest.display());
    }
    Ok(())
}
