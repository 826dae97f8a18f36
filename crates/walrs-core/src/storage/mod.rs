//! The repository as walrs sees it: keys relative to the configured prefix, every request
//! bounded in time, errors classified and stripped of secrets.

mod backends;
mod error_text;
mod http;
mod http_status;
mod location;
mod retry;
pub mod stream;

pub use location::{Cloud, Location};
pub use retry::{is_transient, RetryPolicy};

use crate::body::{ReadStages, Seal, WriteStages};
use crate::compress::Compression;
use crate::env::Env;
use crate::redact::redact;
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    location: Location,
    secrets: Arc<Vec<String>>,
    policy: RetryPolicy,
    /// Set once a listing showed that the bucket or container exists.
    bucket_seen: Arc<AtomicBool>,
    /// How object bodies are encrypted, from the keys in the environment it was opened with.
    seal: Seal,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.location)
    }
}

/// An object's key (relative to the repository prefix), size and last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

impl Storage {
    pub fn open(location: &Location, env: &Env) -> Result<Storage> {
        Self::open_with_policy(location, env, RetryPolicy::default())
    }

    /// As [`Storage::open`], with other timeouts and retries (tests use short ones).
    /// The environment's encryption keys are read here: an unusable one fails the open.
    pub fn open_with_policy(location: &Location, env: &Env, policy: RetryPolicy) -> Result<Storage> {
        let seal = crate::crypto::seal_from_env(env)?;
        Ok(Storage {
            store: backends::build(location, env, &policy)?,
            location: location.clone(),
            secrets: Arc::new(env.secret_values()),
            policy,
            bucket_seen: Arc::new(AtomicBool::new(false)),
            seal,
        })
    }

    /// How this repository's object bodies are encrypted ([`Seal::None`]: they are not).
    /// Sentinels, `metadata.json`, `files_metadata.json` and walrs's WAL checksums are never
    /// sealed, as WAL-G keeps them plain: they do not pass through the body stages.
    pub fn seal(&self) -> &Seal {
        &self.seal
    }

    /// The stages that write an object body to this repository: compress, then seal.
    pub fn write_stages(&self, compression: Compression) -> WriteStages {
        WriteStages::new(compression).sealed(self.seal.clone())
    }

    /// The stages that read the object `key` of this repository, stored with `method`.
    pub fn read_stages(&self, method: Compression, key: impl Into<String>) -> ReadStages {
        ReadStages::new(method, key).sealed(self.seal.clone())
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// For a file:// repository, the file that holds `key`, so local reads can go straight to
    /// the file (one thread, large reads) instead of chunks handed between threads. None for
    /// other stores and for keys object_store would encode differently.
    pub fn local_file(&self, key: &str) -> Option<std::path::PathBuf> {
        let Location::File { root } = &self.location else { return None };
        let plain = key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        let safe = key.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        (plain && safe).then(|| root.join(key))
    }

    fn path(&self, key: &str) -> Result<Path> {
        let full = match &self.location {
            Location::Cloud { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{key}"),
            _ => key.to_string(),
        };
        Path::parse(&full).map_err(|e| Error::invalid_input(format!("invalid object key \"{key}\": {e}")))
    }

    fn relative(&self, path: &Path) -> String {
        let full = path.as_ref();
        match &self.location {
            Location::Cloud { prefix, .. } if !prefix.is_empty() => {
                full.strip_prefix(prefix.as_str()).map(|k| k.trim_start_matches('/')).unwrap_or(full).to_string()
            }
            _ => full.to_string(),
        }
    }

    /// Map an object_store error to ours: classified, with the key and store named, no secrets.
    fn error(&self, op: &str, key: &str, e: object_store::Error, attempts: u32) -> Error {
        use object_store::Error as E;
        if http_status::is_missing_bucket(&e) {
            return self.missing_bucket();
        }
        let (kind, hint) = match &e {
            E::NotFound { .. } => (ErrorKind::NotFound, None),
            E::AlreadyExists { .. } | E::Precondition { .. } => (ErrorKind::Conflict, None),
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                (ErrorKind::Storage, Some("check the credentials and the permissions they grant on the repository"))
            }
            _ => (ErrorKind::Storage, local_hint(&e)),
        };
        let tries = if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() };
        // A refused request's response body can quote the request, credentials and all.
        let shown = error_text::safe(&e.to_string());
        let message = redact(&format!("{op} {key} in {}{tries}: {shown}", self.location), &self.secrets);
        let mut err = Error::new(kind, message).retryable(retry::is_transient(&e));
        if let Some(h) = hint {
            err = err.with_hint(h);
        }
        err
    }

    fn missing_bucket(&self) -> Error {
        let bucket = match &self.location {
            Location::Cloud { bucket, .. } => bucket.as_str(),
            _ => "",
        };
        Error::config(format!("the bucket or container \"{bucket}\" of {} does not exist", self.location))
            .with_hint("create it, or correct walrs.storage (--storage); walrs does not create buckets")
    }

    /// Before reporting an object absent, make sure its bucket exists: a 404 for the object
    /// and for its bucket can look the same (a HEAD has no body to tell them apart), and
    /// "absent" from a misnamed bucket would tell PostgreSQL that the archive ends here. One
    /// listing per handle settles it.
    async fn confirm_absent(&self, key: &str) -> Result<()> {
        self.check_root()?;
        if !matches!(self.location, Location::Cloud { .. }) || self.bucket_seen.load(Ordering::Relaxed) {
            return Ok(());
        }
        let root = self.path("")?;
        let out = self.policy.run(|| self.store.list_with_delimiter(Some(&root))).await;
        match out.result {
            Ok(_) => {
                self.bucket_seen.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(self.error("cannot check the bucket while looking up", key, e, out.attempts)),
        }
    }

    /// A file:// repository's directory must be there for every write and before anything is
    /// reported absent: it may be a file system that was unmounted after the handle opened,
    /// and writing would then recreate it on the mount point. A `stat`, so it is checked each time.
    pub fn check_root(&self) -> Result<()> {
        match &self.location {
            Location::File { root } => backends::require_directory(root),
            _ => Ok(()),
        }
    }

    /// Store `data` under `key` unless an object is already there. Returns false (and writes
    /// nothing) when one is. Success means the object is durable.
    pub async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        self.check_root()?;
        let path = self.path(key)?;
        let create = PutOptions { mode: PutMode::Create, ..Default::default() };
        let limit = self.transfer_limit(data.len() as u64);
        let out = self
            .policy
            .run_within(limit, || self.store.put_opts(&path, PutPayload::from_bytes(data.clone()), create.clone()))
            .await;
        match out.result {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(object_store::Error::NotImplemented { .. }) => {
                // Stores without create-only writes: check, then write; the caller compares
                // content on conflict, so a lost race is still caught by the next push.
                if self.exists(key).await? {
                    return Ok(false);
                }
                self.put(key, data).await.map(|_| true)
            }
            Err(e) => Err(self.error("cannot store", key, e, out.attempts)),
        }
    }

    /// Store `data` under `key`, replacing any object there.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.check_root()?;
        let path = self.path(key)?;
        let limit = self.transfer_limit(data.len() as u64);
        let out = self.policy.run_within(limit, || self.store.put(&path, PutPayload::from_bytes(data.clone()))).await;
        out.result.map(|_| ()).map_err(|e| self.error("cannot store", key, e, out.attempts))
    }

    /// How long moving `size` bytes to or from the store may take in one try, as a whole.
    /// None for a cloud store: its HTTP client fails a request that stalls (see `http.rs`), so
    /// a WAL segment on a slow link takes as long as it needs while it moves. object_store
    /// reads and writes a local file in one blocking call, with no progress to watch: there a
    /// try may take `attempt_timeout` plus the time `size` takes at 1 MiB/s, so a mount that
    /// hangs (an NFS server gone) still fails, and a large segment on a slow disk is not cut off.
    fn transfer_limit(&self, size: u64) -> Option<Duration> {
        const SLOWEST_LOCAL_BYTES_PER_S: f64 = (1 << 20) as f64;
        match self.location {
            Location::Cloud { .. } => None,
            Location::File { .. } | Location::Memory => {
                Some(self.policy.attempt_timeout + Duration::from_secs_f64(size as f64 / SLOWEST_LOCAL_BYTES_PER_S))
            }
        }
    }

    /// Store what arrives on `rx` as one object at `key`, by multipart upload. Completes the
    /// object only on [`stream::Piece::Done`]; if the sender goes away first, the upload is
    /// aborted. Returns the object's size.
    pub async fn put_stream(&self, key: &str, mut rx: tokio::sync::mpsc::Receiver<stream::Piece>) -> Result<u64> {
        self.check_root()?;
        let path = self.path(key)?;
        let out = self.policy.run(|| self.store.put_multipart(&path)).await;
        let upload = out.result.map_err(|e| self.error("cannot start uploading", key, e, out.attempts))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, stream::PART);
        let mut size = 0u64;
        loop {
            match rx.recv().await {
                Some(stream::Piece::Data(bytes)) => {
                    if let Err(e) = writer.wait_for_capacity(2).await {
                        // The upload failed; abort so no part lingers. The first error is the one to report.
                        let _ = writer.abort().await;
                        return Err(self.error("cannot store", key, e, 1));
                    }
                    size += bytes.len() as u64;
                    writer.put(bytes);
                }
                Some(stream::Piece::Done) => break,
                None => {
                    let _ = writer.abort().await; // the producer failed and reports why
                    return Err(Error::new(ErrorKind::LocalIo, format!("the data for {key} stopped before its end")));
                }
            }
        }
        writer.finish().await.map_err(|e| self.error("cannot complete", key, e, 1))?;
        Ok(size)
    }

    /// The object's bytes, or None if there is no such object.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let path = self.path(key)?;
        let out = self
            .policy
            .run_within(None, || async {
                // Opening is a lookup; reading the answer grows with the object.
                let limit = self.policy.attempt_timeout;
                let got =
                    tokio::time::timeout(limit, self.store.get(&path)).await.map_err(|_| retry::timed_out(limit))??;
                match self.transfer_limit(got.meta.size) {
                    None => got.bytes().await,
                    Some(limit) => {
                        tokio::time::timeout(limit, got.bytes()).await.map_err(|_| retry::timed_out(limit))?
                    }
                }
            })
            .await;
        match out.result {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e @ object_store::Error::NotFound { .. }) if !http_status::is_missing_bucket(&e) => {
                self.confirm_absent(key).await.map(|_| None)
            }
            Err(e) => Err(self.error("cannot read", key, e, out.attempts)),
        }
    }

    /// The bytes of an object that must be small (a sentinel, a file list), or None if there
    /// is no such object. Reading stops after `limit` bytes: an object larger than that is an
    /// error, and memory never holds more than `limit` of it, whatever the object's size.
    pub async fn get_at_most(&self, key: &str, limit: usize) -> Result<Option<Bytes>> {
        use tokio::io::AsyncReadExt;
        let Some(reader) = self.open_reader(key).await? else { return Ok(None) };
        let mut out = Vec::new();
        let mut capped = reader.take(limit as u64 + 1);
        capped
            .read_to_end(&mut out)
            .await
            .map_err(|e| Error::new(ErrorKind::Storage, redact(&e.to_string(), &self.secrets)).retryable(true))?;
        if out.len() > limit {
            return Err(Error::corrupt(format!("{key} is larger than {limit} bytes, more than such an object can be"))
                .with_hint("the object is damaged or is not what its name says; it was not read further"));
        }
        Ok(Some(Bytes::from(out)))
    }

    /// The first `limit` bytes of an object (all of it if it is shorter), or None if there is
    /// no such object. Reading stops there: the rest of the object is never fetched into memory.
    pub async fn get_start(&self, key: &str, limit: usize) -> Result<Option<Bytes>> {
        use tokio::io::AsyncReadExt;
        let Some(reader) = self.open_reader(key).await? else { return Ok(None) };
        let mut out = Vec::with_capacity(limit);
        reader
            .take(limit as u64)
            .read_to_end(&mut out)
            .await
            .map_err(|e| Error::new(ErrorKind::Storage, redact(&e.to_string(), &self.secrets)).retryable(true))?;
        Ok(Some(Bytes::from(out)))
    }

    /// A streaming reader of the object, or None if there is no such object. Opening is
    /// retried; a failure mid-stream surfaces as a read error naming the key.
    pub async fn open_reader(&self, key: &str) -> Result<Option<impl tokio::io::AsyncRead + Send + Unpin + 'static>> {
        let path = self.path(key)?;
        let out = self.policy.run(|| self.store.get(&path)).await;
        match out.result {
            Ok(got) => {
                let (key, secrets) = (key.to_string(), self.secrets.clone());
                let stream = got.into_stream().map_err(move |e| {
                    let shown = error_text::safe(&e.to_string());
                    std::io::Error::other(redact(&format!("reading {key} failed: {shown}"), &secrets))
                });
                Ok(Some(tokio_util::io::StreamReader::new(stream)))
            }
            Err(e @ object_store::Error::NotFound { .. }) if !http_status::is_missing_bucket(&e) => {
                self.confirm_absent(key).await.map(|_| None)
            }
            Err(e) => Err(self.error("cannot read", key, e, out.attempts)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        let out = self.policy.run(|| self.store.head(&path)).await;
        match out.result {
            Ok(_) => Ok(true),
            Err(e @ object_store::Error::NotFound { .. }) if !http_status::is_missing_bucket(&e) => {
                self.confirm_absent(key).await.map(|_| false)
            }
            Err(e) => Err(self.error("cannot look up", key, e, out.attempts)),
        }
    }

    /// Remove an object; removing one that is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        let out = self.policy.run(|| self.store.delete(&path)).await;
        match out.result {
            Ok(()) => Ok(()),
            Err(e @ object_store::Error::NotFound { .. }) if !http_status::is_missing_bucket(&e) => Ok(()),
            Err(e) => Err(self.error("cannot delete", key, e, out.attempts)),
        }
    }

    /// Clean up folder `dir` of a `file://` repository once its objects are deleted: the empty
    /// directories, and the staging files (`name#N`) of uploads a crash cut short, which the
    /// object store neither lists nor deletes. Object stores have no directories, and abort
    /// their uploads themselves: there this does nothing.
    pub fn remove_leftover_folder(&self, dir: &str) {
        fn prune(path: &std::path::Path) {
            if let Ok(entries) = std::fs::read_dir(path) {
                for e in entries.flatten() {
                    match e.file_type() {
                        Ok(t) if t.is_dir() => prune(&e.path()),
                        Ok(_) if is_staging_file(&e.file_name().to_string_lossy()) => {
                            // Gone already is as good as removed.
                            let _ = std::fs::remove_file(e.path());
                        }
                        _ => {}
                    }
                }
            }
            // Fails, harmlessly, when something is still inside.
            let _ = std::fs::remove_dir(path);
        }
        if let Location::File { root } = &self.location {
            if !dir.is_empty() && !dir.contains("..") {
                prune(&root.join(dir));
            }
        }
    }

    /// Staging files of unfinished uploads under `dir` of a `file://` repository (key, last
    /// write), which listing does not show; none for object stores.
    pub fn staging_files(&self, dir: &str) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
        fn walk(path: &std::path::Path, key: &str, out: &mut Vec<(String, chrono::DateTime<chrono::Utc>)>) {
            for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let child = format!("{key}/{name}");
                match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path(), &child, out),
                    Ok(m) if is_staging_file(&name) => {
                        out.push((child, m.modified().map(Into::into).unwrap_or_else(|_| chrono::Utc::now())))
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if let Location::File { root } = &self.location {
            walk(&root.join(dir), dir, &mut out);
        }
        out
    }

    /// Every object under the folder `dir` (recursively), keys relative to the repository.
    ///
    /// A large repository lists in hundreds of pages (1000 objects each on S3), minutes in all:
    /// each page is bounded, the whole listing is not. One that fails midway starts again
    /// from the beginning rather than going on after the last key seen: going on would trust
    /// the store to list in key order, which S3 directory buckets and the local file system do
    /// not, and a key missed here is a WAL segment retention or wal-verify would not see. The
    /// client has already retried the page that failed, so starting again is rare.
    pub async fn list(&self, dir: &str) -> Result<Vec<ObjectInfo>> {
        self.check_root()?;
        let path = self.path(dir)?;
        let out = self.policy.run_within(None, || self.list_by_page(&path)).await;
        let metas = out.result.map_err(|e| self.error("cannot list", dir, e, out.attempts))?;
        let mut objects: Vec<ObjectInfo> = metas
            .into_iter()
            .map(|m| ObjectInfo { key: self.relative(&m.location), size: m.size, modified: m.last_modified })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// The objects directly in `dir`, not those in its folders: the sentinels of
    /// `basebackups_005/` without every backup's partitions. One level, one listing.
    pub async fn list_top(&self, dir: &str) -> Result<Vec<ObjectInfo>> {
        self.check_root()?;
        let path = self.path(dir)?;
        let out = self.policy.run(|| self.store.list_with_delimiter(Some(&path))).await;
        let listed = out.result.map_err(|e| self.error("cannot list", dir, e, out.attempts))?;
        let mut objects: Vec<ObjectInfo> = listed
            .objects
            .into_iter()
            .map(|m| ObjectInfo { key: self.relative(&m.location), size: m.size, modified: m.last_modified })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// At most `n` objects under `dir`, the first the store lists (in no order to rely on):
    /// a sample, from the first page of a listing, however large the folder is.
    pub async fn list_some(&self, dir: &str, n: usize) -> Result<Vec<ObjectInfo>> {
        self.check_root()?;
        let path = self.path(dir)?;
        let out = self.policy.run(|| self.store.list(Some(&path)).take(n).try_collect::<Vec<_>>()).await;
        let metas = out.result.map_err(|e| self.error("cannot list", dir, e, out.attempts))?;
        Ok(metas
            .into_iter()
            .map(|m| ObjectInfo { key: self.relative(&m.location), size: m.size, modified: m.last_modified })
            .collect())
    }

    /// One listing from the start, each page bounded by `attempt_timeout`. The stream hands
    /// out a page's objects one by one: only the first of each page waits for the store.
    async fn list_by_page(&self, path: &Path) -> object_store::Result<Vec<object_store::ObjectMeta>> {
        let limit = self.policy.attempt_timeout;
        let mut pages = self.store.list(Some(path));
        let mut metas = Vec::new();
        loop {
            match tokio::time::timeout(limit, pages.next()).await {
                Ok(Some(meta)) => metas.push(meta?),
                Ok(None) => return Ok(metas),
                Err(_) => {
                    let what = format!("a page of the listing took more than {}", retry::seconds(limit));
                    return Err(retry::timed_out_with(what));
                }
            }
        }
    }
}

/// `object_store`'s local file system stages an upload as `<name>#<N>` until it completes.
fn is_staging_file(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(base, n)| !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What to do about a local file-system failure behind a storage error.
fn local_hint(e: &object_store::Error) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    match retry::io_cause(e) {
        Some(K::PermissionDenied) => {
            Some("the repository directory must be writable by the user that runs PostgreSQL or walrs")
        }
        Some(K::StorageFull | K::QuotaExceeded) => {
            Some("the repository's file system is full: free space or move the repository")
        }
        Some(K::ReadOnlyFilesystem) => Some("the repository's file system is mounted read-only"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
