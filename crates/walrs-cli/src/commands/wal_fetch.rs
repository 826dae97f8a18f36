use super::{with_config, with_repo};
use crate::cli::Global;
use std::path::Path;
use std::process::{Command, Stdio};
use walrs_core::ops::wal_fetch;
use walrs_core::ops::wal_prefetch::{self, prefetch_dir};
use walrs_core::wal::{WalFileKind, WalFileName};
use walrs_core::Error;

/// Longest wait for a segment a running prefetcher is fetching, before fetching it here.
const PREFETCH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `restore_command`: take the segment from the prefetch directory if a previous call already
/// fetched it, else from the repository; then start a background prefetch of the next ones.
pub fn run(global: &Global, name: &str, dest: &Path, prefetch: usize) -> Result<(), Error> {
    let name = WalFileName::parse(name)?;
    if dest.as_os_str().is_empty() {
        return Err(Error::invalid_input("the destination path is empty")
            .with_hint("restore_command = 'walrs wal-fetch %f %p'"));
    }
    let dir = prefetch_dir(dest);
    let prefetching = prefetch > 0 && name.kind() == WalFileKind::Segment;
    let (bytes, from) = with_config(global, None, |storage, cfg| {
        let (name, dir) = (name.clone(), dir.clone());
        async move {
            if prefetching {
                wal_prefetch::wait_for(&dir, &name, PREFETCH_WAIT);
                match wal_prefetch::take(&dir, &name, &storage.location().to_string(), dest) {
                    Ok(Some(bytes)) => return Ok((bytes, format!("{}", dir.display()))),
                    Ok(None) => {}
                    // The prefetch directory is only a cache: fetch from the repository instead.
                    Err(e) if global.verbose => eprintln!("walrs: not using the prefetched copy: {}", e.message),
                    Err(_) => {}
                }
            }
            let out = wal_fetch(&storage, &name, dest, cfg.repo.compression, this_cluster()).await?;
            Ok((out.bytes, out.key))
        }
    })?;
    if global.verbose {
        eprintln!("walrs: fetched {name} from {from} ({bytes} bytes) to {}", dest.display());
    }
    if prefetching {
        wal_prefetch::note_wanted(&dir, &name);
        start_prefetch(global, &name, &dir, bytes, prefetch);
    }
    Ok(())
}

/// Start `walrs wal-prefetch` detached (its own process group, no standard streams), so this
/// call returns at once and PostgreSQL replays while the next segments arrive.
fn start_prefetch(global: &Global, name: &WalFileName, dir: &Path, segment_size: u64, count: usize) {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            if global.verbose {
                eprintln!("walrs: no prefetch: cannot find this program: {e}");
            }
            return;
        }
    };
    let mut cmd = Command::new(exe);
    if let Some(url) = &global.storage {
        cmd.arg("--storage").arg(url);
    }
    if let Some(env_dir) = &global.env_dir {
        cmd.arg("--env-dir").arg(env_dir);
    }
    cmd.arg("wal-prefetch")
        .arg(name.as_str())
        .arg(dir)
        .arg("--segment-size")
        .arg(segment_size.to_string())
        .arg("--count")
        .arg(count.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // Not waited for: it outlives this process and is reparented to init.
    if let Err(e) = cmd.spawn() {
        if global.verbose {
            eprintln!("walrs: no prefetch: cannot start it: {e}");
        }
    }
}

/// `walrs wal-prefetch NAME DIR`: fetch the `count` segments after NAME into DIR.
pub fn prefetch(global: &Global, name: &str, dir: &Path, segment_size: u64, count: usize) -> Result<(), Error> {
    let name = WalFileName::parse(name)?;
    let report = with_repo(global, None, |storage, compression| {
        let name = name.clone();
        async move {
            wal_prefetch::wal_prefetch(&storage, &name, segment_size, dir, count, compression, this_cluster()).await
        }
    })?;
    if global.verbose {
        match (&report.busy, &report.stopped) {
            (true, _) => eprintln!("walrs: another prefetch is running in {}", dir.display()),
            (false, stopped) => eprintln!(
                "walrs: prefetched {} segment(s) after {name}{}",
                report.fetched.len(),
                stopped.as_ref().map(|s| format!("; stopped: {s}")).unwrap_or_default()
            ),
        }
    }
    Ok(())
}

/// The system identifier of the cluster being recovered: PostgreSQL runs `restore_command` in
/// its data directory, so a segment of another cluster is refused. None when run elsewhere.
fn this_cluster() -> Option<u64> {
    walrs_core::pgcontrol::system_identifier(Path::new("."))
}
