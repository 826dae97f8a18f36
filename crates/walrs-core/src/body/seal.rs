//! The seal stage: where an object's bytes will be encrypted after compression, and decrypted
//! before decompression. Only [`Seal::None`] exists, which passes bytes through unchanged.
//!
//! Encryption is a new variant here, with its key, its case in [`Sealed`] (with a `finish`
//! that writes what the cipher still holds) and in [`Seal::reader`]. [`super::WriteStages`]
//! and [`super::ReadStages`] are built with [`Seal::None`] today; they are the only place that
//! chooses the seal, so every object gets the one chosen there.

use std::io::{self, Read, Write};

/// How stored bytes are sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Seal {
    /// Stored as the compressor wrote them, as WAL-G stores objects without encryption.
    #[default]
    None,
}

impl Seal {
    /// Wrap `sink` so that what is written reaches it sealed.
    pub fn writer<W: Write>(self, sink: W) -> Sealed<W> {
        match self {
            Seal::None => Sealed::Plain(sink),
        }
    }

    /// Wrap `source` so that reading yields its bytes unsealed. Boxed rather than a reader
    /// type of its own: through a `Box`, std passes on the fast paths of the reader inside
    /// (reading into a buffer that was never zeroed, as `read_to_end` does), which a type of
    /// ours cannot offer on stable Rust; an uncompressed body decodes twice as fast this way.
    pub fn reader<'a, R: Read + 'a>(self, source: R) -> Box<dyn Read + 'a> {
        match self {
            Seal::None => Box::new(source),
        }
    }
}

/// The write side of the seal stage; see [`Seal::writer`].
pub enum Sealed<W> {
    Plain(W),
}

impl<W: Write> Sealed<W> {
    /// Write what the stage still holds and return the sink.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Sealed::Plain(sink) => Ok(sink),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(sink) => sink.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(sink) => sink.flush(),
        }
    }
}
