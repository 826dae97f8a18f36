//! A tiny HTTP server on 127.0.0.1 that answers every request for an object the way a slow or
//! broken network would: in small pieces with pauses, stopping halfway, or not at all; or the
//! way a store that refuses the request does. It speaks just enough S3 (path-style GET with the
//! headers object_store requires, ListObjectsV2 pages, PUT) for `s3://bucket/key` reads,
//! listings and uploads to reach it.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Send the whole object, `pieces` pieces with `pause` before each.
    Trickle { pieces: usize, pause: Duration },
    /// Send the head and half of the body, then keep the connection open and silent.
    StallHalfway,
    /// Read the request and never answer.
    Silent,
    /// Answer with this status (e.g. "403 Forbidden") and the body as an XML error document.
    Refuse { status: &'static str },
    /// Answer listings in `pages` pages of `keys` objects under the listed prefix, each page
    /// after `pause`, as a store with a large repository does.
    Pages { pages: usize, keys: usize, pause: Duration },
    /// Take an upload's body at `bytes_per_s` at most, as a slow link does, then answer that it
    /// is stored.
    SlowUpload { bytes_per_s: usize },
    /// Take the first `after` bytes of an upload's body, then neither read nor answer.
    StopReading { after: usize },
}

pub struct SlowServer {
    pub port: u16,
    /// The first byte each request asked for (0 unless it resumed with a Range); for
    /// listings, the page each request asked for.
    pub requests: Arc<Mutex<Vec<usize>>>,
    /// The bytes of the body of each upload that came in whole.
    pub uploads: Arc<Mutex<Vec<usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlowServer {
    pub async fn start(body: Vec<u8>, behaviour: Behaviour) -> SlowServer {
        let socket = TcpSocket::new_v4().unwrap();
        // A small receive buffer, so that what the server has not read yet stays with the
        // client, as on a slow link, instead of in a large loopback buffer here.
        socket.set_recv_buffer_size(64 << 10).unwrap();
        socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], super::servers::free_port()))).unwrap();
        let listener = socket.listen(16).unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(body);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let uploads = Arc::new(Mutex::new(Vec::new()));
        let log = Log { requests: requests.clone(), uploads: uploads.clone() };
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, body.clone(), behaviour, log.clone()));
            }
        });
        SlowServer { port, requests, uploads, task }
    }
}

#[derive(Clone)]
struct Log {
    requests: Arc<Mutex<Vec<usize>>>,
    uploads: Arc<Mutex<Vec<usize>>>,
}

async fn serve(mut conn: TcpStream, body: Arc<Vec<u8>>, behaviour: Behaviour, log: Log) {
    let Some((head, early)) = read_head(&mut conn).await else { return };
    if matches!(behaviour, Behaviour::Silent) {
        return std::future::pending().await;
    }
    if let Behaviour::Pages { pages, keys, pause } = behaviour {
        return list_page(conn, &head, pages, keys, pause, &log).await;
    }
    if matches!(behaviour, Behaviour::SlowUpload { .. } | Behaviour::StopReading { .. }) {
        return upload(conn, &head, early, behaviour, &log).await;
    }
    let seen = log.requests;
    if let Behaviour::Refuse { status } = behaviour {
        let head =
            format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/xml\r\n\r\n", body.len());
        let _ = conn.write_all(head.as_bytes()).await;
        let _ = conn.write_all(&body).await;
        return;
    }
    // A resumed read asks for the rest: "Range: bytes=N-".
    let from = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("range: bytes=").map(str::to_string))
        .and_then(|r| r.trim_end_matches('-').split('-').next()?.parse::<usize>().ok())
        .unwrap_or(0);
    seen.lock().unwrap().push(from);
    let part = &body[from.min(body.len())..];
    let status = if from > 0 {
        format!("206 Partial Content\r\nContent-Range: bytes {from}-{}/{}", body.len() - 1, body.len())
    } else {
        "200 OK".to_string()
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: \"slow-etag\"\r\n\
         Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Type: application/octet-stream\r\n\r\n",
        part.len()
    );
    if conn.write_all(reply.as_bytes()).await.is_err() {
        return;
    }
    match behaviour {
        Behaviour::Trickle { pieces, pause } => {
            for chunk in part.chunks(part.len().div_ceil(pieces.max(1)).max(1)) {
                tokio::time::sleep(pause).await;
                if conn.write_all(chunk).await.is_err() {
                    return;
                }
            }
        }
        Behaviour::StallHalfway => {
            let _ = conn.write_all(&part[..part.len() / 2]).await;
            std::future::pending::<()>().await;
        }
        _ => unreachable!(),
    }
}

/// One page of a ListObjectsV2 answer; the continuation token is the number of the next page.
async fn list_page(mut conn: TcpStream, head: &str, pages: usize, keys: usize, pause: Duration, log: &Log) {
    let target = head.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='));
    let page = param("continuation-token").and_then(|t| t.parse::<usize>().ok()).unwrap_or(0);
    let prefix = param("prefix").unwrap_or("").replace("%2F", "/");
    log.requests.lock().unwrap().push(page);
    tokio::time::sleep(pause).await;
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>walrs-test</Name><Prefix>{prefix}</Prefix><KeyCount>{keys}</KeyCount><MaxKeys>{keys}</MaxKeys>\
         <IsTruncated>{}</IsTruncated>",
        page + 1 < pages
    );
    for i in 0..keys {
        xml.push_str(&format!(
            "<Contents><Key>{prefix}00000001{:016X}</Key><LastModified>2015-10-21T07:28:00.000Z</LastModified>\
             <ETag>\"e\"</ETag><Size>16</Size><StorageClass>STANDARD</StorageClass></Contents>",
            page * keys + i
        ));
    }
    if page + 1 < pages {
        xml.push_str(&format!("<NextContinuationToken>{}</NextContinuationToken>", page + 1));
    }
    xml.push_str("</ListBucketResult>");
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    );
    let _ = conn.write_all(reply.as_bytes()).await;
}

/// Take a PUT's body as `behaviour` says; answer "stored" once all of it came in.
async fn upload(mut conn: TcpStream, head: &str, early: Vec<u8>, behaviour: Behaviour, log: &Log) {
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse::<usize>().ok())
        .expect("uploads come with a Content-Length");
    let (bytes_per_s, stop) = match behaviour {
        Behaviour::SlowUpload { bytes_per_s } => (bytes_per_s, usize::MAX),
        Behaviour::StopReading { after } => (usize::MAX, after),
        _ => unreachable!(),
    };
    let started = tokio::time::Instant::now();
    let mut got = early.len();
    let mut buf = vec![0u8; 64 << 10];
    while got < length {
        if got >= stop {
            return std::future::pending().await;
        }
        // Wait until what came so far is due at the rate: a late wake-up is caught up on.
        tokio::time::sleep_until(started + Duration::from_secs_f64(got as f64 / bytes_per_s as f64)).await;
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => got += n,
        }
    }
    log.uploads.lock().unwrap().push(got);
    let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"slow-etag\"\r\nConnection: close\r\n\r\n";
    let _ = conn.write_all(reply.as_bytes()).await;
}

/// The request's head, and what came after it in the same reads (the start of its body).
async fn read_head(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        let n = conn.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
}
