//! The Hugging Face hub protocol, as `huggingface_hub` speaks it.
//!
//! - Resolve a file: `HEAD {endpoint}/{repo}/resolve/{rev}/{path}` with `Accept-Encoding: identity`
//!   and no automatic redirects. Relative redirects (a renamed repo) are followed on the same host;
//!   an absolute one (to the CDN) ends the walk, and the file is then downloaded from `Location`.
//!   The answer carries `X-Repo-Commit`, `X-Linked-Etag` (else `ETag`) and `X-Linked-Size` (else
//!   `Content-Length`). The token goes only to the endpoint's host (see `Credential`).
//! - List a repo: `GET /api/models/{repo}/revision/{rev}?blobs=true` → `sha` and `siblings[]` with
//!   `rfilename`, `size`, `blobId` and `lfs.sha256`. Names that are absolute or hold `..` are refused.

use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_LENGTH, ETAG, LOCATION};
use reqwest::Url;
use serde::Deserialize;

use super::progress::Progress;
use super::source::{self, safe_relative};
use super::transfer::{status_failure, Credential, Http};
use super::FetchError;

/// Where the hub is, and who we are there.
#[derive(Debug, Clone)]
pub struct Hub {
    pub endpoint: Url,
    pub credential: Option<Credential>,
}

impl Hub {
    pub fn new(endpoint: &str, token: Option<String>) -> Result<Hub, FetchError> {
        let endpoint = Url::parse(endpoint.trim_end_matches('/'))
            .map_err(|e| FetchError::Protocol { url: endpoint.to_string(), why: format!("not a URL: {e}") })?;
        let credential = token.filter(|t| !t.is_empty()).map(|token| Credential { token, origin: endpoint.origin() });
        Ok(Hub { endpoint, credential })
    }

    fn url(&self, tail: &str) -> Result<Url, FetchError> {
        let base = self.endpoint.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{tail}"))
            .map_err(|e| FetchError::Protocol { url: tail.to_string(), why: e.to_string() })
    }
}

/// What a resolve said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub commit: String,
    pub etag: String,
    pub size: Option<u64>,
    /// Where to GET the bytes (the CDN for LFS files).
    pub download: Url,
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `"abc"` and `W/"abc"` → `abc`.
pub fn normalize_etag(raw: &str) -> String {
    raw.trim().trim_start_matches("W/").trim_matches('"').to_string()
}

const MAX_RELATIVE_REDIRECTS: usize = 5;

pub async fn resolve(
    http: &Http,
    hub: &Hub,
    repo: &str,
    rev: &str,
    path: &str,
    progress: &dyn Progress,
) -> Result<Resolved, FetchError> {
    let start = hub.url(&format!("{repo}/resolve/{rev}/{path}"))?;
    source::check_scheme(&start, http.allow_http)?;
    http.with_retries(path, &start, progress, || async {
        let mut url = start.clone();
        for _ in 0..=MAX_RELATIVE_REDIRECTS {
            let resp = send(http, hub, http.client.head(url.clone()).header(ACCEPT_ENCODING, "identity"), &url).await?;
            let status = resp.status();
            let mut download = url.clone();
            if status.is_redirection() {
                let loc = header(&resp, LOCATION.as_str())
                    .ok_or_else(|| (false, None, protocol(&url, "redirect without Location")))?;
                let relative = Url::parse(&loc).is_err();
                let next = url.join(&loc).map_err(|e| (false, None, protocol(&url, &e.to_string())))?;
                if relative {
                    url = next;
                    continue;
                }
                download = next;
            } else if !status.is_success() {
                status_failure(&url, &resp)?;
            }
            let commit = header(&resp, "x-repo-commit")
                .ok_or_else(|| (false, None, protocol(&url, "no X-Repo-Commit header")))?;
            let etag = header(&resp, "x-linked-etag")
                .or_else(|| header(&resp, ETAG.as_str()))
                .map(|e| normalize_etag(&e))
                .ok_or_else(|| (false, None, protocol(&url, "no ETag header")))?;
            let size = header(&resp, "x-linked-size")
                .or_else(|| header(&resp, CONTENT_LENGTH.as_str()))
                .and_then(|s| s.parse().ok());
            return Ok(Resolved { commit, etag, size, download });
        }
        Err((false, None, protocol(&start, "too many redirects")))
    })
    .await
}

/// Send a request to the hub (its token only to its own origin); failing to is transient.
async fn send(
    http: &Http,
    hub: &Hub,
    req: reqwest::RequestBuilder,
    url: &Url,
) -> Result<reqwest::Response, (bool, Option<Duration>, FetchError)> {
    http.send(req, url, hub.credential.as_ref()).await.map_err(|why| (true, None, protocol(url, &why)))
}

fn protocol(url: &Url, why: &str) -> FetchError {
    FetchError::Protocol { url: url.to_string(), why: why.to_string() }
}

#[derive(Debug, Clone, Deserialize)]
struct ListingDoc {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Debug, Clone, Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "blobId")]
    blob_id: Option<String>,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Debug, Clone, Deserialize)]
struct Lfs {
    sha256: String,
    size: u64,
}

/// One file of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub size: Option<u64>,
    /// The etag the hub uses for it: the LFS sha256, else the git blob id.
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub commit: String,
    pub files: Vec<Listed>,
}

pub async fn list(
    http: &Http,
    hub: &Hub,
    repo: &str,
    rev: &str,
    progress: &dyn Progress,
) -> Result<Listing, FetchError> {
    let url = hub.url(&format!("api/models/{repo}/revision/{rev}?blobs=true"))?;
    source::check_scheme(&url, http.allow_http)?;
    let doc: ListingDoc = http
        .with_retries(repo, &url, progress, || async {
            let resp = send(http, hub, http.client.get(url.clone()), &url).await?;
            if !resp.status().is_success() {
                status_failure(&url, &resp)?;
            }
            let body = tokio::time::timeout(Duration::from_secs(120), resp.bytes())
                .await
                .map_err(|_| (true, None, protocol(&url, "listing timed out")))?
                .map_err(|e| (true, None, protocol(&url, &e.to_string())))?;
            serde_json::from_slice(&body).map_err(|e| (false, None, protocol(&url, &format!("bad listing: {e}"))))
        })
        .await?;
    let mut files = Vec::with_capacity(doc.siblings.len());
    for s in doc.siblings {
        if !safe_relative(&s.rfilename) {
            return Err(FetchError::UnsafeName { repo: repo.to_string(), name: s.rfilename });
        }
        let (etag, size) = match s.lfs {
            Some(l) => (Some(l.sha256), Some(l.size)),
            None => (s.blob_id, s.size),
        };
        files.push(Listed { name: s.rfilename, size, etag });
    }
    Ok(Listing { commit: doc.sha, files })
}
