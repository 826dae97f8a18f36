//! The archive-module entry points PostgreSQL looks up with dlsym, for both API shapes.
//!
//! PG15: `void _PG_archive_module_init(ArchiveModuleCallbacks *cb)`; callbacks take no state.
//! pgrx binds these types.
//!
//! PG16, 17, 18: `const ArchiveModuleCallbacks *_PG_archive_module_init(void)`; every callback
//! takes an `ArchiveModuleState *`, and there is a `startup_cb`. pgrx 0.18 does not bind
//! `archive/archive_module.h` for these versions, so the declarations are here, checked against
//! that header of 16.15, 17.11 and 18.6 (identical in all three).
//!
//! Each callback only converts C arguments and calls safe code in `callbacks`.

use super::callbacks;
use pgrx::pg_guard;
use std::ffi::{c_char, CStr};

/// # Safety
/// `file` and `path` are valid NUL-terminated strings from the archiver.
unsafe fn archive_file_args(file: *const c_char, path: *const c_char) -> bool {
    // SAFETY: guaranteed by the caller.
    let (file, path) = unsafe { (CStr::from_ptr(file), CStr::from_ptr(path)) };
    callbacks::archive_file(&file.to_string_lossy(), &path.to_string_lossy())
}

/// This cluster's system identifier, which every segment it writes carries in its first page.
pub(super) fn system_identifier() -> u64 {
    // SAFETY: reads the control file copy in shared memory, which the archiver is attached to
    // before any callback runs; called on the main thread.
    unsafe { pgrx::pg_sys::GetSystemIdentifier() }
}

/// Freed buffers of 1 MiB and more go straight back to the system. glibc otherwise raises its
/// mmap threshold after the first large free and keeps the compressed copies of every
/// look-ahead upload in per-thread arenas: measured, the archiver's peak RSS went from 200–415
/// MB to about 100 MB with this. Called once, when the archiver loads the module.
fn release_large_buffers() {
    // SAFETY: mallopt only changes allocator parameters; any value is valid for this option.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
}

#[cfg(feature = "pg15")]
mod shape {
    use super::*;
    use pgrx::pg_sys;

    /// # Safety
    /// Called by the archiver with a valid, writable callbacks struct.
    #[pg_guard]
    #[unsafe(no_mangle)]
    pub unsafe extern "C-unwind" fn _PG_archive_module_init(cb: *mut pg_sys::ArchiveModuleCallbacks) {
        // SAFETY: PostgreSQL passes a valid struct for us to fill.
        let cb = unsafe { &mut *cb };
        release_large_buffers();
        cb.check_configured_cb = Some(check_configured);
        cb.archive_file_cb = Some(archive_file);
        cb.shutdown_cb = None;
    }

    #[pg_guard]
    unsafe extern "C-unwind" fn check_configured() -> bool {
        callbacks::check_configured()
    }

    /// Never raises: on PG15 an ERROR here would kill the archiver.
    #[pg_guard]
    unsafe extern "C-unwind" fn archive_file(file: *const c_char, path: *const c_char) -> bool {
        // SAFETY: the archiver passes two valid NUL-terminated strings.
        unsafe { archive_file_args(file, path) }
    }
}

#[cfg(not(feature = "pg15"))]
mod shape {
    use super::*;
    use std::ffi::c_void;

    /// `ArchiveModuleState` (archive/archive_module.h, PG16+).
    #[repr(C)]
    pub struct ArchiveModuleState {
        pub private_data: *mut c_void,
    }

    /// `ArchiveModuleCallbacks` (archive/archive_module.h, PG16+), fields in header order.
    #[repr(C)]
    pub struct ArchiveModuleCallbacks {
        pub startup_cb: Option<unsafe extern "C-unwind" fn(state: *mut ArchiveModuleState)>,
        pub check_configured_cb: Option<unsafe extern "C-unwind" fn(state: *mut ArchiveModuleState) -> bool>,
        pub archive_file_cb: Option<
            unsafe extern "C-unwind" fn(
                state: *mut ArchiveModuleState,
                file: *const c_char,
                path: *const c_char,
            ) -> bool,
        >,
        pub shutdown_cb: Option<unsafe extern "C-unwind" fn(state: *mut ArchiveModuleState)>,
    }

    static CALLBACKS: ArchiveModuleCallbacks = ArchiveModuleCallbacks {
        startup_cb: None,
        check_configured_cb: Some(check_configured),
        archive_file_cb: Some(archive_file),
        shutdown_cb: None,
    };

    /// PostgreSQL keeps the returned pointer for the life of the archiver: it points at a static.
    #[pg_guard]
    #[unsafe(no_mangle)]
    pub extern "C-unwind" fn _PG_archive_module_init() -> *const ArchiveModuleCallbacks {
        release_large_buffers();
        &CALLBACKS
    }

    #[pg_guard]
    unsafe extern "C-unwind" fn check_configured(_state: *mut ArchiveModuleState) -> bool {
        callbacks::check_configured()
    }

    /// Never raises: on PG16 an ERROR here would kill the archiver (PG17+ would survive it).
    #[pg_guard]
    unsafe extern "C-unwind" fn archive_file(
        _state: *mut ArchiveModuleState,
        file: *const c_char,
        path: *const c_char,
    ) -> bool {
        // SAFETY: the archiver passes two valid NUL-terminated strings.
        unsafe { archive_file_args(file, path) }
    }
}
