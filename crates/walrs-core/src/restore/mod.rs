//! Putting a base backup back on disk: safe tar extraction, recovery settings, ownership.

pub mod owner;
pub mod recovery;
pub mod sync;
pub mod untar;
