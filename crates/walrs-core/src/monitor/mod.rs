//! What the extension keeps in shared memory about its own work, as plain data: fixed-size,
//! `Copy`, no pointers, so one copy can live in a shared-memory segment every process maps.
//! The extension only takes a lock and copies these in or out; every rule is here, with `now`
//! passed in so tests are exact.

pub mod archiver;
pub mod backup;
pub mod backup_status;
pub mod fixed_text;
pub mod rate;

pub use archiver::{ArchiverStats, ArchiverView, Failure, SegmentResult};
pub use fixed_text::FixedText;
pub use rate::LastMinute;
