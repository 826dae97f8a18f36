//! Every `walrs.*` setting, registered in one place, and the one function that turns them
//! into the core's configuration. Logic never reads these statics directly.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_guard, pg_sys, PostgresGucEnum};
use std::ffi::{c_char, c_void, CStr, CString};
use walrs_core::backup::placement::BackupOn;
use walrs_core::compress::Compression;
use walrs_core::config::{storage_url, RepoConfig, StorageGiven};
use walrs_core::env::Env;
use walrs_core::schedule::Schedule;
use walrs_core::storage::Location;
use walrs_core::{envdir, Error};

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CompressionSetting {
    #[name = c"lz4"]
    Lz4,
    #[name = c"zstd"]
    Zstd,
    #[name = c"brotli"]
    Brotli,
    #[name = c"none"]
    None,
}

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum BackupOnSetting {
    #[name = c"primary"]
    Primary,
    #[name = c"standby"]
    Standby,
    #[name = c"any"]
    Any,
}

static STORAGE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static ENV_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static COMPRESSION: GucSetting<CompressionSetting> = GucSetting::<CompressionSetting>::new(CompressionSetting::Lz4);
static UPLOAD_CONCURRENCY: GucSetting<i32> = GucSetting::<i32>::new(4);
static BACKUP_SCHEDULE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static BACKUP_ON: GucSetting<BackupOnSetting> = GucSetting::<BackupOnSetting>::new(BackupOnSetting::Any);
static BACKUP_DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static BACKUP_WAL_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(300);
static BACKUP_PARTITION_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1024);
static RETAIN_FULL: GucSetting<i32> = GucSetting::<i32>::new(0);
static BACKUP_FAIL_ON_CHECKSUM_ERROR: GucSetting<bool> = GucSetting::<bool>::new(false);

pub fn register() {
    // SAFETY: check_storage is #[pg_guard]ed and only reads the proposed value.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"walrs.storage",
            c"Repository URL: file:///path, s3://bucket/prefix, azure://container/prefix or gs://bucket/prefix.",
            c"Empty: archiving reports that it is not configured and PostgreSQL keeps the WAL. Credentials never go here: use walrs.env_dir or the environment.",
            &STORAGE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_storage),
            None,
            None,
        );
    }
    GucRegistry::define_string_guc(
        c"walrs.env_dir",
        c"envdir-style directory (one file per variable) with credentials and storage options.",
        c"As /etc/wal-g.d/env in WAL-G guides. Its values override the server's environment.",
        &ENV_DIR,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"walrs.compression",
        c"Compression of new objects: lz4, zstd, brotli or none.",
        c"Reading accepts every method WAL-G writes, whatever this says.",
        &COMPRESSION,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrs.upload_concurrency",
        c"Parallel uploads (WAL look-ahead, backup parts).",
        c"",
        &UPLOAD_CONCURRENCY,
        1,
        64,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: check_schedule is #[pg_guard]ed and only reads the proposed value.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"walrs.backup_schedule",
            c"When the scheduler takes base backups: a 5-field cron expression in the server's time zone.",
            c"Empty: no scheduled backups. Needs shared_preload_libraries = 'walrs'.",
            &BACKUP_SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_schedule),
            None,
            None,
        );
    }
    GucRegistry::define_enum_guc(
        c"walrs.backup_on",
        c"Where scheduled base backups run: primary, standby or any.",
        c"Lets nodes that share one configuration take one scheduled backup between them. walrs_backup_push() always runs where it is called.",
        &BACKUP_ON,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"walrs.backup_database",
        c"Database the walrs background workers connect to.",
        c"Takes effect for workers started after a reload. (Not a restart-only setting: PostgreSQL allows those only in shared_preload_libraries, and walrs also works without.)",
        &BACKUP_DATABASE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrs.backup_wal_timeout",
        c"How long a base backup waits for the WAL it needs to be archived before it fails.",
        c"A backup is complete only when the WAL from its start to its end is in the repository.",
        &BACKUP_WAL_TIMEOUT,
        1,
        86400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"walrs.backup_partition_size",
        c"Uncompressed size of each tar partition of a base backup.",
        c"",
        &BACKUP_PARTITION_SIZE,
        1,
        1 << 20,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"walrs.retain_full",
        c"After each scheduled backup, keep this many full backups and delete older ones (0: keep all).",
        c"Permanent backups and the WAL kept backups need are never deleted.",
        &RETAIN_FULL,
        0,
        100_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrs.backup_fail_on_checksum_error",
        c"Fail a base backup when a data page fails its checksum, instead of recording it and warning.",
        c"Checked only on clusters with data checksums (initdb --data-checksums).",
        &BACKUP_FAIL_ON_CHECKSUM_ERROR,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: called from _PG_init with a static NUL-terminated name.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"walrs".as_ptr()) };
}

/// The proposed value of a string setting in a check hook.
///
/// # Safety
/// `newval` comes from guc.c: a valid pointer to a NUL-terminated string or NULL.
unsafe fn proposed(newval: *mut *mut c_char) -> String {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match newval.as_ref().filter(|p| !p.is_null()) {
            Some(p) => CStr::from_ptr(*p).to_string_lossy().into_owned(),
            None => String::new(),
        }
    }
}

/// Accept or reject a value in a check hook, with the reason as DETAIL and a HINT.
fn verdict(result: Result<(), Error>) -> bool {
    let Err(e) = result else { return true };
    let detail = CString::new(e.message).unwrap_or_default();
    let hint = CString::new(e.hint.unwrap_or_default()).unwrap_or_default();
    // SAFETY: guc.c reads these palloc'd strings right after we return false.
    unsafe {
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(detail.as_ptr());
        if !hint.is_empty() {
            pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(hint.as_ptr());
        }
    }
    false
}

/// Rejects a malformed `walrs.storage` when it is set or reloaded.
#[pg_guard]
unsafe extern "C-unwind" fn check_storage(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: guc.c's arguments.
    let value = unsafe { proposed(newval) };
    verdict(if value.trim().is_empty() { Ok(()) } else { Location::parse(&value).map(|_| ()) })
}

/// Rejects a malformed `walrs.backup_schedule` when it is set or reloaded.
#[pg_guard]
unsafe extern "C-unwind" fn check_schedule(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: guc.c's arguments.
    let value = unsafe { proposed(newval) };
    verdict(if value.trim().is_empty() { Ok(()) } else { Schedule::parse(&value, "walrs.backup_schedule").map(|_| ()) })
}

fn string_setting(s: &GucSetting<Option<CString>>) -> String {
    s.get().map(|c| c.to_string_lossy().trim().to_string()).unwrap_or_default()
}

pub fn compression() -> Compression {
    match COMPRESSION.get() {
        CompressionSetting::Lz4 => Compression::Lz4,
        CompressionSetting::Zstd => Compression::Zstd,
        CompressionSetting::Brotli => Compression::Brotli,
        CompressionSetting::None => Compression::None,
    }
}

pub fn upload_concurrency() -> usize {
    UPLOAD_CONCURRENCY.get().max(1) as usize
}

pub fn backup_schedule() -> String {
    string_setting(&BACKUP_SCHEDULE)
}

pub fn backup_on() -> BackupOn {
    match BACKUP_ON.get() {
        BackupOnSetting::Primary => BackupOn::Primary,
        BackupOnSetting::Standby => BackupOn::Standby,
        BackupOnSetting::Any => BackupOn::Any,
    }
}

pub fn backup_database() -> String {
    string_setting(&BACKUP_DATABASE)
}

pub fn backup_wal_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(BACKUP_WAL_TIMEOUT.get().max(1) as u64)
}

pub fn backup_fail_on_checksum_error() -> bool {
    BACKUP_FAIL_ON_CHECKSUM_ERROR.get()
}

pub fn retain_full() -> u32 {
    RETAIN_FULL.get().max(0) as u32
}

pub fn backup_partition_bytes() -> u64 {
    (BACKUP_PARTITION_SIZE.get().max(1) as u64) << 20
}

/// The repository configuration from the current settings, the server's environment and
/// `walrs.env_dir` (`WALG_*_PREFIX` stands in for an empty `walrs.storage`), with warnings
/// about the env_dir for the caller to log once.
pub fn repo_config() -> Result<(RepoConfig, Vec<String>), Error> {
    let mut env = Env::from_process();
    let mut warnings = Vec::new();
    let env_dir = string_setting(&ENV_DIR);
    if !env_dir.is_empty() {
        let dir = envdir::read(std::path::Path::new(&env_dir), "walrs.env_dir")?;
        warnings = dir.warnings;
        env.overlay(dir.vars);
    }
    let storage = string_setting(&STORAGE);
    let given = StorageGiven { flag: None, setting: Some((&storage, "walrs.storage")) };
    let Some((url, source)) = storage_url(given, &env) else {
        return Err(Error::config("walrs.storage is not set").with_hint(
            "set walrs.storage (for example 'file:///var/lib/walrs' or 's3://bucket/prefix') in postgresql.conf and reload",
        ));
    };
    Ok((RepoConfig::new(&url, source, env, compression())?, warnings))
}
