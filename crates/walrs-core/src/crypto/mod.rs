//! Encryption of object bodies, as WAL-G encrypts them: the keys a repository is opened with,
//! and the ciphers the seal stage ([`crate::body::Seal`]) runs.
//!
//! The keys are a property of the repository handle: [`crate::storage::Storage::open`] calls
//! [`seal_from_env`] once, so an unusable key fails the open (the archiver then refuses to
//! archive and PostgreSQL keeps the WAL), and every operation builds its stages with the seal
//! the handle holds. Keys come only from the environment (the process's, overlaid by
//! `walrs.env_dir`), never from settings, and every key variable is in
//! [`crate::env::SECRET_VARS`], so its value is redacted from every message.
//!
//! Methods, each in a file of its own, one chosen per repository:
//! - libsodium ([`libsodium`]): `WALG_LIBSODIUM_KEY` / `WALG_LIBSODIUM_KEY_PATH`.
//! - OpenPGP: `WALG_PGP_KEY*`, not supported yet; set, it is refused rather than ignored,
//!   so walrs never writes plain objects to a repository meant to be encrypted.

pub mod keys;
pub mod libsodium;

use crate::body::Seal;
use crate::env::Env;
use crate::{Error, Result};
use std::sync::Arc;

/// OpenPGP's key variables (WAL-G's), refused while walrs cannot use them.
const PGP_VARS: &[&str] = &["WALG_PGP_KEY", "WALG_PGP_KEY_PATH", "WALG_PGP_KEY_PASSPHRASE"];

/// The seal the environment's keys ask for: [`Seal::None`] when no key is set.
pub fn seal_from_env(env: &Env) -> Result<Seal> {
    let sodium = libsodium::Keys::from_env(env)?;
    if let Some(var) = PGP_VARS.iter().find(|v| env.get(v).is_some()) {
        return Err(Error::config(format!("{var} is set, but walrs does not support OpenPGP encryption yet"))
            .with_hint(match sodium {
                Some(_) => "unset the WALG_PGP_KEY* variables: a repository has one encryption method",
                None => "unset the WALG_PGP_KEY* variables; walrs encrypts with libsodium (WALG_LIBSODIUM_KEY)",
            }));
    }
    Ok(match sodium {
        Some(keys) => Seal::Libsodium(Arc::new(keys)),
        None => Seal::None,
    })
}

/// The variables that name an encryption key of any method, for hints.
pub const KEY_HINT: &str = "set WALG_LIBSODIUM_KEY (or WALG_LIBSODIUM_KEY_PATH, with WALG_LIBSODIUM_KEY_TRANSFORM) \
     in the environment or walrs.env_dir to the repository's key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_no_seal_and_pgp_is_refused() {
        assert!(matches!(seal_from_env(&Env::default()), Ok(Seal::None)));
        let key = "0123456789abcdef0123456789abcdef";
        let sodium = seal_from_env(&Env::from_pairs(&[("WALG_LIBSODIUM_KEY", key)])).unwrap();
        assert!(matches!(sodium, Seal::Libsodium(_)));
        for var in PGP_VARS {
            let err = seal_from_env(&Env::from_pairs(&[(var, "-----BEGIN PGP-----")])).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Config);
            assert!(err.message.starts_with(var) && !err.message.contains("BEGIN"), "{}", err.message);
            let both = seal_from_env(&Env::from_pairs(&[(var, "x"), ("WALG_LIBSODIUM_KEY", key)])).unwrap_err();
            assert!(both.message.starts_with(var), "{}", both.message);
        }
    }
}
