//! The team store: an S3-compatible bucket (AWS S3, Ceph RGW, SeaweedFS, MinIO, R2…) that a team
//! or a CI fleet shares as a verified model cache, read before the Hub and written by `wharf push`.
//!
//! ```text
//! <prefix>/blobs/sha256/<hex>              the bytes of a file whose SHA-256 is <hex>
//! <prefix>/hf/<org>/<name>/<commit>.json   what wharf pushed of a Hugging Face repo at a commit:
//!   {"version": 1, "repo": "org/name", "commit": "<40 hex>", "complete": true,
//!    "files": {"<path>": {"sha256": "<64 hex>", "etag": "<hub etag>", "size": 123}}}
//! ```
//!
//! `complete` (absent: false) says `files` are all the repo's files at the commit, as the hub
//! listed them when a whole repo was pushed: a whole-repo pull at that commit needs no hub then.
//!
//! Trust: a bucket is a server like any other. Bytes read from it go through the same verified
//! transfer as the Hub's (a presigned URL handed to `transfer`, parallel ranged GETs, resume) and
//! are checked against the digest they are stored under before they become visible; an index is
//! parsed into boundary types (a path that is no [`RepoPath`], an etag that is no [`Etag`] refuse it).
//!
//! Writing is create-only: a small object is `PUT` with `If-None-Match: *` (a second writer gets
//! 412 and keeps the first, which holds the same bytes: the key is their digest); a large one goes
//! in a multipart upload, which the store shows only once complete. Every upload carries its
//! SHA-256 (`x-amz-checksum-sha256`, per part for multipart) so the store checks the bytes too.
//!
//! The S3 protocol is `object_store`'s (signing, multipart, errors), over wharf's own reqwest
//! client: one HTTP stack. Credentials are the AWS variables, passed in ([`S3Credentials`]); no
//! instance-metadata or web-identity lookup is ever made, and no secret is ever printed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, Checksum};
use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpResponseBody,
    HttpService,
};
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, WriteMultipart};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::ids::{BucketUrl, CommitId, Etag, RepoId, RepoPath, Sha256};
use crate::transfer::progress::{Event, Progress};

/// Objects up to this size go in one `PUT`; larger ones in parts of this size.
const PART: usize = 8 << 20;

/// How long a presigned GET stays valid: each ranged request of a transfer is signed once, at
/// its start, so this bounds the time to the last request of one file, not its transfer.
const PRESIGNED_FOR: Duration = Duration::from_secs(12 * 3600);

/// The largest index wharf reads.
const MAX_INDEX: usize = 32 << 20;

/// The AWS settings, read by the caller from the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`).
#[derive(Clone, Default)]
pub struct S3Credentials {
    /// The access key id.
    pub key_id: Option<String>,
    /// The secret access key.
    pub secret: Option<String>,
    /// A session token, for temporary credentials.
    pub token: Option<String>,
    /// The region (`us-east-1` when unset).
    pub region: Option<String>,
    /// Another endpoint than AWS's (`http(s)://HOST[:PORT]`): Ceph, SeaweedFS, MinIO, R2…
    pub endpoint: Option<String>,
}

/// Everything but the secrets.
impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("key_id", &self.key_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// Why the team store could not be used. Each names the object (`s3://BUCKET/KEY`), never a
/// secret or a signed URL.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No credentials in the environment.
    #[error("team store `{url}`: no credentials\n  hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store that is not AWS)")]
    NoCredentials {
        /// The store.
        url: String,
    },
    /// The store refused the credentials.
    #[error("team store `{what}`: access denied ({why})\n  hint: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN for this bucket")]
    Denied {
        /// The object or store.
        what: String,
        /// What the store said, shortened.
        why: String,
    },
    /// Any other failure: the store is down, the bucket does not exist, a request failed.
    #[error("team store `{what}`: {why}\n  hint: check AWS_ENDPOINT_URL and that the bucket exists and is reachable")]
    Failed {
        /// The object or store.
        what: String,
        /// What went wrong, shortened.
        why: String,
    },
    /// An index that does not parse.
    #[error("team store `{what}` holds an index wharf does not trust: {why}\n  hint: it was not written by `wharf push`, or was altered; delete it and push again")]
    BadIndex {
        /// The index object.
        what: String,
        /// Why it was refused.
        why: String,
    },
    /// No `s3://` entry in `WHARF_MIRRORS` to ask.
    #[error(
        "no team store is configured\n  hint: add s3://BUCKET[/PREFIX] to WHARF_MIRRORS (with the AWS_* credentials)"
    )]
    NoStore,
    /// A local file to upload could not be read.
    #[error("cannot read `{}` to upload it: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object was written.
    Uploaded,
    /// It was there already (found by `HEAD`, or another writer won the create-only race).
    AlreadyThere,
}

/// One file of a repo at a commit, as an index records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedFile {
    /// Its SHA-256: the key of its bytes (`blobs/sha256/<hex>`).
    pub sha256: Sha256,
    /// The Hub's etag for it (its blob's name in the Hugging Face cache).
    pub etag: Etag,
    /// Its size in bytes.
    pub size: u64,
}

/// `hf/<org>/<name>/<commit>.json`: the files of a Hugging Face repo at a commit that were pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HfIndex {
    /// The format (1).
    pub version: u32,
    /// The repo.
    pub repo: RepoId,
    /// The commit.
    pub commit: CommitId,
    /// `files` are every file of the repo at the commit (a whole repo was pushed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub complete: bool,
    /// Every file pushed, by its path in the repo.
    pub files: BTreeMap<RepoPath, IndexedFile>,
}

impl HfIndex {
    /// An index with no file yet.
    pub fn new(repo: RepoId, commit: CommitId) -> HfIndex {
        HfIndex { version: 1, repo, commit, complete: false, files: BTreeMap::new() }
    }

    /// The key of the index of `repo` at `commit`, relative to the store's prefix.
    pub fn rel(repo: &RepoId, commit: &CommitId) -> String {
        let (org, name) = repo.parts();
        format!("hf/{org}/{name}/{commit}.json")
    }
}

/// The key of the bytes whose SHA-256 is `sha`, relative to the store's prefix.
pub fn blob_rel(sha: &Sha256) -> String {
    format!("blobs/sha256/{sha}")
}

/// One team store: a bucket (and prefix) with a client for it.
#[derive(Debug, Clone)]
pub struct TeamStore {
    /// Where it is.
    pub url: BucketUrl,
    s3: Arc<AmazonS3>,
}

impl TeamStore {
    /// A client for `url` with `creds`, over `client` (wharf's HTTP client). Plain `http://`
    /// endpoints are accepted when `allow_http` (the caller's rule: loopback or `--allow-http`).
    pub fn new(
        url: BucketUrl,
        creds: &S3Credentials,
        client: reqwest::Client,
        allow_http: bool,
    ) -> Result<TeamStore, S3Error> {
        let (Some(key_id), Some(secret)) = (&creds.key_id, &creds.secret) else {
            return Err(S3Error::NoCredentials { url: url.to_string() });
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(url.bucket())
            .with_region(creds.region.clone().unwrap_or_else(|| "us-east-1".to_string()))
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(allow_http)
            .with_checksum_algorithm(Checksum::SHA256)
            // The transfer layer retries the bytes; here a store that is down is reported soon,
            // and the pull falls through to the Hub.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_http_connector(Connector(client));
        if let Some(token) = &creds.token {
            b = b.with_token(token);
        }
        if let Some(endpoint) = &creds.endpoint {
            b = b.with_endpoint(endpoint);
        }
        let s3 = b.build().map_err(|e| failed(url.to_string(), &e))?;
        Ok(TeamStore { url, s3: Arc::new(s3) })
    }

    fn key(&self, rel: &str) -> Key {
        Key::from(self.url.key(rel))
    }

    /// `s3://BUCKET/KEY` of `rel`, for messages.
    pub fn label(&self, rel: &str) -> String {
        self.url.label(rel)
    }

    /// A URL that lets `transfer` GET `rel` (ranges too) without the credentials. It is a
    /// credential itself: never shown; messages name [`TeamStore::label`].
    pub async fn get_url(&self, rel: &str) -> Result<Url, S3Error> {
        self.s3
            .signed_url(http::Method::GET, &self.key(rel), PRESIGNED_FOR)
            .await
            .map_err(|e| failed(self.label(rel), &e))
    }

    /// The size of `rel`, or `None` when the store does not have it.
    pub async fn size_of(&self, rel: &str) -> Result<Option<u64>, S3Error> {
        match self.s3.head(&self.key(rel)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(self.label(rel), &e)),
        }
    }

    /// Upload the file at `path` (`size` bytes, already verified) as `rel`, create-only.
    pub async fn put_file(&self, rel: &str, path: &Path, size: u64) -> Result<Put, S3Error> {
        let read_err = |source| S3Error::Read { path: path.to_path_buf(), source };
        if size <= PART as u64 {
            let body = tokio::fs::read(path).await.map_err(read_err)?;
            return self.put_bytes(rel, body).await;
        }
        // A multipart upload is visible only once complete: a killed push leaves nothing under
        // `rel`. Its completion overwrites, which is harmless here: any writer of `rel` writes
        // the bytes whose digest `rel` is.
        let upload = self.s3.put_multipart(&self.key(rel)).await.map_err(|e| failed(self.label(rel), &e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
        let mut buf = vec![0u8; PART];
        loop {
            let n = match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(read_err(e));
                }
            };
            // At most two parts in flight: memory stays bounded whatever the size.
            if let Err(e) = w.wait_for_capacity(2).await {
                return Err(failed(self.label(rel), &e));
            }
            w.write(&buf[..n]);
        }
        w.finish().await.map_err(|e| failed(self.label(rel), &e))?;
        Ok(Put::Uploaded)
    }

    /// Write `body` as `rel`, create-only.
    pub async fn put_bytes(&self, rel: &str, body: Vec<u8>) -> Result<Put, S3Error> {
        let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.s3.put_opts(&self.key(rel), PutPayload::from(body), opts).await {
            Ok(_) => Ok(Put::Uploaded),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                Ok(Put::AlreadyThere)
            }
            Err(e) => Err(failed(self.label(rel), &e)),
        }
    }

    /// Write `body` as `rel`, replacing what is there (an index that grew).
    pub async fn replace_bytes(&self, rel: &str, body: Vec<u8>) -> Result<(), S3Error> {
        self.s3.put(&self.key(rel), PutPayload::from(body)).await.map(|_| ()).map_err(|e| failed(self.label(rel), &e))
    }

    /// The index of `repo` at `commit`, if the store has one.
    pub async fn hf_index(&self, repo: &RepoId, commit: &CommitId) -> Result<Option<HfIndex>, S3Error> {
        let rel = HfIndex::rel(repo, commit);
        let body = match self.s3.get(&self.key(&rel)).await {
            Ok(got) if got.meta.size > MAX_INDEX as u64 => {
                return Err(S3Error::BadIndex { what: self.label(&rel), why: format!("{} bytes", got.meta.size) })
            }
            Ok(got) => got.bytes().await.map_err(|e| failed(self.label(&rel), &e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(failed(self.label(&rel), &e)),
        };
        let bad = |why: String| S3Error::BadIndex { what: self.label(&rel), why };
        let index: HfIndex = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        if index.version != 1 || index.repo != *repo || index.commit != *commit {
            return Err(bad(format!("it is for {}@{} (format {})", index.repo, index.commit, index.version)));
        }
        Ok(Some(index))
    }
}

/// The team stores of one model store, in the order they are tried, with what this process
/// learnt of them (which failed, which indexes they have).
#[derive(Debug, Default)]
pub struct TeamStores {
    stores: Vec<Team>,
    /// Indexes asked for, by repo and commit (`None`: no store has one).
    indexes: Mutex<HashMap<(RepoId, CommitId), Option<HfIndex>>>,
}

/// One team store of a [`TeamStores`].
#[derive(Debug)]
pub struct Team {
    url: BucketUrl,
    /// The client, or why there is none (no credentials).
    store: Result<TeamStore, String>,
    /// It failed once: not asked again.
    down: AtomicBool,
}

impl TeamStores {
    /// The stores, in the order they are tried: each a client, or why it cannot be had (that
    /// is warned about when the store would first be asked).
    pub fn new(stores: Vec<(BucketUrl, Result<TeamStore, String>)>) -> TeamStores {
        let stores = stores.into_iter().map(|(url, store)| Team { url, store, down: AtomicBool::new(false) }).collect();
        TeamStores { stores, ..TeamStores::default() }
    }

    /// Whether there is any store to ask.
    pub fn any(&self) -> bool {
        !self.stores.is_empty()
    }

    /// The stores still worth asking, in order (one without a client is warned about, once).
    pub fn usable<'a>(&'a self, progress: &'a dyn Progress) -> impl Iterator<Item = (&'a Team, &'a TeamStore)> + 'a {
        self.stores.iter().filter(|t| !t.down.load(Ordering::Relaxed)).filter_map(move |t| match &t.store {
            Ok(store) => Some((t, store)),
            Err(why) => {
                self.give_up(t, why, progress);
                None
            }
        })
    }

    /// Every store's client, in order; the first that has none (no credentials) is an error.
    pub fn clients(&self) -> Result<Vec<&TeamStore>, S3Error> {
        if self.stores.is_empty() {
            return Err(S3Error::NoStore);
        }
        self.stores
            .iter()
            .map(|t| t.store.as_ref().map_err(|why| S3Error::Failed { what: t.url.to_string(), why: why.clone() }))
            .collect()
    }

    /// The index of `key` as this process found it: `Some(None)` when no store had one.
    pub fn known_index(&self, key: &(RepoId, CommitId)) -> Option<Option<HfIndex>> {
        self.indexes.lock().ok().and_then(|m| m.get(key).cloned())
    }

    /// Remember what the stores said of `key`'s index.
    pub fn remember_index(&self, key: (RepoId, CommitId), index: Option<HfIndex>) {
        if let Ok(mut m) = self.indexes.lock() {
            m.insert(key, index);
        }
    }

    /// Warn about `team` once, and ask it no more.
    pub fn give_up(&self, team: &Team, why: &str, progress: &dyn Progress) {
        if !team.down.swap(true, Ordering::Relaxed) {
            progress.event(Event::Warning {
                message: format!("team store `{}` is not used by this run: {why}; going on from the origin", team.url),
            });
        }
    }
}

/// An `object_store` error as an [`S3Error`] naming `what`: its message is kept short (a store's
/// XML body can be long) and never holds a secret (`object_store` does not print them).
fn failed(what: String, e: &object_store::Error) -> S3Error {
    let why = crate::ids::shortened(&e.to_string().replace('\n', " "), 300);
    match e {
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            S3Error::Denied { what, why }
        }
        _ => S3Error::Failed { what, why },
    }
}

/// wharf's reqwest client as `object_store`'s transport.
#[derive(Debug, Clone)]
struct Connector(reqwest::Client);

fn http_error(e: reqwest::Error) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_decode() {
        HttpErrorKind::Decode
    } else if e.is_request() || e.is_body() {
        HttpErrorKind::Request
    } else {
        HttpErrorKind::Unknown
    };
    // Without the URL: a signed one must not reach a message.
    HttpError::new(kind, e.without_url())
}

#[async_trait::async_trait]
impl HttpService for Connector {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let url = Url::parse(&parts.uri.to_string()).map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        let mut r = reqwest::Request::new(parts.method, url);
        *r.headers_mut() = parts.headers;
        *r.body_mut() = Some(reqwest::Body::wrap(body));
        let resp: http::Response<reqwest::Body> = self.0.execute(r).await.map_err(http_error)?.into();
        let (parts, body) = resp.into_parts();
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body.map_err(http_error))))
    }
}

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_parsed_into_boundary_types_or_refused() {
        let (commit, sha) = ("a".repeat(40), "b".repeat(64));
        let doc = |path: &str, etag: &str| {
            format!(
                r#"{{"version":1,"repo":"org/m","commit":"{commit}","files":{{"{path}":{{"sha256":"{sha}","etag":"{etag}","size":3}}}}}}"#
            )
        };
        let ok: HfIndex = serde_json::from_str(&doc("x/config.json", &"c".repeat(40))).unwrap();
        assert!(matches!(ok.files.values().next().unwrap().etag, Etag::GitBlob(_)));
        for bad in [doc("../../.bashrc", &"c".repeat(40)), doc("x", "../blob"), doc("x", "abc")] {
            assert!(serde_json::from_str::<HfIndex>(&bad).is_err(), "{bad} was accepted");
        }
    }
}
