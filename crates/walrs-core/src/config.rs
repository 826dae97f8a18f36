//! Configuration that adapters assemble from settings, flags and the environment, and the one
//! rule for which repository URL wins.

use crate::compress::Compression;
use crate::env::Env;
use crate::storage::Location;
use crate::{Error, Result};

/// WAL-G's repository variables, in the order they are tried, with what turns each value
/// into a URL (`WALG_FILE_PREFIX` is a plain path).
const WALG_PREFIXES: &[(&str, &str)] =
    &[("WALG_S3_PREFIX", ""), ("WALG_AZ_PREFIX", ""), ("WALG_GS_PREFIX", ""), ("WALG_FILE_PREFIX", "file://")];

/// Where the name of the repository WALG_*_PREFIX gives appears in errors.
pub const WALG_PREFIX_SOURCE: &str = "WALG_*_PREFIX";

/// The places a repository URL can be given, as an adapter read them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageGiven<'a> {
    /// `--storage`: wins whenever it is given, even empty (which then fails to parse, naming
    /// the flag, rather than quietly falling back to another repository).
    pub flag: Option<&'a str>,
    /// `walrs.storage` and where it was read (for errors). Empty counts as unset: PostgreSQL
    /// has no unset string setting, and its default is `''`.
    pub setting: Option<(&'a str, &'static str)>,
}

/// The repository URL that wins and where it came from (for errors): `--storage`, then
/// `walrs.storage`, then the first of `WALG_S3_PREFIX`, `WALG_AZ_PREFIX`, `WALG_GS_PREFIX`,
/// `WALG_FILE_PREFIX` set in `env`. None: no repository is configured.
pub fn storage_url(given: StorageGiven<'_>, env: &Env) -> Option<(String, &'static str)> {
    if let Some(url) = given.flag {
        return Some((url.to_string(), "--storage"));
    }
    if let Some((url, source)) = given.setting.filter(|(url, _)| !url.is_empty()) {
        return Some((url.to_string(), source));
    }
    walg_storage_url(env).map(|url| (url, WALG_PREFIX_SOURCE))
}

/// The repository URL from WAL-G's `WALG_*_PREFIX` variables, if one is set.
fn walg_storage_url(env: &Env) -> Option<String> {
    WALG_PREFIXES.iter().find_map(|(var, scheme)| env.get(var).map(|v| format!("{scheme}{v}")))
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

    #[test]
    fn envdir_values_win_and_walg_prefixes_map_to_urls() {
        let mut e = Env::from_pairs(&[("WALG_S3_PREFIX", "s3://from-env/p")]);
        assert_eq!(walg_storage_url(&e).as_deref(), Some("s3://from-env/p"));
        e.overlay([("WALG_S3_PREFIX".to_string(), "s3://from-envdir/p".to_string())].into());
        assert_eq!(walg_storage_url(&e).as_deref(), Some("s3://from-envdir/p"));
        assert_eq!(
            walg_storage_url(&Env::from_pairs(&[("WALG_FILE_PREFIX", "/backups/pg")])).as_deref(),
            Some("file:///backups/pg")
        );
        assert_eq!(walg_storage_url(&Env::from_pairs(&[("WALG_S3_PREFIX", "")])), None);
        for (var, url) in [("WALG_AZ_PREFIX", "azure://c/p"), ("WALG_GS_PREFIX", "gs://b/p")] {
            let got = walg_storage_url(&Env::from_pairs(&[(var, url)])).unwrap();
            assert_eq!(Location::parse(&got).unwrap().to_string(), url, "{var}");
        }
    }

    #[test]
    fn which_storage_url_wins() {
        const CONF: &str = "walrs.storage in postgresql.conf";
        let all_walg = [
            ("WALG_S3_PREFIX", "s3://b/walg"),
            ("WALG_AZ_PREFIX", "azure://c/walg"),
            ("WALG_GS_PREFIX", "gs://b/walg"),
            ("WALG_FILE_PREFIX", "/walg"),
        ];
        const W: &str = WALG_PREFIX_SOURCE;
        let s3_empty_gs_set: Vars = &[("WALG_S3_PREFIX", ""), ("WALG_GS_PREFIX", "gs://b/walg")];
        type Vars<'a> = &'a [(&'a str, &'a str)];
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Vars<'a>, Option<(&'a str, &'a str)>);
        let cases: &[Case] = &[
            // flag, setting, environment => the URL and where it came from
            (Some("s3://b/flag"), Some("s3://b/conf"), &all_walg, Some(("s3://b/flag", "--storage"))),
            (Some(""), Some("s3://b/conf"), &all_walg, Some(("", "--storage"))),
            (None, Some("s3://b/conf"), &all_walg, Some(("s3://b/conf", CONF))),
            (None, Some(""), &all_walg, Some(("s3://b/walg", W))),
            (None, None, &all_walg, Some(("s3://b/walg", W))),
            (None, None, &all_walg[1..], Some(("azure://c/walg", W))),
            (None, None, &all_walg[2..], Some(("gs://b/walg", W))),
            (None, None, &all_walg[3..], Some(("file:///walg", W))),
            (None, None, s3_empty_gs_set, Some(("gs://b/walg", W))),
            (None, Some(""), &[("WALG_S3_PREFIX", "")], None),
            (None, None, &[], None),
        ];
        for (flag, setting, vars, want) in cases {
            let given = StorageGiven { flag: *flag, setting: setting.map(|s| (s, CONF)) };
            let got = storage_url(given, &Env::from_pairs(vars));
            let got = got.as_ref().map(|(url, source)| (url.as_str(), *source));
            assert_eq!(got, *want, "flag {flag:?}, setting {setting:?}, env {vars:?}");
        }
    }

    #[test]
    fn repo_config_names_the_setting_on_error() {
        let err = RepoConfig::new("ftp://x", "walrs.storage", Env::default(), Compression::Lz4).unwrap_err();
        assert!(err.message.starts_with("walrs.storage: "), "{}", err.message);
        assert!(RepoConfig::new("file:///tmp/r", "x", Env::default(), Compression::Gzip).is_err());
    }
}
