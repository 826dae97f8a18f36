//! The repository handle of this process, opened once and reopened only when the settings
//! that define it (URL, environment, env_dir contents) change, e.g. after a reload.

use crate::error::log_warning;
use crate::{gucs, runtime};
use parking_lot::Mutex;
use pgrx::log;
use walrs_core::config::RepoConfig;
use walrs_core::env::Env;
use walrs_core::storage::{Location, Storage};
use walrs_core::Error;

static CURRENT: Mutex<Option<(Location, Env, Storage)>> = Mutex::new(None);

/// The repository the current settings name: its configuration and its storage.
pub struct Repo {
    pub config: RepoConfig,
    pub storage: Storage,
}

/// The repository of the current settings, reusing this process's storage while they are
/// unchanged. The env_dir's warnings are logged when the storage is (re)opened.
pub fn open() -> Result<Repo, Error> {
    let (config, warnings) = gucs::repo_config()?;
    let storage = storage(&config, &warnings)?;
    Ok(Repo { config, storage })
}

/// The storage for `cfg`, logging `warnings` (about the env_dir) when it is (re)opened.
fn storage(cfg: &RepoConfig, warnings: &[String]) -> Result<Storage, Error> {
    let mut current = CURRENT.lock();
    if let Some((loc, env, storage)) = current.as_ref() {
        if *loc == cfg.location && *env == cfg.env {
            return Ok(storage.clone());
        }
    }
    for w in warnings {
        log_warning(w, None);
    }
    let storage = runtime::block_on(async { Storage::open(&cfg.location, &cfg.env) })??;
    log!("walrs: using repository {}", cfg.location);
    *current = Some((cfg.location.clone(), cfg.env.clone(), storage.clone()));
    Ok(storage)
}
