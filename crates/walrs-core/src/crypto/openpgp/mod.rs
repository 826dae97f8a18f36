//! OpenPGP encryption of object bodies, as WAL-G's `WALG_PGP_KEY` does, readable by gpg(1).
//!
//! An object is a binary (not armored) OpenPGP message: one public-key encrypted session key
//! packet per recipient key, then a symmetrically encrypted and integrity protected data
//! packet (SEIPD version 1, RFC 4880 §5.13) holding one literal data packet with the
//! compressed body. No signature, and no OpenPGP compression: the body is already compressed.
//!
//! - [`OpenPgpKeys`] is the configured key ring ([`OpenPgpKeys::from_env`]): its public keys
//!   to write, its secret keys (unlocked on first use, once) to read.
//! - [`OpenPgpKeys::encryptor`] wraps a sink: a streaming writer of the message, with a
//!   `finish` that writes what the cipher still holds (write.rs).
//! - [`OpenPgpKeys::decryptor`] wraps a source: a streaming reader of the literal data of any
//!   message encrypted to one of the secret keys, compressed by the writer or not, as gpg
//!   writes by default (read.rs).
//!
//! Both directions stream: memory holds one 64 KiB chunk per packet layer, never the object.
//! rpgp (the `pgp` crate) parses keys, builds the session-key packets and reads messages; its
//! message writer pulls its input from a reader, which a stage that is written to cannot
//! offer, so the writer here frames the packets itself.

mod keys;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use keys::{OpenPgpKeys, KEY_PATH_VAR, KEY_VAR, LEGACY_KEY_ID_VARS, PASSPHRASE_VAR};
pub use write::Encryptor;
