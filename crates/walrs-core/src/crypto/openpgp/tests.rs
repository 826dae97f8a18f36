//! The writer's framing at its boundaries, tampering, and the stages with a seal, on a key
//! ring made by gpg for these tests (no passphrase; the interop test covers passphrases and
//! gpg itself).

use super::write::{definite_length, CHUNK};
use super::{Encryptor, OpenPgpKeys};
use crate::body::{ReadStages, Seal, WriteStages};
use crate::compress::Compression;
use crate::ErrorKind;
use std::io::{Read, Write};
use std::sync::Arc;

const RING: &str = include_str!("testdata/unit-test-ring.asc");

fn keys() -> Arc<OpenPgpKeys> {
    Arc::new(OpenPgpKeys::from_armored(RING, None, "WALG_PGP_KEY").unwrap())
}

fn seal(plain: &[u8], keys: &OpenPgpKeys) -> Vec<u8> {
    let mut writer = keys.encryptor(Vec::new()).unwrap();
    writer.write_all(plain).unwrap();
    writer.finish().unwrap()
}

fn unseal(stored: &[u8], keys: &OpenPgpKeys) -> std::io::Result<Vec<u8>> {
    let mut plain = Vec::new();
    keys.decryptor(stored, "k").unwrap().read_to_end(&mut plain)?;
    Ok(plain)
}

#[test]
fn lengths_are_encoded_in_one_two_or_five_octets() {
    for (len, want) in [
        (0, vec![0]),
        (191, vec![191]),
        (192, vec![192, 0]),
        (8383, vec![223, 255]),
        (8384, vec![255, 0, 0, 0x20, 0xC0]),
        (CHUNK, vec![255, 0, 1, 0, 0]),
    ] {
        let mut got = Vec::new();
        definite_length(len, &mut got);
        assert_eq!(got, want, "{len}");
    }
}

#[test]
fn bodies_round_trip_at_every_part_boundary() {
    let keys = keys();
    // The literal packet's body holds 6 header octets before the data.
    for len in [0, 1, 185, 186, CHUNK - 7, CHUNK - 6, CHUNK - 5, CHUNK, 2 * CHUNK - 6, 3 * CHUNK + 1000] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        // Written in pieces of odd sizes, as a compressor writes.
        let mut writer = keys.encryptor(Vec::new()).unwrap();
        for piece in plain.chunks(4093) {
            writer.write_all(piece).unwrap();
        }
        let stored = writer.finish().unwrap();
        assert_eq!(unseal(&stored, &keys).unwrap(), plain, "{len}");
        assert!(stored.len() < len + 200 + len / CHUNK * 2, "{len}: {} stored", stored.len());
    }
}

#[test]
fn each_message_has_its_own_session_key() {
    let keys = keys();
    assert_ne!(seal(b"same", &keys), seal(b"same", &keys));
}

#[test]
fn a_changed_byte_fails_the_read() {
    let keys = keys();
    let plain = vec![7u8; 3 * CHUNK];
    let stored = seal(&plain, &keys);
    for at in [stored.len() / 2, stored.len() - 1] {
        let mut bad = stored.clone();
        bad[at] ^= 0x01;
        assert!(unseal(&bad, &keys).is_err(), "a change at {at} of {} went unnoticed", stored.len());
    }
    // A message cut short is no message either.
    assert!(unseal(&stored[..stored.len() - 10], &keys).is_err());
}

#[test]
fn the_stages_seal_after_compressing_and_unseal_before_decompressing() {
    let keys = keys();
    let plain = b"0123456789".repeat(10_000);
    for c in [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::None] {
        let compressed = WriteStages::new(c).encode(&plain).unwrap();
        let stored = WriteStages::new(c).sealed(Seal::OpenPgp(keys.clone())).checksummed().encode(&plain).unwrap();
        assert_eq!(unseal(&stored, &keys).unwrap(), compressed, "{}", c.name());
        let (back, counted) =
            ReadStages::new(c, "k").sealed(Seal::OpenPgp(keys.clone())).checksummed().decode(&stored).unwrap();
        assert_eq!(back, plain);
        assert_eq!(counted.crc32, Some(crc32fast::hash(&plain)));
        // Without the seal, the stored bytes are no compressed body.
        assert!(ReadStages::new(c, "k").decode(&stored).is_err() || c == Compression::None);
    }
}

#[test]
fn an_unsealed_object_read_with_keys_is_named() {
    let stored = WriteStages::new(Compression::Lz4).encode(b"plain").unwrap();
    let err =
        ReadStages::new(Compression::Lz4, "wal_005/X.lz4").sealed(Seal::OpenPgp(keys())).decode(&stored).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.starts_with("cannot decrypt wal_005/X.lz4: "), "{}", err.message);
}

#[test]
fn debug_shows_fingerprints_not_keys() {
    let keys = keys();
    let shown = format!("{keys:?}");
    assert!(shown.contains(&keys.recipient_fingerprints()[0]), "{shown}");
    assert!(!shown.contains("BEGIN") && RING.lines().filter(|l| l.len() > 16).all(|l| !shown.contains(l)), "{shown}");
    assert!(keys.can_decrypt());
}

/// The integrity check comes last, and a decompressor stops reading at the end of its own
/// frame: the check must still be reached, whole or streamed, on a body of many parts.
#[test]
fn a_changed_integrity_check_fails_the_read_through_the_stages() {
    let keys = keys();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut noise = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    };
    let plain: Vec<u8> = (0..3_000_000).map(|_| noise()).collect();
    for c in [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::None] {
        let mut stored = WriteStages::new(c).sealed(Seal::OpenPgp(keys.clone())).encode(&plain).unwrap();
        let last = stored.len() - 1;
        stored[last] ^= 1;
        let stages = ReadStages::new(c, "k").sealed(Seal::OpenPgp(keys.clone()));
        let err = stages.clone().decode(&stored).unwrap_err();
        assert!(err.message.contains("Modification Detection Code"), "{}: {err:?}", c.name());
        let mut reader = stages.open(&stored[..]).unwrap();
        let mut buf = vec![0; 1 << 16];
        let streamed = loop {
            match reader.fill(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        assert_eq!(streamed.unwrap_err().kind, ErrorKind::Corrupt, "{}", c.name());
    }
}

/// WAL-G's messages: AES-128 and literal data marked as text ('t'). The mode changes nothing
/// read: carriage returns and all come back as written.
#[test]
fn messages_shaped_as_wal_g_writes_them_read_back_exactly() {
    let mut keys = OpenPgpKeys::from_armored(RING, None, "WALG_PGP_KEY").unwrap();
    assert_eq!(keys.cipher, pgp::crypto::sym::SymmetricKeyAlgorithm::AES256, "gpg's keys prefer AES-256");
    keys.cipher = pgp::crypto::sym::SymmetricKeyAlgorithm::AES128;
    let body = b"\r\n\x04\"M\x18\r\r\n\n".repeat(20_000);
    let mut writer = Encryptor::with_literal_mode(&keys, Vec::new(), b't').unwrap();
    writer.write_all(&body).unwrap();
    let stored = writer.finish().unwrap();
    assert_eq!(unseal(&stored, &keys).unwrap(), body);
}
