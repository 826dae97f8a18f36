//! Uploading a stream that a blocking thread produces (tar → compress) with bounded memory:
//! the producer writes into a [`ChannelWriter`], the consumer feeds a multipart upload. The
//! object is completed only when the producer says it finished; otherwise the upload is
//! aborted and no partial object appears.

use bytes::Bytes;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// Size of the chunks handed from the producer to the uploader.
pub const CHUNK: usize = 4 << 20;
/// Size of each part of a multipart upload but the last. S3 (and GCS's XML API) refuse parts
/// under 5 MiB when the upload completes; S3 allows 10,000 parts, so one object can reach
/// 78 GiB. Memory per upload: the part being filled, two in flight, and the queued chunks.
pub const PART: usize = 8 << 20;
/// Chunks queued between producer and uploader.
pub const QUEUE: usize = 2;

pub enum Piece {
    Data(Bytes),
    /// The producer finished writing: the upload may be completed.
    Done,
}

pub fn channel() -> (ChannelWriter, mpsc::Receiver<Piece>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (ChannelWriter { tx, buf: Vec::with_capacity(CHUNK), written: 0 }, rx)
}

/// A blocking `Write` that forwards `CHUNK`-sized pieces to an async uploader.
pub struct ChannelWriter {
    tx: mpsc::Sender<Piece>,
    buf: Vec<u8>,
    written: u64,
}

impl ChannelWriter {
    fn send(&mut self, piece: Piece) -> io::Result<()> {
        self.tx.blocking_send(piece).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    fn ship(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.send(Piece::Data(Bytes::from(full)))?;
        }
        Ok(())
    }

    /// Send what is left and mark the stream complete; returns the bytes written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.ship()?;
        self.send(Piece::Done)?;
        Ok(self.written)
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.written += n as u64;
        if self.buf.len() == CHUNK {
            self.ship()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
