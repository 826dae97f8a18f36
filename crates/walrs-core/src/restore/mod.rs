//! Putting a base backup back on disk: safe tar extraction, recovery settings, ownership.

pub mod early_sync;
pub mod owner;
pub mod recovery;
pub mod untar;
