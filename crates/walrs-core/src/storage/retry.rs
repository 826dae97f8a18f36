//! Bounded retries: every storage request is bounded in time, transient failures are retried
//! with backoff, and an operation stops retrying after a fixed budget, so a caller (the
//! archiver above all) never waits forever on a broken network.
//!
//! What is bounded is the absence of progress, never the amount of work: a listing of a large
//! repository and a WAL segment on a slow link take as long as they need while they move.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Longest one request whose work does not grow with the data may take, its answer
    /// included: a lookup, a delete, opening a read, starting an upload, one page of a listing.
    /// Uploads and reads of whole objects are bounded by `stall_timeout` instead (on a local
    /// file system, by a time that grows with their size), and a listing page by page, so a
    /// large object on a slow link or a listing of many pages is not cut off while it moves.
    pub attempt_timeout: Duration,
    /// Longest wait for a connection to a cloud store.
    pub connect_timeout: Duration,
    /// Longest a cloud request may go without progress: while it is sent, between two pieces
    /// of its body the connection takes; then until its answer starts; then between two reads
    /// of the answer.
    pub stall_timeout: Duration,
    /// How long an operation keeps retrying after its first failure. It never cuts a try in
    /// progress: only the decision to try again looks at it, so a long listing or upload that
    /// fails late is still tried again.
    pub budget: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempt_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
            budget: Duration::from_secs(120),
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// How an operation ended after retries.
pub struct Attempts<T> {
    pub result: Result<T, object_store::Error>,
    pub attempts: u32,
}

impl RetryPolicy {
    /// Try `op` until it succeeds, fails for good, or the budget is spent, each try bounded as
    /// a whole by `attempt_timeout`: for requests whose work does not grow with the data.
    pub async fn run<T, F, Fut>(&self, op: F) -> Attempts<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        self.run_within(Some(self.attempt_timeout), op).await
    }

    /// As [`RetryPolicy::run`], with each try bounded as a whole by `limit` if there is one.
    /// None is for work that grows with the data and bounds its own stalls (each page of a
    /// listing, each piece of an upload or of a read), which no fixed limit would fit.
    pub async fn run_within<T, F, Fut>(&self, limit: Option<Duration>, mut op: F) -> Attempts<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let mut first_failure = None;
        let mut backoff = self.first_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = match limit {
                Some(limit) => tokio::time::timeout(limit, op()).await.unwrap_or_else(|_| Err(timed_out(limit))),
                None => op().await,
            };
            match result {
                Err(e) if is_transient(&e) => {
                    // The budget runs from the first failure: time spent on work that was
                    // moving is not time spent waiting for a broken store.
                    let failing_since = *first_failure.get_or_insert_with(Instant::now);
                    if failing_since.elapsed() + backoff >= self.budget {
                        return Attempts { result: Err(e), attempts };
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
                result => return Attempts { result, attempts },
            }
        }
    }
}

pub(super) fn timed_out(after: Duration) -> object_store::Error {
    timed_out_with(format!("request timed out after {}", seconds(after)))
}

/// A timeout as a transient storage error, `what` saying what took too long.
pub(super) fn timed_out_with(what: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "walrs",
        source: Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, what)),
    }
}

/// A duration as people read it in a message: "60 s", "1.5 s".
pub(super) fn seconds(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
}

/// May the same request succeed if tried again soon?
pub fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    match e {
        E::Generic { source, .. } => {
            !has_permanent_io_cause(source.as_ref()) && !super::http_status::is_permanent_client_error(e)
        }
        E::JoinError { .. } => true,
        _ => false,
    }
}

/// The kind of the first I/O error in `err`'s cause chain, if any.
pub fn io_cause(mut err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    loop {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        err = err.source()?;
    }
}

/// Local failures that waiting will not cure: retrying them only delays the WARNING.
fn has_permanent_io_cause(err: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        io_cause(err),
        Some(
            K::PermissionDenied
                | K::ReadOnlyFilesystem
                | K::StorageFull
                | K::QuotaExceeded
                | K::NotADirectory
                | K::IsADirectory
                | K::InvalidInput
                | K::InvalidFilename
                | K::FileTooLarge
                | K::AlreadyExists
                | K::NotFound
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn generic(kind: std::io::ErrorKind) -> object_store::Error {
        object_store::Error::Generic { store: "test", source: Box::new(std::io::Error::new(kind, "x")) }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_millis(100),
            stall_timeout: Duration::from_millis(100),
            budget: Duration::from_millis(600),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        }
    }

    #[test]
    fn classifies_errors() {
        assert!(is_transient(&generic(std::io::ErrorKind::ConnectionReset)));
        assert!(is_transient(&generic(std::io::ErrorKind::TimedOut)));
        assert!(!is_transient(&generic(std::io::ErrorKind::PermissionDenied)));
        assert!(!is_transient(&generic(std::io::ErrorKind::StorageFull)));
        let nf = object_store::Error::NotFound { path: "p".into(), source: "x".into() };
        assert!(!is_transient(&nf));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let out = quick()
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(generic(std::io::ErrorKind::ConnectionReset)),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(out.result.unwrap(), 7);
        assert_eq!(out.attempts, 3);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn work_longer_than_the_budget_is_still_retried_when_it_fails() {
        // A try that ran for longer than the budget (a long listing, a large upload) and then
        // failed is tried again: the budget bounds the retries, not the work.
        let policy = RetryPolicy { attempt_timeout: Duration::from_secs(10), ..quick() };
        let calls = AtomicU32::new(0);
        let out = policy
            .run(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    return Err(generic(std::io::ErrorKind::ConnectionReset));
                }
                Ok(7)
            })
            .await;
        assert_eq!(out.result.unwrap(), 7);
        assert_eq!(out.attempts, 2);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn gives_up_at_once_on_permanent_errors() {
        let out = quick().run(|| async { Err::<(), _>(generic(std::io::ErrorKind::PermissionDenied)) }).await;
        assert!(out.result.is_err());
        assert_eq!(out.attempts, 1);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_hanging_request_times_out_within_the_budget() {
        let started = tokio::time::Instant::now();
        let out = quick().run(std::future::pending::<Result<(), object_store::Error>>).await;
        let err = out.result.unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(out.attempts >= 2, "{}", out.attempts);
        assert!(started.elapsed() <= Duration::from_millis(800), "{:?}", started.elapsed());
    }
}
