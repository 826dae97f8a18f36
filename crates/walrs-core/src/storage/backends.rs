//! Turning a [`Location`] and the environment into an `object_store` backend.
//!
//! Variable names follow WAL-G's and the clouds' own, so an existing `/etc/wal-g.d/env`
//! works unchanged. `docs/configuration.md` lists them.

use super::location::{Cloud, Location};
use crate::config::Env;
use crate::{Error, Result};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

pub fn build(location: &Location, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    match location {
        Location::Memory => Ok(Arc::new(InMemory::new())),
        Location::File { root } => {
            std::fs::create_dir_all(root).map_err(|e| {
                Error::local_io(format!("cannot create the repository directory {}", root.display()), &e)
            })?;
            let store = LocalFileSystem::new_with_prefix(root)
                .map_err(|e| Error::config(format!("cannot use {} as a repository: {e}", root.display())))?
                // Durability: sync file and directory before a write reports success.
                .with_fsync(true);
            Ok(Arc::new(store))
        }
        Location::Cloud { cloud: Cloud::S3, bucket, .. } => s3(bucket, env),
        Location::Cloud { cloud: Cloud::Azure, bucket, .. } => azure(bucket, env),
        Location::Cloud { cloud: Cloud::Gcs, bucket, .. } => gcs(bucket, env),
    }
}

/// HTTP behaviour shared by the clouds: request timeouts, and the client's own retries kept
/// short because [`super::retry::RetryPolicy`] bounds the whole operation above them.
fn client_options(env: &Env, endpoint: Option<&str>) -> ClientOptions {
    let mut opts =
        ClientOptions::new().with_timeout(Duration::from_secs(60)).with_connect_timeout(Duration::from_secs(10));
    if endpoint.is_some_and(|e| e.starts_with("http://")) {
        opts = opts.with_allow_http(true);
    }
    if env.flag("WALRS_ALLOW_INVALID_CERTIFICATES") {
        opts = opts.with_allow_invalid_certificates(true);
    }
    opts
}

fn http_retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(30),
    }
}

fn built<T: ObjectStore>(what: &str, r: object_store::Result<T>, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    match r {
        Ok(store) => Ok(Arc::new(store)),
        Err(e) => Err(Error::config(crate::config::redact(
            &format!("cannot set up {what} storage: {e}"),
            &env.secret_values(),
        ))),
    }
}

fn s3(bucket: &str, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    let endpoint = env.get_any(&["AWS_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]);
    let region = env.get_any(&["AWS_REGION", "AWS_DEFAULT_REGION"]).unwrap_or("us-east-1");
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_client_options(client_options(env, endpoint))
        .with_retry(http_retry());
    if let Some(endpoint) = endpoint {
        // Custom endpoints (MinIO, B2, Ceph) mostly want path-style URLs unless told otherwise.
        let path_style = env.get("AWS_S3_FORCE_PATH_STYLE").is_none_or(|_| env.flag("AWS_S3_FORCE_PATH_STYLE"));
        b = b.with_endpoint(endpoint).with_virtual_hosted_style_request(!path_style);
    }
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

fn azure(container: &str, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    let account = env.get("AZURE_STORAGE_ACCOUNT").ok_or_else(|| {
        Error::config("azure:// needs the storage account name in AZURE_STORAGE_ACCOUNT")
            .with_hint("set it in walrs.env_dir (or --env-dir) or in the server's environment")
    })?;
    let endpoint = env.get_any(&["AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"]);
    let mut b = MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_container_name(container)
        .with_client_options(client_options(env, endpoint))
        .with_retry(http_retry());
    if let Some(endpoint) = endpoint {
        b = b.with_endpoint(endpoint.to_string()).with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(key) = env.get_any(&["AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_KEY"]) {
        b = b.with_access_key(key);
    } else if let Some(sas) = env.get("AZURE_STORAGE_SAS_TOKEN") {
        let pairs: Vec<(String, String)> = sas
            .trim_start_matches('?')
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        b = b.with_sas_authorization(pairs);
    }
    built("azure://", b.build(), env)
}

fn gcs(bucket: &str, env: &Env) -> Result<Arc<dyn ObjectStore>> {
    let mut b = GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_client_options(client_options(env, env.get("GCS_ENDPOINT")))
        .with_retry(http_retry());
    if let Some(path) = env.get("GOOGLE_APPLICATION_CREDENTIALS") {
        b = b.with_application_credentials(path);
    }
    if let Some(key) = env.get("GOOGLE_SERVICE_ACCOUNT_KEY") {
        b = b.with_service_account_key(key);
    }
    if let Some(url) = env.get("GCS_ENDPOINT") {
        b = b.with_base_url(url);
    }
    built("gs://", b.build(), env)
}
