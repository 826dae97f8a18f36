//! The configured OpenPGP key ring: where it comes from, which keys encrypt, and unlocking the
//! secret keys that decrypt.

use crate::env::Env;
use crate::{Error, Result};
use pgp::composed::{PublicOrSecret, SignedPublicKey, SignedPublicSubKey, SignedSecretKey};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::{KeyDetails, Password};
use std::fmt;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The armored key ring, inline.
pub const KEY_VAR: &str = "WALG_PGP_KEY";
/// A file holding the armored key ring.
pub const KEY_PATH_VAR: &str = "WALG_PGP_KEY_PATH";
/// The passphrase of the ring's secret keys.
pub const PASSPHRASE_VAR: &str = "WALG_PGP_KEY_PASSPHRASE";
/// WAL-G's and WAL-E's key id in the user's gpg keyring, which walrs does not read.
pub const LEGACY_KEY_ID_VARS: &[&str] = &["WALG_GPG_KEY_ID", "WALE_GPG_KEY_ID"];

const RING_HINT: &str = "give an armored key ring, as `gpg --export --armor KEY` (to write only) or \
     `gpg --export-secret-keys --armor KEY` (to write and read) prints it";

/// A key that objects are encrypted to: an encryption subkey, or a primary key that encrypts.
#[derive(Clone)]
pub(super) enum Recipient {
    Subkey(SignedPublicSubKey),
    Primary(SignedPublicKey),
}

impl Recipient {
    pub(super) fn fingerprint(&self) -> String {
        match self {
            Recipient::Subkey(k) => k.key.fingerprint().to_string(),
            Recipient::Primary(k) => k.fingerprint().to_string(),
        }
    }
}

/// The OpenPGP keys of a repository: public keys to encrypt to, secret keys to decrypt with.
/// Never printed: its `Debug` shows fingerprints only.
pub struct OpenPgpKeys {
    /// Where the ring came from, for errors: [`KEY_VAR`] or [`KEY_PATH_VAR`].
    source: &'static str,
    pub(super) recipients: Vec<Recipient>,
    /// The key id and fingerprint of every key and subkey in the ring, public identifiers
    /// only: to tell which key an object was encrypted to.
    ids: Vec<([u8; 8], String)>,
    pub(super) cipher: SymmetricKeyAlgorithm,
    /// The ring's secret keys as given (locked if the ring was exported with a passphrase).
    locked: Vec<SignedSecretKey>,
    passphrase: Option<Zeroizing<String>>,
    /// The secret keys, unlocked once, when the first object is read.
    unlocked: OnceLock<Result<Vec<SignedSecretKey>>>,
}

impl OpenPgpKeys {
    /// The OpenPGP keys the environment configures, if any: [`KEY_VAR`] (a literal `\n` in it
    /// stands for a newline, as in WAL-G) or [`KEY_PATH_VAR`], with [`PASSPHRASE_VAR`]. The
    /// legacy gpg keyring ids are refused with what to use instead.
    pub fn from_env(env: &Env) -> Result<Option<Self>> {
        if let Some(var) = LEGACY_KEY_ID_VARS.iter().find(|v| env.get(v).is_some()) {
            return Err(Error::config(format!(
                "{var} (a key in the gpg keyring) is not supported: walrs does not call gpg"
            ))
            .with_hint(format!(
                "export the key ring (`gpg --export-secret-keys --armor KEY > ring.asc`, or `gpg --export` \
                 to write only), set {KEY_PATH_VAR} to that file (or {KEY_VAR} to its text) and \
                 {PASSPHRASE_VAR} to its passphrase, and unset {var}"
            )));
        }
        let passphrase = env.get(PASSPHRASE_VAR);
        match (env.get(KEY_VAR), env.get(KEY_PATH_VAR)) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(Error::config(format!("both {KEY_VAR} and {KEY_PATH_VAR} are set"))
                .with_hint(format!("set one of them: {KEY_VAR} holds the key ring itself, {KEY_PATH_VAR} a file"))),
            (Some(inline), None) => {
                let armored = Zeroizing::new(inline.replace("\\n", "\n"));
                Self::from_armored(&armored, passphrase, KEY_VAR).map(Some)
            }
            (None, Some(path)) => {
                let armored = std::fs::read_to_string(path).map(Zeroizing::new).map_err(|e| {
                    Error::config(format!("{KEY_PATH_VAR}: cannot read the key ring file: {e}")).with_hint(format!(
                        "set {KEY_PATH_VAR} to a file walrs can read (the server's user, for the extension) \
                         holding an armored key ring"
                    ))
                })?;
                Self::from_armored(&armored, passphrase, KEY_PATH_VAR).map(Some)
            }
        }
    }

    /// The keys of an armored key ring (one or more public or private key blocks). `source`
    /// names the setting it came from, for errors. Errors never quote the ring.
    pub fn from_armored(armored: &str, passphrase: Option<&str>, source: &'static str) -> Result<Self> {
        // Neither the text nor rpgp's words about it go into a message: a parse error may
        // quote the bytes it stopped at, and those are key material.
        let unusable = |what: &str| {
            Error::config(format!("{source} does not hold a usable OpenPGP key ring: {what}")).with_hint(RING_HINT)
        };
        let (keys, _) = PublicOrSecret::from_armor_many(armored.as_bytes())
            .map_err(|_| unusable("no armored key block could be read in it"))?;
        let mut public = Vec::new();
        let mut locked = Vec::new();
        for key in keys {
            match key.map_err(|_| unusable("a key block in it does not parse"))? {
                PublicOrSecret::Public(k) => public.push(k),
                PublicOrSecret::Secret(k) => {
                    public.push(k.to_public_key());
                    locked.push(k);
                }
            }
        }
        if public.is_empty() {
            return Err(unusable("it holds no key"));
        }
        let mut ids = Vec::new();
        for key in &public {
            let primary = (key.legacy_key_id(), key.fingerprint().to_string());
            let subkeys = key.public_subkeys.iter().map(|s| (s.key.legacy_key_id(), s.key.fingerprint().to_string()));
            for (id, fingerprint) in std::iter::once(primary).chain(subkeys) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(id.as_ref());
                ids.push((bytes, fingerprint));
            }
        }
        let mut recipients = Vec::new();
        for key in &public {
            key.verify_bindings()
                .map_err(|_| unusable(&format!("the signatures binding key {} do not verify", key.fingerprint())))?;
            recipients.push(encryption_key(key).ok_or_else(|| {
                Error::config(format!(
                    "{source}: key {} has no encryption-capable subkey that is valid now (it may only sign, \
                     or has expired or been revoked)",
                    key.fingerprint()
                ))
                .with_hint("add an encryption subkey (`gpg --quick-add-key FINGERPRINT default encr`) and export again")
            })?);
        }
        Ok(OpenPgpKeys {
            source,
            recipients,
            ids,
            cipher: cipher_for(&public),
            locked,
            passphrase: passphrase.map(|p| Zeroizing::new(p.to_string())),
            unlocked: OnceLock::new(),
        })
    }

    /// The setting the ring came from: [`KEY_VAR`] or [`KEY_PATH_VAR`].
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Whether the ring holds a secret key, so that objects can be read.
    pub fn can_decrypt(&self) -> bool {
        !self.locked.is_empty()
    }

    /// The fingerprints of the keys objects are encrypted to.
    pub fn recipient_fingerprints(&self) -> Vec<String> {
        self.recipients.iter().map(Recipient::fingerprint).collect()
    }

    /// The fingerprint of the ring's key or subkey whose key id is `id`, if the ring has one.
    pub fn fingerprint_of(&self, id: &[u8; 8]) -> Option<&str> {
        self.ids.iter().find(|(i, _)| i == id).map(|(_, f)| f.as_str())
    }

    /// The secret keys, unlocked with the passphrase the first time they are needed.
    pub(super) fn secret_keys(&self) -> Result<&[SignedSecretKey]> {
        let unlocked = self.unlocked.get_or_init(|| self.unlock());
        unlocked.as_deref().map_err(Clone::clone)
    }

    fn unlock(&self) -> Result<Vec<SignedSecretKey>> {
        if self.locked.is_empty() {
            return Err(Error::config(format!(
                "{} holds public keys only: objects can be encrypted but not decrypted",
                self.source
            ))
            .with_hint(format!(
                "to read the repository, give the secret keys too (`gpg --export-secret-keys --armor KEY`) in {}",
                self.source
            )));
        }
        let password = match &self.passphrase {
            Some(p) => Password::from(p.as_str()),
            None => Password::empty(),
        };
        let wrong = || {
            let (what, hint) = match self.passphrase {
                Some(_) => (
                    format!("{PASSPHRASE_VAR} does not unlock the secret keys of {}", self.source),
                    format!("set {PASSPHRASE_VAR} to the passphrase the key ring was exported with"),
                ),
                None => (
                    format!("the secret keys of {} are protected by a passphrase", self.source),
                    format!("set {PASSPHRASE_VAR} to it"),
                ),
            };
            Error::config(what).with_hint(hint)
        };
        let mut keys = self.locked.clone();
        for key in &mut keys {
            // gpg's dummy secret keys (an offline primary key) have nothing to unlock and stay
            // as they are; the subkeys are the ones that decrypt.
            if key.primary_key.secret_params().is_encrypted() {
                key.primary_key.remove_password(&password).map_err(|_| wrong())?;
            }
            for sub in &mut key.secret_subkeys {
                if sub.key.secret_params().is_encrypted() {
                    sub.key.remove_password(&password).map_err(|_| wrong())?;
                }
            }
        }
        Ok(keys)
    }
}

/// The key of `key` that objects are encrypted to: its newest encryption subkey that is bound,
/// not revoked and not expired, or the primary key if it may encrypt and no subkey does.
/// `None` for a key that has expired itself.
fn encryption_key(key: &SignedPublicKey) -> Option<Recipient> {
    let now = pgp::types::Timestamp::now().as_secs();
    let expired = |created: pgp::types::Timestamp, sig: &pgp::packet::Signature| {
        let lifetime = sig.key_expiration_time().map_or(0, |d| d.as_secs());
        lifetime != 0 && u64::from(created.as_secs()) + u64::from(lifetime) <= u64::from(now)
    };
    let encrypts = |flags: pgp::packet::KeyFlags| flags.encrypt_comms() || flags.encrypt_storage();
    let self_sigs = || key.details.users.iter().flat_map(|u| &u.signatures);
    let newest_self_sig = self_sigs().max_by_key(|s| s.created());
    if newest_self_sig.is_some_and(|s| expired(key.primary_key.created_at(), s)) {
        return None;
    }
    let newest = key
        .public_subkeys
        .iter()
        .filter(|sub| sub.key.algorithm().can_encrypt())
        .filter(|sub| {
            let revoked = sub.signatures.iter().any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation));
            let binding = sub.signatures.iter().filter(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyBinding));
            let binding = binding.max_by_key(|s| s.created());
            !revoked && binding.is_some_and(|s| encrypts(s.key_flags()) && !expired(sub.key.created_at(), s))
        })
        .max_by_key(|sub| sub.key.created_at());
    if let Some(sub) = newest {
        return Some(Recipient::Subkey(sub.clone()));
    }
    let primary_encrypts = key.primary_key.algorithm().can_encrypt() && self_sigs().any(|s| encrypts(s.key_flags()));
    primary_encrypts.then(|| Recipient::Primary(key.clone()))
}

/// The cipher of the messages: AES-256 when every key's preferences (where it states them)
/// list it, as gpg's keys do; AES-128 otherwise, which every OpenPGP implementation reads and
/// which WAL-G writes.
fn cipher_for(keys: &[SignedPublicKey]) -> SymmetricKeyAlgorithm {
    let all_take_aes256 = keys.iter().all(|key| {
        let prefs = key.details.users.iter().flat_map(|u| &u.signatures).map(|s| s.preferred_symmetric_algs());
        let stated: Vec<_> = prefs.filter(|p| !p.is_empty()).collect();
        stated.iter().all(|p| p.contains(&SymmetricKeyAlgorithm::AES256))
    });
    if all_take_aes256 {
        SymmetricKeyAlgorithm::AES256
    } else {
        SymmetricKeyAlgorithm::AES128
    }
}

impl fmt::Debug for OpenPgpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenPgpKeys")
            .field("source", &self.source)
            .field("recipients", &self.recipient_fingerprints())
            .field("cipher", &self.cipher)
            .field("secret_keys", &self.locked.len())
            .finish_non_exhaustive()
    }
}

/// Two rings are the same when they come from the same place and encrypt to the same keys.
impl PartialEq for OpenPgpKeys {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.recipient_fingerprints() == other.recipient_fingerprints()
            && self.locked.len() == other.locked.len()
    }
}

impl Eq for OpenPgpKeys {}
