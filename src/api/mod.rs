//! SQL functions, one file per group.

mod backups;
pub mod delete;
