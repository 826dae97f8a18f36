//! The archive-module entry points PostgreSQL looks up with dlsym.
//!
//! PG15 calls `void _PG_archive_module_init(ArchiveModuleCallbacks *cb)` and its callbacks
//! take no state. (PG16 changed the signature; its declarations will sit beside these.)
//! Each callback only converts C arguments and calls safe code in `callbacks`.

use super::callbacks;
use pgrx::{pg_guard, pg_sys};
use std::ffi::{c_char, CStr};

/// # Safety
/// Called by the archiver with a valid, writable callbacks struct.
#[cfg(feature = "pg15")]
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn _PG_archive_module_init(cb: *mut pg_sys::ArchiveModuleCallbacks) {
    // SAFETY: PostgreSQL passes a valid struct for us to fill.
    let cb = unsafe { &mut *cb };
    cb.check_configured_cb = Some(check_configured);
    cb.archive_file_cb = Some(archive_file);
    cb.shutdown_cb = None;
}

#[cfg(feature = "pg15")]
#[pg_guard]
unsafe extern "C-unwind" fn check_configured() -> bool {
    callbacks::check_configured()
}

/// Never raises: on PG15 an ERROR here would kill the archiver.
#[cfg(feature = "pg15")]
#[pg_guard]
unsafe extern "C-unwind" fn archive_file(file: *const c_char, path: *const c_char) -> bool {
    // SAFETY: the archiver passes two valid NUL-terminated strings.
    let (file, path) = unsafe { (CStr::from_ptr(file), CStr::from_ptr(path)) };
    callbacks::archive_file(&file.to_string_lossy(), &path.to_string_lossy())
}
