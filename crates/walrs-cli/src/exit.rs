//! Exit codes, in one place.
//!
//! `wal-fetch` is PostgreSQL's `restore_command`, which reads exit codes this way: 0 is
//! "fetched"; 1 to 125 is "not in the archive" (recovery ends there, or a standby waits and
//! asks again); above 125 stops the server with FATAL. So a missing file is 74 (as WAL-G).
//! Any other failure (storage unreachable after retries, a corrupt object, a bad setting) must
//! not pass for "end of archive" during archive recovery, or PostgreSQL would finish recovery
//! early and open a database that silently lacks committed data. There it exits 128, which
//! stops recovery with the error in the log; fix the cause and start the server again. A
//! standby (`standby.signal`) retries on its own, so there failures exit 1.
//!
//! Usage errors (unknown flags, missing or malformed arguments) exit 1 like other failures,
//! and 128 in archive recovery for the same reason. Verification verbs (`wal-verify`,
//! `backup-verify`, `restore-test`) exit 1 when they find a problem.
//!
//! A failure that may be transient (`Error::retryable`) exits with the same code as any other
//! failure of its verb: those codes are what PostgreSQL reads. A line after the error says
//! that trying again may help ([`retry_note`]).
//!
//! A panic is a failure like any other and exits the same way (128 for `wal-fetch` in archive
//! recovery, else 1), never with Rust's 101, which PostgreSQL would read as "not in the
//! archive"; the panic's message stays on standard error.

use crate::cli::Command;
use std::path::Path;
use walrs_core::{Error, ErrorKind};

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const NOT_FOUND: i32 = 74;
pub const STOP_RECOVERY: i32 = 128;

pub fn code_for(command: &Command, err: &Error) -> i32 {
    match (command, err.kind) {
        (Command::WalFetch { .. }, ErrorKind::NotFound) => NOT_FOUND,
        // A defect (a panic among them) must not pass for "not in the archive" either.
        (_, ErrorKind::Internal) => failure(command),
        _ => failure(command),
    }
}

/// Any failure but "not found", a panic included.
pub fn failure(command: &Command) -> i32 {
    match command {
        Command::WalFetch { .. } if in_archive_recovery(Path::new(".")) => STOP_RECOVERY,
        _ => FAILED,
    }
}

/// Bad arguments: 1, but 128 in archive recovery, where PostgreSQL would read any code up to
/// 125 from a misconfigured restore_command as "end of archive" and open the database early.
pub fn usage_error() -> i32 {
    if in_archive_recovery(Path::new(".")) {
        STOP_RECOVERY
    } else {
        FAILED
    }
}

/// Is `data_dir` a data directory PostgreSQL is bringing up in (non-standby) archive recovery?
fn in_archive_recovery(data_dir: &Path) -> bool {
    data_dir.join("recovery.signal").exists() && !data_dir.join("standby.signal").exists()
}

/// A line to print after a retryable failure, saying that trying again may help and who will.
/// Words only: the exit code stays the one above, since PostgreSQL reads it.
pub fn retry_note(command: &Command, err: &Error) -> Option<&'static str> {
    if !err.retryable {
        return None;
    }
    Some(match command {
        Command::WalPush { .. } => {
            "the failure may be transient: PostgreSQL keeps the segment and runs archive_command for it again"
        }
        _ => "the failure may be transient: running the command again later may succeed",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_transient_failure_says_so_and_keeps_its_exit_code() {
        let push = Command::WalPush { path: PathBuf::from("pg_wal/000000010000000000000001"), compression: None };
        let transient = Error::new(ErrorKind::Storage, "put archive/x: connection reset").retryable(true);
        let lasting = Error::new(ErrorKind::Storage, "put archive/x: access denied");
        let note = retry_note(&push, &transient).expect("a transient failure has a note");
        assert!(note.contains("transient") && note.contains("archive_command"), "{note}");
        assert_eq!(retry_note(&push, &lasting), None);
        assert_eq!(code_for(&push, &transient), code_for(&push, &lasting));
        assert_eq!(code_for(&push, &transient), FAILED);
        assert_eq!(code_for(&push, &Error::internal("internal error: a panic")), FAILED);

        let list = Command::BackupList { json: false, detail: false };
        let note = retry_note(&list, &transient).expect("any verb says so");
        assert!(note.contains("transient") && !note.contains("archive_command"), "{note}");
    }
}
