use super::*;
use crate::body::{ReadStages, Seal, WriteStages};
use crate::compress::Compression;
use std::io::{Read, Write};

const K1: [u8; 32] = [7; 32];
const K2: [u8; 32] = [9; 32];

fn keys(current: [u8; 32], previous: &[[u8; 32]]) -> Arc<Keys> {
    Arc::new(Keys::from_bytes(current, previous))
}

fn seal(current: [u8; 32], previous: &[[u8; 32]]) -> Seal {
    Seal::Libsodium(keys(current, previous))
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn encrypt(plain: &[u8], piece: usize, key: [u8; 32]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &Keys::from_bytes(key, &[]));
    for part in plain.chunks(piece.max(1)) {
        w.write_all(part).unwrap();
    }
    w.finish().unwrap()
}

fn decrypt(stored: &[u8], keys: Arc<Keys>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    Reader::new(stored, keys).read_to_end(&mut out)?;
    Ok(out)
}

/// A stream made chunk by chunk with the given plain lengths and tags, as a foreign writer
/// could make it.
fn hand_made(chunks: &[(usize, u8)], key: [u8; 32]) -> Vec<u8> {
    let (mut state, mut header) = (ss::State::new(), [0u8; HEADER]);
    ss::crypto_secretstream_xchacha20poly1305_init_push(&mut state, &mut header, &key);
    let mut out = header.to_vec();
    for (len, tag) in chunks {
        let mut sealed = vec![0u8; len + ABYTES];
        ss::crypto_secretstream_xchacha20poly1305_push(&mut state, &mut sealed, &data(*len), None, *tag).unwrap();
        out.extend_from_slice(&sealed);
    }
    out
}

fn refusal(stored: &[u8], keys: Arc<Keys>) -> SealError {
    let err = decrypt(stored, keys).expect_err("refused");
    let found = SealError::find(&err).expect("a seal error");
    SealError { kind: found.kind, detail: found.detail.clone(), hint: found.hint.clone(), start: found.start.clone() }
}

#[test]
fn every_length_round_trips_in_walgs_framing() {
    for len in [0, 1, 8191, 8192, 8193, 3 * 8192, 3 * 8192 + 5] {
        let plain = data(len);
        for piece in [1, 1000, 8192, 1 << 20] {
            if piece == 1 && len > 9000 {
                continue;
            }
            let stored = encrypt(&plain, piece, K1);
            // Header, one chunk per whole 8192 bytes, then the FINAL chunk of what is left.
            assert_eq!(stored.len(), HEADER + (len / CHUNK) * SEALED_CHUNK + len % CHUNK + ABYTES, "{len}/{piece}");
            assert_eq!(decrypt(&stored, keys(K1, &[])).unwrap(), plain, "{len}/{piece}");
        }
    }
}

#[test]
fn reads_in_small_pieces() {
    let plain = data(3 * 8192 + 100);
    let stored = encrypt(&plain, 4096, K1);
    let mut reader = Reader::new(&stored[..], keys(K1, &[]));
    let (mut out, mut buf) = (Vec::new(), [0u8; 7]);
    loop {
        match reader.read(&mut buf).unwrap() {
            0 => break,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(out, plain);
}

#[test]
fn previous_keys_read_and_the_current_key_writes() {
    let old = encrypt(b"written before the rotation", 100, K2);
    assert_eq!(decrypt(&old, keys(K1, &[[1; 32], K2])).unwrap(), b"written before the rotation");
    let err = refusal(&old, keys(K1, &[[1; 32]]));
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(err.detail, " (wrong key?)");
    assert!(err.hint.as_deref().unwrap_or("").contains(PREVIOUS_VAR));
    // New objects use the current key only.
    let new = encrypt(b"after", 100, K1);
    assert!(decrypt(&new, keys(K2, &[])).is_err());
}

#[test]
fn framing_other_than_walgs_is_refused() {
    let k = || keys(K1, &[]);
    // Accepted: what WAL-G writes.
    assert_eq!(decrypt(&hand_made(&[(8192, TAG_MESSAGE), (0, TAG_FINAL)], K1), k()).unwrap(), data(8192));
    assert_eq!(decrypt(&hand_made(&[(8192, TAG_MESSAGE), (10, TAG_FINAL)], K1), k()).unwrap().len(), 8202);
    let cases: &[(&[(usize, u8)], &str)] = &[
        (&[(8192, TAG_FINAL)], "full and tagged final"),
        (&[(8192, TAG_MESSAGE), (8192, TAG_FINAL)], "chunk 2 is full and tagged final"),
        (&[(100, TAG_MESSAGE)], "short and not final"),
        (&[(8192, TAG_MESSAGE)], "ends before its final chunk"),
        (&[(8192, TAG_MESSAGE), (8192, TAG_MESSAGE)], "ends before its final chunk"),
        (&[(100, 1)], "has the tag 1"),
    ];
    for (chunks, want) in cases {
        let err = refusal(&hand_made(chunks, K1), k());
        assert_eq!(err.kind, ErrorKind::Corrupt, "{chunks:?}");
        assert!(err.detail.contains(want), "{chunks:?}: {}", err.detail);
    }
    // Bytes after the FINAL chunk join it (chunks are cut at fixed lengths), so it no longer
    // authenticates: refused, as WAL-G refuses it.
    let mut after = hand_made(&[(8192, TAG_MESSAGE), (10, TAG_FINAL)], K1);
    after.push(0);
    let err = refusal(&after, k());
    assert_eq!(
        (err.kind, err.detail.as_str()),
        (ErrorKind::Corrupt, ": chunk 2 fails authentication (the object is damaged)")
    );
    let mut twice = hand_made(&[(8192, TAG_MESSAGE), (10, TAG_FINAL)], K1);
    twice.extend_from_slice(&twice.clone()[HEADER..]);
    assert_eq!(refusal(&twice, k()).kind, ErrorKind::Corrupt);
    let mut single = hand_made(&[(10, TAG_FINAL)], K1);
    single.push(0);
    assert!(decrypt(&single, k()).is_err());
}

#[test]
fn truncation_anywhere_is_refused() {
    let stored = encrypt(&data(2 * 8192 + 300), 8192, K1);
    for cut in [0, 1, 23, 24, 25, 24 + 16, 24 + 8209, 24 + 8209 + 17, 24 + 2 * 8209, stored.len() - 1] {
        let err = refusal(&stored[..cut], keys(K1, &[]));
        assert_eq!(err.kind, if cut == 24 + 16 { ErrorKind::Corrupt } else { err.kind }, "{cut}");
        assert!(err.kind == ErrorKind::Corrupt || cut <= 24 + 8209, "cut at {cut}: {:?}", err.kind);
    }
    // Past the first chunk, which authenticated, a cut is damage, never a wrong key.
    for cut in [24 + 8209 + 17, 24 + 2 * 8209, stored.len() - 1] {
        assert_eq!(refusal(&stored[..cut], keys(K1, &[])).kind, ErrorKind::Corrupt, "{cut}");
    }
}

#[test]
fn a_flipped_byte_is_refused() {
    let stored = encrypt(&data(3 * 8192), 8192, K1);
    for at in [0, 23, 24, 8000, 24 + 8209 + 5, stored.len() - 1] {
        let mut bad = stored.clone();
        bad[at] ^= 1;
        let err = refusal(&bad, keys(K1, &[]));
        // In the header or the first chunk no key opens it; later, a chunk fails authentication.
        if at >= 24 + 8209 {
            assert_eq!(err.kind, ErrorKind::Corrupt, "{at}");
            assert!(err.detail.contains("fails authentication"), "{at}: {}", err.detail);
        } else {
            assert_eq!(err.detail, " (wrong key?)", "{at}");
        }
    }
}

#[test]
fn the_read_stages_name_the_object() {
    // Noise, so that even compressed it takes several chunks.
    let mut x = 0x2545F4914F6CDD1Du64;
    let plain: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let key = "wal_005/000000010000000000000002.lz4";
    let stored = WriteStages::new(Compression::Lz4).sealed(seal(K1, &[])).encode(&plain).unwrap();
    assert!(!stored.starts_with(Compression::Lz4.magic().unwrap()));
    let (back, _) = ReadStages::new(Compression::Lz4, key).sealed(seal(K1, &[])).decode(&stored).unwrap();
    assert_eq!(back, plain);

    let err = ReadStages::new(Compression::Lz4, key).sealed(seal(K2, &[])).decode(&stored).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::Config, format!("cannot decrypt {key} (wrong key?)").as_str())
    );
    assert!(err.hint.as_deref().unwrap_or("").contains(KEY_VAR), "{:?}", err.hint);

    for c in [Compression::Lz4, Compression::Zstd] {
        let stored = WriteStages::new(c).sealed(seal(K1, &[])).encode(&plain).unwrap();
        let err = ReadStages::new(c, key).decode(&stored).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config, "{c:?}: {}", err.message);
        assert!(err.message.contains("looks encrypted") && err.message.contains(key), "{}", err.message);
        assert!(err.hint.as_deref().unwrap_or("").contains(KEY_VAR), "{:?}", err.hint);
        // The same through a streaming reader, as a tar walker reads it.
        let mut reader = ReadStages::new(c, key).open(&stored[..]).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err());
        assert!(reader.take_failure().expect("the stages' own error").message.contains("looks encrypted"));

        let plain_object = WriteStages::new(c).encode(&plain).unwrap();
        let err = ReadStages::new(c, key).sealed(seal(K1, &[])).decode(&plain_object).unwrap_err();
        assert!(err.message.contains("is not encrypted"), "{c:?}: {}", err.message);
    }
    let stored = WriteStages::new(Compression::Brotli).sealed(seal(K1, &[])).encode(&plain).unwrap();
    let err = ReadStages::new(Compression::Brotli, key).decode(&stored).unwrap_err();
    assert!(err.hint.as_deref().unwrap_or("").contains(KEY_VAR), "{:?}", err.hint);

    // Truncated, through every decompressor: the seal's words reach the caller.
    for c in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Brotli] {
        let stored = WriteStages::new(c).sealed(seal(K1, &[])).encode(&plain).unwrap();
        let cut = &stored[..stored.len() - 5];
        let err = ReadStages::new(c, key).sealed(seal(K1, &[])).decode(cut).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Corrupt, "{c:?}");
        assert!(err.message.starts_with(&format!("cannot decrypt {key}: ")), "{c:?}: {}", err.message);
        let mut reader = ReadStages::new(c, key).sealed(seal(K1, &[])).open(cut).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err(), "{c:?}");
        assert!(reader.take_failure().is_some_and(|e| e.message.starts_with("cannot decrypt")), "{c:?}");
    }
}

fn parse(pairs: &[(&str, &str)]) -> Result<Option<Keys>> {
    Keys::from_env(&Env::from_pairs(pairs))
}

fn current(pairs: &[(&str, &str)]) -> [u8; 32] {
    *parse(pairs).unwrap().expect("a key").current
}

#[test]
fn key_transforms_follow_walgs_rules() {
    let t = |v| (TRANSFORM_VAR, v);
    // none: fewer than 25 bytes refused; 25 to 31 padded with zeros; more than 32 cut.
    for len in [0usize, 1, 24] {
        let text = "k".repeat(len);
        let got = parse(&[(KEY_VAR, text.as_str())]);
        if len == 0 {
            assert!(got.unwrap().is_none(), "an empty variable is unset");
            continue;
        }
        let err = got.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.starts_with(KEY_VAR) && (len < 4 || !err.message.contains(&text)), "{}", err.message);
        assert!(err.hint.is_some());
    }
    for len in [25usize, 31, 32, 33, 100] {
        let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let mut want = [0u8; 32];
        let n = len.min(32);
        want[..n].copy_from_slice(&text.as_bytes()[..n]);
        assert_eq!(current(&[(KEY_VAR, &text)]), want, "{len}");
        assert_eq!(current(&[(KEY_VAR, &text), t("none")]), want, "{len}");
    }
    // base64 and hex: exactly 32 bytes.
    use base64::Engine;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![5u8; n]);
    assert_eq!(current(&[(KEY_VAR, &b64(32)), t("base64")]), [5; 32]);
    assert_eq!(current(&[(KEY_VAR, &"0a".repeat(32)), t("hex")]), [10; 32]);
    assert_eq!(current(&[(KEY_VAR, &"0A".repeat(32)), t("HEX")]), [10; 32]);
    for (text, transform) in [
        (b64(31), "base64"),
        (b64(33), "base64"),
        (b64(24), "base64"),
        ("not base64!".repeat(4), "base64"),
        ("0a".repeat(31), "hex"),
        ("0a".repeat(33), "hex"),
        ("zz".repeat(32), "hex"),
    ] {
        let err = parse(&[(KEY_VAR, &text), t(transform)]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config, "{text}");
        assert!(err.message.starts_with(KEY_VAR) && !err.message.contains(&text), "{}", err.message);
        assert!(err.message.contains(transform), "{}", err.message);
    }
    assert!(parse(&[(KEY_VAR, &b64(32)), t("rot13")]).unwrap_err().message.starts_with(TRANSFORM_VAR));
    // The fixture's key, as WAL-G reads it.
    let fixture = "9UKkyVJQmKieBJK+td02Jj5WBxcCIpfYYCLICgHa9+k=";
    assert_eq!(current(&[(KEY_VAR, fixture), t("base64")])[..3], [0xf5, 0x42, 0xa4]);
}

#[test]
fn key_files_are_trimmed_and_the_inline_key_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sodium.key");
    std::fs::write(&file, format!("  {}\n", "0b".repeat(32))).unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(current(&[(KEY_PATH_VAR, path), (TRANSFORM_VAR, "hex")]), [11; 32]);
    let inline = "0c".repeat(32);
    assert_eq!(current(&[(KEY_VAR, &inline), (KEY_PATH_VAR, path), (TRANSFORM_VAR, "hex")]), [12; 32]);
    std::fs::write(&file, "short\n").unwrap();
    let err = parse(&[(KEY_PATH_VAR, path)]).unwrap_err();
    assert!(err.message.starts_with(KEY_PATH_VAR) && !err.message.contains("short"), "{}", err.message);
    let err = parse(&[(KEY_PATH_VAR, "/nonexistent/sodium.key")]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains(KEY_PATH_VAR), "{}", err.message);
}

#[test]
fn previous_keys_are_a_comma_separated_list() {
    let (a, b, c) = ("0a".repeat(32), "0b".repeat(32), "0c".repeat(32));
    let list = format!("{b}, {c},");
    let keys = parse(&[(KEY_VAR, &a), (PREVIOUS_VAR, &list), (TRANSFORM_VAR, "hex")]).unwrap().unwrap();
    let all: Vec<[u8; 32]> = keys.all().copied().collect();
    assert_eq!(all, vec![[10; 32], [11; 32], [12; 32]]);
    assert_eq!(format!("{keys:?}"), "libsodium keys (1 current, 2 previous)");
    let bad = format!("{b},0d0d");
    let err = parse(&[(KEY_VAR, &a), (PREVIOUS_VAR, &bad), (TRANSFORM_VAR, "hex")]).unwrap_err();
    assert!(err.message.starts_with(&format!("{PREVIOUS_VAR} (key 2 of the list)")), "{}", err.message);
    assert!(!err.message.contains("0d0d") && !err.message.contains(&b));
    let err = parse(&[(PREVIOUS_VAR, &b)]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains(KEY_VAR));
}
