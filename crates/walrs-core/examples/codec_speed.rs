//! Single-core speed of walrs's own compression on whatever arrives on stdin, for `make bench`.
//!
//!     tar -cf - -C "$PGDATA" . | codec_speed [lz4|zstd|brotli]
//!
//! Prints one JSON line: bytes in and out, and compress/decompress MB/s counting only the time
//! spent in the codec (reading stdin is not timed). The input is cut into 64 MiB chunks, each
//! compressed as one object the way walrs writes its objects, then decompressed and checked.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};
use walrs_core::compress::Compression;

const CHUNK: usize = 64 << 20;
const READ_BUF: usize = 1 << 20;

fn main() {
    let method = match std::env::args().nth(1).as_deref().unwrap_or("lz4").parse::<Compression>() {
        Ok(m) if m != Compression::None => m,
        _ => {
            eprintln!("usage: codec_speed [lz4|zstd|brotli] < data");
            std::process::exit(2);
        }
    };
    let mut stdin = io::stdin().lock();
    let mut chunk = vec![0u8; CHUNK];
    let mut out = vec![0u8; READ_BUF];
    let (mut bytes, mut stored) = (0u64, 0u64);
    let (mut compress, mut decompress) = (Duration::ZERO, Duration::ZERO);
    loop {
        let n = fill(&mut stdin, &mut chunk).expect("reading stdin");
        if n == 0 {
            break;
        }
        let t = Instant::now();
        let mut enc = method.encoder(Vec::with_capacity(n / 2)).expect("encoder");
        enc.write_all(&chunk[..n]).expect("compressing");
        let packed = enc.finish().expect("compressing");
        compress += t.elapsed();

        let t = Instant::now();
        let mut dec = method.decoder(&packed[..]).expect("decoder");
        let mut back = 0;
        loop {
            let got = dec.read(&mut out).expect("decompressing");
            if got == 0 {
                break;
            }
            back += got;
        }
        decompress += t.elapsed();
        assert_eq!(back, n, "round trip changed the length");
        bytes += n as u64;
        stored += packed.len() as u64;
    }
    let mbps = |d: Duration| if d.is_zero() { 0.0 } else { bytes as f64 / 1e6 / d.as_secs_f64() };
    println!(
        "{{\"method\":\"{}\",\"bytes\":{bytes},\"stored\":{stored},\"compress_mbps\":{:.0},\"decompress_mbps\":{:.0}}}",
        method.name(),
        mbps(compress),
        mbps(decompress)
    );
}

/// Read until `buf` is full or the input ends.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
