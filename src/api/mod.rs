//! SQL functions, one file per group.

mod backup_monitor;
mod backups;
mod delete;
mod monitor;
mod sql_values;
