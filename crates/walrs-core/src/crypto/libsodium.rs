//! libsodium encryption, byte for byte as WAL-G writes it (`internal/crypto/libsodium/`):
//! `crypto_secretstream_xchacha20poly1305` with no additional data and no rekeying.
//!
//! ```text
//! object = header (24 bytes)
//!          · chunk* (8192 plain bytes → 8192 + 17 bytes, tag MESSAGE)
//!          · last chunk (the remaining 0–8191 plain bytes → 17–8208 bytes, tag FINAL)
//! ```
//!
//! A body whose length is a multiple of 8192 ends with an empty FINAL chunk. Reading accepts
//! exactly this framing, as WAL-G's reader does: a full chunk tagged FINAL, a short chunk
//! tagged MESSAGE (a stream cut short), a stream with no FINAL chunk and bytes after the FINAL
//! chunk are all refused, so a truncated object never passes for a shorter one. Both sides
//! stream, holding one chunk.
//!
//! Keys: `WALG_LIBSODIUM_KEY` (inline, wins) or `WALG_LIBSODIUM_KEY_PATH` (a file, whitespace
//! trimmed), turned into 32 bytes by `WALG_LIBSODIUM_KEY_TRANSFORM` as WAL-G does; and
//! `WALRS_LIBSODIUM_KEY_PREVIOUS`, older keys separated by commas (same transform), tried in
//! turn when the current key does not open an object: for reading only, so keys can rotate.

use super::keys::{read_key_text, Transform};
use crate::body::SealError;
use crate::env::Env;
use crate::{Error, ErrorKind, Result};
use dryoc::classic::crypto_secretstream_xchacha20poly1305 as ss;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use zeroize::Zeroizing;

pub const KEY_VAR: &str = "WALG_LIBSODIUM_KEY";
pub const KEY_PATH_VAR: &str = "WALG_LIBSODIUM_KEY_PATH";
pub const TRANSFORM_VAR: &str = "WALG_LIBSODIUM_KEY_TRANSFORM";
pub const PREVIOUS_VAR: &str = "WALRS_LIBSODIUM_KEY_PREVIOUS";

/// Plain bytes per chunk, as WAL-G's writer cuts them.
pub const CHUNK: usize = 8192;
/// What sealing adds to a chunk: its encrypted tag byte and a 16-byte MAC.
pub const ABYTES: usize = 17;
/// The stream header that starts every object.
pub const HEADER: usize = 24;
const SEALED_CHUNK: usize = CHUNK + ABYTES;
const KEY_BYTES: usize = 32;
/// WAL-G refuses a key of fewer bytes under the transform `none`.
const MIN_PLAIN_KEY: usize = 25;

const TAG_MESSAGE: u8 = 0;
const TAG_FINAL: u8 = 3;

type Key = Zeroizing<[u8; KEY_BYTES]>;

/// A repository's libsodium keys: the one that writes, and older ones that may still read.
pub struct Keys {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "libsodium keys (1 current, {} previous)", self.previous.len())
    }
}

impl Keys {
    /// The keys the environment gives; None when neither `WALG_LIBSODIUM_KEY` nor
    /// `WALG_LIBSODIUM_KEY_PATH` is set. An unusable key is a [`ErrorKind::Config`] error that
    /// names its variable, never its value.
    pub fn from_env(env: &Env) -> Result<Option<Keys>> {
        let transform = Transform::from_env(env, TRANSFORM_VAR)?;
        let Some(text) = read_key_text(env, KEY_VAR, KEY_PATH_VAR)? else {
            return match env.get(PREVIOUS_VAR) {
                Some(_) => Err(Error::config(format!("{PREVIOUS_VAR} is set but {KEY_VAR} is not"))
                    .with_hint(format!("older keys only read; set the current key in {KEY_VAR} or {KEY_PATH_VAR}"))),
                None => Ok(None),
            };
        };
        let current = key_bytes(&text.text, transform).map_err(|why| unusable(text.var, transform, &why))?;
        let mut previous = Vec::new();
        if let Some(list) = env.get(PREVIOUS_VAR) {
            for (i, item) in list.split(',').map(str::trim).filter(|k| !k.is_empty()).enumerate() {
                let key = key_bytes(item, transform)
                    .map_err(|why| unusable(&format!("{PREVIOUS_VAR} (key {} of the list)", i + 1), transform, &why))?;
                previous.push(key);
            }
        }
        Ok(Some(Keys { current, previous }))
    }

    /// A key set of raw keys (tests, and callers that hold keys already).
    pub fn from_bytes(current: [u8; KEY_BYTES], previous: &[[u8; KEY_BYTES]]) -> Keys {
        Keys { current: Zeroizing::new(current), previous: previous.iter().map(|k| Zeroizing::new(*k)).collect() }
    }

    /// Which key opens the stream that starts with `start` (its header and first chunk, or
    /// as much of them as the object has): `Some(0)` for the current key, `Some(n)` for the
    /// n-th previous key, None when none does or `start` is too short to be a stream.
    pub fn which_opens(&self, start: &[u8]) -> Option<usize> {
        if start.len() < HEADER + ABYTES {
            return None;
        }
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&start[..HEADER]);
        let chunk = &start[HEADER..start.len().min(HEADER + SEALED_CHUNK)];
        let mut plain = Zeroizing::new(vec![0u8; chunk.len() - ABYTES]);
        self.all().position(|key| {
            let (mut state, mut tag) = (ss::State::new(), 0u8);
            ss::crypto_secretstream_xchacha20poly1305_init_pull(&mut state, &header, key);
            ss::crypto_secretstream_xchacha20poly1305_pull(&mut state, &mut plain, &mut tag, chunk, None).is_ok()
        })
    }

    /// Every key, in the order reading tries them.
    fn all(&self) -> impl Iterator<Item = &[u8; KEY_BYTES]> {
        std::iter::once(&*self.current).chain(self.previous.iter().map(|k| &**k))
    }
}

/// WAL-G's rules: base64 and hex must give 32 bytes exactly; `none` takes the text's bytes,
/// refuses fewer than 25, pads 25 to 31 with zero bytes and keeps the first 32 of a longer one.
fn key_bytes(text: &str, transform: Transform) -> std::result::Result<Key, String> {
    let bytes = transform.decode(text)?;
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    match transform {
        Transform::None if bytes.len() < MIN_PLAIN_KEY => {
            return Err(format!("it is {} bytes, and a key must have at least {MIN_PLAIN_KEY}", bytes.len()))
        }
        Transform::None => {
            let n = bytes.len().min(KEY_BYTES);
            key[..n].copy_from_slice(&bytes[..n]);
        }
        Transform::Base64 | Transform::Hex if bytes.len() != KEY_BYTES => {
            return Err(format!("it decodes to {} bytes, not {KEY_BYTES}", bytes.len()))
        }
        Transform::Base64 | Transform::Hex => key.copy_from_slice(&bytes),
    }
    Ok(key)
}

fn unusable(var: &str, transform: Transform, why: &str) -> Error {
    Error::config(format!("{var} is not a usable libsodium key ({TRANSFORM_VAR}={}): {why}", transform.name()))
        .with_hint(format!(
            "give the key WAL-G uses: 32 bytes as base64 or hex (set {TRANSFORM_VAR} to match), \
             or 25 to 32 characters with the transform none"
        ))
}

/// The write side: plain bytes in, WAL-G's encrypted stream out to `sink`.
pub struct Writer<W> {
    sink: W,
    state: ss::State,
    /// Written before the first chunk.
    header: Option<ss::Header>,
    plain: Zeroizing<Vec<u8>>,
    sealed: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(sink: W, keys: &Keys) -> Self {
        let (mut state, mut header) = (ss::State::new(), [0u8; HEADER]);
        ss::crypto_secretstream_xchacha20poly1305_init_push(&mut state, &mut header, &keys.current);
        Writer {
            sink,
            state,
            header: Some(header),
            plain: Zeroizing::new(Vec::with_capacity(CHUNK)),
            sealed: Vec::with_capacity(SEALED_CHUNK),
        }
    }

    /// Seal `plain` as one chunk tagged `tag` and write it (after the header, the first time).
    fn push(&mut self, plain: Option<&[u8]>, tag: u8) -> io::Result<()> {
        let plain = plain.unwrap_or(&self.plain);
        self.sealed.resize(plain.len() + ABYTES, 0);
        ss::crypto_secretstream_xchacha20poly1305_push(&mut self.state, &mut self.sealed, plain, None, tag)
            .map_err(|e| io::Error::other(format!("libsodium encryption failed: {e}")))?;
        if let Some(header) = self.header.take() {
            self.sink.write_all(&header)?;
        }
        self.sink.write_all(&self.sealed)
    }

    /// Write the FINAL chunk (what is left, possibly nothing) and return the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.push(None, TAG_FINAL)?;
        self.plain.clear();
        Ok(self.sink)
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.plain.is_empty() && buf.len() >= CHUNK {
            // A whole chunk straight from the caller's buffer, with no copy.
            self.push(Some(&buf[..CHUNK]), TAG_MESSAGE)?;
            return Ok(CHUNK);
        }
        let take = (CHUNK - self.plain.len()).min(buf.len());
        self.plain.extend_from_slice(&buf[..take]);
        if self.plain.len() == CHUNK {
            self.push(None, TAG_MESSAGE)?;
            self.plain.clear();
        }
        Ok(take)
    }

    /// Passes the flush on; a partial chunk stays held until it fills or the stream ends
    /// (a chunk written early would be a short MESSAGE chunk, which WAL-G cannot read).
    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// The read side: WAL-G's encrypted stream in, plain bytes out.
pub struct Reader<R> {
    source: R,
    keys: Arc<Keys>,
    state: Option<ss::State>,
    sealed: Vec<u8>,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    /// The FINAL chunk was read and nothing followed it.
    done: bool,
    chunks: u64,
}

impl<R: Read> Reader<R> {
    pub fn new(source: R, keys: Arc<Keys>) -> Self {
        Reader {
            source,
            keys,
            state: None,
            sealed: vec![0; SEALED_CHUNK],
            plain: Zeroizing::new(vec![0; CHUNK]),
            pos: CHUNK,
            done: false,
            chunks: 0,
        }
    }

    /// Read up to `len` bytes into `self.sealed`, stopping early only at the end.
    fn read_up_to(&mut self, len: usize) -> io::Result<usize> {
        let mut n = 0;
        while n < len {
            match self.source.read(&mut self.sealed[n..len]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Open the stream: its header, and the first chunk with the first key that opens it.
    fn open(&mut self) -> io::Result<ss::State> {
        let n = self.read_up_to(HEADER)?;
        let start = self.sealed[..n.min(4)].to_vec();
        if n < HEADER {
            return Err(damage(format!(": it is {n} bytes, shorter than a libsodium stream header"), start));
        }
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&self.sealed[..HEADER]);
        let n = self.read_chunk()?;
        let keys = Arc::clone(&self.keys);
        for key in keys.all() {
            let mut state = ss::State::new();
            ss::crypto_secretstream_xchacha20poly1305_init_pull(&mut state, &header, key);
            if let Ok(tag) = self.pull(&mut state, n) {
                self.finish_chunk(tag, n)?;
                return Ok(state);
            }
        }
        Err(SealError {
            kind: ErrorKind::Config,
            detail: " (wrong key?)".into(),
            hint: Some(format!(
                "no configured key opens it: neither {KEY_VAR} (or {KEY_PATH_VAR}) nor any key in {PREVIOUS_VAR}; \
                 set the key the repository was written with, or add it to {PREVIOUS_VAR}; \
                 if the key is right, the object is damaged or truncated"
            )),
            start,
        }
        .into_io())
    }

    /// Read the next sealed chunk; its length, at least [`ABYTES`].
    fn read_chunk(&mut self) -> io::Result<usize> {
        let n = self.read_up_to(SEALED_CHUNK)?;
        if n < ABYTES {
            let what = if n == 0 {
                "it ends before its final chunk".to_string()
            } else {
                format!("it ends inside a chunk ({n} bytes)")
            };
            return Err(damage(format!(": {what} (truncated)"), Vec::new()));
        }
        Ok(n)
    }

    /// Decrypt the chunk of `n` sealed bytes into `self.plain`; its tag.
    fn pull(&mut self, state: &mut ss::State, n: usize) -> std::result::Result<u8, ()> {
        let mut tag = 0u8;
        ss::crypto_secretstream_xchacha20poly1305_pull(state, &mut self.plain, &mut tag, &self.sealed[..n], None)
            .map_err(|_| ())?;
        Ok(tag)
    }

    /// Check a decrypted chunk's tag against its length, as WAL-G's framing has them.
    fn finish_chunk(&mut self, tag: u8, n: usize) -> io::Result<()> {
        self.chunks += 1;
        self.pos = CHUNK - (n - ABYTES);
        // Plain bytes are kept at the end of the buffer: `pos..CHUNK` is what is left to hand out.
        self.plain.copy_within(..n - ABYTES, self.pos);
        match tag {
            TAG_MESSAGE if n == SEALED_CHUNK => Ok(()),
            TAG_MESSAGE => {
                Err(damage(format!(": chunk {} is short and not final (truncated)", self.chunks), Vec::new()))
            }
            TAG_FINAL if n == SEALED_CHUNK => Err(damage(
                format!(": chunk {} is full and tagged final, which WAL-G's framing never writes", self.chunks),
                Vec::new(),
            )),
            TAG_FINAL => {
                let mut probe = [0u8; 1];
                let more = loop {
                    match self.source.read(&mut probe) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                if more > 0 {
                    return Err(damage(": bytes follow its final chunk".into(), Vec::new()));
                }
                self.done = true;
                Ok(())
            }
            other => Err(damage(
                format!(": chunk {} has the tag {other}, which WAL-G never writes", self.chunks),
                Vec::new(),
            )),
        }
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let Some(mut state) = self.state.take() else {
            self.state = Some(self.open()?);
            return Ok(());
        };
        let n = self.read_chunk()?;
        let tag = self.pull(&mut state, n).map_err(|()| {
            damage(format!(": chunk {} fails authentication (the object is damaged)", self.chunks + 1), Vec::new())
        })?;
        self.state = Some(state);
        self.finish_chunk(tag, n)
    }
}

fn damage(detail: String, start: Vec<u8>) -> io::Error {
    SealError { kind: ErrorKind::Corrupt, detail, hint: None, start }.into_io()
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == CHUNK {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = (CHUNK - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
