//! Reading an encrypted message: rpgp's streaming message reader, with the secret keys.

use super::keys::OpenPgpKeys;
use super::Encryptor;
use crate::{Error, Result};
use pgp::composed::{DecryptionOptions, Message, TheRing};
use pgp::types::{Password, Seipdv1ReadMode};
use std::fmt;
use std::io::{BufReader, Read, Write};

/// rpgp reads from a `BufRead` that is `Debug`; the source need not be.
struct Source<R>(BufReader<R>);

impl<R> fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object body")
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> std::io::BufRead for Source<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.0.consume(amt)
    }
}

impl OpenPgpKeys {
    /// A writer that encrypts to the ring's public keys what it is given, as one message on
    /// `sink` (the session-key packets are written at once). End it with
    /// [`Encryptor::finish`].
    pub fn encryptor<W: Write>(&self, sink: W) -> std::io::Result<Encryptor<W>> {
        Encryptor::new(self, sink)
    }

    /// A reader of the literal data of the message `source` yields, the object `key`:
    /// decrypted with the ring's secret keys, decompressed if its writer compressed it (gpg
    /// does by default). The message's header is read here, so a key that does not fit is
    /// an error now, naming the object; a damaged body is an error of the reader.
    ///
    /// Plaintext is released as it is decrypted: the integrity check (the MDC) comes at the
    /// end of the message, and fails the last read if the ciphertext was changed. rpgp's
    /// default would hold the whole message to check it first, which a backup partition
    /// cannot afford; what reads the body checks it too (the compression's framing, the
    /// CRC-32 or tar checksums).
    pub fn decryptor<'a, R: Read + Send + 'a>(&self, source: R, key: &str) -> Result<Box<dyn Read + 'a>> {
        let secret_keys = self.secret_keys()?;
        let not_openpgp = |e: pgp::errors::Error| {
            Error::corrupt(format!("cannot decrypt {key}: it is not an OpenPGP message: {e}"))
                .with_hint("the object was not written with OpenPGP encryption, or is damaged")
        };
        let message = Message::from_bytes(Source(BufReader::with_capacity(1 << 16, source))).map_err(not_openpgp)?;
        if !message.is_encrypted() {
            return Err(Error::corrupt(format!("cannot decrypt {key}: it is an OpenPGP message but not encrypted"))
                .with_hint("the object was not written by walrs or WAL-G with OpenPGP encryption"));
        }
        let empty = Password::empty();
        let ring = TheRing {
            secret_keys: secret_keys.iter().collect(),
            // Unlocked already, once for all objects.
            key_passwords: vec![&empty],
            decrypt_options: DecryptionOptions::new().set_seipdv1_read_mode(Seipdv1ReadMode::Streaming),
            ..TheRing::default()
        };
        let mut message = match message.decrypt_the_ring(ring, true) {
            Ok((message, _)) => message,
            Err(pgp::errors::Error::MissingKey) => {
                return Err(Error::config(format!(
                    "cannot decrypt {key}: it is not encrypted to a key of {} (wrong key?)",
                    self.source()
                ))
                .with_hint(format!(
                    "give {} the key ring whose secret keys the repository was written with",
                    self.source()
                )))
            }
            Err(e) => {
                return Err(Error::corrupt(format!("cannot decrypt {key}: {e}"))
                    .with_hint("the object is damaged, or was encrypted in a way walrs does not read"))
            }
        };
        // gpg compresses once by default; a message is compressed at most that once, but a
        // second layer costs nothing to undo.
        for _ in 0..2 {
            if !message.is_compressed() {
                break;
            }
            message = message
                .decompress()
                .map_err(|e| Error::corrupt(format!("cannot decrypt {key}: its OpenPGP compression: {e}")))?;
        }
        Ok(Box::new(message))
    }
}
