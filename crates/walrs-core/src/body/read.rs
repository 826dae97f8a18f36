//! The read chain: source → unseal → decompress → count → consumer.

use super::{Counted, Seal, Tally};
use crate::compress::Compression;
use crate::{Error, Result};
use std::io::{self, Read};

const DAMAGED: &str = "the object is damaged or was written by another tool under the wrong name";

/// The stages a stored object's bytes pass on their way back to plain bytes.
#[derive(Debug, Clone)]
pub struct ReadStages {
    method: Compression,
    /// The object, for errors.
    key: String,
    seal: Seal,
    checksum: bool,
    limit: Option<u64>,
}

impl ReadStages {
    /// Decompress the object `key`, stored with `method`; count the size of the plain bytes.
    pub fn new(method: Compression, key: impl Into<String>) -> Self {
        // The one place a body's seal is chosen: decryption goes here (see seal.rs).
        ReadStages { method, key: key.into(), seal: Seal::None, checksum: false, limit: None }
    }

    /// Also compute the CRC-32 of the plain bytes.
    pub fn checksummed(self) -> Self {
        ReadStages { checksum: true, ..self }
    }

    /// Unseal with `seal` instead of [`Seal::None`].
    pub fn sealed(self, seal: Seal) -> Self {
        ReadStages { seal, ..self }
    }

    /// Refuse more than `limit` plain bytes (in [`BodyReader::fill`] and [`ReadStages::decode`]):
    /// a small object that decompresses without end is damage, not data.
    pub fn limit(self, limit: u64) -> Self {
        ReadStages { limit: Some(limit), ..self }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// A reader of the plain bytes of the stored bytes `source` yields. Its [`Read`] passes
    /// errors on as they are, for a consumer that names them itself (the tar walker);
    /// [`BodyReader::fill`] makes them the object's.
    pub fn open<'a, R: Read + Send + 'a>(self, source: R) -> Result<BodyReader<'a>> {
        let unsealed = self.seal.reader(source, &self.key)?;
        let decoded = self
            .method
            .decoder(unsealed)
            .map_err(|e| Error::corrupt(format!("{} does not decompress as {}: {e}", self.key, self.method.name())))?;
        Ok(BodyReader {
            decoded,
            tally: Tally::new(self.checksum),
            method: self.method,
            key: self.key,
            limit: self.limit,
        })
    }

    /// The plain bytes of a whole stored object held in memory, and their counts.
    pub fn decode(self, stored: &[u8]) -> Result<(Vec<u8>, Counted)> {
        let limit = self.limit;
        let mut reader = self.open(stored).map_err(|e| e.with_hint(DAMAGED))?;
        let mut plain = Vec::new();
        // One byte past the limit is enough to know it is passed. Straight from the decoder,
        // counted once at the end: std's read_to_end then fills the buffer without zeroing it
        // first, which it must do for a reader of its own (such as this one) on stable Rust.
        let read = (&mut reader.decoded).take(limit.map_or(u64::MAX, |l| l + 1)).read_to_end(&mut plain);
        read.map_err(|e| reader.damaged(e))?;
        reader.tally.update(&plain);
        reader.check_limit()?;
        Ok((plain, reader.counted()))
    }
}

/// A streaming reader of one object's plain bytes; see [`ReadStages::open`].
pub struct BodyReader<'a> {
    decoded: Box<dyn Read + 'a>,
    tally: Tally,
    method: Compression,
    key: String,
    limit: Option<u64>,
}

impl BodyReader<'_> {
    /// What has been read so far.
    pub fn counted(&self) -> Counted {
        self.tally.counted()
    }

    /// Read into `buf` as [`Read::read`] does, 0 at the end; a read error is the object's
    /// (it does not decompress), and so is passing the limit.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.read(buf) {
                Ok(n) => return self.check_limit().map(|()| n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.damaged(e)),
            }
        }
    }

    fn damaged(&self, e: io::Error) -> Error {
        Error::corrupt(format!("{} does not decompress as {}: {e}", self.key, self.method.name())).with_hint(DAMAGED)
    }

    fn check_limit(&self) -> Result<()> {
        match self.limit {
            Some(limit) if self.tally.size > limit => {
                Err(Error::corrupt(format!("{} decompresses to more than {limit} bytes", self.key)))
            }
            _ => Ok(()),
        }
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoded.read(buf)?;
        self.tally.update(&buf[..n]);
        Ok(n)
    }
}
