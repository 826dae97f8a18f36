//! The read chain: source → unseal → decompress → count → consumer.

use super::{Counted, Seal, SealError, Tally};
use crate::compress::Compression;
use crate::{Error, Result};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

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
    /// Decompress the object `key`, stored with `method` and not encrypted; count the size of
    /// the plain bytes. Operations build theirs with [`crate::storage::Storage::read_stages`],
    /// which adds the repository's seal.
    pub fn new(method: Compression, key: impl Into<String>) -> Self {
        ReadStages { method, key: key.into(), seal: Seal::None, checksum: false, limit: None }
    }

    /// Unseal with `seal` before decompressing.
    pub fn sealed(self, seal: Seal) -> Self {
        ReadStages { seal, ..self }
    }

    /// Also compute the CRC-32 of the plain bytes.
    pub fn checksummed(self) -> Self {
        ReadStages { checksum: true, ..self }
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
    /// [`BodyReader::fill`] makes them the object's, and [`BodyReader::take_failure`] gives
    /// the object's own error for a failure of the stages.
    pub fn open<'a, R: Read + Send + 'a>(self, source: R) -> Result<BodyReader<'a>> {
        let encrypted = self.seal.is_encrypted();
        // Without a key, the first bytes tell an encrypted object from a damaged one.
        let (unsealed, sniffed) = match self.method.magic() {
            Some(_) if !encrypted => {
                let sniffed = Arc::new(Mutex::new(Vec::with_capacity(4)));
                let source = Sniff { inner: source, seen: Arc::clone(&sniffed) };
                (self.seal.reader(source, &self.key)?, Some(sniffed))
            }
            _ => (self.seal.reader(source, &self.key)?, None),
        };
        let mut reader = BodyReader {
            decoded: Box::new(io::empty()),
            tally: Tally::new(self.checksum),
            method: self.method,
            key: self.key,
            limit: self.limit,
            encrypted,
            sniffed,
            failure: None,
        };
        reader.decoded = self.method.decoder(unsealed).map_err(|e| reader.damaged(e))?;
        Ok(reader)
    }

    /// The plain bytes of a whole stored object held in memory, and their counts.
    pub fn decode(self, stored: &[u8]) -> Result<(Vec<u8>, Counted)> {
        let limit = self.limit;
        let mut reader = self.open(stored)?;
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

/// Keeps the first bytes read through it (up to 4: enough for any compression's magic).
struct Sniff<R> {
    inner: R,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<R: Read> Read for Sniff<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let want = (4 - seen.len()).min(n);
        seen.extend_from_slice(&buf[..want]);
        Ok(n)
    }
}

/// A streaming reader of one object's plain bytes; see [`ReadStages::open`].
pub struct BodyReader<'a> {
    decoded: Box<dyn Read + 'a>,
    tally: Tally,
    method: Compression,
    key: String,
    limit: Option<u64>,
    /// Whether the stages decrypt.
    encrypted: bool,
    /// The object's first bytes, when they are watched (see [`ReadStages::open`]).
    sniffed: Option<Arc<Mutex<Vec<u8>>>>,
    /// The first failure of the stages that says more than the decoder's words (see
    /// [`BodyReader::take_failure`]).
    failure: Option<Error>,
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

    /// The object's own error for a read that failed in the stages because of the seal (no
    /// key opens it, it is truncated or damaged, or it looks encrypted and no key is set), if
    /// one did. A consumer of the plain [`Read`] (the tar walker) words errors in its own
    /// terms; [`crate::ops`] prefers this one when there is one.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// What a read error of the stages means, when it means more than "does not decompress".
    fn explained(&self, e: &io::Error) -> Option<Error> {
        if let Some(sealed) = SealError::find(e) {
            return Some(sealed.for_object(&self.key, self.method.magic()));
        }
        let magic = self.method.magic()?;
        let seen = self.sniffed.as_ref()?.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.encrypted || seen.is_empty() || magic.starts_with(&seen[..seen.len().min(magic.len())]) {
            return None;
        }
        Some(
            Error::config(format!(
                "{} is not a {} object: it does not start with {}'s magic bytes, and looks encrypted",
                self.key,
                self.method.name(),
                self.method.name()
            ))
            .with_hint(format!(
                "the repository's objects may be encrypted and no key is configured: {}",
                crate::crypto::KEY_HINT
            )),
        )
    }

    fn damaged(&self, e: io::Error) -> Error {
        if let Some(explained) = self.explained(&e) {
            return explained;
        }
        let err = Error::corrupt(format!("{} does not decompress as {}: {e}", self.key, self.method.name()));
        match self.method.magic() {
            None if !self.encrypted => {
                err.with_hint(format!("{DAMAGED}; if the repository is encrypted, {}", crate::crypto::KEY_HINT))
            }
            _ => err.with_hint(DAMAGED),
        }
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
        let n = match self.decoded.read(buf) {
            Ok(n) => n,
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = self.explained(&e);
                }
                return Err(e);
            }
        };
        self.tally.update(&buf[..n]);
        Ok(n)
    }
}
