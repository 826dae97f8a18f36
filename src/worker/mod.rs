//! Background workers: the one-off backup worker that `walrs_backup_push()` starts.

pub mod backup;
pub mod result;
