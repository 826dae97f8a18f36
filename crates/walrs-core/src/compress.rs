//! Compression methods, named as WAL-G names them, as streaming writers and readers.
//!
//! walrs writes lz4 (LZ4 frame format), zstd, brotli or nothing. It reads every method WAL-G
//! writes, plus gzip. Objects walrs writes carry the format's own content checksum (lz4 and
//! zstd), so a flipped byte is caught on read.

use crate::{Error, Result};
use std::io::{self, Read, Write};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Lz4,
    Zstd,
    Brotli,
    /// Read only: LZMA "alone" format, as WAL-G's `lzma` method writes it.
    Lzma,
    /// Read only: gzip, as older tools wrote it.
    Gzip,
}

/// Every method, in the order fetches try their object suffixes.
pub const READ_ORDER: [Compression; 6] =
    [Compression::Lz4, Compression::Zstd, Compression::Brotli, Compression::Lzma, Compression::None, Compression::Gzip];

const ZSTD_LEVEL: i32 = 3;
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;
const BUF: usize = 64 * 1024;

impl Compression {
    /// The object-name suffix, without the dot; empty for no compression.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zst",
            Compression::Brotli => "br",
            Compression::Lzma => "lzma",
            Compression::Gzip => "gz",
        }
    }

    /// The method's name in settings (`walrs.compression`, `--compression`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::Brotli => "brotli",
            Compression::Lzma => "lzma",
            Compression::Gzip => "gzip",
        }
    }

    /// Can walrs write new objects with this method?
    pub fn is_writable(self) -> bool {
        matches!(self, Compression::None | Compression::Lz4 | Compression::Zstd | Compression::Brotli)
    }

    /// Wrap `inner` so that what is written to the result reaches `inner` compressed.
    /// Call [`Encoder::finish`] to write the trailer and get `inner` back.
    pub fn encoder<W: Write>(self, inner: W) -> Result<Encoder<W>> {
        let enc = match self {
            Compression::None => Encoder::None(inner),
            Compression::Lz4 => {
                // Independent 256 KiB blocks: faster than linked 64 KiB ones on WAL that
                // compresses poorly (measured on the benchmark's WAL), with buffers small
                // enough that several look-ahead uploads stay far below the memory target.
                let info = lz4_flex::frame::FrameInfo::new()
                    .content_checksum(true)
                    .block_size(lz4_flex::frame::BlockSize::Max256KB)
                    .block_mode(lz4_flex::frame::BlockMode::Independent);
                Encoder::Lz4(lz4_flex::frame::FrameEncoder::with_frame_info(info, inner))
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(inner, ZSTD_LEVEL)
                    .map_err(|e| Error::local_io("zstd encoder", &e))?;
                enc.include_checksum(true).map_err(|e| Error::local_io("zstd encoder", &e))?;
                Encoder::Zstd(enc)
            }
            Compression::Brotli => {
                Encoder::Brotli(Box::new(brotli::CompressorWriter::new(inner, BUF, BROTLI_QUALITY, BROTLI_WINDOW)))
            }
            Compression::Lzma | Compression::Gzip => {
                return Err(Error::config(format!("walrs reads {} but does not write it", self.name()))
                    .with_hint("use lz4, zstd, brotli or none"))
            }
        };
        Ok(enc)
    }

    /// Wrap `inner` so that reading the result yields the decompressed bytes.
    pub fn decoder<'a, R: Read + 'a>(self, inner: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(inner),
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(inner)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(inner)?),
            Compression::Brotli => Box::new(brotli::Decompressor::new(inner, BUF)),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(inner)),
            Compression::Lzma => {
                // lzma-rs has no pull reader; LZMA is a rare legacy method, so decode whole.
                let mut input = io::BufReader::new(inner);
                let mut out = Vec::new();
                lzma_rs::lzma_decompress(&mut input, &mut out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                Box::new(io::Cursor::new(out))
            }
        })
    }

    /// Compress a whole buffer.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        let mut enc = self.encoder(Vec::with_capacity(data.len() / 2 + 64))?;
        enc.write_all(data).map_err(|e| Error::local_io(format!("{} compression", self.name()), &e))?;
        enc.finish().map_err(|e| Error::local_io(format!("{} compression", self.name()), &e))
    }

    /// Decompress a whole buffer, refusing output larger than `limit` bytes.
    /// `what` names the object in the error.
    pub fn decompress(self, data: &[u8], limit: u64, what: &str) -> Result<Vec<u8>> {
        let corrupt = |e: io::Error| {
            Error::corrupt(format!("{what} does not decompress as {}: {e}", self.name()))
                .with_hint("the object is damaged or was written by another tool under the wrong name")
        };
        let mut out = Vec::new();
        self.decoder(data).map_err(corrupt)?.take(limit + 1).read_to_end(&mut out).map_err(corrupt)?;
        if out.len() as u64 > limit {
            return Err(Error::corrupt(format!("{what} decompresses to more than {limit} bytes")));
        }
        Ok(out)
    }

    /// The method an object suffix names, if any.
    pub fn from_extension(ext: &str) -> Option<Compression> {
        READ_ORDER.into_iter().find(|c| c.extension() == ext)
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// Parse a method name as settings spell it (WAL-G's names; case does not matter).
    fn from_str(s: &str) -> Result<Self> {
        let c = match s.trim().to_ascii_lowercase().as_str() {
            "lz4" => Compression::Lz4,
            "zstd" | "zst" => Compression::Zstd,
            "brotli" | "br" => Compression::Brotli,
            "none" | "" => Compression::None,
            other => {
                return Err(Error::config(format!("unknown compression method \"{}\"", other.escape_debug()))
                    .with_hint("use lz4, zstd, brotli or none"))
            }
        };
        Ok(c)
    }
}

/// A compressing writer; see [`Compression::encoder`].
pub enum Encoder<W: Write> {
    None(W),
    Lz4(lz4_flex::frame::FrameEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Brotli(Box<brotli::CompressorWriter<W>>),
}

impl<W: Write> Encoder<W> {
    /// Write the format's trailer and return the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Lz4(e) => e.finish().map_err(io::Error::other),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Brotli(mut e) => {
                e.flush()?;
                Ok(e.into_inner())
            }
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Lz4(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Brotli(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Lz4(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Brotli(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // Something like a WAL page: runs of zeros, repeated records, and noise.
        let mut v = vec![0u8; 8192];
        for i in 0..200_000u32 {
            v.extend_from_slice(&(i.wrapping_mul(2654435761) >> (i % 13)).to_le_bytes());
            if i % 100 == 0 {
                v.extend_from_slice(b"INSERT INTO pgbench_history VALUES (1, 2, 3, now());");
            }
        }
        v
    }

    #[test]
    fn every_writable_method_round_trips() {
        let data = sample();
        for c in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Brotli] {
            let packed = c.compress(&data).unwrap();
            if c != Compression::None {
                assert!(packed.len() < data.len(), "{c:?} did not compress");
            }
            let back = c.decompress(&packed, data.len() as u64, "test").unwrap();
            assert_eq!(back, data, "{c:?}");
        }
    }

    #[test]
    fn empty_input_round_trips() {
        for c in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Brotli] {
            let packed = c.compress(&[]).unwrap();
            assert_eq!(c.decompress(&packed, 0, "test").unwrap(), Vec::<u8>::new(), "{c:?}");
        }
    }

    #[test]
    fn a_flipped_byte_is_caught_by_lz4_and_zstd() {
        let data = sample();
        for c in [Compression::Lz4, Compression::Zstd] {
            let mut packed = c.compress(&data).unwrap();
            let mid = packed.len() / 2;
            packed[mid] ^= 0x40;
            let err = c.decompress(&packed, data.len() as u64, "wal_005/X").expect_err(c.name());
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{c:?}");
            assert!(err.message.contains("wal_005/X"), "{}", err.message);
        }
    }

    #[test]
    fn truncated_objects_are_corrupt() {
        let data = sample();
        for c in [Compression::Lz4, Compression::Zstd, Compression::Brotli] {
            let packed = c.compress(&data).unwrap();
            let err = c.decompress(&packed[..packed.len() - 9], data.len() as u64, "x").expect_err(c.name());
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{c:?}");
        }
    }

    #[test]
    fn output_over_the_limit_is_refused() {
        let data = vec![0u8; 1 << 20];
        let packed = Compression::Lz4.compress(&data).unwrap();
        let err = Compression::Lz4.decompress(&packed, 1000, "bomb").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Corrupt);
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!("LZ4".parse::<Compression>().unwrap(), Compression::Lz4);
        assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::Zstd);
        assert_eq!("brotli".parse::<Compression>().unwrap(), Compression::Brotli);
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        assert_eq!("gzip".parse::<Compression>().unwrap_err().kind, crate::ErrorKind::Config);
        assert_eq!("lzma".parse::<Compression>().unwrap_err().kind, crate::ErrorKind::Config);
        for c in READ_ORDER {
            assert_eq!(Compression::from_extension(c.extension()), Some(c));
        }
        assert_eq!(Compression::from_extension("lzo"), None);
        assert!(Compression::Gzip.encoder(Vec::new()).is_err());
    }

    #[test]
    fn reads_gzip() {
        use flate2::write::GzEncoder;
        let data = sample();
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        assert_eq!(Compression::Gzip.decompress(&packed, data.len() as u64, "x").unwrap(), data);
    }
}
