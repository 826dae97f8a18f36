//! Which key an object needs, told from its first bytes by trying the configured keys, for key
//! rotation: `walrs backup-list --detail` and `walrs wal-show --keys` show it per object, so an
//! operator sees which objects still need an old key before dropping it. Only public
//! identifiers are ever shown: a key's place in the configuration, or an OpenPGP fingerprint.
//!
//! - libsodium: the stream header and the first chunk ([`PROBE_BYTES`]) are opened with the
//!   current key, then each key of `WALRS_LIBSODIUM_KEY_PREVIOUS` in turn.
//! - OpenPGP: the key ids of the message's session-key packets, matched against the keys and
//!   subkeys of the configured ring (no secret key is needed).

use super::libsodium;
use crate::backup::BackupName;
use crate::body::Seal;
use crate::compress::Compression;
use crate::layout::{self, TarContent, TarFile};
use crate::storage::Storage;
use crate::wal::WalFileKind;
use crate::Result;
use std::collections::BTreeMap;
use std::fmt;

/// How many bytes of an object [`key_needed`] looks at: a libsodium header and its first
/// chunk, which hold an OpenPGP message's session-key packets too.
pub const PROBE_BYTES: usize = libsodium::HEADER + libsodium::CHUNK + libsodium::ABYTES;

/// The key an object needs to be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyNeeded {
    /// Stored without encryption: it starts with a compression's magic bytes, or the
    /// repository has no seal.
    NotEncrypted,
    /// libsodium's current key (`WALG_LIBSODIUM_KEY` or `WALG_LIBSODIUM_KEY_PATH`).
    Current,
    /// The n-th key (from 1) of `WALRS_LIBSODIUM_KEY_PREVIOUS`.
    Previous(usize),
    /// The ring's OpenPGP key or subkey of this fingerprint.
    OpenPgp(String),
    /// Encrypted, and no configured key opens it.
    NoConfiguredKey,
}

impl fmt::Display for KeyNeeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyNeeded::NotEncrypted => f.write_str("not encrypted"),
            KeyNeeded::Current => f.write_str("current key"),
            KeyNeeded::Previous(n) => write!(f, "previous key {n}"),
            KeyNeeded::OpenPgp(fingerprint) => write!(f, "OpenPGP key {fingerprint}"),
            KeyNeeded::NoConfiguredKey => f.write_str("no configured key"),
        }
    }
}

/// Which key the object that starts with `start` needs under `seal`. `start` is the object's
/// first [`PROBE_BYTES`] bytes, or all of it if it is shorter.
pub fn key_needed(seal: &Seal, start: &[u8]) -> KeyNeeded {
    let found = match seal {
        Seal::None => return KeyNeeded::NotEncrypted,
        Seal::Libsodium(keys) => keys.which_opens(start).map(|i| match i {
            0 => KeyNeeded::Current,
            n => KeyNeeded::Previous(n),
        }),
        Seal::OpenPgp(keys) => {
            session_key_ids(start).iter().find_map(|id| keys.fingerprint_of(id)).map(|f| KeyNeeded::OpenPgp(f.into()))
        }
    };
    // Tried after the keys: an encrypted stream's random first bytes may match a short magic.
    let plain = || {
        [Compression::Lz4, Compression::Zstd, Compression::Gzip]
            .into_iter()
            .filter_map(Compression::magic)
            .any(|m| start.starts_with(m))
    };
    match found {
        Some(needed) => needed,
        None if plain() => KeyNeeded::NotEncrypted,
        None => KeyNeeded::NoConfiguredKey,
    }
}

/// Which key the stored object `key` needs; None if there is no such object. Reads only the
/// object's first [`PROBE_BYTES`] bytes. With no key configured, an object whose compression
/// (from its name) has magic bytes it does not start with is encrypted, and needs a key that
/// is not configured: it is not taken for a plain one.
pub async fn key_needed_by(storage: &Storage, key: &str) -> Result<Option<KeyNeeded>> {
    let Some(start) = storage.get_start(key, PROBE_BYTES).await? else { return Ok(None) };
    let needed = key_needed(storage.seal(), &start);
    let magic = key.rsplit_once('.').and_then(|(_, ext)| Compression::from_extension(ext)).and_then(Compression::magic);
    match magic {
        Some(m) if !storage.seal().is_encrypted() && !start.starts_with(m) => Ok(Some(KeyNeeded::NoConfiguredKey)),
        _ => Ok(Some(needed)),
    }
}

/// Which key the backup `name` needs: that of its first tar partition, or of its
/// `pg_control` tar when it has no partition; None when it has neither. One object's first
/// bytes are read.
pub async fn backup_key_needed(storage: &Storage, name: &BackupName) -> Result<Option<KeyNeeded>> {
    let objects = storage.list(&layout::partitions_dir(name)).await?;
    let first = objects
        .iter()
        .filter_map(|o| TarFile::parse(&o.key).map(|t| (t, &o.key)))
        .filter(|(t, _)| matches!(t.content, TarContent::Part(_) | TarContent::PgControl))
        .min_by_key(|(t, _)| match t.content {
            TarContent::Part(n) => (0, n),
            _ => (1, 0),
        });
    match first {
        Some((_, key)) => key_needed_by(storage, key).await,
        None => Ok(None),
    }
}

/// Per timeline, how many WAL segments (partial segments included) each key opens. Reads the
/// first bytes of every segment, one request each: as slow as there are segments.
pub async fn wal_keys_needed(storage: &Storage) -> Result<BTreeMap<u32, BTreeMap<KeyNeeded, u64>>> {
    let mut out: BTreeMap<u32, BTreeMap<KeyNeeded, u64>> = BTreeMap::new();
    for object in storage.list(layout::WAL_DIR).await? {
        let Some((name, _)) = layout::parse_wal_key(&object.key) else { continue };
        if !matches!(name.kind(), WalFileKind::Segment | WalFileKind::Partial) {
            continue;
        }
        let Some(needed) = key_needed_by(storage, &object.key).await? else { continue };
        *out.entry(name.timeline()).or_default().entry(needed).or_default() += 1;
    }
    Ok(out)
}

const TAG_PKESK: u8 = 1;

/// The key ids of the version 3 public-key encrypted session key packets (RFC 4880 §5.1) at
/// the start of `message`, up to the first packet of another kind; none if it is not an
/// OpenPGP message.
fn session_key_ids(message: &[u8]) -> Vec<[u8; 8]> {
    let mut ids = Vec::new();
    let mut rest = message;
    while let Some((tag, body, after)) = packet(rest) {
        if tag != TAG_PKESK {
            break;
        }
        if body.first() == Some(&3) && body.len() >= 9 {
            let mut id = [0u8; 8];
            id.copy_from_slice(&body[1..9]);
            ids.push(id);
        }
        rest = after;
    }
    ids
}

/// The first packet of `data`, old or new format, with a definite length: its tag, its body,
/// and what follows it. None at anything else (a partial or indeterminate length, a cut).
fn packet(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&first, rest) = data.split_first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let be = |b: &[u8]| b.iter().fold(0usize, |n, &x| n << 8 | usize::from(x));
    let (tag, len, rest) = if first & 0x40 != 0 {
        let o1 = usize::from(*rest.first()?);
        match o1 {
            0..=191 => (first & 0x3F, o1, &rest[1..]),
            192..=223 => (first & 0x3F, ((o1 - 192) << 8) + usize::from(*rest.get(1)?) + 192, rest.get(2..)?),
            255 => (first & 0x3F, be(rest.get(1..5)?), rest.get(5..)?),
            _ => return None,
        }
    } else {
        let width = match first & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return None,
        };
        ((first >> 2) & 0x0F, be(rest.get(..width)?), rest.get(width..)?)
    };
    let body = rest.get(..len)?;
    Some((tag, body, &rest[len..]))
}

#[cfg(test)]
mod tests;
