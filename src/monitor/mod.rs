//! What walrs shows about its own work from SQL: records kept in shared memory and updated by
//! the process doing the work.

pub mod backup_progress;
