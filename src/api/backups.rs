//! `walrs_backup_push()` and `walrs_backup_list()`.

use crate::error::raise;
use crate::{repo, runtime, worker};
use pgrx::prelude::*;
use walrs_core::backup::list_backups;

/// Take a base backup now, in a background worker; wait for it; return its name.
#[pg_extern]
fn walrs_backup_push(permanent: default!(Option<bool>, false)) -> String {
    // Not STRICT: a NULL gets an error, not a silent NULL result and no backup.
    let Some(permanent) = permanent else {
        raise(
            &walrs_core::Error::invalid_input("permanent must not be NULL")
                .with_hint("walrs_backup_push(true) or walrs_backup_push()"),
        )
    };
    match worker::run_backup(permanent) {
        Ok(name) => name,
        Err(e) => raise(&e),
    }
}

/// Every complete backup in the repository, oldest first. Timestamps and LSNs are text here;
/// the SQL wrapper below gives them their types.
#[pg_extern]
#[allow(clippy::type_complexity)] // pgrx spells out the columns in the signature
fn walrs_backup_list_raw() -> TableIterator<
    'static,
    (
        name!(backup_name, String),
        name!(start_time, Option<String>),
        name!(finish_time, Option<String>),
        name!(start_lsn, String),
        name!(finish_lsn, String),
        name!(timeline, i32),
        name!(pg_version, i32),
        name!(uncompressed_size, i64),
        name!(compressed_size, i64),
        name!(is_permanent, bool),
        name!(hostname, Option<String>),
        name!(data_dir, Option<String>),
    ),
> {
    let listed = repo::open().and_then(|repo| runtime::block_on(async move { list_backups(&repo.storage).await })?);
    let (backups, problems) = match listed {
        Ok(l) => l,
        Err(e) => raise(&e),
    };
    for p in &problems {
        crate::error::log_error(PgLogLevel::WARNING, "skipped a backup", p);
    }
    TableIterator::new(backups.into_iter().map(|b| {
        let s = &b.sentinel;
        (
            b.name.to_string(),
            s.start_time.clone(),
            s.finish_time.clone(),
            s.start_lsn().to_string(),
            s.finish_lsn().to_string(),
            b.timeline() as i32,
            s.pg_version as i32,
            s.uncompressed_size,
            s.compressed_size,
            s.is_permanent,
            s.hostname.clone(),
            s.data_dir.clone(),
        )
    }))
}

extension_sql!(
    r#"
CREATE FUNCTION walrs_backup_list() RETURNS TABLE (
    backup_name text, start_time timestamptz, finish_time timestamptz, start_lsn pg_lsn, finish_lsn pg_lsn,
    timeline int, pg_version int, uncompressed_size bigint, compressed_size bigint, is_permanent bool,
    hostname text, data_dir text)
LANGUAGE sql STABLE AS $$
    SELECT backup_name, start_time::pg_catalog.timestamptz, finish_time::pg_catalog.timestamptz,
           start_lsn::pg_catalog.pg_lsn, finish_lsn::pg_catalog.pg_lsn,
           timeline, pg_version, uncompressed_size, compressed_size, is_permanent, hostname, data_dir
    FROM @extschema@.walrs_backup_list_raw()
$$;
COMMENT ON FUNCTION walrs_backup_list() IS 'every complete backup in the repository, oldest first';
"#,
    name = "walrs_backup_list",
    requires = [walrs_backup_list_raw]
);

extension_sql_file!("../../sql/grants.sql", name = "grants", finalize);
