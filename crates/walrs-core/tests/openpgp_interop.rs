//! OpenPGP sealing against gpg(1), an implementation walrs shares no code with: what walrs
//! writes, gpg decrypts to the exact compressed body; what gpg encrypts (with and without its
//! own compression), walrs reads. Keys are made by gpg in a throwaway home directory. The test
//! fails, never skips, when gpg is missing (`scripts/install-deps.sh` installs `gnupg`).
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use walrs_core::body::{ReadStages, Seal, WriteStages};
use walrs_core::compress::Compression;
use walrs_core::crypto::openpgp::OpenPgpKeys;
use walrs_core::env::Env;
use walrs_core::ops::{wal_fetch, wal_push, PushOutcome};
use walrs_core::storage::{Location, Storage};
use walrs_core::ErrorKind;

const GPG: &str = "/usr/bin/gpg";
const PASS: &str = "correct horse battery staple";

/// A gpg home directory of its own; its agent is stopped when the test ends.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Self {
        assert!(Path::new(GPG).exists(), "{GPG} is missing: install Debian's gnupg (scripts/install-deps.sh does)");
        let home = tempfile::Builder::new().prefix("walrs-gpg").tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Run gpg with `args`; its standard output. Panics with its stderr when it fails.
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = self.try_run(args);
        assert!(out.status.success(), "gpg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn try_run(&self, args: &[&str]) -> std::process::Output {
        Command::new(GPG)
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback", "--passphrase", PASS])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A new key for `uid`: a primary key of `algo` that certifies and signs, with an
    /// encryption subkey of `subkey_algo` unless that is `None`. Its fingerprint.
    fn key(&self, uid: &str, algo: &str, subkey_algo: Option<&str>) -> String {
        self.run(&["--quick-gen-key", uid, algo, "cert,sign", "never"]);
        let fpr = self.fingerprint(uid);
        if let Some(sub) = subkey_algo {
            self.run(&["--quick-add-key", &fpr, sub, "encr", "never"]);
        }
        fpr
    }

    fn fingerprint(&self, uid: &str) -> String {
        let listing = String::from_utf8(self.run(&["--with-colons", "--list-keys", uid])).unwrap();
        listing.lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_string()
    }

    fn public_ring(&self, fpr: &str) -> String {
        String::from_utf8(self.run(&["--armor", "--export", fpr])).unwrap()
    }

    fn secret_ring(&self, fpr: &str) -> String {
        String::from_utf8(self.run(&["--armor", "--export-secret-keys", fpr])).unwrap()
    }

    /// gpg's plaintext of the message in `file`.
    fn decrypt(&self, file: &Path) -> Vec<u8> {
        self.run(&["--decrypt", file.to_str().unwrap()])
    }

    /// gpg's packet listing of the message in `file`.
    fn packets(&self, file: &Path) -> String {
        String::from_utf8_lossy(&self.run(&["--list-packets", file.to_str().unwrap()])).into_owned()
    }

    /// A binary message of `plain` encrypted by gpg to `fpr`, with `extra` options.
    fn encrypt(&self, fpr: &str, plain: &[u8], extra: &[&str]) -> Vec<u8> {
        let input = self.path("plain.bin");
        let output = self.path("message.gpg");
        std::fs::write(&input, plain).unwrap();
        if output.exists() {
            std::fs::remove_file(&output).unwrap();
        }
        let mut args = vec!["--trust-model", "always", "--recipient", fpr, "--output", output.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--encrypt", input.to_str().unwrap()]);
        self.run(&args);
        std::fs::read(&output).unwrap()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // The agent gpg started for this home directory, and only that one.
        let stopped = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Err(e) = stopped {
            eprintln!("could not stop the test's gpg-agent: {e}");
        }
    }
}

/// Bodies of 0 bytes, 1 byte and a few MiB (many 64 KiB parts), half text and half noise.
fn bodies() -> Vec<Vec<u8>> {
    let mut big = Vec::with_capacity(3 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while big.len() < (3 << 20) + 12345 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x >> 60) < 8 {
            big.extend_from_slice(b"INSERT INTO t VALUES (42, 'row');\r\n");
        } else {
            big.extend_from_slice(&x.to_le_bytes());
        }
    }
    vec![Vec::new(), vec![0x0D], big]
}

fn seal(armored: &str, passphrase: Option<&str>) -> Seal {
    Seal::OpenPgp(Arc::new(OpenPgpKeys::from_armored(armored, passphrase, "WALG_PGP_KEY").unwrap()))
}

#[test]
fn gpg_decrypts_what_walrs_writes_to_the_exact_compressed_body() {
    let gpg = Gpg::new();
    let fpr = gpg.key("walrs writer <w@example.org>", "ed25519", Some("cv25519"));
    // Writing needs the public keys only.
    let writer = seal(&gpg.public_ring(&fpr), None);
    let reader = seal(&gpg.secret_ring(&fpr), Some(PASS));
    for compression in [Compression::Lz4, Compression::Zstd, Compression::None] {
        for plain in bodies() {
            let compressed = WriteStages::new(compression).encode(&plain).unwrap();
            let stored = WriteStages::new(compression).sealed(writer.clone()).encode(&plain).unwrap();
            let file = gpg.path("object");
            std::fs::write(&file, &stored).unwrap();
            assert_eq!(gpg.decrypt(&file), compressed, "{} of {} bytes", compression.name(), plain.len());
            let (back, counted) = ReadStages::new(compression, "k").sealed(reader.clone()).decode(&stored).unwrap();
            assert_eq!((back == plain, counted.size), (true, plain.len() as u64));
        }
    }
    // What the message holds, as WAL-G writes it: a session key per recipient and one
    // integrity-protected packet of binary literal data; no signature, no compression.
    let file = gpg.path("object");
    std::fs::write(&file, WriteStages::new(Compression::Lz4).sealed(writer).encode(b"body").unwrap()).unwrap();
    let packets = gpg.packets(&file);
    assert!(packets.contains(":pubkey enc packet: version 3, algo 18"), "{packets}");
    assert!(packets.contains(":encrypted data packet:"), "{packets}");
    assert!(packets.contains("mdc_method: 2"), "{packets}");
    assert!(packets.contains(":literal data packet:") && packets.contains("mode b"), "{packets}");
    assert!(!packets.contains("compressed packet") && !packets.contains("signature packet"), "{packets}");
}

#[test]
fn walrs_reads_what_gpg_encrypts_with_or_without_its_compression() {
    let gpg = Gpg::new();
    let fpr = gpg.key("walrs rsa <r@example.org>", "rsa2048", Some("rsa2048"));
    let reader = seal(&gpg.secret_ring(&fpr), Some(PASS));
    let options: [&[&str]; 5] = [
        &["--compress-algo", "none"],
        &[],
        &["--compress-algo", "zlib"],
        &["--compress-algo", "zip"],
        &["--compress-algo", "bzip2"],
    ];
    for plain in bodies() {
        let compressed = WriteStages::new(Compression::Lz4).encode(&plain).unwrap();
        for extra in options {
            let stored = gpg.encrypt(&fpr, &compressed, extra);
            let read = ReadStages::new(Compression::Lz4, "wal_005/000000010000000000000001.lz4")
                .sealed(reader.clone())
                .checksummed()
                .decode(&stored);
            let (back, _) = read.unwrap_or_else(|e| panic!("gpg {extra:?}, {} bytes: {e:?}", plain.len()));
            assert!(back == plain, "gpg {extra:?}, {} bytes", plain.len());
        }
    }
    // Armored, as a user may store one by hand, is not what an object is.
    let armored = gpg.encrypt(&fpr, b"x", &["--armor"]);
    let err = ReadStages::new(Compression::None, "k").sealed(reader).decode(&armored).unwrap_err();
    assert!(err.message.starts_with("cannot decrypt k"), "{err:?}");
}

#[test]
fn another_key_cannot_read_and_says_so_naming_the_object() {
    let gpg = Gpg::new();
    let ours = gpg.key("ours <o@example.org>", "ed25519", Some("cv25519"));
    let theirs = gpg.key("theirs <t@example.org>", "ed25519", Some("cv25519"));
    let key = "basebackups_005/base_000000010000000000000002/tar_partitions/part_1.tar.lz4";
    let wrong = seal(&gpg.secret_ring(&theirs), Some(PASS));
    let by_walrs = WriteStages::new(Compression::Lz4).sealed(seal(&gpg.public_ring(&ours), None)).encode(b"x").unwrap();
    let by_gpg = gpg.encrypt(&ours, &WriteStages::new(Compression::Lz4).encode(b"x").unwrap(), &[]);
    for stored in [by_walrs, by_gpg] {
        let err = ReadStages::new(Compression::Lz4, key).sealed(wrong.clone()).decode(&stored).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config, "{err:?}");
        assert!(err.message.starts_with(&format!("cannot decrypt {key}:")), "{}", err.message);
        assert!(err.message.ends_with("(wrong key?)"), "{}", err.message);
        assert!(err.hint.is_some());
    }
}

#[test]
fn key_configuration_from_the_environment() {
    let gpg = Gpg::new();
    let fpr = gpg.key("env <e@example.org>", "ed25519", Some("cv25519"));
    let secret = gpg.secret_ring(&fpr);
    let public = gpg.public_ring(&fpr);
    let stored = WriteStages::new(Compression::None).sealed(seal(&public, None)).encode(b"plain").unwrap();
    let read = |env: &Env| -> walrs_core::Result<Vec<u8>> {
        let keys = OpenPgpKeys::from_env(env)?.unwrap();
        let (plain, _) =
            ReadStages::new(Compression::None, "k").sealed(Seal::OpenPgp(Arc::new(keys))).decode(&stored)?;
        Ok(plain)
    };

    assert!(OpenPgpKeys::from_env(&Env::default()).unwrap().is_none());
    // Inline, with newlines written as `\n`, as WAL-G takes it.
    let one_line = secret.replace('\n', "\\n");
    let env = Env::from_pairs(&[("WALG_PGP_KEY", &one_line), ("WALG_PGP_KEY_PASSPHRASE", PASS)]);
    assert_eq!(read(&env).unwrap(), b"plain");
    // From a file.
    let ring = gpg.path("ring.asc");
    std::fs::write(&ring, &secret).unwrap();
    let path = ring.to_str().unwrap();
    assert_eq!(
        read(&Env::from_pairs(&[("WALG_PGP_KEY_PATH", path), ("WALG_PGP_KEY_PASSPHRASE", PASS)])).unwrap(),
        b"plain"
    );

    let config_error = |result: walrs_core::Result<Vec<u8>>, names: &str| {
        let err = result.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config, "{err:?}");
        assert!(err.message.contains(names), "{} should name {names}", err.message);
        assert!(err.hint.is_some(), "{err:?}");
        // Nothing of the key ring or its passphrase is quoted.
        let said = format!("{} {}", err.message, err.hint.unwrap_or_default());
        assert!(!said.contains(PASS), "{said}");
        assert!(secret.lines().filter(|l| l.len() > 16).all(|l| !said.contains(l)), "{said}");
    };
    // A wrong passphrase, or none, is found when a secret key is first needed.
    let env = Env::from_pairs(&[("WALG_PGP_KEY_PATH", path), ("WALG_PGP_KEY_PASSPHRASE", "not it")]);
    config_error(read(&env), "WALG_PGP_KEY_PASSPHRASE");
    config_error(read(&Env::from_pairs(&[("WALG_PGP_KEY_PATH", path)])), "passphrase");
    // A public ring writes but cannot read.
    config_error(read(&Env::from_pairs(&[("WALG_PGP_KEY", &public)])), "public keys only");
    let keys = |env: &Env| OpenPgpKeys::from_env(env).map(|_| Vec::new());
    config_error(keys(&Env::from_pairs(&[("WALG_PGP_KEY_PATH", "/nonexistent/ring.asc")])), "WALG_PGP_KEY_PATH");
    config_error(keys(&Env::from_pairs(&[("WALG_PGP_KEY", "not a key")])), "WALG_PGP_KEY");
    let damaged = secret.replacen("\n\n", "\n\n!!!!", 1);
    config_error(keys(&Env::from_pairs(&[("WALG_PGP_KEY", &damaged)])), "WALG_PGP_KEY");
    config_error(keys(&Env::from_pairs(&[("WALG_PGP_KEY", &public), ("WALG_PGP_KEY_PATH", path)])), "both");
    for legacy in ["WALG_GPG_KEY_ID", "WALE_GPG_KEY_ID"] {
        config_error(keys(&Env::from_pairs(&[(legacy, &fpr)])), legacy);
    }
    // A key that only signs cannot be encrypted to.
    let signer = gpg.key("signer <s@example.org>", "ed25519", None);
    config_error(
        keys(&Env::from_pairs(&[("WALG_PGP_KEY", &gpg.public_ring(&signer))])),
        "no encryption-capable subkey",
    );

    // Nor can a key whose only encryption subkey has expired (made in 2020, for a day).
    let in_2020 = ["--faked-system-time", "20200101T000000!"];
    gpg.run(&[&in_2020[..], &["--quick-gen-key", "old <old@example.org>", "ed25519", "cert,sign", "never"]].concat());
    let old = gpg.fingerprint("old <old@example.org>");
    gpg.run(&[&in_2020[..], &["--quick-add-key", &old, "cv25519", "encr", "1d"]].concat());
    config_error(keys(&Env::from_pairs(&[("WALG_PGP_KEY", &gpg.public_ring(&old))])), "valid now");

    // All of these are secrets: hidden from Debug and redacted from messages.
    let env = Env::from_pairs(&[("WALG_PGP_KEY", &one_line), ("WALG_PGP_KEY_PASSPHRASE", PASS)]);
    let shown = format!("{env:?}");
    assert!(!shown.contains(PASS) && !shown.contains("BEGIN PGP"), "{shown}");
    assert!(env.secret_values().contains(&PASS.to_string()));
}

/// Through the repository handle, as the archiver and `wal-fetch` use it: a segment archived
/// with WALG_PGP_KEY set is an OpenPGP message gpg decrypts to an LZ4 frame of the segment;
/// walrs fetches it back; pushing the same segment again is a success, a changed one a conflict.
#[tokio::test]
async fn a_repository_with_an_openpgp_key_archives_what_gpg_decrypts() {
    let gpg = Gpg::new();
    let fpr = gpg.key("walrs repo <r@example.org>", "ed25519", Some("cv25519"));
    let dir = tempfile::tempdir().unwrap();
    let (name, path) = support::fixture_segment(dir.path()).await;
    let original = std::fs::read(&path).unwrap();
    let ring = gpg.secret_ring(&fpr);
    let env = Env::from_pairs(&[("WALG_PGP_KEY", &ring), ("WALG_PGP_KEY_PASSPHRASE", PASS)]);
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    let storage = Storage::open(&Location::parse(&format!("file://{}", root.display())).unwrap(), &env).unwrap();

    let pushed = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap();
    assert!(matches!(pushed, PushOutcome::Stored { .. }), "{pushed:?}");
    let stored = root.join("wal_005/000000010000000000000003.lz4");
    let frame = gpg.decrypt(&stored);
    assert_eq!(&frame[..4], &[0x04, 0x22, 0x4D, 0x18], "gpg gives the LZ4 frame walrs compressed");
    let restored = ReadStages::new(Compression::Lz4, "frame").decode(&frame).unwrap().0;
    assert!(restored == original, "the frame decodes to the segment");

    let dest = dir.path().join("fetched");
    wal_fetch(&storage, &name, &dest, Compression::Lz4, None).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == original);
    let again = wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap();
    assert!(matches!(again, PushOutcome::AlreadyArchived { .. }), "{again:?}");
    let mut changed = original.clone();
    changed[100_000] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    assert_eq!(wal_push(&storage, &name, &path, Compression::Lz4, None).await.unwrap_err().kind, ErrorKind::Conflict);

    // Without the key, the object is not taken for a damaged LZ4 frame.
    let keyless = Storage::open(&Location::parse(&format!("file://{}", root.display())).unwrap(), &Env::default());
    let err = wal_fetch(&keyless.unwrap(), &name, &dir.path().join("nokey"), Compression::Lz4, None).await.unwrap_err();
    assert!(err.message.contains("looks encrypted"), "{err}");
}
