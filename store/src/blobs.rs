//! Blobs (frame JPEGs, public blurred copies, thumbnails, exports) through `object_store`.
//!
//! Content-addressed blobs are written with `PutMode::Create`: the first writer wins, a
//! second write of the same key is reported as [`PutOutcome::AlreadyExisted`] and never
//! replaces the stored bytes. Every backend writes atomically (the local filesystem stages
//! the bytes in a temporary file and links it into place), so a reader never sees a partial
//! object, and durably before a write returns: on the local filesystem the file and every
//! directory above it up to the store's root are fsynced, so a row committed after a write
//! never names a blob a power cut could take back (S3 acknowledges a put once it is stored).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use model::FrameId;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{Error, Result};

/// Where a blob lives. Built from typed constructors, or parsed (and checked) from text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(Path);

impl BlobKey {
    /// The original JPEG as uploaded. Private: never served over HTTP.
    pub fn original_frame(id: &FrameId) -> Self {
        Self::sharded("frames/original", id, "jpg")
    }

    /// The privacy-blurred JPEG: the only version of a frame that is ever public.
    pub fn public_frame(id: &FrameId) -> Self {
        Self::sharded("frames/public", id, "jpg")
    }

    /// A small preview of the public frame.
    pub fn thumbnail(id: &FrameId) -> Self {
        Self::sharded("frames/thumb", id, "jpg")
    }

    /// Parses a key such as `manifests/2026-W48.json`; refuses empty, `.` and `..` segments
    /// so a key from outside can never escape the store.
    pub fn parse(key: &str) -> Result<Self> {
        let invalid = |reason: &'static str| Error::BlobKey {
            key: key.chars().take(200).collect(),
            reason,
        };
        if key.is_empty() || key.starts_with('/') || key.contains('\\') {
            return Err(invalid("not a relative key"));
        }
        let path = Path::parse(key).map_err(|_| invalid("not a valid key"))?;
        if path.as_ref() != key {
            return Err(invalid("not in canonical form"));
        }
        Ok(Self(path))
    }

    fn sharded(prefix: &str, id: &FrameId, extension: &str) -> Self {
        // Two levels of 256-way sharding keep local directories small.
        let hex = id.to_hex();
        Self(Path::from(format!(
            "{prefix}/{}/{}/{hex}.{extension}",
            &hex[..2],
            &hex[2..4]
        )))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a create-if-absent write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    AlreadyExisted,
}

/// A handle on one object store backend.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    url: String,
    /// The root directory of a local store, whose writes are fsynced.
    local_root: Option<PathBuf>,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobStore({})", self.url)
    }
}

impl BlobStore {
    /// `file:///abs/dir` (created if missing), `s3://bucket[/prefix][?endpoint=…&region=…]`
    /// (any S3-compatible store; credentials from the usual `AWS_*` environment variables,
    /// settings from there or the query) or `memory://`.
    pub fn from_url(url: &str) -> Result<Self> {
        let unsupported = |reason: &str| Error::BlobUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut local_root = None;
        let inner: Arc<dyn ObjectStore> = if url == "memory://" {
            Arc::new(InMemory::new())
        } else if let Some(dir) = url.strip_prefix("file://") {
            if !dir.starts_with('/') {
                return Err(unsupported(
                    "a file:// URL needs an absolute path, e.g. file:///var/lib/waymark/blobs",
                ));
            }
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Directory {
                path: dir.clone(),
                source,
            })?;
            let local = LocalFileSystem::new_with_prefix(&dir)
                .map_err(|err| unsupported(&err.to_string()))?;
            local_root = Some(dir);
            Arc::new(local)
        } else if let Some(location) = url.strip_prefix("s3://") {
            s3_store(location).map_err(|reason| unsupported(&reason))?
        } else {
            let scheme = url.split("://").next().unwrap_or(url);
            return Err(unsupported(&format!(
                "scheme {scheme:?} is not available in this build; use file:///absolute/dir, s3://bucket/prefix or memory://"
            )));
        };
        Ok(Self {
            inner,
            // Shown in /health and logs: never the query, which may hold credentials.
            url: url.split('?').next().unwrap_or(url).to_owned(),
            local_root,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes `bytes` at `key` unless a blob is already there; the stored bytes are never
    /// replaced. Use for content-addressed blobs.
    pub async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<PutOutcome> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .inner
            .put_opts(&key.0, PutPayload::from_bytes(bytes), options)
            .await
        {
            Ok(_) => {
                self.make_durable(key).await?;
                Ok(PutOutcome::Created)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExisted),
            Err(source) => Err(blob_error(key, source)),
        }
    }

    /// On the local filesystem: fsyncs the blob's file, then every directory from its own up
    /// to the store's root (a new shard directory is an entry in its parent too).
    async fn make_durable(&self, key: &BlobKey) -> Result<()> {
        let Some(root) = self.local_root.clone() else {
            return Ok(());
        };
        let file = root.join(key.as_str());
        let synced = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            let mut dir = file.parent();
            while let Some(current) = dir {
                std::fs::File::open(current)?.sync_all()?;
                if current == root {
                    break;
                }
                dir = current.parent();
            }
            Ok(())
        })
        .await
        .map_err(|err| Error::Corrupt(format!("fsync of blob {key} did not finish: {err}")))?;
        synced.map_err(|source| Error::BlobSync {
            key: key.to_string(),
            source,
        })
    }

    /// Writes `bytes` at `key`, atomically replacing what was there. Use for derived blobs
    /// that a replayed job may write again.
    pub async fn put(&self, key: &BlobKey, bytes: Bytes) -> Result<()> {
        self.inner
            .put(&key.0, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| blob_error(key, source))?;
        self.make_durable(key).await
    }

    pub async fn get(&self, key: &BlobKey) -> Result<Bytes> {
        let result = self
            .inner
            .get(&key.0)
            .await
            .map_err(|source| blob_error(key, source))?;
        result
            .bytes()
            .await
            .map_err(|source| blob_error(key, source))
    }

    /// The blob at `key` as a stream of chunks and its size: a multi-gigabyte blob is
    /// served without holding it in memory.
    pub async fn get_stream(
        &self,
        key: &BlobKey,
    ) -> Result<(u64, futures::stream::BoxStream<'static, Result<Bytes>>)> {
        use futures::StreamExt;
        let result = self
            .inner
            .get(&key.0)
            .await
            .map_err(|source| blob_error(key, source))?;
        let size = result.meta.size;
        let owned = key.clone();
        let stream = result
            .into_stream()
            .map(move |chunk| chunk.map_err(|source| blob_error(&owned, source)))
            .boxed();
        Ok((size, stream))
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self.inner.head(&key.0).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(blob_error(key, source)),
        }
    }

    /// Deletes `key`; deleting a missing blob is not an error (deletes are retried).
    pub async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.inner.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(blob_error(key, source)),
        }
    }

    /// Every key under `prefix` (e.g. `frames/original`; `""` for every key), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobKey>> {
        let prefix = Path::from(prefix);
        let under = (!prefix.as_ref().is_empty()).then_some(&prefix);
        let mut keys: Vec<BlobKey> = self
            .inner
            .list(under)
            .map_ok(|meta| BlobKey(meta.location))
            .try_collect()
            .await
            .map_err(|source| Error::Blob {
                key: prefix.to_string(),
                source,
            })?;
        keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(keys)
    }
}

/// An S3 bucket (and key prefix) from `bucket[/prefix][?key=value&…]`: settings from the
/// `AWS_*` environment, then from the query (object_store's S3 keys: `endpoint`, `region`,
/// `allow_http`, `access_key_id`, …). Content-addressed writes stay create-if-absent
/// (object_store sends `If-None-Match: *`); conditional puts by ETag are on for the rest.
fn s3_store(location: &str) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let (location, query) = location.split_once('?').unwrap_or((location, ""));
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.is_empty() {
        return Err("an s3:// URL names a bucket, e.g. s3://waymark-blobs/prod".into());
    }
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key: AmazonS3ConfigKey = key.parse().map_err(|_| {
            format!("{key:?} is not an S3 setting (endpoint, region, allow_http, …)")
        })?;
        builder = builder.with_config(key, value);
    }
    let s3 = builder.build().map_err(|err| {
        format!(
            "{err}; set AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT for a server other than AWS)"
        )
    })?;
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        return Ok(Arc::new(s3));
    }
    let prefix = Path::parse(prefix).map_err(|err| format!("prefix {prefix:?}: {err}"))?;
    Ok(Arc::new(PrefixStore::new(s3, prefix)))
}

fn blob_error(key: &BlobKey, source: object_store::Error) -> Error {
    match source {
        object_store::Error::NotFound { .. } => Error::BlobNotFound {
            key: key.to_string(),
        },
        source => Error::Blob {
            key: key.to_string(),
            source,
        },
    }
}
