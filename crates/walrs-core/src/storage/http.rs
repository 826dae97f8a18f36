//! The HTTP client of the cloud stores, bounded by stall instead of by the size of a request.
//!
//! object_store's own client offers two bounds: a timeout of the whole request, and reqwest's
//! read timeout, which is one timer from sending a request until its answer starts (then one
//! per read of the answer). Neither restarts while a request body goes out, so both cut any
//! upload that takes longer than they do in all, however steadily it moves: a 16 MiB WAL
//! segment at 200 kB/s takes 84 s. This client watches progress instead. A request fails once
//! nothing moved for `stall`: while it is sent, the connection took no further piece of its
//! body; then no answer came; then no further piece of the answer came.
//!
//! A piece counts as sent when the connection takes it, that is when the operating system's
//! send buffer has room for it. After the last piece, what that buffer still holds must go out
//! and the answer must start within `stall`. The buffer grows with the congestion window, so
//! on a real link it holds a few round trips' worth of data; the worst case is a receiver that
//! reads slowly over loopback, where it reaches 4 MiB (see the upload test).

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody, HttpResponse, HttpResponseBody,
    HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How much of a request body the connection is handed at a time. Its progress is seen per
/// piece, so a piece must go through a slow link well within the stall timeout.
const PIECE: usize = 64 << 10;

/// Makes the stores' HTTP clients: one for the store, and one for each credential service.
#[derive(Debug)]
pub(super) struct StallBounded {
    pub stall: Duration,
}

impl HttpConnector for StallBounded {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(Service { client: reqwest_client(options)?, stall: self.stall }))
    }
}

/// Options this client does not carry over to reqwest. walrs sets none of them; refusing them
/// keeps one from being set later and silently ignored. Two that are on by default are left
/// out on purpose: it uses DNS answers in the order given (object_store shuffles them to spread
/// many connections over a store's addresses; walrs keeps a few), and sets no overall timeout.
const NOT_CARRIED_OVER: [ClientConfigKey; 11] = [
    ClientConfigKey::ProxyUrl,
    ClientConfigKey::ProxyCaCertificate,
    ClientConfigKey::ProxyExcludes,
    ClientConfigKey::Timeout,
    ClientConfigKey::ReadTimeout,
    ClientConfigKey::PoolIdleTimeout,
    ClientConfigKey::PoolMaxIdlePerHost,
    ClientConfigKey::Http2KeepAliveInterval,
    ClientConfigKey::Http2KeepAliveTimeout,
    ClientConfigKey::Http2KeepAliveWhileIdle,
    ClientConfigKey::Http2MaxFrameSize,
];

/// The reqwest client object_store would build from `options`, without its timeouts: stalls
/// are watched by [`Service`]. The store's options and those object_store derives from them
/// for credential services (plain HTTP allowed, a 1 s connect timeout) are both honoured.
fn reqwest_client(options: &ClientOptions) -> object_store::Result<reqwest::Client> {
    let value = |key: &ClientConfigKey| options.get_config_value(key);
    let on = |key: &ClientConfigKey| value(key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let unsupported = |what: String| object_store::Error::Generic { store: "HTTP client", source: what.into() };
    if let Some(key) = NOT_CARRIED_OVER.iter().find(|k| value(k).is_some_and(|v| v != "false")) {
        return Err(unsupported(format!("the option {} is not supported", key.as_ref())));
    }
    if on(&ClientConfigKey::NoSystemCertificates) {
        return Err(unsupported("the option no_system_certificates is not supported".into()));
    }
    let agent =
        value(&ClientConfigKey::UserAgent).unwrap_or_else(|| concat!("walrs/", env!("CARGO_PKG_VERSION")).into());
    let mut builder = reqwest::Client::builder()
        .user_agent(agent)
        .https_only(!on(&ClientConfigKey::AllowHttp))
        .danger_accept_invalid_certs(on(&ClientConfigKey::AllowInvalidCertificates))
        // As object_store does: decompressing would make sizes differ from Content-Length.
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .no_deflate();
    // object_store speaks HTTP/1.1 unless told otherwise: HTTP/2 was slower for it.
    if on(&ClientConfigKey::Http1Only) {
        builder = builder.http1_only();
    }
    if on(&ClientConfigKey::Http2Only) {
        builder = builder.http2_prior_knowledge();
    }
    if let Some(connect) = value(&ClientConfigKey::ConnectTimeout) {
        let parsed = parse_duration(&connect)
            .ok_or_else(|| unsupported(format!("cannot read the connect timeout \"{connect}\"")))?;
        builder = builder.connect_timeout(parsed);
    }
    builder.build().map_err(|e| object_store::Error::Generic { store: "HTTP client", source: Box::new(e) })
}

/// A duration the way object_store's options print one: "10s", "1s 500ms".
fn parse_duration(text: &str) -> Option<Duration> {
    text.split_whitespace().try_fold(Duration::ZERO, |sum, part| {
        let (count, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let one = match unit {
            "ns" => Duration::from_nanos(1),
            "us" => Duration::from_micros(1),
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return None,
        };
        sum.checked_add(one.checked_mul(count.parse().ok()?)?)
    })
}

#[derive(Debug)]
struct Service {
    client: reqwest::Client,
    stall: Duration,
}

// `HttpService` is declared with `async_trait`; this is the signature it expands to.
impl HttpService for Service {
    fn call<'life0, 'async_trait>(
        &'life0 self,
        req: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.send(req))
    }
}

impl Service {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let url: reqwest::Url = parts.uri.to_string().parse().map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?;
        let moved = Progress::new(body.content_length() == 0);
        let mut request = reqwest::Request::new(parts.method, url);
        *request.headers_mut() = parts.headers;
        *request.body_mut() = Some(if body.content_length() == 0 {
            reqwest::Body::from(Bytes::new())
        } else {
            reqwest::Body::wrap(Sent { body, rest: Bytes::new(), moved: moved.clone() })
        });
        let mut answer = match moved.unless_stalled(self.stall, self.client.execute(request)).await {
            Some(answer) => answer.map_err(classify)?,
            None if moved.all_sent() => {
                return Err(stalled(format!("no answer came for {} after the request was sent", seconds(self.stall))))
            }
            None => return Err(stalled(format!("sending the request stalled for {}", seconds(self.stall)))),
        };
        let (status, version, headers) = (answer.status(), answer.version(), std::mem::take(answer.headers_mut()));
        let waiting = Box::pin(tokio::time::sleep(self.stall));
        let body = Received { body: reqwest::Body::from(answer), stall: self.stall, waiting, armed: false };
        let mut response = HttpResponse::new(HttpResponseBody::new(body));
        *response.status_mut() = status;
        *response.version_mut() = version;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// When a request last moved (it started, or the connection took a piece of its body), and
/// whether all of it went.
#[derive(Clone)]
struct Progress(Arc<Mutex<(Instant, bool)>>);

impl Progress {
    fn new(all_sent: bool) -> Progress {
        Progress(Arc::new(Mutex::new((Instant::now(), all_sent))))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (Instant, bool)> {
        // A panic while holding this lock leaves a valid time behind.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn mark(&self, all_sent: bool) {
        *self.state() = (Instant::now(), all_sent);
    }

    fn last(&self) -> Instant {
        self.state().0
    }

    fn all_sent(&self) -> bool {
        self.state().1
    }

    /// `work`'s output, or None once `stall` has passed without progress.
    async fn unless_stalled<F: Future>(&self, stall: Duration, work: F) -> Option<F::Output> {
        let mut work = std::pin::pin!(work);
        loop {
            let deadline = self.last() + stall;
            tokio::select! {
                biased;
                out = &mut work => return Some(out),
                () = tokio::time::sleep_until(deadline) => {
                    if self.last() + stall <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A request body handed to the connection in pieces, each marking progress as it is taken.
struct Sent {
    body: HttpRequestBody,
    rest: Bytes,
    moved: Progress,
}

impl Body for Sent {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
                done => return Poll::Ready(done),
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(PIECE));
        this.moved.mark(this.rest.is_empty() && this.body.is_end_stream());
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.body.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint.set_lower(inner.lower() + rest);
        hint
    }
}

/// An answer's body that fails once `stall` passes between asking for a piece and getting it.
/// The clock runs only while the reader waits, so a reader that pauses (a restore writing to
/// a slow disk) is not taken for a stalled store.
struct Received {
    body: reqwest::Body,
    stall: Duration,
    /// Armed when the reader asks for a piece, disarmed when one comes.
    waiting: Pin<Box<Sleep>>,
    armed: bool,
}

impl Body for Received {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        if !this.armed {
            this.waiting.as_mut().reset(Instant::now() + this.stall);
            this.armed = true;
        }
        if this.waiting.as_mut().poll(cx).is_ready() {
            this.armed = false;
            let what = format!("the answer stopped: nothing came for {}", seconds(this.stall));
            return Poll::Ready(Some(Err(stalled(what))));
        }
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        this.armed = false;
        Poll::Ready(frame.map(|f| f.map_err(classify)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn seconds(d: Duration) -> String {
    super::retry::seconds(d)
}

/// A stall, as the timeout object_store retries.
fn stalled(what: String) -> HttpError {
    HttpError::new(HttpErrorKind::Timeout, std::io::Error::new(std::io::ErrorKind::TimedOut, what))
}

/// The kind object_store gives a reqwest error with its own client, which decides whether it
/// retries the request: a connection closed or reset is retried, a malformed answer is not.
fn classify(e: reqwest::Error) -> HttpError {
    let mut kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_decode() {
        HttpErrorKind::Decode
    } else {
        HttpErrorKind::Unknown
    };
    let mut cause = std::error::Error::source(&e);
    while let (HttpErrorKind::Unknown, Some(err)) = (kind, cause) {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_closed() || h.is_incomplete_message() || h.is_body_write_aborted() {
                kind = HttpErrorKind::Request;
            } else if h.is_timeout() {
                kind = HttpErrorKind::Timeout;
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::TimedOut => kind = HttpErrorKind::Timeout,
                K::ConnectionAborted | K::ConnectionReset | K::BrokenPipe | K::UnexpectedEof => {
                    kind = HttpErrorKind::Interrupted
                }
                _ => {}
            }
        }
        cause = err.source();
    }
    // The URL is named by object_store's own error, with what must not be shown removed.
    HttpError::new(kind, e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_object_store_prints_them() {
        let printed = |d: Duration| {
            ClientOptions::new().with_connect_timeout(d).get_config_value(&ClientConfigKey::ConnectTimeout).unwrap()
        };
        for d in [Duration::from_secs(1), Duration::from_secs(10), Duration::from_millis(1500), Duration::from_secs(90)]
        {
            assert_eq!(parse_duration(&printed(d)), Some(d), "{}", printed(d));
        }
        assert_eq!(parse_duration("ten seconds"), None);
        assert_eq!(parse_duration("10"), None);
    }

    #[test]
    fn options_it_would_ignore_are_refused() {
        let connector = StallBounded { stall: Duration::from_secs(60) };
        let walrs = ClientOptions::new().with_timeout_disabled().with_connect_timeout(Duration::from_secs(10));
        assert!(connector.connect(&walrs).is_ok());
        assert!(connector.connect(&walrs.clone().with_allow_http(true)).is_ok());
        let err = connector.connect(&walrs.clone().with_proxy_url("http://proxy:3128")).unwrap_err();
        assert!(err.to_string().contains("proxy_url"), "{err}");
        // object_store's default: a whole-request timeout, which is what this client avoids.
        let err = connector.connect(&ClientOptions::new()).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }

    #[tokio::test]
    async fn a_body_goes_in_pieces_of_its_exact_size() {
        let payload =
            object_store::PutPayload::from_iter([Bytes::from(vec![1u8; 150 << 10]), Bytes::from(vec![2u8; 50 << 10])]);
        let moved = Progress::new(false);
        let mut sent = Sent { body: HttpRequestBody::from(payload), rest: Bytes::new(), moved: moved.clone() };
        assert_eq!(sent.size_hint().exact(), Some(200 << 10));
        let mut pieces = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut sent).poll_frame(cx)).await {
            pieces.push(frame.unwrap().into_data().unwrap().len());
            let left = (200 << 10) - pieces.iter().sum::<usize>() as u64;
            assert_eq!(sent.size_hint().exact(), Some(left));
            assert_eq!(moved.all_sent(), left == 0);
        }
        assert_eq!(pieces, [64 << 10, 64 << 10, 22 << 10, 50 << 10]);
        assert!(moved.all_sent() && sent.is_end_stream());
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn work_that_moves_is_not_cut_and_work_that_stops_is() {
        let moved = Progress::new(false);
        let marks = moved.clone();
        let steady = async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(800)).await;
                marks.mark(false);
            }
            "done"
        };
        assert_eq!(moved.unless_stalled(Duration::from_secs(1), steady).await, Some("done"));
        let started = Instant::now();
        assert_eq!(moved.unless_stalled(Duration::from_secs(1), std::future::pending::<()>()).await, None);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
