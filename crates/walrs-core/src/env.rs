//! The environment walrs reads: the process environment overlaid by an envdir.
//!
//! Secrets live only here (from the process environment and `walrs.env_dir`), never in
//! settings; `Env`'s `Debug` hides them, and [`Env::secret_values`] feeds [`crate::redact`].

use crate::redact;
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
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "WALG_LIBSODIUM_KEY",
    "WALRS_LIBSODIUM_KEY_PREVIOUS",
    // OpenPGP (crypto/openpgp): the key ring, its passphrase, the legacy key ids.
    "WALG_PGP_KEY",
    "WALG_PGP_KEY_PASSPHRASE",
    "WALG_GPG_KEY_ID",
    "WALE_GPG_KEY_ID",
];

/// Environment variables walrs reads: the process environment overlaid by an envdir.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn new(vars: BTreeMap<String, String>) -> Self {
        Env { vars }
    }

    /// An environment of exactly these variables (tests, and callers that build one by hand).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
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
        // Each older key on its own too: a message could hold one without the others.
        if let Some(list) = self.get("WALRS_LIBSODIUM_KEY_PREVIOUS") {
            out.extend(list.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string));
        }
        if let Some(sas) = self.get("AZURE_STORAGE_SAS_TOKEN") {
            for sig in sas.trim_start_matches('?').split('&').filter_map(|kv| kv.strip_prefix("sig=")) {
                out.extend(redact::url_value_forms(sig));
            }
        }
        out
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.vars.iter().map(|(k, v)| (k, if SECRET_VARS.contains(&k.as_str()) { "<hidden>" } else { v }));
        f.debug_map().entries(shown).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::redact;

    #[test]
    fn debug_hides_secrets() {
        let e = Env::from_pairs(&[("AWS_SECRET_ACCESS_KEY", "s3cr3tvalue"), ("AWS_REGION", "eu-west-1")]);
        let shown = format!("{e:?}");
        assert!(!shown.contains("s3cr3tvalue"), "{shown}");
        assert!(shown.contains("eu-west-1"));
    }

    #[test]
    fn libsodium_keys_are_secrets_each_on_its_own() {
        let e = Env::from_pairs(&[
            ("WALG_LIBSODIUM_KEY", "current-key-text"),
            ("WALRS_LIBSODIUM_KEY_PREVIOUS", "old-one, old-two"),
        ]);
        let shown = format!("{e:?}");
        assert!(!shown.contains("current-key-text") && !shown.contains("old-one"), "{shown}");
        let out = redact("tried current-key-text, then old-two", &e.secret_values());
        assert_eq!(out, "tried <hidden>, then <hidden>");
    }

    #[test]
    fn sas_signatures_are_hidden_in_every_form() {
        let e = Env::from_pairs(&[("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-08-06&sp=rl&sig=Ab%2Bcd%2Fef%3D")]);
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
}
