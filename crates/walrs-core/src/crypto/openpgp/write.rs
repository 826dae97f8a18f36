//! The streaming writer of an encrypted message (RFC 4880 §5.1, §5.9, §5.13, §5.14):
//!
//! ```text
//! PKESK (one per recipient key)
//! SEIPD v1 = 0x01, CFB(AES, session key, zero IV) of:
//!     random prefix (one block, its last two bytes repeated)
//!     literal data packet: 'b', no file name, time 0, the body
//!     MDC packet: 0xD3 0x14, SHA-1 of everything above it and its own two header bytes
//! ```
//!
//! Both packets whose length is not known in advance (the SEIPD and the literal data) are
//! written in partial body lengths of [`CHUNK`] bytes, the last part with its own length, so
//! memory holds one chunk per packet. The literal data is binary ('b'): WAL-G writes 't' and
//! readers of its objects ignore the mode, but gpg drops every carriage return from a 't'
//! body it decrypts, which would damage a compressed one.

use super::keys::OpenPgpKeys;
use aes::cipher::KeyIvInit;
use pgp::composed::RawSessionKey;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{PacketTrait, PublicKeyEncryptedSessionKey};
use rand::RngCore;
use sha1::{Digest, Sha1};
use std::io::{self, Write};
use zeroize::Zeroizing;

/// The size of a partial body part: a power of two of at least 512, as the format asks.
pub(super) const CHUNK: usize = 1 << 16;
/// The length octet of a [`CHUNK`]-byte part: 224 + log2(CHUNK).
const CHUNK_OCTET: u8 = 224 + CHUNK.trailing_zeros() as u8;

const TAG_SEIPD: u8 = 18;
const TAG_LITERAL: u8 = 11;
/// A new-format packet header's first octet.
const fn new_format(tag: u8) -> u8 {
    0xC0 | tag
}

/// A new-format body length (the last part of a partial body too).
pub(super) fn definite_length(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=191 => out.push(len as u8),
        192..=8383 => {
            let l = len - 192;
            out.extend_from_slice(&[(l >> 8) as u8 + 192, (l & 0xFF) as u8]);
        }
        _ => {
            out.push(0xFF);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn pgp_error(what: &str, e: pgp::errors::Error) -> io::Error {
    io::Error::other(format!("OpenPGP encryption: {what}: {e}"))
}

/// Boxed: each key schedule is most of a kilobyte.
enum Cfb {
    Aes128(Box<cfb_mode::BufEncryptor<aes::Aes128>>),
    Aes256(Box<cfb_mode::BufEncryptor<aes::Aes256>>),
}

impl Cfb {
    fn new(alg: SymmetricKeyAlgorithm, key: &[u8]) -> io::Result<Self> {
        let iv = [0u8; 16];
        let bad = |_| io::Error::other("OpenPGP encryption: session key of the wrong size");
        match alg {
            SymmetricKeyAlgorithm::AES128 => {
                Ok(Cfb::Aes128(Box::new(cfb_mode::BufEncryptor::new_from_slices(key, &iv).map_err(bad)?)))
            }
            SymmetricKeyAlgorithm::AES256 => {
                Ok(Cfb::Aes256(Box::new(cfb_mode::BufEncryptor::new_from_slices(key, &iv).map_err(bad)?)))
            }
            other => Err(io::Error::other(format!("OpenPGP encryption: cipher {other:?} is not written"))),
        }
    }

    fn encrypt(&mut self, data: &mut [u8]) {
        match self {
            Cfb::Aes128(c) => c.encrypt(data),
            Cfb::Aes256(c) => c.encrypt(data),
        }
    }
}

/// The SEIPD packet: hashes and encrypts what it is given, and writes it in parts to the sink.
struct Seipd<W> {
    sink: W,
    /// The current part of the packet body, encrypted (the version octet is not).
    part: Vec<u8>,
    cfb: Cfb,
    mdc: Sha1,
}

impl<W: Write> Seipd<W> {
    /// Take plaintext for the encrypted part: hashed for the MDC unless `hashed` is false.
    fn put(&mut self, mut plain: &[u8], hashed: bool) -> io::Result<()> {
        if hashed {
            self.mdc.update(plain);
        }
        while !plain.is_empty() {
            let take = plain.len().min(CHUNK - self.part.len());
            let start = self.part.len();
            self.part.extend_from_slice(&plain[..take]);
            self.cfb.encrypt(&mut self.part[start..]);
            plain = &plain[take..];
            if self.part.len() == CHUNK {
                self.sink.write_all(&[CHUNK_OCTET])?;
                self.sink.write_all(&self.part)?;
                self.part.clear();
            }
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        // The MDC packet's header is hashed, its digest is not.
        self.put(&[0xD3, 0x14], true)?;
        let digest = self.mdc.clone().finalize();
        self.put(&digest, false)?;
        let mut last = Vec::with_capacity(5);
        definite_length(self.part.len(), &mut last);
        self.sink.write_all(&last)?;
        self.sink.write_all(&self.part)?;
        Ok(self.sink)
    }
}

/// A writer that encrypts what it is given into one OpenPGP message on the sink; see
/// [`OpenPgpKeys::encryptor`]. [`Encryptor::finish`] ends the message.
pub struct Encryptor<W: Write> {
    seipd: Seipd<W>,
    /// The current part of the literal data packet's body, plaintext.
    literal: Vec<u8>,
}

impl<W: Write> Encryptor<W> {
    pub(super) fn new(keys: &OpenPgpKeys, sink: W) -> io::Result<Self> {
        Self::with_literal_mode(keys, sink, b'b')
    }

    /// With another literal data mode: WAL-G's 't', for the tests that read what it writes.
    pub(super) fn with_literal_mode(keys: &OpenPgpKeys, mut sink: W, mode: u8) -> io::Result<Self> {
        let mut rng = rand::thread_rng();
        let alg = keys.cipher;
        let mut key = Zeroizing::new(vec![0u8; alg.key_size()]);
        rng.fill_bytes(&mut key);
        let session_key = RawSessionKey::from(key.clone());
        for recipient in &keys.recipients {
            let pkesk = match recipient {
                super::keys::Recipient::Subkey(k) => {
                    PublicKeyEncryptedSessionKey::from_session_key_v3(&mut rng, &session_key, alg, k)
                }
                super::keys::Recipient::Primary(k) => {
                    PublicKeyEncryptedSessionKey::from_session_key_v3(&mut rng, &session_key, alg, k)
                }
            }
            .map_err(|e| pgp_error(&format!("encrypting the session key to {}", recipient.fingerprint()), e))?;
            pkesk.to_writer_with_header(&mut sink).map_err(|e| pgp_error("writing a session key packet", e))?;
        }
        sink.write_all(&[new_format(TAG_SEIPD)])?;
        let mut part = Vec::with_capacity(CHUNK);
        part.push(1); // SEIPD version 1
        let mut seipd = Seipd { sink, part, cfb: Cfb::new(alg, &key)?, mdc: Sha1::new() };
        // The random prefix: one block, then its last two octets again.
        let block = alg.block_size();
        let mut prefix = Zeroizing::new(vec![0u8; block + 2]);
        rng.fill_bytes(&mut prefix[..block]);
        prefix.copy_within(block - 2..block, block);
        seipd.put(&prefix, true)?;
        seipd.put(&[new_format(TAG_LITERAL)], true)?;
        let mut literal = Vec::with_capacity(CHUNK);
        // The mode, no file name, no time.
        literal.extend_from_slice(&[mode, 0, 0, 0, 0, 0]);
        Ok(Encryptor { seipd, literal })
    }

    /// Write the last parts and the integrity check, and return the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let mut last = Vec::with_capacity(5);
        definite_length(self.literal.len(), &mut last);
        self.seipd.put(&last, true)?;
        self.seipd.put(&self.literal, true)?;
        self.seipd.finish()
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(CHUNK - self.literal.len());
        self.literal.extend_from_slice(&buf[..take]);
        if self.literal.len() == CHUNK {
            self.seipd.put(&[CHUNK_OCTET], true)?;
            self.seipd.put(&self.literal, true)?;
            self.literal.clear();
        }
        Ok(take)
    }

    /// Passes on a flush without ending a part: what is buffered waits for a full part or for
    /// [`Encryptor::finish`].
    fn flush(&mut self) -> io::Result<()> {
        self.seipd.sink.flush()
    }
}
