//! What walrs shows about its own work from SQL: counters kept in shared memory
//! ([`shmem`], the only FFI here) and updated by the process doing the work.

pub mod shmem;
