//! How core errors reach PostgreSQL: one mapping from kind to SQLSTATE, log helpers that
//! keep the hint, and the one conversion of a caught PostgreSQL ERROR or Rust panic back into
//! a core error.

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::{PgLogLevel, PgSqlErrorCode};
use walrs_core::{Error, ErrorKind};

pub fn sqlstate(kind: ErrorKind) -> PgSqlErrorCode {
    match kind {
        ErrorKind::Config => PgSqlErrorCode::ERRCODE_CONFIG_FILE_ERROR,
        ErrorKind::InvalidInput => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::NotFound => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        ErrorKind::Conflict => PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
        ErrorKind::Corrupt => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        ErrorKind::Storage => PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
        ErrorKind::LocalIo => PgSqlErrorCode::ERRCODE_IO_ERROR,
        ErrorKind::Busy => PgSqlErrorCode::ERRCODE_OBJECT_IN_USE,
        ErrorKind::Timeout => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        ErrorKind::WrongState => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        ErrorKind::Cancelled => PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN,
        ErrorKind::Internal => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    }
}

/// A PostgreSQL ERROR or a Rust panic caught around walrs code (an archive callback, the
/// backup worker), as a core error: walrs raises none itself there, so either is unexpected.
/// PostgreSQL's message and hint are kept; a panic's message says it was an internal error.
/// Not marked retryable: nothing says waiting will make it go away.
pub fn from_caught(caught: CaughtError) -> Error {
    match caught {
        CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => {
            let err = Error::internal(report.message());
            match report.hint() {
                Some(hint) => err.with_hint(hint),
                None => err,
            }
        }
        CaughtError::RustPanic { ereport, .. } => Error::internal(format!("internal error: {}", ereport.message())),
    }
}

/// Log `err` at `level` as "walrs: {context}: {message}", with its hint.
pub fn log_error(level: PgLogLevel, context: &str, err: &Error) {
    error_report(context, err).report(level);
}

/// As [`log_error`], with a DETAIL line.
pub fn log_error_with_detail(level: PgLogLevel, context: &str, err: &Error, detail: &str) {
    error_report(context, err).set_detail(detail).report(level);
}

fn error_report(context: &str, err: &Error) -> ErrorReport {
    let report = ErrorReport::new(sqlstate(err.kind), format!("walrs: {context}: {}", err.message), "walrs");
    match &err.hint {
        Some(hint) => report.set_hint(hint.clone()),
        None => report,
    }
}

/// Raise `err` as an ERROR with its SQLSTATE, message and hint. Does not return.
pub fn raise(err: &Error) -> ! {
    let mut report = ErrorReport::new(sqlstate(err.kind), format!("walrs: {}", err.message), "walrs");
    if let Some(hint) = &err.hint {
        report = report.set_hint(hint.clone());
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR does not return")
}

/// Log a plain WARNING (never pass a secret).
pub fn log_warning(message: &str, hint: Option<&str>) {
    let mut report = ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, format!("walrs: {message}"), "walrs");
    if let Some(hint) = hint {
        report = report.set_hint(hint.to_string());
    }
    report.report(PgLogLevel::WARNING);
}
