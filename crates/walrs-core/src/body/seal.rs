//! The seal stage: where an object's bytes will be encrypted after compression, and decrypted
//! before decompression. [`Seal::None`] passes bytes through unchanged; [`Seal::OpenPgp`]
//! encrypts to OpenPGP keys ([`crate::crypto::openpgp`]).
//!
//! Encryption is a new variant here, with its key, its case in [`Sealed`] (with a `finish`
//! that writes what the cipher still holds) and in [`Seal::reader`]. [`super::WriteStages`]
//! and [`super::ReadStages`] are built with [`Seal::None`] today; they are the only place that
//! chooses the seal, so every object gets the one chosen there.

use crate::crypto::openpgp::{Encryptor, OpenPgpKeys};
use crate::Result;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// How stored bytes are sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seal {
    /// Stored as the compressor wrote them, as WAL-G stores objects without encryption.
    #[default]
    None,
    /// A binary OpenPGP message encrypted to the ring's public keys, as WAL-G writes with
    /// `WALG_PGP_KEY`; reading needs the ring's secret keys.
    OpenPgp(Arc<OpenPgpKeys>),
}

impl Seal {
    /// Wrap `sink` so that what is written reaches it sealed. A seal may write its header to
    /// the sink at once (OpenPGP's session-key packets).
    pub fn writer<W: Write>(&self, sink: W) -> io::Result<Sealed<W>> {
        match self {
            Seal::None => Ok(Sealed::Plain(sink)),
            Seal::OpenPgp(keys) => keys.encryptor(sink).map(|e| Sealed::OpenPgp(Box::new(e))),
        }
    }

    /// Wrap `source` so that reading yields its bytes unsealed. Boxed rather than a reader
    /// type of its own: through a `Box`, std passes on the fast paths of the reader inside
    /// (reading into a buffer that was never zeroed, as `read_to_end` does), which a type of
    /// ours cannot offer on stable Rust; an uncompressed body decodes twice as fast this way.
    /// A seal reads its header here, so that a key that does not fit is an error naming the
    /// object `key`, before any decompression.
    pub fn reader<'a, R: Read + Send + 'a>(&self, source: R, key: &str) -> Result<Box<dyn Read + 'a>> {
        match self {
            Seal::None => Ok(Box::new(source)),
            Seal::OpenPgp(keys) => keys.decryptor(source, key),
        }
    }
}

/// The write side of the seal stage; see [`Seal::writer`].
pub enum Sealed<W: Write> {
    Plain(W),
    /// Boxed: the cipher's state is a kilobyte, a plain sink a pointer.
    OpenPgp(Box<Encryptor<W>>),
}

impl<W: Write> Sealed<W> {
    /// Write what the stage still holds and return the sink.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Sealed::Plain(sink) => Ok(sink),
            Sealed::OpenPgp(encryptor) => encryptor.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(sink) => sink.write(buf),
            Sealed::OpenPgp(encryptor) => encryptor.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(sink) => sink.flush(),
            Sealed::OpenPgp(encryptor) => encryptor.flush(),
        }
    }
}
