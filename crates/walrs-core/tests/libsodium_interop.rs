//! walrs's libsodium encryption against the real libsodium (PyNaCl, installed by
//! `scripts/install-test-servers.sh` into `$WALRS_SERVERS_DIR/pynacl`), in WAL-G's framing,
//! both ways: what walrs writes, libsodium decrypts (and `lz4 -d` decodes to the original);
//! what libsodium encrypts as WAL-G does, walrs reads. A missing PyNaCl or lz4 fails the
//! tests, with how to install them: a test that skips cannot fail.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use walrs_core::body::{ReadStages, Seal, WriteStages};
use walrs_core::compress::Compression;
use walrs_core::crypto::libsodium::Keys;
use walrs_core::env::Env;
use walrs_core::ops::{wal_fetch, wal_push, PushOutcome};
use walrs_core::storage::{Location, Storage};

const KEY: [u8; 32] = [
    0x31, 0x9c, 0x07, 0xe2, 0x55, 0x10, 0xab, 0x4f, 0x88, 0x02, 0x6d, 0xc3, 0x90, 0x1e, 0x77, 0xfa, 0x0b, 0x64, 0x29,
    0xd8, 0x45, 0x3a, 0xbe, 0x11, 0x5c, 0xe7, 0x82, 0x06, 0xf1, 0x9d, 0x33, 0x4a,
];
const LENGTHS: [usize; 7] = [0, 1, 8191, 8192, 8193, 3 * 8192, 100_000];

/// WAL-G's framing with the real libsodium: `encrypt` and `decrypt` between stdin and stdout.
/// `decrypt` checks the framing as WAL-G's reader does (only a short last chunk is FINAL).
const WALG_FRAMING: &str = r#"
import sys
from nacl import bindings as b
CHUNK = 8192
mode, key = sys.argv[1], bytes.fromhex(sys.argv[2])
data = sys.stdin.buffer.read()
out = sys.stdout.buffer
state = b.crypto_secretstream_xchacha20poly1305_state()
if mode == "encrypt":
    out.write(b.crypto_secretstream_xchacha20poly1305_init_push(state, key))
    pos = 0
    while len(data) - pos >= CHUNK:
        out.write(b.crypto_secretstream_xchacha20poly1305_push(
            state, data[pos:pos + CHUNK], None, b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
        pos += CHUNK
    out.write(b.crypto_secretstream_xchacha20poly1305_push(
        state, data[pos:], None, b.crypto_secretstream_xchacha20poly1305_TAG_FINAL))
else:
    hb = b.crypto_secretstream_xchacha20poly1305_HEADERBYTES
    sealed = CHUNK + b.crypto_secretstream_xchacha20poly1305_ABYTES
    b.crypto_secretstream_xchacha20poly1305_init_pull(state, data[:hb], key)
    pos, final = hb, False
    while not final:
        chunk = data[pos:pos + sealed]
        if not chunk:
            sys.exit("no FINAL chunk")
        pos += len(chunk)
        plain, tag = b.crypto_secretstream_xchacha20poly1305_pull(state, chunk, None)
        final = tag == b.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        if final and len(chunk) == sealed:
            sys.exit("FINAL on a full chunk")
        if not final and (tag != b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE or len(chunk) != sealed):
            sys.exit("a short or odd chunk before the end")
        out.write(plain)
    if pos != len(data):
        sys.exit("bytes after FINAL")
"#;

fn python() -> PathBuf {
    let python = match std::env::var_os("WALRS_SERVERS_DIR") {
        Some(dir) => PathBuf::from(dir).join("pynacl/bin/python"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/walrs/servers/pynacl/bin/python"),
    };
    assert!(
        python.is_file(),
        "{} is missing: install PyNaCl with scripts/install-test-servers.sh (same WALRS_SERVERS_DIR)",
        python.display()
    );
    python
}

/// Run `program` with `input` on stdin; its stdout, or the test fails with its stderr.
fn pipe(program: &mut Command, input: &[u8]) -> Vec<u8> {
    let mut child =
        program.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| {
            panic!("cannot run {program:?}: {e} (lz4: apt-get install lz4, see scripts/install-deps.sh)")
        });
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "{program:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn libsodium(mode: &str, input: &[u8]) -> Vec<u8> {
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    pipe(Command::new(python()).args(["-c", WALG_FRAMING, mode, &hex]), input)
}

fn seal() -> Seal {
    Seal::Libsodium(Arc::new(Keys::from_bytes(KEY, &[])))
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn every_length_both_ways() {
    for len in LENGTHS {
        let plain = noise(len, len as u64 + 7);
        let ours = WriteStages::new(Compression::None).sealed(seal()).encode(&plain).unwrap();
        assert!(libsodium("decrypt", &ours) == plain, "libsodium read back what walrs wrote, {len} bytes");
        let theirs = libsodium("encrypt", &plain);
        assert_eq!(theirs.len(), ours.len(), "{len}: the same framing");
        let (back, counted) = ReadStages::new(Compression::None, "k").sealed(seal()).decode(&theirs).unwrap();
        assert!(back == plain, "walrs read what libsodium wrote, {len} bytes");
        assert_eq!(counted.size, len as u64);
    }
}

#[test]
fn lz4_bodies_both_ways() {
    let plain = [noise(20_000, 3), vec![0u8; 100_000], noise(5_000, 4)].concat();
    let ours = WriteStages::new(Compression::Lz4).sealed(seal()).encode(&plain).unwrap();
    let frame = libsodium("decrypt", &ours);
    assert_eq!(frame[..4], [0x04, 0x22, 0x4D, 0x18], "an LZ4 frame inside");
    assert!(pipe(Command::new("lz4").args(["-d", "-c"]), &frame) == plain);

    let frame = pipe(Command::new("lz4").args(["-c"]), &plain);
    let theirs = libsodium("encrypt", &frame);
    let (back, _) = ReadStages::new(Compression::Lz4, "k").sealed(seal()).decode(&theirs).unwrap();
    assert!(back == plain);
}

fn repo(dir: &Path) -> Storage {
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    let env = Env::from_pairs(&[("WALG_LIBSODIUM_KEY", &hex), ("WALG_LIBSODIUM_KEY_TRANSFORM", "hex")]);
    std::fs::create_dir_all(dir).unwrap();
    Storage::open(&Location::parse(&format!("file://{}", dir.display())).unwrap(), &env).unwrap()
}

#[tokio::test]
async fn a_segment_walrs_archived_decrypts_with_libsodium_and_lz4() {
    let dir = tempfile::tempdir().unwrap();
    let (name, path) = support::fixture_segment(dir.path()).await;
    let original = std::fs::read(&path).unwrap();
    let storage = repo(&dir.path().join("repo"));
    let pushed = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap();
    assert!(matches!(pushed, PushOutcome::Stored { .. }), "{pushed:?}");
    let stored = std::fs::read(dir.path().join("repo/wal_005/000000010000000000000003.lz4")).unwrap();
    assert!(pipe(Command::new("lz4").args(["-d", "-c"]), &libsodium("decrypt", &stored)) == original);
    // Pushed again: the same plain bytes, though encrypted under another header, are a success.
    let again = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap();
    assert!(matches!(again, PushOutcome::AlreadyArchived { .. }), "{again:?}");
    let mut changed = original.clone();
    changed[100_000] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let err = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap_err();
    assert_eq!(err.kind, walrs_core::ErrorKind::Conflict, "{err}");
}

#[tokio::test]
async fn a_segment_libsodium_encrypted_is_fetched_by_walrs() {
    let dir = tempfile::tempdir().unwrap();
    let (name, path) = support::fixture_segment(dir.path()).await;
    let original = std::fs::read(&path).unwrap();
    let frame = pipe(Command::new("lz4").args(["-c"]), &original);
    let wal = dir.path().join("repo/wal_005");
    std::fs::create_dir_all(&wal).unwrap();
    std::fs::write(wal.join("000000010000000000000003.lz4"), libsodium("encrypt", &frame)).unwrap();
    let storage = repo(&dir.path().join("repo"));
    let dest = dir.path().join("fetched");
    wal_fetch(&storage, &name, &dest, Compression::Lz4, None).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == original);
    // And pushing the same segment finds it identical.
    let again = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap();
    assert!(matches!(again, PushOutcome::AlreadyArchived { .. }), "{again:?}");
}
