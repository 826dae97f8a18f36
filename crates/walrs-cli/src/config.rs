//! Where the command's configuration comes from, first match winning:
//! flags; `walrs.*` in `./postgresql.conf` and `./postgresql.auto.conf` (PostgreSQL runs
//! `restore_command` in the data directory); the environment (with `WALG_*` names).

use crate::cli::Global;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use walrs_core::compress::Compression;
use walrs_core::config::{storage_url, RepoConfig, StorageGiven};
use walrs_core::env::Env;
use walrs_core::{envdir, pgconf, Error};

pub struct Resolved {
    pub repo: RepoConfig,
    /// The envdir in use, if any (passed on to restore_command).
    pub env_dir: Option<PathBuf>,
    pub warnings: Vec<String>,
}

const CONF_FILES: [&str; 2] = ["postgresql.conf", "postgresql.auto.conf"];

/// `walrs.*` settings of the data directory we run in, if it is one. A file that is there
/// but cannot be read is an error, not an empty configuration.
fn data_dir_settings() -> Result<BTreeMap<String, String>, Error> {
    let mut texts = Vec::new();
    for file in CONF_FILES {
        texts.extend(pgconf::read_file(Path::new(file))?);
    }
    Ok(pgconf::walrs_settings(texts.iter().map(String::as_str)))
}

pub fn resolve(global: &Global, compression_flag: Option<&str>) -> Result<Resolved, Error> {
    let conf = data_dir_settings()?;
    let mut env = Env::from_process();
    let mut warnings = Vec::new();

    let env_dir = match (&global.env_dir, conf.get("walrs.env_dir").filter(|v| !v.is_empty())) {
        (Some(dir), _) => Some((dir.clone(), "--env-dir")),
        (None, Some(dir)) => Some((PathBuf::from(dir), "walrs.env_dir in postgresql.conf")),
        (None, None) => None,
    };
    if let Some((dir, source)) = &env_dir {
        let read = envdir::read(Path::new(dir), source)?;
        warnings.extend(read.warnings);
        env.overlay(read.vars);
    }

    let given = StorageGiven {
        flag: global.storage.as_deref(),
        setting: conf.get("walrs.storage").map(|url| (url.as_str(), "walrs.storage in postgresql.conf")),
    };
    let Some((url, source)) = storage_url(given, &env) else {
        return Err(Error::config("no repository is configured").with_hint(
            "pass --storage URL, run in a data directory whose postgresql.conf sets walrs.storage, \
             or set WALG_S3_PREFIX / WALG_AZ_PREFIX / WALG_GS_PREFIX / WALG_FILE_PREFIX",
        ));
    };

    let compression = match (compression_flag, conf.get("walrs.compression"), env.get("WALG_COMPRESSION_METHOD")) {
        (Some(c), _, _) => c.parse::<Compression>().map_err(|e| e.context("--compression"))?,
        (None, Some(c), _) => {
            c.parse::<Compression>().map_err(|e| e.context("walrs.compression in postgresql.conf"))?
        }
        (None, None, Some(c)) => c.parse::<Compression>().map_err(|e| e.context("WALG_COMPRESSION_METHOD"))?,
        (None, None, None) => Compression::Lz4,
    };

    let env_dir = env_dir.map(|(dir, _)| std::path::absolute(&dir).unwrap_or(dir));
    Ok(Resolved { repo: RepoConfig::new(&url, source, env, compression)?, env_dir, warnings })
}
