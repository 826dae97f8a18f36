//! Encryption of object bodies, as WAL-G encrypts them: the keys a repository is opened with,
//! and the ciphers the seal stage ([`crate::body::Seal`]) runs, after compression on the way
//! out and before decompression on the way in.
//!
//! The keys are a property of the repository handle: [`crate::storage::Storage::open`] calls
//! [`seal_from_env`] once, so an unusable key fails the open (the archiver then refuses to
//! archive and PostgreSQL keeps the WAL), and every operation builds its stages with the seal
//! the handle holds. Keys come only from the environment (the process's, overlaid by
//! `walrs.env_dir`), never from settings, and every key variable is in
//! [`crate::env::SECRET_VARS`], so its value is redacted from every message.
//!
//! Methods, each in a module of its own, one per repository:
//! - libsodium ([`libsodium`]): `WALG_LIBSODIUM_KEY` / `WALG_LIBSODIUM_KEY_PATH`, and
//!   `WALRS_LIBSODIUM_KEY_PREVIOUS` for reading objects written under older keys;
//! - OpenPGP ([`openpgp`]): `WALG_PGP_KEY` / `WALG_PGP_KEY_PATH`, `WALG_PGP_KEY_PASSPHRASE`.
//!
//! [`which_key`] tells which of the configured keys an object needs, from its first bytes.

pub mod keys;
pub mod libsodium;
pub mod openpgp;
pub mod which_key;

use crate::body::Seal;
use crate::env::Env;
use crate::{Error, Result};
use std::sync::Arc;

/// The seal the environment's keys ask for: [`Seal::None`] when no key is set. Keys of both
/// methods at once are refused: which one would a reader of the repository need?
pub fn seal_from_env(env: &Env) -> Result<Seal> {
    let sodium = libsodium::Keys::from_env(env)?;
    let pgp = openpgp::OpenPgpKeys::from_env(env)?;
    match (sodium, pgp) {
        (Some(_), Some(_)) => {
            Err(Error::config("both a libsodium key (WALG_LIBSODIUM_KEY*) and an OpenPGP key (WALG_PGP_KEY*) are set")
                .with_hint("a repository has one encryption method: unset the variables of the other"))
        }
        (Some(keys), None) => Ok(Seal::Libsodium(Arc::new(keys))),
        (None, Some(keys)) => Ok(Seal::OpenPgp(Arc::new(keys))),
        (None, None) => Ok(Seal::None),
    }
}

/// The variables that name an encryption key of any method, for hints.
pub const KEY_HINT: &str = "set WALG_LIBSODIUM_KEY (or WALG_LIBSODIUM_KEY_PATH, with WALG_LIBSODIUM_KEY_TRANSFORM), \
     or WALG_PGP_KEY (or WALG_PGP_KEY_PATH, with WALG_PGP_KEY_PASSPHRASE), in the environment or walrs.env_dir \
     to the repository's key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_no_seal_and_two_methods_are_refused() {
        assert!(matches!(seal_from_env(&Env::default()), Ok(Seal::None)));
        let key = "0123456789abcdef0123456789abcdef";
        let sodium = seal_from_env(&Env::from_pairs(&[("WALG_LIBSODIUM_KEY", key)])).unwrap();
        assert!(matches!(sodium, Seal::Libsodium(_)));
        let ring = include_str!("openpgp/testdata/unit-test-ring.asc");
        let pgp = seal_from_env(&Env::from_pairs(&[("WALG_PGP_KEY", ring)])).unwrap();
        assert!(matches!(pgp, Seal::OpenPgp(_)));
        let both = seal_from_env(&Env::from_pairs(&[("WALG_PGP_KEY", ring), ("WALG_LIBSODIUM_KEY", key)]));
        let err = both.unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Config);
        assert!(err.message.contains("both") && !err.message.contains(key), "{}", err.message);
        // A key ring that does not parse is refused, never taken for "no key".
        let bad = seal_from_env(&Env::from_pairs(&[("WALG_PGP_KEY", "-----BEGIN PGP-----")])).unwrap_err();
        assert_eq!(bad.kind, crate::ErrorKind::Config);
        assert!(!bad.message.contains("BEGIN PGP"), "{}", bad.message);
    }
}
