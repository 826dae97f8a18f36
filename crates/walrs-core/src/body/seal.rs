//! The seal stage: where an object's bytes are encrypted after compression, and decrypted
//! before decompression.
//!
//! A method is a variant of [`Seal`] holding its keys (in an `Arc`: stages are cloned per
//! object), with its case in [`Sealed`] (with a `finish` that writes what the cipher still
//! holds) and in [`Seal::reader`]; its code lives in [`crate::crypto`]. The repository handle
//! chooses the seal once ([`crate::storage::Storage::seal`], from [`crate::crypto::seal_from_env`])
//! and every operation builds its stages with it ([`crate::storage::Storage::read_stages`],
//! [`crate::storage::Storage::write_stages`]).
//!
//! A reader that refuses its input says why with a [`SealError`] inside the `io::Error`, which
//! the read stages turn into the object's error.

use crate::crypto::libsodium;
use crate::crypto::openpgp::{Encryptor, OpenPgpKeys};
use crate::{Error, ErrorKind, Result};
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// How stored bytes are sealed.
#[derive(Debug, Clone, Default)]
pub enum Seal {
    /// Stored as the compressor wrote them, as WAL-G stores objects without encryption.
    #[default]
    None,
    /// libsodium's secretstream, as WAL-G's `WALG_LIBSODIUM_KEY` encrypts.
    Libsodium(Arc<libsodium::Keys>),
    /// A binary OpenPGP message encrypted to the ring's public keys, as WAL-G writes with
    /// `WALG_PGP_KEY`; reading needs the ring's secret keys.
    OpenPgp(Arc<OpenPgpKeys>),
}

impl Seal {
    /// Whether objects are encrypted.
    pub fn is_encrypted(&self) -> bool {
        !matches!(self, Seal::None)
    }

    /// Wrap `sink` so that what is written reaches it sealed. A seal may write its header to
    /// the sink at once (OpenPGP's session-key packets).
    pub fn writer<W: Write>(&self, sink: W) -> io::Result<Sealed<W>> {
        match self {
            Seal::None => Ok(Sealed::Plain(sink)),
            Seal::Libsodium(keys) => Ok(Sealed::Libsodium(Box::new(libsodium::Writer::new(sink, keys)))),
            Seal::OpenPgp(keys) => keys.encryptor(sink).map(|e| Sealed::OpenPgp(Box::new(e))),
        }
    }

    /// Wrap `source` so that reading yields its bytes unsealed. Boxed rather than a reader
    /// type of its own: through a `Box`, std passes on the fast paths of the reader inside
    /// (reading into a buffer that was never zeroed, as `read_to_end` does), which a type of
    /// ours cannot offer on stable Rust; an uncompressed body decodes twice as fast this way.
    /// OpenPGP reads its header here, so that a key that does not fit is an error naming the
    /// object `key` before any decompression; libsodium reports through [`SealError`] on read.
    pub fn reader<'a, R: Read + Send + 'a>(&self, source: R, key: &str) -> Result<Box<dyn Read + 'a>> {
        match self {
            Seal::None => Ok(Box::new(source)),
            Seal::Libsodium(keys) => Ok(Box::new(libsodium::Reader::new(source, Arc::clone(keys)))),
            Seal::OpenPgp(keys) => keys.decryptor(source, key),
        }
    }
}

/// The write side of the seal stage; see [`Seal::writer`].
pub enum Sealed<W: Write> {
    Plain(W),
    Libsodium(Box<libsodium::Writer<W>>),
    /// Boxed: the cipher's state is a kilobyte, a plain sink a pointer.
    OpenPgp(Box<Encryptor<W>>),
}

impl<W: Write> Sealed<W> {
    /// Write what the stage still holds and return the sink.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Sealed::Plain(sink) => Ok(sink),
            Sealed::Libsodium(w) => w.finish(),
            Sealed::OpenPgp(encryptor) => encryptor.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(sink) => sink.write(buf),
            Sealed::Libsodium(w) => w.write(buf),
            Sealed::OpenPgp(encryptor) => encryptor.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(sink) => sink.flush(),
            Sealed::Libsodium(w) => w.flush(),
            Sealed::OpenPgp(encryptor) => encryptor.flush(),
        }
    }
}

/// Why an unseal stage refused an object, carried inside the `io::Error` its reader returns
/// (through the decompressor) to the read stages, which make it the object's error
/// ([`SealError::for_object`]).
#[derive(Debug)]
pub struct SealError {
    /// [`ErrorKind::Config`] when no configured key opens the object, else
    /// [`ErrorKind::Corrupt`] (truncated, bytes after the end, a chunk that fails authentication).
    pub kind: ErrorKind,
    /// What follows "cannot decrypt <object>": " (wrong key?)", or ": " and the reason.
    pub detail: String,
    pub hint: Option<String>,
    /// The object's first bytes (up to 4), when the stage saw them: an object that starts with
    /// its compression's magic bytes was never encrypted.
    pub start: Vec<u8>,
}

impl SealError {
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The seal error inside `e`, if it is one.
    pub fn find(e: &io::Error) -> Option<&SealError> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<SealError>())
    }

    /// The error of the object `key`, which its compression says starts with `magic`.
    pub fn for_object(&self, key: &str, magic: Option<&[u8]>) -> Error {
        if self.kind == ErrorKind::Config && magic.is_some_and(|m| self.start.starts_with(m)) {
            return Error::config(format!(
                "cannot decrypt {key}: it is not encrypted, and an encryption key is configured"
            ))
            .with_hint(
                "the object was stored without encryption (before the key was set, or by a writer without it); \
                     walrs refuses plain objects in an encrypted repository",
            );
        }
        let err = Error::new(self.kind, format!("cannot decrypt {key}{}", self.detail));
        match &self.hint {
            Some(h) => err.with_hint(h.clone()),
            None => {
                err.with_hint("the object is damaged or truncated: restore another backup, or archive the WAL again")
            }
        }
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decrypt{}", self.detail)
    }
}

impl std::error::Error for SealError {}
