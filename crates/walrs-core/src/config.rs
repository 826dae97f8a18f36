//! Configuration that adapters assemble from settings, flags and the environment.
//!
//! Secrets live only in [`Env`] (from the process environment and `walrs.env_dir`), never in
//! settings; `Env`'s `Debug` hides them, and [`Env::secret_values`] feeds redaction.

use crate::compress::Compression;
use crate::storage::Location;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;

/// Variables whose values are credentials: never logged, never shown.
pub const SECRET_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "WALG_LIBSODIUM_KEY",
];

/// WAL-G's repository variables, accepted when no `walrs.storage` / `--storage` is given.
const WALG_PREFIXES: &[(&str, &str)] =
    &[("WALG_S3_PREFIX", ""), ("WALG_AZ_PREFIX", ""), ("WALG_GS_PREFIX", ""), ("WALG_FILE_PREFIX", "file://")];

/// Environment variables walrs reads: the process environment overlaid by an envdir.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn new(vars: BTreeMap<String, String>) -> Self {
        Env { vars }
    }

    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// Values from `over` replace ours (an envdir wins over the process environment).
    pub fn overlay(&mut self, over: BTreeMap<String, String>) {
        self.vars.extend(over);
    }

    /// A variable's value, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set.
    pub fn get_any(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }

    /// Whether a variable is set to a true value (`true`, `1`, `yes`, `on`).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
    }

    /// The values of every secret variable that is set, for redaction.
    pub fn secret_values(&self) -> Vec<String> {
        SECRET_VARS.iter().filter_map(|n| self.get(n)).map(str::to_string).collect()
    }

    /// The repository URL from WAL-G's `WALG_*_PREFIX` variables, if one is set.
    pub fn walg_storage_url(&self) -> Option<String> {
        WALG_PREFIXES.iter().find_map(|(var, scheme)| self.get(var).map(|v| format!("{scheme}{v}")))
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.vars.iter().map(|(k, v)| (k, if SECRET_VARS.contains(&k.as_str()) { "<hidden>" } else { v }));
        f.debug_map().entries(shown).finish()
    }
}

/// Remove every secret value from `text`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "<hidden>");
    }
    out
}

/// Everything an operation needs to reach and write the repository.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    pub location: Location,
    pub env: Env,
    pub compression: Compression,
}

impl RepoConfig {
    /// Parse the pieces adapters gather. `storage_source` names where the URL came from.
    pub fn new(storage: &str, storage_source: &str, env: Env, compression: Compression) -> Result<Self> {
        if !compression.is_writable() {
            return Err(Error::config(format!("walrs cannot write {} objects", compression.name())));
        }
        let location = Location::parse(storage).map_err(|e| e.context(storage_source))?;
        Ok(RepoConfig { location, env, compression })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn debug_hides_secrets() {
        let e = env(&[("AWS_SECRET_ACCESS_KEY", "s3cr3tvalue"), ("AWS_REGION", "eu-west-1")]);
        let shown = format!("{e:?}");
        assert!(!shown.contains("s3cr3tvalue"), "{shown}");
        assert!(shown.contains("eu-west-1"));
    }

    #[test]
    fn redact_removes_secret_values() {
        let secrets = vec!["AKIAEXAMPLE".to_string(), "abc".to_string()];
        assert_eq!(redact("key AKIAEXAMPLE refused, abc", &secrets), "key <hidden> refused, abc");
    }

    #[test]
    fn envdir_values_win_and_walg_prefixes_map_to_urls() {
        let mut e = env(&[("WALG_S3_PREFIX", "s3://from-env/p")]);
        assert_eq!(e.walg_storage_url().as_deref(), Some("s3://from-env/p"));
        e.overlay([("WALG_S3_PREFIX".to_string(), "s3://from-envdir/p".to_string())].into());
        assert_eq!(e.walg_storage_url().as_deref(), Some("s3://from-envdir/p"));
        assert_eq!(
            env(&[("WALG_FILE_PREFIX", "/backups/pg")]).walg_storage_url().as_deref(),
            Some("file:///backups/pg")
        );
        assert_eq!(env(&[("WALG_S3_PREFIX", "")]).walg_storage_url(), None);
    }

    #[test]
    fn repo_config_names_the_setting_on_error() {
        let err = RepoConfig::new("ftp://x", "walrs.storage", Env::default(), Compression::Lz4).unwrap_err();
        assert!(err.message.starts_with("walrs.storage: "), "{}", err.message);
        assert!(RepoConfig::new("file:///tmp/r", "x", Env::default(), Compression::Gzip).is_err());
    }
}
