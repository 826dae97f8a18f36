//! What walrs shows about its own work from SQL: records kept in shared memory and updated by
//! the process doing the work. These two modules are the only FFI here.

pub mod backup_progress;
pub mod shmem;
