//! Turning a [`Location`] and the environment into an `object_store` backend.
//!
//! Variable names follow WAL-G's and the clouds' own, so an existing `/etc/wal-g.d/env`
//! works unchanged. `docs/configuration.md` lists them.

use super::http::StallBounded;
use super::location::{Cloud, Location};
use super::retry::RetryPolicy;
use crate::env::Env;
use crate::{Error, Result};
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

pub fn build(location: &Location, env: &Env, policy: &RetryPolicy) -> Result<Arc<dyn ObjectStore>> {
    match location {
        Location::Memory => Ok(Arc::new(InMemory::new())),
        Location::File { root } => {
            require_directory(root)?;
            let store = LocalFileSystem::new_with_prefix(root)
                .map_err(|e| Error::config(format!("cannot use {} as a repository: {e}", root.display())))?
                // Durability: sync file and directory before a write reports success.
                .with_fsync(true);
            Ok(Arc::new(store))
        }
        Location::Cloud { cloud: Cloud::S3, bucket, .. } => s3(bucket, env, policy),
        Location::Cloud { cloud: Cloud::Azure, bucket, .. } => azure(bucket, env, policy),
        Location::Cloud { cloud: Cloud::Gcs, bucket, .. } => gcs(bucket, env, policy),
    }
}

/// A file:// repository must already exist. Creating it would turn a file system that is not
/// mounted into an empty repository on the mount point: WAL archived there, reported as
/// stored, and missing from the real repository, with every read saying "not in the archive".
pub(super) fn require_directory(root: &std::path::Path) -> Result<()> {
    let hint = format!(
        "mount the repository's file system, or create the directory (mkdir -p {0}; chown postgres {0}); \
         walrs never creates it, so that a missing mount is never taken for an empty repository",
        root.display()
    );
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::config(format!("the repository {} is not a directory", root.display())).with_hint(hint)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::config(format!("the repository directory {} does not exist", root.display())).with_hint(hint))
        }
        Err(e) => Err(Error::local_io(format!("cannot use the repository directory {}", root.display()), &e)),
    }
}

/// HTTP behaviour shared by the clouds. No whole-request timeout: it would cut a large upload
/// or streamed GET (a WAL segment or a 1 GB tar partition on a slow link) that is still making
/// progress. Instead a connection must open within `connect_timeout`, and a request must not
/// stall for longer than `stall_timeout`, which [`connector`] watches.
fn client_options(env: &Env, endpoint: Option<&str>, policy: &RetryPolicy) -> ClientOptions {
    let mut opts = ClientOptions::new().with_timeout_disabled().with_connect_timeout(policy.connect_timeout);
    if endpoint.is_some_and(|e| e.starts_with("http://")) {
        opts = opts.with_allow_http(true);
    }
    if env.flag("WALRS_ALLOW_INVALID_CERTIFICATES") {
        opts = opts.with_allow_invalid_certificates(true);
    }
    opts
}

/// The stores' HTTP client, bounded by stall; see [`super::http`].
fn connector(policy: &RetryPolicy) -> StallBounded {
    StallBounded { stall: policy.stall_timeout }
}

/// The client's own retries, kept short because [`RetryPolicy`] bounds the whole operation
/// above them. They matter most where that policy does not reach: multipart part uploads and
/// resuming a streamed read that broke off.
fn http_retry(policy: &RetryPolicy) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: policy.max_backoff, base: 2.0 },
        max_retries: 4,
        retry_timeout: policy.budget.min(Duration::from_secs(30)),
    }
}

fn built<T: ObjectStore>(what: &str, r: object_store::Result<T>, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    match r {
        Ok(store) => Ok(Arc::new(store)),
        Err(e) => Err(Error::config(crate::redact::redact(
            &format!("cannot set up {what} storage: {e}"),
            &env.secret_values(),
        ))),
    }
}

fn s3(bucket: &str, env: &Env, policy: &RetryPolicy) -> Result<Arc<dyn ObjectStore>> {
    let endpoint = env.get_any(&["AWS_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]);
    let region = env.get_any(&["AWS_REGION", "AWS_DEFAULT_REGION"]).unwrap_or("us-east-1");
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_client_options(client_options(env, endpoint, policy))
        .with_retry(http_retry(policy))
        .with_http_connector(connector(policy));
    if let Some(endpoint) = endpoint {
        // Custom endpoints (MinIO, B2, Ceph) mostly want path-style URLs unless told otherwise.
        let path_style = env.get("AWS_S3_FORCE_PATH_STYLE").is_none_or(|_| env.flag("AWS_S3_FORCE_PATH_STYLE"));
        b = b.with_endpoint(endpoint).with_virtual_hosted_style_request(!path_style);
    }
    b = b.with_conditional_put(s3_conditional_put(env)?);
    if let Some(key) = env.get("AWS_ACCESS_KEY_ID") {
        b = b.with_access_key_id(key);
    }
    if let Some(secret) = env.get("AWS_SECRET_ACCESS_KEY") {
        b = b.with_secret_access_key(secret);
    }
    if let Some(token) = env.get("AWS_SESSION_TOKEN") {
        b = b.with_token(token);
    }
    built("s3://", b.build(), env)
}

/// Create-only writes (`If-None-Match: *`) are on by default: AWS S3, MinIO, R2 and moto
/// honour them. A store that ignores the header would silently overwrite, so it must be
/// configured with `disabled`, which makes walrs look before it writes instead.
fn s3_conditional_put(env: &Env) -> Result<S3ConditionalPut> {
    match env.get("WALRS_S3_CONDITIONAL_PUT").map(str::to_ascii_lowercase).as_deref() {
        None | Some("etag") => Ok(S3ConditionalPut::ETagMatch),
        Some("disabled") => Ok(S3ConditionalPut::Disabled),
        Some(other) => Err(Error::config(format!(
            "WALRS_S3_CONDITIONAL_PUT is \"{}\"; expected etag or disabled",
            other.escape_debug()
        ))),
    }
}

fn azure(container: &str, env: &Env, policy: &RetryPolicy) -> Result<Arc<dyn ObjectStore>> {
    let account = env.get("AZURE_STORAGE_ACCOUNT").ok_or_else(|| {
        Error::config("azure:// needs the storage account name in AZURE_STORAGE_ACCOUNT")
            .with_hint("set it in walrs.env_dir (or --env-dir) or in the server's environment")
    })?;
    let endpoint = env.get_any(&["AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"]);
    let mut b = MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_container_name(container)
        .with_client_options(client_options(env, endpoint, policy))
        .with_retry(http_retry(policy))
        .with_http_connector(connector(policy));
    if let Some(endpoint) = endpoint {
        b = b.with_endpoint(endpoint.to_string()).with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(key) = env.get_any(&["AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_KEY"]) {
        b = b.with_access_key(key);
    } else if let Some(sas) = env.get("AZURE_STORAGE_SAS_TOKEN") {
        // As the portal shows it (percent-encoded, maybe with a leading `?`): the client decodes it.
        b = b.with_config(AzureConfigKey::SasKey, sas);
    }
    built("azure://", b.build(), env)
}

fn gcs(bucket: &str, env: &Env, policy: &RetryPolicy) -> Result<Arc<dyn ObjectStore>> {
    let mut b = GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_client_options(client_options(env, env.get("GCS_ENDPOINT"), policy))
        .with_retry(http_retry(policy))
        .with_http_connector(connector(policy));
    if let Some(url) = env.get("GCS_ENDPOINT") {
        b = b.with_base_url(url);
    }
    // A token minted elsewhere (gcloud, a CI's workload identity) is used as it is and never
    // refreshed. Given, it wins over the key variables, as in Google's own tools; none of them is
    // read then, so a stale GOOGLE_APPLICATION_CREDENTIALS in the environment does not matter.
    if let Some(token) = env.get("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return built("gs://", b.with_bearer_token(token).build(), env);
    }
    let credentials_file = env.get("GOOGLE_APPLICATION_CREDENTIALS");
    if let Some(path) = credentials_file {
        readable_file("GOOGLE_APPLICATION_CREDENTIALS", path)?;
        b = b.with_application_credentials(path);
    }
    let key = env.get("GOOGLE_SERVICE_ACCOUNT_KEY");
    if let Some(key) = key {
        b = b.with_service_account_key(key);
    }
    // The client reads the file only when no key is given.
    built("gs://", b.build(), env).map_err(|e| match (credentials_file, key) {
        (Some(path), None) => e.with_hint(format!(
            "GOOGLE_APPLICATION_CREDENTIALS = '{path}' must be a service account key or an authorized-user \
             credentials file (JSON)"
        )),
        _ => e,
    })
}

/// Check a credentials file before a client reads it, so the error names the variable.
fn readable_file(var: &str, path: &str) -> Result<()> {
    let hint = "the file must exist and be readable by the user running PostgreSQL or walrs";
    match std::fs::File::open(path).and_then(|f| f.metadata()) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(Error::config(format!("{var} = '{path}' is not a file")).with_hint(hint)),
        Err(e) => Err(Error::config(format!("{var} = '{path}' cannot be read: {e}")).with_hint(hint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn build_err(url: &str, pairs: &[(&str, &str)]) -> Error {
        let location = Location::parse(url).unwrap();
        match build(&location, &Env::from_pairs(pairs), &RetryPolicy::default()) {
            Ok(_) => panic!("{url} with {pairs:?} should not build"),
            Err(e) => e,
        }
    }

    fn builds(url: &str, pairs: &[(&str, &str)]) {
        let location = Location::parse(url).unwrap();
        if let Err(e) = build(&location, &Env::from_pairs(pairs), &RetryPolicy::default()) {
            panic!("{url} with {pairs:?}: {e}");
        }
    }

    #[test]
    fn clouds_without_keys_build_for_instance_credentials() {
        // S3 falls back to the instance's role, Azure to a managed identity, GCS to the
        // metadata server: missing keys are not a configuration error.
        builds("s3://bucket/p", &[]);
        builds("azure://container/p", &[("AZURE_STORAGE_ACCOUNT", "acct")]);
        builds("gs://bucket/p", &[]);
    }

    #[test]
    fn azure_needs_an_account() {
        let err = build_err("az://container/p", &[("AZURE_STORAGE_ACCESS_KEY", "a2V5")]);
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.contains("AZURE_STORAGE_ACCOUNT"), "{}", err.message);
        assert!(err.hint.unwrap().contains("env_dir"));
    }

    #[test]
    fn a_malformed_sas_token_is_a_config_error_without_the_token() {
        let err = build_err(
            "azure://c/p",
            &[("AZURE_STORAGE_ACCOUNT", "acct"), ("AZURE_STORAGE_SAS_TOKEN", "sv=2021&sigSecretNoEquals")],
        );
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.contains("azure://"), "{}", err.message);
        assert!(!err.message.contains("sigSecretNoEquals"), "{}", err.message);
        builds(
            "azure://c/p",
            &[("AZURE_STORAGE_ACCOUNT", "acct"), ("AZURE_STORAGE_SAS_TOKEN", "?sv=2021&sig=a%2Bb%3D")],
        );
    }

    #[test]
    fn s3_conditional_put_accepts_etag_or_disabled() {
        builds("s3://b", &[("WALRS_S3_CONDITIONAL_PUT", "disabled")]);
        builds("s3://b", &[("WALRS_S3_CONDITIONAL_PUT", "ETag")]);
        let err = build_err("s3://b", &[("WALRS_S3_CONDITIONAL_PUT", "maybe")]);
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.contains("WALRS_S3_CONDITIONAL_PUT") && err.message.contains("etag or disabled"));
    }

    #[test]
    fn gcs_credentials_file_must_be_readable() {
        let missing = build_err("gs://bucket/p", &[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")]);
        assert_eq!(missing.kind, ErrorKind::Config);
        assert!(missing.message.contains("GOOGLE_APPLICATION_CREDENTIALS = '/nonexistent/key.json'"));
        assert!(missing.message.contains("No such file"), "{}", missing.message);
        assert!(missing.hint.is_some());

        let dir = tempfile::tempdir().unwrap();
        let dir_path = dir.path().to_str().unwrap();
        let not_file = build_err("gs://bucket/p", &[("GOOGLE_APPLICATION_CREDENTIALS", dir_path)]);
        assert!(not_file.message.contains("is not a file"), "{}", not_file.message);

        let garbage = dir.path().join("key.json");
        std::fs::write(&garbage, "not json").unwrap();
        let bad = build_err("gs://bucket/p", &[("GOOGLE_APPLICATION_CREDENTIALS", garbage.to_str().unwrap())]);
        assert_eq!(bad.kind, ErrorKind::Config);
        assert!(bad.message.contains("gs://"), "{}", bad.message);
        assert!(bad.hint.unwrap().contains("service account"));
    }

    #[test]
    fn a_gcs_access_token_wins_over_the_key_variables() {
        // Neither the missing file nor the bad key is read when a token is given.
        builds(
            "gs://bucket/p",
            &[
                ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.token"),
                ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json"),
                ("GOOGLE_SERVICE_ACCOUNT_KEY", "not json"),
            ],
        );
    }

    #[test]
    fn a_gcs_service_account_key_that_is_not_json_does_not_show_it() {
        let err = build_err("gs://bucket/p", &[("GOOGLE_SERVICE_ACCOUNT_KEY", "private-key-material-1234")]);
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(!err.message.contains("private-key-material-1234"), "{}", err.message);
    }
}
