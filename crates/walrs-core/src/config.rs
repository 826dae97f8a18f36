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

    /// The values of every secret variable that is set, for redaction. A SAS token's signature
    /// travels in request URLs, split from the token and percent-encoded, so it is listed in
    /// each form it can take there.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = SECRET_VARS.iter().filter_map(|n| self.get(n)).map(str::to_string).collect();
        if let Some(sas) = self.get("AZURE_STORAGE_SAS_TOKEN") {
            for sig in sas.trim_start_matches('?').split('&').filter_map(|kv| kv.strip_prefix("sig=")) {
                let decoded = percent_decode(sig);
                out.push(percent_encode(&decoded));
                out.push(percent_encode(&decoded).to_ascii_lowercase());
                out.push(decoded);
                out.push(sig.to_string());
            }
        }
        out
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

/// Remove every secret value from `text`, and the signature of any signed URL in it (a
/// pre-signed or SAS URL carries one even when its value is not a variable we know).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "<hidden>");
    }
    hide_signed_query_values(&out)
}

/// URL query parameters whose values authorize a request.
const SIGNED_PARAMS: &[&str] = &["sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature"];

fn hide_signed_query_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Each `?` or `&` starts a possible `name=value`; the value runs to the next `&`, blank or quote.
    while let Some(at) = rest.find(['?', '&']) {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let Some((name, tail)) = rest.split_once('=') else { continue };
        if name.len() > 32 || !SIGNED_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let end = tail.find(|c: char| c == '&' || c.is_whitespace() || "\"'<>)".contains(c)).unwrap_or(tail.len());
        out.push_str(name);
        out.push_str("=<hidden>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// As a query value is encoded in a URL: everything but unreserved characters as `%XX`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    fn sas_signatures_are_hidden_in_every_form() {
        let e = env(&[("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-08-06&sp=rl&sig=Ab%2Bcd%2Fef%3D")]);
        let secrets = e.secret_values();
        for shown in [
            "GET http://h/c/k?sv=2021-08-06&sp=rl&sig=Ab%2Bcd%2Fef%3D failed",
            "GET http://h/c/k?sp=rl&sig=Ab%2bcd%2fef%3d&sv=2021-08-06 failed",
            "signature Ab+cd/ef= refused",
        ] {
            let out = redact(shown, &secrets);
            assert!(!out.contains("Ab") && !out.contains("cd"), "{out}");
        }
    }

    #[test]
    fn signed_url_parameters_are_hidden_even_when_unknown() {
        let out = redact("PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&x-id=PutObject: 403", &[]);
        assert_eq!(out, "PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=<hidden>&x-id=PutObject: 403");
        let out = redact("GET http://h/c?restype=container&sig=abc\"x", &[]);
        assert_eq!(out, "GET http://h/c?restype=container&sig=<hidden>\"x");
        assert_eq!(redact("a & b ? c=d", &[]), "a & b ? c=d");
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
        for (var, url) in [("WALG_AZ_PREFIX", "azure://c/p"), ("WALG_GS_PREFIX", "gs://b/p")] {
            let got = env(&[(var, url)]).walg_storage_url().unwrap();
            assert_eq!(Location::parse(&got).unwrap().to_string(), url, "{var}");
        }
    }

    #[test]
    fn repo_config_names_the_setting_on_error() {
        let err = RepoConfig::new("ftp://x", "walrs.storage", Env::default(), Compression::Lz4).unwrap_err();
        assert!(err.message.starts_with("walrs.storage: "), "{}", err.message);
        assert!(RepoConfig::new("file:///tmp/r", "x", Env::default(), Compression::Gzip).is_err());
    }
}
