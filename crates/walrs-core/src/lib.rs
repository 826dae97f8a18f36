//! walrs-core: everything walrs knows, with no PostgreSQL bindings.
//!
//! The extension and the `walrs` command are thin adapters over this crate: they turn
//! settings and arguments into the types here, run an operation from [`ops`], and map the
//! result (or [`Error`]) to PostgreSQL log levels, SQLSTATEs or exit codes.
#![forbid(unsafe_code)]

pub mod backup;
pub mod body;
pub mod compress;
pub mod config;
pub mod crypto;
pub mod env;
pub mod envdir;
pub mod error;
pub mod layout;
pub mod lookahead;
pub mod lsn;
pub mod monitor;
pub mod ops;
pub mod pgconf;
pub mod pgcontrol;
pub mod redact;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod snapshot;
pub mod storage;
pub mod timefmt;
pub mod timeline;
pub mod wal;

/// The date library of the core's types, for adapters to use the same one.
pub use chrono;
pub use error::{Error, ErrorKind, Result};
