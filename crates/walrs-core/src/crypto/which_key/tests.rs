use super::{key_needed, KeyNeeded, PROBE_BYTES};
use crate::body::{Seal, WriteStages};
use crate::compress::Compression;
use crate::crypto::libsodium::{self, Keys};
use crate::crypto::openpgp::OpenPgpKeys;
use crate::env::Env;
use std::io::Write;
use std::sync::Arc;

const A: &str = "key-a-of-thirty-two-bytes-000000";
const B: &str = "key-b-of-thirty-two-bytes-111111";
const C: &str = "key-c-of-thirty-two-bytes-222222";
const RING: &str = include_str!("../openpgp/testdata/unit-test-ring.asc");

fn sodium(pairs: &[(&str, &str)]) -> Seal {
    let keys = Keys::from_env(&Env::from_pairs(pairs)).unwrap().unwrap();
    Seal::Libsodium(Arc::new(keys))
}

fn sealed_by(key: &str, plain: &[u8]) -> Vec<u8> {
    let keys = Keys::from_env(&Env::from_pairs(&[(libsodium::KEY_VAR, key)])).unwrap().unwrap();
    let mut w = libsodium::Writer::new(Vec::new(), &keys);
    w.write_all(plain).unwrap();
    w.finish().unwrap()
}

/// What the probe sees: the first [`PROBE_BYTES`] bytes, as a ranged read gives them.
fn probe(stored: &[u8]) -> &[u8] {
    &stored[..stored.len().min(PROBE_BYTES)]
}

#[test]
fn libsodium_names_the_current_or_previous_key_that_opens_the_object() {
    let rotated = sodium(&[(libsodium::KEY_VAR, B), (libsodium::PREVIOUS_VAR, &format!("{C}, {A}"))]);
    // One short chunk, an empty body, and a body of several chunks (the probe cuts it).
    for len in [0, 100, libsodium::CHUNK, 5 * libsodium::CHUNK + 3] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (under_a, under_b) = (sealed_by(A, &plain), sealed_by(B, &plain));
        assert_eq!(key_needed(&rotated, probe(&under_b)), KeyNeeded::Current, "{len}");
        assert_eq!(key_needed(&rotated, probe(&under_a)), KeyNeeded::Previous(2), "{len}");
        assert_eq!(key_needed(&rotated, probe(&sealed_by(C, &plain))), KeyNeeded::Previous(1), "{len}");
        // Before the rotation: A is current, and B opens nothing.
        let before = sodium(&[(libsodium::KEY_VAR, A)]);
        assert_eq!(key_needed(&before, probe(&under_a)), KeyNeeded::Current, "{len}");
        assert_eq!(key_needed(&before, probe(&under_b)), KeyNeeded::NoConfiguredKey, "{len}");
    }
    // A stream cut inside its first chunk opens with no key.
    let long = sealed_by(A, &[7u8; 3 * libsodium::CHUNK]);
    assert_eq!(key_needed(&sodium(&[(libsodium::KEY_VAR, A)]), &long[..PROBE_BYTES - 1]), KeyNeeded::NoConfiguredKey);
    assert_eq!(key_needed(&sodium(&[(libsodium::KEY_VAR, A)]), &long[..10]), KeyNeeded::NoConfiguredKey);
}

#[test]
fn plain_objects_are_not_encrypted_under_any_seal() {
    let ring = Seal::OpenPgp(Arc::new(OpenPgpKeys::from_armored(RING, None, "WALG_PGP_KEY").unwrap()));
    for c in [Compression::Lz4, Compression::Zstd] {
        let plain = WriteStages::new(c).encode(b"a WAL segment, compressed and not encrypted").unwrap();
        for seal in [Seal::None, sodium(&[(libsodium::KEY_VAR, A)]), ring.clone()] {
            assert_eq!(key_needed(&seal, &plain), KeyNeeded::NotEncrypted, "{} {seal:?}", c.name());
        }
    }
    // With no seal nothing is tried: an encrypted object reads as what the repository says.
    assert_eq!(key_needed(&Seal::None, &sealed_by(A, b"x")), KeyNeeded::NotEncrypted);
    // Bytes that are neither a compression nor a stream any key opens.
    assert_eq!(key_needed(&sodium(&[(libsodium::KEY_VAR, A)]), &[9u8; 100]), KeyNeeded::NoConfiguredKey);
}

#[test]
fn openpgp_names_the_ring_key_the_session_key_is_encrypted_to() {
    let keys = Arc::new(OpenPgpKeys::from_armored(RING, None, "WALG_PGP_KEY").unwrap());
    let seal = Seal::OpenPgp(keys.clone());
    let stored = WriteStages::new(Compression::Lz4).sealed(seal.clone()).encode(&vec![3u8; 200_000]).unwrap();
    let recipient = keys.recipient_fingerprints()[0].clone();
    assert_eq!(key_needed(&seal, probe(&stored)), KeyNeeded::OpenPgp(recipient.clone()));
    assert_eq!(KeyNeeded::OpenPgp(recipient.clone()).to_string(), format!("OpenPGP key {recipient}"));
    // The same message with another key id in its session-key packet: no key of the ring.
    let ids = super::session_key_ids(&stored);
    assert_eq!(ids.len(), 1);
    let at = stored.windows(8).position(|w| w == ids[0]).unwrap();
    let mut other = stored.clone();
    other[at] ^= 0xFF;
    assert_eq!(key_needed(&seal, probe(&other)), KeyNeeded::NoConfiguredKey);
    // Not a message at all.
    assert_eq!(key_needed(&seal, &[0x42; 64]), KeyNeeded::NoConfiguredKey);
}

#[test]
fn old_format_and_long_lengths_are_read() {
    // An old-format PKESK (tag 1, two-octet length) and a new-format one with a five-octet
    // length, then a SEIPD header.
    let body = |id: u8| {
        let mut b = vec![3];
        b.extend_from_slice(&[id; 8]);
        b.extend_from_slice(&[1, 0, 0]);
        b
    };
    let mut message = vec![0x80 | (1 << 2) | 1, 0, 12];
    message.extend_from_slice(&body(0xAA));
    message.extend_from_slice(&[0xC1, 255, 0, 0, 0, 12]);
    message.extend_from_slice(&body(0xBB));
    message.extend_from_slice(&[0xD2, 0xE0, 1, 2, 3]);
    assert_eq!(super::session_key_ids(&message), vec![[0xAA; 8], [0xBB; 8]]);
    // Cut inside the second packet: only the first is read.
    assert_eq!(super::session_key_ids(&message[..20]), vec![[0xAA; 8]]);
}

#[test]
fn the_words_shown() {
    let shown: Vec<String> =
        [KeyNeeded::NotEncrypted, KeyNeeded::Current, KeyNeeded::Previous(3), KeyNeeded::NoConfiguredKey]
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(shown, ["not encrypted", "current key", "previous key 3", "no configured key"]);
}

#[tokio::test]
async fn stored_objects_are_read_by_their_start_and_named_without_a_key_too() {
    use crate::storage::{Location, Storage};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("repo")).unwrap();
    let url = format!("file://{}/repo", dir.path().display());
    let open =
        |pairs: &[(&str, &str)]| Storage::open(&Location::parse(&url).unwrap(), &Env::from_pairs(pairs)).unwrap();
    let plain = WriteStages::new(Compression::Lz4).encode(&vec![5u8; 100_000]).unwrap();
    let sealed = WriteStages::new(Compression::Lz4).sealed(sodium(&[(libsodium::KEY_VAR, A)])).encode(&plain).unwrap();
    let none = open(&[]);
    none.put("wal_005/000000010000000000000001.lz4", plain.into()).await.unwrap();
    none.put("wal_005/000000010000000000000002.lz4", sealed.into()).await.unwrap();
    let (one, two) = ("wal_005/000000010000000000000001.lz4", "wal_005/000000010000000000000002.lz4");
    assert_eq!(super::key_needed_by(&none, one).await.unwrap(), Some(KeyNeeded::NotEncrypted));
    assert_eq!(super::key_needed_by(&none, two).await.unwrap(), Some(KeyNeeded::NoConfiguredKey));
    assert_eq!(super::key_needed_by(&none, "wal_005/missing.lz4").await.unwrap(), None);
    let rotated = open(&[(libsodium::KEY_VAR, B), (libsodium::PREVIOUS_VAR, A)]);
    assert_eq!(super::key_needed_by(&rotated, one).await.unwrap(), Some(KeyNeeded::NotEncrypted));
    assert_eq!(super::key_needed_by(&rotated, two).await.unwrap(), Some(KeyNeeded::Previous(1)));
    let counts = super::wal_keys_needed(&rotated).await.unwrap();
    let want = [(KeyNeeded::NotEncrypted, 1), (KeyNeeded::Previous(1), 1)].into_iter().collect();
    assert_eq!(counts, [(1, want)].into_iter().collect());
}
