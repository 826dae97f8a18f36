use super::{block_on, print_warnings};
use crate::cli::Global;
use crate::config;
use std::path::Path;
use walrs_core::ops::wal_fetch;
use walrs_core::storage::Storage;
use walrs_core::wal::WalFileName;
use walrs_core::Error;

pub fn run(global: &Global, name: &str, dest: &Path) -> Result<(), Error> {
    let name = WalFileName::parse(name)?;
    let cfg = config::resolve(global, None)?;
    print_warnings(&cfg.warnings);
    let out = block_on(async {
        let storage = Storage::open(&cfg.repo.location, &cfg.repo.env)?;
        wal_fetch(&storage, &name, dest, cfg.repo.compression).await
    })??;
    if global.verbose {
        eprintln!(
            "walrs: fetched {name} from {} ({} bytes) to {}",
            out.key,
            out.bytes,
            dest.display()
        );
    }
    Ok(())
}
