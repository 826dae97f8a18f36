//! walrs, the PostgreSQL extension: an archive module that ships WAL to a WAL-G-format
//! repository from inside the server.
//!
//! Everything here adapts PostgreSQL to `walrs_core`: settings in [`gucs`], the archive module
//! in [`archive`], errors in [`error`], the tokio runtime in [`runtime`].

use pgrx::prelude::*;

mod api;
mod archive;
mod error;
mod gucs;
mod monitor;
mod repo;
mod retention;
mod runtime;
mod worker;

::pgrx::pg_module_magic!(name, version);

/// Runs in every process that loads walrs: the postmaster (when preloaded), the archiver
/// (`archive_library`), workers and backends. It registers settings, and while preloading the
/// scheduler worker and the shared memory of the statistics and of running backups: no threads, no I/O.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::register();
    // SAFETY: reading a flag PostgreSQL sets around shared_preload_libraries loading.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        worker::scheduler::register();
        monitor::shmem::init();
        monitor::backup_progress::init();
    }
}

/// The walrs version of the loaded library.
#[pg_extern]
fn walrs_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use pgrx::pg_sys::panic::CaughtError;
    use pgrx::prelude::*;
    use std::ffi::CStr;

    fn setting(name: &str) -> (String, String) {
        Spi::get_two_with_args::<String, String>(
            "SELECT setting, context FROM pg_settings WHERE name = $1",
            &[name.into()],
        )
        .map(|(s, c)| (s.expect("setting"), c.expect("context")))
        .expect("setting exists")
    }

    #[pg_test]
    fn settings_exist_with_documented_defaults() {
        assert_eq!(setting("walrs.storage"), ("".into(), "sighup".into()));
        assert_eq!(setting("walrs.env_dir"), ("".into(), "sighup".into()));
        assert_eq!(setting("walrs.compression"), ("lz4".into(), "sighup".into()));
        assert_eq!(setting("walrs.upload_concurrency"), ("4".into(), "sighup".into()));
        let choices = Spi::get_one::<String>(
            "SELECT array_to_string(enumvals, ',') FROM pg_settings WHERE name = 'walrs.compression'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(choices, "lz4,zstd,brotli,none");
    }

    /// Validate a value for a sighup setting as a reload of postgresql.conf would. An invalid
    /// value raises the ERROR a reload would log; a valid one returns true.
    fn validate_as_reload(name: &CStr, value: &CStr) -> bool {
        // SAFETY: plain call into guc.c with NUL-terminated strings; changeVal=false only checks.
        // It returns 0 for an invalid value, -1 for "valid but not applied" (changeVal=false).
        unsafe {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SIGHUP,
                pg_sys::GucSource::PGC_S_FILE,
                pg_sys::GucAction::GUC_ACTION_SET,
                false,
                pg_sys::PGERROR as i32,
                false,
            ) != 0
        }
    }

    #[pg_test]
    fn valid_storage_urls_are_accepted() {
        for url in [c"file:///var/lib/walrs", c"s3://bucket/prefix", c"azure://c/p", c"az://c", c"gs://b/p", c""] {
            assert!(validate_as_reload(c"walrs.storage", url), "{url:?}");
        }
    }

    /// The ERROR (message, detail, hint) that validating `value` raises.
    fn rejection(name: &'static CStr, value: &'static CStr) -> (String, String, String) {
        PgTryBuilder::new(|| {
            validate_as_reload(name, value);
            panic!("{value:?} was accepted");
        })
        .catch_others(|e| match e {
            CaughtError::PostgresError(r) => (
                r.message().to_string(),
                r.detail().unwrap_or_default().to_string(),
                r.hint().unwrap_or_default().to_string(),
            ),
            other => other.rethrow(),
        })
        .execute()
    }

    #[pg_test]
    fn a_rejected_storage_url_says_why_and_what_to_use() {
        let cases: [(&CStr, &str); 4] = [
            (c"ftp://host/x", "unknown repository scheme \"ftp\""),
            (c"s3://", "needs a bucket"),
            (c"/var/lib/walrs", "not a URL"),
            (c"s3://key:secret@bucket/p", "must not contain credentials"),
        ];
        for (value, why) in cases {
            let (message, detail, hint) = rejection(c"walrs.storage", value);
            assert!(message.starts_with("invalid value for parameter \"walrs.storage\""), "{message}");
            assert!(detail.contains(why), "{value:?}: {detail}");
            assert!(!hint.is_empty(), "{value:?} has no hint");
            assert!(!detail.contains("secret") && !hint.contains("secret"), "{detail} {hint}");
        }
    }

    #[pg_test(error = "invalid value for parameter \"walrs.storage\": \"file://relative\"")]
    fn a_relative_file_url_is_rejected() {
        validate_as_reload(c"walrs.storage", c"file://relative");
    }

    #[pg_test(error = "0 is outside the valid range for parameter \"walrs.upload_concurrency\" (1 .. 64)")]
    fn upload_concurrency_must_be_positive() {
        validate_as_reload(c"walrs.upload_concurrency", c"0");
    }

    #[pg_test(error = "invalid configuration parameter name \"walrs.no_such_setting\"")]
    fn the_walrs_prefix_is_reserved() {
        Spi::run("SET walrs.no_such_setting = 'x'").unwrap();
    }

    #[pg_test]
    fn a_backup_result_is_read_only_by_the_request_it_answers() {
        use crate::worker::{result, Request};
        let (first, second) = (result::new_key(4242), result::new_key(4242));
        assert_ne!(first, second, "two requests of one caller share a key");
        result::write(&first, &Ok("base_000000010000000000000002".into())).unwrap();
        // Another request (the same caller, even a worker with the same PID) never sees it.
        assert!(result::take(&second).is_err());
        assert_eq!(result::take(&first).unwrap(), "base_000000010000000000000002");
        assert!(result::take(&first).is_err(), "a result is taken once");
        assert!(result::take("../../postgresql.conf").is_err());
        let r = Request::from_extra(&format!("{first} permanent"));
        assert_eq!((r.result_key.as_str(), r.permanent), (first.as_str(), true));
        assert!(!Request::from_extra(&second).permanent);
    }

    #[pg_test(error = "walrs: walrs.storage is not set")]
    fn a_backup_without_a_repository_fails_with_what_to_set() {
        // The worker runs, fails, and its error comes back as this session's ERROR.
        Spi::get_one::<String>("SELECT walrs_backup_push()").unwrap();
    }

    /// The SQL wrapper must find its own helper whatever the caller's search_path: monitoring
    /// roles often run with a search_path of their own.
    #[pg_test(error = "walrs: walrs.storage is not set")]
    fn backup_list_does_not_depend_on_the_callers_search_path() {
        let schema = Spi::get_one::<String>(
            "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'walrs'",
        )
        .unwrap()
        .expect("walrs is installed");
        Spi::run("SET LOCAL search_path = pg_catalog").unwrap();
        Spi::run(&format!("SELECT * FROM {schema}.walrs_backup_list()")).unwrap();
    }

    #[pg_test]
    fn a_bad_schedule_is_rejected_with_an_example() {
        for value in [c"0 3 * * *", c"* * * * *", c""] {
            assert!(validate_as_reload(c"walrs.backup_schedule", value), "{value:?}");
        }
        let (message, detail, hint) = rejection(c"walrs.backup_schedule", c"every night");
        assert!(message.starts_with("invalid value for parameter \"walrs.backup_schedule\""), "{message}");
        assert!(detail.contains("5-field cron"), "{detail}");
        assert!(hint.contains("0 3 * * *"), "{hint}");
    }

    #[pg_test]
    fn backup_push_is_not_for_public() {
        Spi::run("CREATE ROLE walrs_test_nobody LOGIN").unwrap();
        let allowed = Spi::get_one::<bool>(
            "SELECT has_function_privilege('walrs_test_nobody', 'walrs_backup_push(bool)', 'EXECUTE')",
        )
        .unwrap();
        assert_eq!(allowed, Some(false));
    }

    #[pg_test]
    fn mutating_functions_are_not_for_public_and_listing_is_for_pg_monitor() {
        Spi::run("CREATE ROLE walrs_test_plain LOGIN").unwrap();
        Spi::run("CREATE ROLE walrs_test_monitor LOGIN IN ROLE pg_monitor").unwrap();
        let may = |role: &str, function: &str| {
            Spi::get_one_with_args::<bool>(
                "SELECT has_function_privilege($1, $2, 'EXECUTE')",
                &[role.into(), function.into()],
            )
            .unwrap()
            .unwrap()
        };
        for f in [
            "walrs_backup_push(bool)",
            "walrs_backup_mark(text, bool)",
            "walrs_delete_retain(int, bool)",
            "walrs_delete_retain_within(interval, bool)",
            "walrs_delete_before(timestamptz, bool)",
            "walrs_delete_before(text, bool)",
            "walrs_delete_target(text, bool)",
            "walrs_delete_garbage(bool)",
        ] {
            assert!(!may("walrs_test_plain", f), "{f} is executable by PUBLIC");
            assert!(!may("walrs_test_monitor", f), "{f} is executable by pg_monitor");
        }
        assert!(!may("walrs_test_plain", "walrs_backup_list()"));
        assert!(may("walrs_test_monitor", "walrs_backup_list()"));
        assert!(may("walrs_test_plain", "walrs_version()"));
    }

    #[pg_test(error = "walrs: full_count must be at least 1, not 0")]
    fn retain_zero_is_refused_before_touching_storage() {
        Spi::run("SELECT * FROM walrs_delete_retain(0)").unwrap();
    }

    #[pg_test(error = "walrs: the backup name must not be NULL")]
    fn a_null_backup_name_is_refused() {
        Spi::run("SELECT * FROM walrs_delete_target(NULL)").unwrap();
    }

    #[pg_test]
    fn backup_settings_exist() {
        assert_eq!(setting("walrs.retain_full"), ("0".into(), "sighup".into()));
        assert_eq!(setting("walrs.backup_schedule"), ("".into(), "sighup".into()));
        assert_eq!(setting("walrs.backup_database"), ("postgres".into(), "sighup".into()));
        assert_eq!(setting("walrs.backup_wal_timeout"), ("300".into(), "sighup".into()));
        assert_eq!(setting("walrs.backup_partition_size"), ("1024".into(), "sighup".into()));
    }

    /// The library PostgreSQL loaded is the one the installed extension's SQL belongs to.
    #[pg_test]
    fn the_loaded_library_is_the_installed_extension_version() {
        let (library, installed) = Spi::get_two::<String, String>(
            "SELECT walrs_version(), extversion FROM pg_extension WHERE extname = 'walrs'",
        )
        .expect("walrs is installed");
        assert!(library.as_deref().is_some_and(|v| !v.is_empty()), "{library:?}");
        assert_eq!(library, installed);
    }

    /// What the archiver and the backup worker make of an ERROR or a panic they catch.
    fn caught(raise: fn()) -> walrs_core::Error {
        PgTryBuilder::new(|| {
            raise();
            Err::<(), _>(walrs_core::Error::invalid_input("nothing was raised"))
        })
        .catch_others(|e| Err(crate::error::from_caught(e)))
        .execute()
        .expect_err("raise() raises")
    }

    #[pg_test]
    fn a_caught_error_or_panic_is_internal_and_keeps_message_and_hint() {
        let err = caught(|| {
            pgrx::pg_sys::panic::ErrorReport::new(PgSqlErrorCode::ERRCODE_DIVISION_BY_ZERO, "boom", "test")
                .set_hint("do this")
                .report(PgLogLevel::ERROR)
        });
        assert_eq!(err.kind, walrs_core::ErrorKind::Internal);
        assert_eq!((err.message.as_str(), err.hint.as_deref()), ("boom", Some("do this")));
        assert!(!err.retryable);
        let err = caught(|| panic!("oops"));
        assert_eq!((err.kind, err.message.as_str()), (walrs_core::ErrorKind::Internal, "internal error: oops"));
        assert_eq!(crate::error::sqlstate(err.kind), PgSqlErrorCode::ERRCODE_INTERNAL_ERROR);
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
