//! Single-core speed of walrs's own compression on whatever arrives on stdin, for `make bench`.
//!
//!     tar -cf - -C "$PGDATA" . | codec_speed [lz4|zstd|brotli]
//!
//! Prints one JSON line: bytes in and out, and compress/decompress MB/s counting only the CPU
//! time this thread spends in the codec (reading stdin is not counted, nor time the machine
//! gives to other processes). The input is cut into 64 MiB chunks, each compressed as one
//! object the way walrs writes its objects, then decompressed and compared with the original.

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
    let mut chunk = Vec::with_capacity(CHUNK);
    // Output buffers reused for every chunk and touched once before any timing, so neither
    // reallocation nor first-touch page faults are counted.
    let mut back = vec![1u8; CHUNK];
    let mut packed = vec![1u8; CHUNK + CHUNK / 64 + 1024];
    let (mut bytes, mut stored) = (0u64, 0u64);
    let (mut compress, mut decompress) = (Duration::ZERO, Duration::ZERO);
    loop {
        chunk.clear();
        let n = (&mut stdin).take(CHUNK as u64).read_to_end(&mut chunk).expect("reading stdin");
        if n == 0 {
            break;
        }
        packed.clear();
        let t = cpu_time();
        let mut enc = method.encoder(&mut packed).expect("encoder");
        enc.write_all(&chunk[..n]).expect("compressing");
        enc.finish().expect("compressing");
        compress += cpu_time() - t;

        let t = cpu_time();
        let mut dec = method.decoder(&packed[..]).expect("decoder");
        let mut got = 0;
        while got < CHUNK {
            match dec.read(&mut back[got..(got + READ_BUF).min(CHUNK)]).expect("decompressing") {
                0 => break,
                k => got += k,
            }
        }
        decompress += cpu_time() - t;
        assert!(got == n && back[..n] == chunk[..n], "the round trip changed the data");
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

/// CPU time of this thread so far: Linux's `/proc/thread-self/schedstat` (nanoseconds on a
/// CPU), else the wall clock since the first call.
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let on_cpu = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    match on_cpu {
        Some(ns) => Duration::from_nanos(ns),
        None => START.get_or_init(Instant::now).elapsed(),
    }
}
