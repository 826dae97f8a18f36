use super::*;
use crate::compress::Compression;
use crate::ErrorKind;
use std::io::{Read, Write};

const WRITABLE: [Compression; 4] = [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Brotli];

/// Something like WAL: runs of zeros, repeated records, and noise.
fn sample() -> Vec<u8> {
    let mut v = vec![0u8; 8192];
    for i in 0..100_000u32 {
        v.extend_from_slice(&(i.wrapping_mul(2654435761) >> (i % 13)).to_le_bytes());
        if i % 100 == 0 {
            v.extend_from_slice(b"INSERT INTO pgbench_history VALUES (1, 2, 3, now());");
        }
    }
    v
}

/// Write `data` through the write stages in pieces of `piece` bytes.
fn write_in_pieces(stages: WriteStages, data: &[u8], piece: usize) -> (Vec<u8>, Counted) {
    let mut writer = stages.into_writer(Vec::new()).unwrap();
    for chunk in data.chunks(piece) {
        writer.write_all(chunk).unwrap();
    }
    writer.finish().unwrap()
}

/// Read every plain byte with `fill`, in reads of at most `piece` bytes.
fn fill_all(reader: &mut BodyReader<'_>, piece: usize) -> crate::Result<Vec<u8>> {
    let (mut out, mut buf) = (Vec::new(), vec![0u8; piece]);
    loop {
        match reader.fill(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn every_compression_round_trips_with_matching_counts() {
    let data = sample();
    let expected = Counted { size: data.len() as u64, crc32: Some(crc32fast::hash(&data)) };
    for c in WRITABLE {
        let (stored, written) = write_in_pieces(WriteStages::new(c).checksummed(), &data, 10_000);
        assert_eq!(written, expected, "{c:?}: counts of what was written");
        if c != Compression::None {
            assert!(stored.len() < data.len(), "{c:?} did not compress");
        }
        let mut reader = ReadStages::new(c, "wal_005/X").checksummed().open(&stored[..]).unwrap();
        assert!(fill_all(&mut reader, 4096).unwrap() == data, "{c:?}: the round trip changed the data");
        assert_eq!(reader.counted(), expected, "{c:?}: counts of what was read");
        let (plain, read) = ReadStages::new(c, "wal_005/X").checksummed().decode(&stored).unwrap();
        assert!(plain == data, "{c:?}");
        assert_eq!(read, expected, "{c:?}");
    }
}

#[test]
fn the_stored_bytes_do_not_depend_on_how_they_were_written() {
    let data = sample();
    for c in WRITABLE {
        let whole = WriteStages::new(c).encode(&data).unwrap();
        let (pieces, _) = write_in_pieces(WriteStages::new(c), &data, 8191);
        let (checksummed, _) = write_in_pieces(WriteStages::new(c).checksummed(), &data, 1 << 20);
        assert!(whole == pieces && whole == checksummed, "{c:?}");
    }
}

#[test]
fn the_crc_is_computed_only_when_asked_for() {
    let data = sample();
    let (stored, written) = write_in_pieces(WriteStages::new(Compression::Lz4), &data, 1 << 16);
    assert_eq!(written, Counted { size: data.len() as u64, crc32: None });
    let (_, read) = ReadStages::new(Compression::Lz4, "k").decode(&stored).unwrap();
    assert_eq!(read, Counted { size: data.len() as u64, crc32: None });
}

#[test]
fn empty_bodies_round_trip() {
    for c in WRITABLE {
        let (stored, written) = write_in_pieces(WriteStages::new(c).checksummed(), &[], 1);
        assert_eq!(written, Counted { size: 0, crc32: Some(0) }, "{c:?}");
        let (plain, read) = ReadStages::new(c, "k").checksummed().limit(0).decode(&stored).unwrap();
        assert!(plain.is_empty(), "{c:?}");
        assert_eq!(read, written, "{c:?}");
    }
}

#[test]
fn a_decoder_error_names_the_object() {
    let data = sample();
    for c in [Compression::Lz4, Compression::Zstd] {
        let mut stored = WriteStages::new(c).encode(&data).unwrap();
        let mid = stored.len() / 2;
        stored[mid] ^= 0x40;
        let key = "wal_005/000000010000000000000002.x";
        let err = ReadStages::new(c, key).decode(&stored).expect_err(c.name());
        assert_eq!(err.kind, ErrorKind::Corrupt, "{c:?}");
        assert!(err.message.starts_with(&format!("{key} does not decompress as {}: ", c.name())), "{}", err.message);
        assert!(err.hint.is_some(), "{c:?}");
        let mut reader = ReadStages::new(c, key).open(&stored[..]).unwrap();
        let err = fill_all(&mut reader, 1 << 16).expect_err(c.name());
        assert_eq!(err.kind, ErrorKind::Corrupt, "{c:?}");
        assert!(err.message.contains(key), "{}", err.message);
        // The plain Read passes the codec's own error on, for a consumer that names it itself.
        let mut reader = ReadStages::new(c, key).open(&stored[..]).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err(), "{c:?}");
    }
}

#[test]
fn more_than_the_limit_is_refused() {
    let data = vec![0u8; 1 << 20];
    let stored = WriteStages::new(Compression::Zstd).encode(&data).unwrap();
    let err = ReadStages::new(Compression::Zstd, "bomb").limit(1000).decode(&stored).unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Corrupt, "bomb decompresses to more than 1000 bytes"));
    let mut reader = ReadStages::new(Compression::Zstd, "bomb").limit(1000).open(&stored[..]).unwrap();
    let err = fill_all(&mut reader, 512).unwrap_err();
    assert_eq!(err.message, "bomb decompresses to more than 1000 bytes");
    // At the limit exactly, all is well.
    assert_eq!(ReadStages::new(Compression::Zstd, "k").limit(1 << 20).decode(&stored).unwrap().0.len(), 1 << 20);
}

#[test]
fn without_a_key_the_seal_stage_passes_bytes_through() {
    let mut sealed = Seal::None.writer(Vec::new()).unwrap();
    sealed.write_all(b"plain").unwrap();
    let stored = sealed.finish().unwrap();
    assert_eq!(stored, b"plain");
    let mut back = Vec::new();
    Seal::default().reader(&stored[..], "k").unwrap().read_to_end(&mut back).unwrap();
    assert_eq!(back, b"plain");
}
