//! Compression methods, named as WAL-G names them, as streaming writers and readers: the
//! compression stage of an object body (see [`crate::body`], which every object passes through).
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
            Compression::Lzma => lzma_reader(inner, MAX_LZMA_WINDOW)?,
        })
    }

    /// The bytes every object of this method starts with, for the formats that have them.
    pub fn magic(self) -> Option<&'static [u8]> {
        match self {
            Compression::Lz4 => Some(&[0x04, 0x22, 0x4D, 0x18]),
            Compression::Zstd => Some(&[0x28, 0xB5, 0x2F, 0xFD]),
            Compression::Gzip => Some(&[0x1F, 0x8B]),
            Compression::None | Compression::Brotli | Compression::Lzma => None,
        }
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

/// The most memory an LZMA object's dictionary window may take while it is decoded. The
/// window grows with the output, up to the dictionary size the object's header names (as much
/// as 4 GiB). WAL-G writes 8 MiB dictionaries and xz's largest preset 64 MiB, so only an object
/// that is damaged, hostile or made by hand for the purpose asks for more.
const MAX_LZMA_WINDOW: usize = 256 << 20;
/// Compressed bytes handed to the LZMA decoder at a time.
const LZMA_STEP: usize = 4096;

/// A reader of the LZMA "alone" stream `inner`, decoding as it is read. lzma-rs hands out its
/// output when its window wraps (and at the end), so one step can yield up to a whole window:
/// memory stays at about two windows (at most `window` bytes each), and a caller's size limit
/// stops the decoding within a window of passing it, whatever the header claims.
fn lzma_reader<'a, R: Read + 'a>(inner: R, window: usize) -> io::Result<Box<dyn Read + 'a>> {
    let options = lzma_rs::decompress::Options { memlimit: Some(window), ..Default::default() };
    Ok(Box::new(LzmaReader {
        inner,
        stream: Some(lzma_rs::decompress::Stream::new_with_options(&options, Vec::new())),
        out: Vec::new(),
        at: 0,
        head: Vec::with_capacity(5),
        window,
    }))
}

struct LzmaReader<R> {
    inner: R,
    /// None once the stream has ended or failed.
    stream: Option<lzma_rs::decompress::Stream<Vec<u8>>>,
    /// Decoded bytes not yet read, from `at` on.
    out: Vec<u8>,
    at: usize,
    /// The first five bytes of the object: the properties and the dictionary size.
    head: Vec<u8>,
    window: usize,
}

impl<R> LzmaReader<R> {
    fn failed(&mut self, e: impl std::fmt::Display) -> io::Error {
        self.stream = None;
        let dict = self.head.get(1..5).map(|d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
        let text = e.to_string();
        let message = match dict {
            // lzma-rs reports only "exceeded memory limit"; say which limit and why.
            Some(d) if d as usize > self.window && text.contains("memory limit") => format!(
                "the object asks for a {d}-byte dictionary and needs more of it than the {} bytes walrs allows",
                self.window
            ),
            _ => format!("LZMA data is damaged: {text}"),
        };
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

impl<R: Read> Read for LzmaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.out.len() {
                let n = buf.len().min(self.out.len() - self.at);
                buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.stream.is_none() {
                return Ok(0);
            }
            self.out.clear();
            self.at = 0;
            let mut step = [0u8; LZMA_STEP];
            let n = match self.inner.read(&mut step) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                // lzma-rs takes an empty input for an empty stream; an object has a header.
                if self.head.is_empty() {
                    return Err(self.failed("the object is empty"));
                }
                let stream = self.stream.take().expect("checked above");
                self.out = stream.finish().map_err(|e| self.failed(e))?;
                continue;
            }
            let missing = 5 - self.head.len().min(5);
            self.head.extend_from_slice(&step[..n.min(missing)]);
            let stream = self.stream.as_mut().expect("checked above");
            if let Err(e) = stream.write_all(&step[..n]) {
                return Err(self.failed(e));
            }
            // The decoded bytes of this step, leaving the emptied buffer to the decoder.
            if let Some(decoded) = stream.get_output_mut() {
                std::mem::swap(decoded, &mut self.out);
            }
        }
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
    use crate::body::{ReadStages, WriteStages};

    fn compress(c: Compression, data: &[u8]) -> Result<Vec<u8>> {
        WriteStages::new(c).encode(data)
    }

    fn decompress(c: Compression, data: &[u8], limit: u64, what: &str) -> Result<Vec<u8>> {
        ReadStages::new(c, what).limit(limit).decode(data).map(|(plain, _)| plain)
    }

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
            let packed = compress(c, &data).unwrap();
            if c != Compression::None {
                assert!(packed.len() < data.len(), "{c:?} did not compress");
            }
            let back = decompress(c, &packed, data.len() as u64, "test").unwrap();
            assert_eq!(back, data, "{c:?}");
        }
    }

    #[test]
    fn empty_input_round_trips() {
        for c in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Brotli] {
            let packed = compress(c, &[]).unwrap();
            assert_eq!(decompress(c, &packed, 0, "test").unwrap(), Vec::<u8>::new(), "{c:?}");
        }
    }

    #[test]
    fn a_flipped_byte_is_caught_by_lz4_and_zstd() {
        let data = sample();
        for c in [Compression::Lz4, Compression::Zstd] {
            let mut packed = compress(c, &data).unwrap();
            let mid = packed.len() / 2;
            packed[mid] ^= 0x40;
            let err = decompress(c, &packed, data.len() as u64, "objects/X").expect_err(c.name());
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{c:?}");
            assert!(err.message.contains("objects/X"), "{}", err.message);
        }
    }

    #[test]
    fn truncated_objects_are_corrupt() {
        let data = sample();
        for c in [Compression::Lz4, Compression::Zstd, Compression::Brotli] {
            let packed = compress(c, &data).unwrap();
            let err = decompress(c, &packed[..packed.len() - 9], data.len() as u64, "x").expect_err(c.name());
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{c:?}");
        }
    }

    #[test]
    fn output_over_the_limit_is_refused() {
        let data = vec![0u8; 1 << 20];
        let packed = compress(Compression::Lz4, &data).unwrap();
        let err = decompress(Compression::Lz4, &packed, 1000, "bomb").unwrap_err();
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

    const PG_CLASS: &[u8] = include_bytes!("../tests/data/pg15_pg_class_blocks_0-3.bin");
    /// PG_CLASS as `xz --format=lzma -6` writes it: 8 MiB dictionary, size left open, end
    /// marker; WAL-G's lzma objects have the same form.
    const PG_CLASS_LZMA: &[u8] = include_bytes!("../tests/data/pg15_pg_class_blocks_0-3.bin.lzma");
    /// 16 MiB of zeros as `xz --format=lzma -0` writes it: 2454 bytes, 256 KiB dictionary.
    const ZEROS_LZMA: &[u8] = include_bytes!("../tests/data/zeros_16MiB.lzma");

    /// An LZMA object with its header's dictionary size or unpacked size replaced.
    fn lzma_with_header(object: &[u8], dict: Option<u32>, size: Option<u64>) -> Vec<u8> {
        let mut v = object.to_vec();
        if let Some(d) = dict {
            v[1..5].copy_from_slice(&d.to_le_bytes());
        }
        if let Some(n) = size {
            v[5..13].copy_from_slice(&n.to_le_bytes());
        }
        v
    }

    /// Hands out at most 64 bytes a call and counts what it handed out, so a test sees how much
    /// of an object a decoder took in.
    struct Trickle<'a> {
        data: &'a [u8],
        taken: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(64).min(self.data.len() - self.taken);
            buf[..n].copy_from_slice(&self.data[self.taken..self.taken + n]);
            self.taken += n;
            Ok(n)
        }
    }

    #[test]
    fn reads_lzma_as_xz_and_wal_g_write_it() {
        let got = decompress(Compression::Lzma, PG_CLASS_LZMA, PG_CLASS.len() as u64, "x").unwrap();
        assert!(got == PG_CLASS, "decoded {} bytes, expected {}", got.len(), PG_CLASS.len());
        // A dictionary far larger than the content costs only the content's size.
        let huge_dict = lzma_with_header(PG_CLASS_LZMA, Some(u32::MAX), None);
        let got = decompress(Compression::Lzma, &huge_dict, PG_CLASS.len() as u64, "x").unwrap();
        assert!(got == PG_CLASS, "decoded {} bytes, expected {}", got.len(), PG_CLASS.len());
        // Many windows' worth: the decoder's window wraps around 64 times.
        let zeros = decompress(Compression::Lzma, ZEROS_LZMA, 16 << 20, "x").unwrap();
        assert!(zeros.len() == 16 << 20 && zeros.iter().all(|&b| b == 0), "{} bytes", zeros.len());
        for broken in [&PG_CLASS_LZMA[..PG_CLASS_LZMA.len() - 9], &PG_CLASS_LZMA[..7], b"\xffnot lzma at all", b""] {
            let err = decompress(Compression::Lzma, broken, PG_CLASS.len() as u64, "objects/X.lzma").unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{}", err.message);
            assert!(err.message.contains("objects/X.lzma"), "{}", err.message);
        }
    }

    #[test]
    fn lzma_is_decoded_as_it_is_read_so_a_limit_stops_it_early() {
        const LIMIT: u64 = 64 << 10;
        // As written (size left open), and with a header that claims 1 TiB.
        for object in [ZEROS_LZMA.to_vec(), lzma_with_header(ZEROS_LZMA, None, Some(1 << 40))] {
            let mut input = Trickle { data: &object, taken: 0 };
            let mut out = Vec::new();
            let read = Compression::Lzma.decoder(&mut input).and_then(|d| d.take(LIMIT + 1).read_to_end(&mut out));
            assert_eq!(read.unwrap(), LIMIT as usize + 1);
            assert!(out.iter().all(|&b| b == 0));
            assert!(
                input.taken < object.len() / 4,
                "took in {} of {} bytes to give {} bytes out: the object was decoded whole",
                input.taken,
                object.len(),
                LIMIT + 1
            );
            let err = decompress(Compression::Lzma, &object, LIMIT, "bomb").unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Corrupt);
            assert!(err.message.contains("more than 65536 bytes"), "{}", err.message);
        }
    }

    #[test]
    fn an_lzma_window_beyond_the_cap_is_refused() {
        // The header asks for a 4 GiB dictionary; the window may grow only to 1 MiB here.
        let object = lzma_with_header(ZEROS_LZMA, Some(u32::MAX), None);
        let mut input = Trickle { data: &object, taken: 0 };
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        let err = lzma_reader(&mut input, 1 << 20)
            .and_then(|d| d.take(32 << 20).read_to_end(&mut out))
            .expect_err("a window beyond the cap must be refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let text = err.to_string();
        assert!(text.contains("4294967295-byte dictionary") && text.contains("1048576"), "{text}");
        assert!(input.taken < object.len() / 4, "took in {} of {} bytes", input.taken, object.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn reads_gzip() {
        use flate2::write::GzEncoder;
        let data = sample();
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        assert_eq!(decompress(Compression::Gzip, &packed, data.len() as u64, "x").unwrap(), data);
    }
}
