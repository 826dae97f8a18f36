//! How core errors reach PostgreSQL: one mapping from kind to SQLSTATE, and log helpers that
//! keep the hint.

use pgrx::pg_sys::panic::ErrorReport;
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
    }
}

/// Log `err` at `level` as "walrs: {context}: {message}", with its hint.
pub fn log_error(level: PgLogLevel, context: &str, err: &Error) {
    let mut report = ErrorReport::new(sqlstate(err.kind), format!("walrs: {context}: {}", err.message), "walrs");
    if let Some(hint) = &err.hint {
        report = report.set_hint(hint.clone());
    }
    report.report(level);
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
