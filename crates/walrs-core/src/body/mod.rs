//! Object bodies: the one pipeline the bytes of every stored object pass through, as stages
//! composed in a fixed order (as pgBackRest composes its I/O filters).
//!
//! Writing (WAL push, tar partitions, `pg_control.tar`, `backup_label.tar`):
//!
//! ```text
//! plain bytes → count (size, CRC-32) → compress → seal → sink (a buffer, or an upload)
//! ```
//!
//! Reading (WAL fetch and prefetch, restore, verification, the duplicate-push comparison):
//!
//! ```text
//! source (a file, or a download) → unseal → decompress → count (size, CRC-32) → consumer
//! ```
//!
//! [`WriteStages`] and [`ReadStages`] build these chains; every operation goes through them, so
//! a stage added here reaches every object. The counts are of the plain bytes, the ones
//! PostgreSQL wrote, whatever the stored form; the CRC-32 is computed only when asked for
//! ([`WriteStages::checksummed`], [`ReadStages::checksummed`]), since a tar partition has a
//! checksum per file and would pay for one of the whole stream for nothing.
//!
//! Encryption goes in the seal stage ([`Seal`]), after compression on the way out and before
//! decompression on the way in (encrypted bytes do not compress): [`Seal::None`] passes bytes
//! through (WAL-G's unencrypted format), [`Seal::Libsodium`] is WAL-G's libsodium encryption
//! and [`Seal::OpenPgp`] an OpenPGP message as WAL-G's `WALG_PGP_KEY` writes ([`crate::crypto`]).
//! The repository handle holds the seal its keys ask for, and operations build their stages
//! from it ([`crate::storage::Storage::read_stages`], [`crate::storage::Storage::write_stages`]),
//! so every object of a repository gets the same one.
//!
//! Everything is streamed: memory holds the codec's buffers, not the object, unless the sink
//! is a buffer (a WAL segment is compressed straight from its file into its stored copy).

mod read;
mod seal;
mod write;

#[cfg(test)]
mod tests;

pub use read::{BodyReader, ReadStages};
pub use seal::{Seal, SealError, Sealed};
pub use write::{BodyWriter, WriteStages};

/// What the count stage saw of the plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub size: u64,
    /// The CRC-32 of the bytes, when the stages were built checksummed.
    pub crc32: Option<u32>,
}

/// The count stage: size always, CRC-32 when asked for.
struct Tally {
    size: u64,
    crc: Option<crc32fast::Hasher>,
}

impl Tally {
    fn new(checksum: bool) -> Self {
        Tally { size: 0, crc: checksum.then(crc32fast::Hasher::new) }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
    }

    fn counted(&self) -> Counted {
        Counted { size: self.size, crc32: self.crc.clone().map(crc32fast::Hasher::finalize) }
    }
}
