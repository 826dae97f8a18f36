//! The write chain: plain bytes → count → compress → seal → sink.

use super::{Counted, Seal, Sealed, Tally};
use crate::compress::{Compression, Encoder};
use crate::{Error, Result};
use std::io::{self, Write};

/// The stages an object's bytes pass on their way to storage.
#[derive(Debug, Clone)]
pub struct WriteStages {
    compression: Compression,
    seal: Seal,
    checksum: bool,
}

impl WriteStages {
    /// Compress with `compression`, without encryption; count the size of the plain bytes.
    /// Operations build theirs with [`crate::storage::Storage::write_stages`], which adds the
    /// repository's seal.
    pub fn new(compression: Compression) -> Self {
        WriteStages { compression, seal: Seal::None, checksum: false }
    }

    /// Seal with `seal` after compressing.
    pub fn sealed(self, seal: Seal) -> Self {
        WriteStages { seal, ..self }
    }

    /// Also compute the CRC-32 of the plain bytes.
    pub fn checksummed(self) -> Self {
        WriteStages { checksum: true, ..self }
    }

    /// A writer that takes plain bytes and writes the stored form to `sink`. Call
    /// [`BodyWriter::finish`] to end the object.
    pub fn into_writer<S: Write>(self, sink: S) -> Result<BodyWriter<S>> {
        let sealed = self.seal.writer(sink).map_err(|e| Error::local_io("sealing the object", &e))?;
        let encoder = self.compression.encoder(sealed)?;
        Ok(BodyWriter { encoder, tally: Tally::new(self.checksum) })
    }

    /// The stored form of a whole body held in memory.
    pub fn encode(self, plain: &[u8]) -> Result<Vec<u8>> {
        let name = self.compression.name();
        let fail = |e: io::Error| Error::local_io(format!("{name} compression"), &e);
        let mut writer = self.into_writer(Vec::with_capacity(plain.len() / 2 + 64))?;
        writer.write_all(plain).map_err(fail)?;
        writer.finish().map(|(stored, _)| stored).map_err(fail)
    }
}

/// A streaming writer of one object's body; see [`WriteStages::into_writer`].
pub struct BodyWriter<S: Write> {
    encoder: Encoder<Sealed<S>>,
    tally: Tally,
}

impl<S: Write> BodyWriter<S> {
    /// End every stage (the compressor's trailer, then the seal's), and return the sink with
    /// the counts of the plain bytes written.
    pub fn finish(self) -> io::Result<(S, Counted)> {
        let sink = self.encoder.finish()?.finish()?;
        Ok((sink, self.tally.counted()))
    }
}

impl<S: Write> Write for BodyWriter<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        // Only what the compressor took: a short write comes back again.
        self.tally.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}
