//! The one error type of walrs.
//!
//! Rules:
//! - Every error carries a [`ErrorKind`], a message a DBA can act on, and a hint when there is
//!   something to do about it. The cause is folded into the message when the error is made,
//!   so nothing is dropped on the way to a log line.
//! - No secret ever enters a message: errors from storage pass through
//!   [`crate::storage::Storage`], which keeps only the service's code and message of a
//!   response body and redacts known secret values.
//! - `retryable` says whether trying the same thing again later may succeed with nothing
//!   changed: set by storage for transient failures (a refused or reset connection, a timeout,
//!   a 5xx, after the storage layer's own bounded retries), by `wal_push` for a segment that
//!   changed size while read or an object that vanished while compared, by [`Error::local_io`]
//!   for interrupted I/O. Unexpected errors ([`ErrorKind::Internal`]) are not retryable.
//!   Adapters read it only to choose words: the archiver's WARNING says in its DETAIL whether
//!   PostgreSQL's next attempt may succeed on its own, and the CLI prints a line after the error
//!   saying the failure may be transient. It never changes an exit code (PostgreSQL reads
//!   those, and `docs/archiving.md` pins them), and no adapter retries because of it: retrying
//!   belongs to the storage layer, and archiving is retried by PostgreSQL.
//! - Adapters map kinds to SQLSTATEs (extension) and exit codes (CLI) in one place each.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// A setting, URL, flag or environment variable is missing or wrong.
    Config,
    /// An argument (file name, path, option value) is not valid.
    InvalidInput,
    /// The object asked for is not in the repository.
    NotFound,
    /// The repository already holds a different object under this name.
    Conflict,
    /// An object in the repository fails to decompress or verify.
    Corrupt,
    /// The storage refused or failed a request (after retries).
    Storage,
    /// Reading or writing a local file failed.
    LocalIo,
    /// Another operation holds what this one needs (a backup is already running).
    Busy,
    /// A wait PostgreSQL or walrs depends on did not finish in time.
    Timeout,
    /// The server is not in the state the operation needs (a standby that has not yet replayed a checkpoint to start a backup from).
    WrongState,
    /// Stopped on request: the process was terminated or the server is shutting down.
    Cancelled,
    /// A defect in walrs, or a PostgreSQL error walrs did not expect (an ERROR raised inside
    /// an archive callback or the backup worker, a panic, a query result of the wrong shape).
    Internal,
}

/// Serializable, so a background worker can hand an error to the session that started it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub retryable: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, retryable: false }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A local file operation failed; `what` names the operation and the path.
    pub fn local_io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        let retryable = matches!(
            err.kind(),
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        let hint = match err.kind() {
            std::io::ErrorKind::StorageFull => Some("free space on that file system, or write elsewhere".to_string()),
            std::io::ErrorKind::PermissionDenied => {
                Some("check the owner and mode of the file and its directory".to_string())
            }
            _ => None,
        };
        Error { kind: ErrorKind::LocalIo, message: format!("{what}: {err}"), hint, retryable }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Put context in front of the message, keeping kind, hint and retryability.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `input` quoted for an error message: escaped, and cut short so a huge argument does not
/// become a huge message.
pub fn quoted(input: &str) -> String {
    const LIMIT: usize = 64;
    let escaped: String = input.escape_debug().collect();
    match escaped.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("\"{}...\" ({} bytes)", &escaped[..cut], input.len()),
        None => format!("\"{escaped}\""),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_inputs_are_cut_short_in_messages() {
        assert_eq!(super::quoted("base_x"), "\"base_x\"");
        assert_eq!(super::quoted("a\nb"), "\"a\\nb\"");
        let long = super::quoted(&"A".repeat(100_000));
        assert!(long.len() < 100 && long.ends_with("(100000 bytes)"), "{long}");
    }
}
