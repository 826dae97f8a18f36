//! One file per verb. Each resolves its configuration, calls the core, and reports.

mod wal_fetch;
mod wal_push;

use crate::cli::{Cli, Command};
use std::future::Future;
use walrs_core::Error;

pub fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Command::WalFetch { name, dest } => wal_fetch::run(&cli.global, name, dest),
        Command::WalPush { path, compression } => {
            wal_push::run(&cli.global, path, compression.as_deref())
        }
    }
}

fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::local_io("cannot start the I/O runtime", &e))?;
    Ok(rt.block_on(fut))
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("walrs: warning: {w}");
    }
}
