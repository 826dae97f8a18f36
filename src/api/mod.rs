//! SQL functions, one file per group.

mod backups;
mod delete;
mod monitor;
