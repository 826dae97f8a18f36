//! The tokio runtime of this process: built lazily in the process that needs it (never in the
//! postmaster, whose children would inherit a broken copy), with every signal blocked in its
//! threads so PostgreSQL's handlers only ever run on the main thread.
//!
//! Only the main thread calls PostgreSQL. Futures run here do I/O and computation and hand
//! results back through `block_on`.

use pgrx::pg_sys;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;
use walrs_core::{Error, ErrorKind};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

const IO_THREADS: usize = 2;

/// Run `fut` to completion on the walrs runtime. PostgreSQL signals stay pending meanwhile
/// and are handled on return: every storage wait inside ends once the store stops making
/// progress for the stall timeout, and retries end with the retry budget. Work that keeps
/// moving (a WAL segment on a slow link) runs to its end.
/// Long work (a backup's upload) goes through [`block_on_interruptible`].
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    let rt = runtime()?;
    let _blocked = SignalsBlocked::new();
    Ok(rt.block_on(fut))
}

/// How long the main thread runs the runtime before it looks at PostgreSQL again.
const SLICE: Duration = Duration::from_millis(200);

/// As [`block_on`], for long work (a backup's upload): the main thread runs `fut` in slices of
/// [`SLICE`], and between two slices unblocks signals (so pending ones are handled) and calls
/// `check`. `check` runs PostgreSQL's interrupt processing (a signal barrier from
/// `DROP DATABASE`, a config reload) and returns an error to give up, which drops `fut`.
pub fn block_on_interruptible<F: Future>(
    fut: F,
    mut check: impl FnMut() -> Result<(), Error>,
) -> Result<F::Output, Error> {
    let rt = runtime()?;
    let mut fut = std::pin::pin!(fut);
    loop {
        let slice = {
            let _blocked = SignalsBlocked::new();
            // The timer is made inside the runtime: tokio's timers need its context.
            rt.block_on(async { tokio::time::timeout(SLICE, fut.as_mut()).await })
        };
        match slice {
            Ok(out) => return Ok(out),
            Err(_elapsed) => check()?,
        }
    }
}

/// Start `fut` on the walrs runtime and return at once; its result is collected later with
/// [`block_on`] on the handle. `fut` must only do I/O and computation, never call PostgreSQL.
pub fn spawn<F>(fut: F) -> Result<tokio::task::JoinHandle<F::Output>, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(runtime()?.spawn(fut))
}

fn runtime() -> Result<&'static Runtime, Error> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // SAFETY: reading two booleans PostgreSQL sets once at process start.
    let in_postmaster = unsafe { pg_sys::IsPostmasterEnvironment && !pg_sys::IsUnderPostmaster };
    if in_postmaster {
        return Err(Error::new(ErrorKind::LocalIo, "walrs does no I/O in the postmaster"));
    }
    let built = {
        // Threads started now inherit the blocked mask; on_thread_start covers later ones.
        let _blocked = SignalsBlocked::new();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("walrs-io")
            .on_thread_start(block_signals_in_this_thread)
            .enable_all()
            .build()
            .map_err(|e| Error::local_io("cannot start the walrs I/O threads", &e))?
    };
    Ok(RUNTIME.get_or_init(|| built))
}

fn all_async_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/sigdelset initialise and edit it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        // Faults must still reach the thread that caused them.
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            libc::sigdelset(&mut set, sig);
        }
        set
    }
}

fn block_signals_in_this_thread() {
    let set = all_async_signals();
    // SAFETY: changes only the calling thread's signal mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Blocks signals on the current thread until dropped, then restores the previous mask.
struct SignalsBlocked {
    previous: libc::sigset_t,
}

impl SignalsBlocked {
    fn new() -> Self {
        let set = all_async_signals();
        // SAFETY: as above; `previous` is written by pthread_sigmask before any read.
        unsafe {
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous);
            SignalsBlocked { previous }
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}
