//! The Hugging Face hub protocol, as `huggingface_hub` speaks it.
//!
//! - Resolve a file: `HEAD {endpoint}/{repo}/resolve/{rev}/{path}` with `Accept-Encoding: identity`
//!   and no automatic redirects. Relative redirects (a renamed repo) are followed on the same host;
//!   an absolute one (to the CDN) ends the walk, and the file is then downloaded from `Location`.
//!   The answer carries `X-Repo-Commit`, `X-Linked-Etag` (else `ETag`) and `X-Linked-Size` (else
//!   `Content-Length`). The token goes only to the endpoint's host (see `Credential`).
//! - List a repo: `GET /api/models/{repo}/revision/{rev}?blobs=true` → `sha` and `siblings[]` with
//!   `rfilename`, `size`, `blobId` and `lfs.sha256`.
//!
//! Everything a hub says is untrusted: the commit, etags, file names and sizes are parsed into
//! boundary types ([`CommitId`], [`Etag`], [`RepoPath`]) here, and a value that does not parse is a
//! final error naming the server's URL, the header or field, and the value. A listing body is read
//! up to [`MAX_LISTING`] bytes; a redirect to any scheme but https (or http to loopback) is refused.
//!
//! Each hub has its own [`FirstByteLimits`]: how long it may take to answer a metadata request
//! (the `HEAD`, a listing) and a download's `GET`. A mirror that answers a cold miss only once it
//! has the whole file from upstream is given longer than the primary (see `store/config.rs`); the
//! body that follows is held to the stall rule like any other ([`Http`]).

use reqwest::header::{ACCEPT_ENCODING, CONTENT_LENGTH, ETAG, LOCATION};
use reqwest::Url;
use serde::Deserialize;

use super::mirrors::Mirrors;
use crate::ids::source;
use crate::ids::{CommitId, Etag, HfFile, IdError, RepoPath, RepoRef};
use crate::transfer::http::{protocol, refused_redirect, status_failure, Asked, Credential, FirstByte, Http};
use crate::transfer::progress::Progress;
use crate::transfer::retry::Failure;
use crate::transfer::FetchError;

/// How long a hub may take to answer each kind of request (until the first byte; see
/// [`FirstByte`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstByteLimits {
    /// A `HEAD` that resolves a file, or a listing (huggingface_hub's "etag timeout").
    pub metadata: FirstByte,
    /// The `GET` of a file's bytes: every redirect hop and every range of it.
    pub download: FirstByte,
}

/// Where the hub is, who we are there, and how long it may take to answer.
#[derive(Debug, Clone)]
pub struct Hub {
    /// The hub's base URL (`https://huggingface.co`, a mirror).
    pub endpoint: Url,
    /// The token, bound to the endpoint's origin.
    pub credential: Option<Credential>,
    /// How long it may take to answer.
    pub first_byte: FirstByteLimits,
}

impl Hub {
    /// The hub at `endpoint` (a URL), with `token` for its origin only.
    pub fn new(endpoint: &str, token: Option<String>, first_byte: FirstByteLimits) -> Result<Hub, FetchError> {
        let endpoint = Url::parse(endpoint.trim_end_matches('/'))
            .map_err(|e| FetchError::Protocol { url: endpoint.to_string(), why: format!("not a URL: {e}") })?;
        let credential = token.filter(|t| !t.is_empty()).map(|token| Credential { token, origin: endpoint.origin() });
        Ok(Hub { endpoint, credential, first_byte })
    }

    /// The primary hub then its mirrors, in order (`HF_ENDPOINT`, then `WHARF_MIRRORS`). The token
    /// is for the primary only: a mirror gets none. The primary answers within `primary`, each
    /// mirror within `mirror`.
    pub fn mirrors(
        endpoints: &[String],
        token: Option<String>,
        primary: FirstByteLimits,
        mirror: FirstByteLimits,
    ) -> Result<Mirrors<Hub>, FetchError> {
        let hubs = endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| if i == 0 { Hub::new(e, token.clone(), primary) } else { Hub::new(e, None, mirror) })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mirrors::new(hubs))
    }

    /// `http`, waiting for this hub's answer to a download as long as the hub may take.
    pub fn for_download(&self, http: &Http) -> Http {
        http.with_first_byte(self.first_byte.download)
    }

    /// The endpoint with these path segments appended, each percent-encoded on its own: a `/`,
    /// `?`, `#` or `%` inside a name stays in its segment (a revision `refs/pr/1` is one segment).
    fn url(&self, segments: &[&str], query: Option<&str>) -> Result<Url, FetchError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| protocol(&self.endpoint, "the endpoint cannot have a path"))?
            .pop_if_empty()
            .extend(segments);
        url.set_query(query);
        Ok(url)
    }
}

impl Hub {
    /// Where the bytes of `file` are at `rev`: `{endpoint}/{repo}/resolve/{rev}/{path}`.
    pub fn resolve_url(&self, file: &HfFile, rev: &str) -> Result<Url, FetchError> {
        let (org, name) = file.repo.parts();
        let mut segments = vec![org, name, "resolve", rev];
        segments.extend(file.path.split('/'));
        self.url(&segments, None)
    }
}

/// What a hub says about one file when asked to resolve it: which commit, which blob, how large,
/// and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The commit the revision asked for is at.
    pub commit: CommitId,
    /// The file's blob (its name in the hub cache, and what the bytes must hash to).
    pub etag: Etag,
    /// The file's size, which bounds what is read.
    pub size: Option<u64>,
    /// Where to GET the bytes (the CDN for LFS files).
    pub download: Url,
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A value from `url` that does not parse: final, and it names the server, the field and the value.
fn untrusted(url: &Url, field: &'static str, e: IdError) -> FetchError {
    FetchError::Untrusted { url: url.to_string(), field, source: e }
}

/// The largest listing body read; a repo with tens of thousands of files lists in a few MiB.
pub const MAX_LISTING: usize = 64 << 20;

const MAX_RELATIVE_REDIRECTS: usize = 5;

/// Ask `hub` what `file` is (see the module doc), retrying what is transient; each answer is
/// waited for as long as the hub's metadata limit.
pub async fn resolve(http: &Http, hub: &Hub, file: &HfFile, progress: &dyn Progress) -> Result<FileMeta, FetchError> {
    let http = &http.with_first_byte(hub.first_byte.metadata);
    let start = hub.resolve_url(file, file.revision.as_str())?;
    source::check_scheme(&start, http.allow_http)?;
    http.policy
        .run(&file.path, &start, progress, |_| async {
            let mut url = start.clone();
            for _ in 0..=MAX_RELATIVE_REDIRECTS {
                let resp =
                    send(http, hub, http.client.head(url.clone()).header(ACCEPT_ENCODING, "identity"), &url).await?;
                let status = resp.status();
                let mut download = url.clone();
                if status.is_redirection() {
                    let loc = header(&resp, LOCATION.as_str())
                        .ok_or_else(|| Failure::Final(protocol(&url, "redirect without Location")))?;
                    let relative = Url::parse(&loc).is_err();
                    let next = url.join(&loc).map_err(|e| Failure::Final(protocol(&url, &e.to_string())))?;
                    source::check_redirect(&url, &next, http.allow_http).map_err(|e| refused_redirect(&url, e))?;
                    if relative {
                        url = next;
                        continue;
                    }
                    download = next;
                } else if !status.is_success() {
                    return Err(status_failure(&url, &resp, Asked::Hub { token: hub.credential.is_some() }));
                }
                let fin = Failure::Final;
                let commit = header(&resp, "x-repo-commit")
                    .ok_or_else(|| fin(protocol(&url, "no X-Repo-Commit header")))?
                    .parse()
                    .map_err(|e| fin(untrusted(&url, "X-Repo-Commit", e)))?;
                let (field, raw) = match header(&resp, "x-linked-etag") {
                    Some(e) => ("X-Linked-Etag", e),
                    None => {
                        ("ETag", header(&resp, ETAG.as_str()).ok_or_else(|| fin(protocol(&url, "no ETag header")))?)
                    }
                };
                let etag = raw.parse().map_err(|e| fin(untrusted(&url, field, e)))?;
                // Like huggingface_hub, no size, no download: the size bounds what is read.
                let size = header(&resp, "x-linked-size")
                    .or_else(|| header(&resp, CONTENT_LENGTH.as_str()))
                    .ok_or_else(|| fin(protocol(&url, "no X-Linked-Size or Content-Length header")))?;
                let size = Some(size.trim().parse::<u64>().map_err(|_| {
                    fin(protocol(&url, &format!("the size header `{}` is not a number", size.escape_debug())))
                })?);
                return Ok(FileMeta { commit, etag, size, download });
            }
            Err(Failure::Final(protocol(&start, "too many redirects")))
        })
        .await
}

/// Send a request to the hub (its token only to its own origin); failing to is transient.
async fn send(http: &Http, hub: &Hub, req: reqwest::RequestBuilder, url: &Url) -> Result<reqwest::Response, Failure> {
    http.send(req, url, hub.credential.as_ref()).await.map_err(Failure::transient)
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
    /// The file's name inside the repo.
    pub name: RepoPath,
    /// Its size, when the hub says.
    pub size: Option<u64>,
    /// The etag the hub uses for it: the LFS sha256, else the git blob id.
    pub etag: Option<Etag>,
}

/// The files of a repo at one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFiles {
    /// The commit the revision asked for is at.
    pub commit: CommitId,
    /// Every file the hub lists.
    pub files: Vec<Listed>,
}

/// Parse a listing body that `url` sent: every name, commit and etag into its boundary type. One
/// bad value refuses the whole listing (a hub that lies about one file is not trusted for others).
pub fn parse_listing(url: &Url, body: &[u8]) -> Result<RepoFiles, FetchError> {
    let doc: ListingDoc = serde_json::from_slice(body).map_err(|e| protocol(url, &format!("bad listing: {e}")))?;
    let commit = doc.sha.parse().map_err(|e| untrusted(url, "sha", e))?;
    let mut files = Vec::with_capacity(doc.siblings.len());
    for s in doc.siblings {
        let name = s.rfilename.parse().map_err(|e| untrusted(url, "rfilename", e))?;
        let (etag, size) = match s.lfs {
            Some(l) => {
                (Some(l.sha256.parse().map(Etag::Sha256).map_err(|e| untrusted(url, "lfs.sha256", e))?), Some(l.size))
            }
            None => (
                s.blob_id.map(|b| b.parse().map(Etag::GitBlob)).transpose().map_err(|e| untrusted(url, "blobId", e))?,
                s.size,
            ),
        };
        files.push(Listed { name, size, etag });
    }
    // One path, one file: a name listed twice, or both as a file and as a folder of another
    // (`x` and `x/y`), cannot be laid out as a snapshot, and says the listing is not a repo's.
    let names: std::collections::HashSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    if names.len() != files.len() {
        return Err(protocol(url, "the listing names a file twice"));
    }
    for f in &files {
        let name = f.name.as_str();
        if let Some(dir) = name.match_indices('/').map(|(i, _)| &name[..i]).find(|d| names.contains(d)) {
            return Err(protocol(
                url,
                &format!("the listing has `{dir}` both as a file and as the folder of `{name}`"),
            ));
        }
    }
    Ok(RepoFiles { commit, files })
}

/// Ask `hub` which files the repo has at the revision, retrying what is transient; each answer is
/// waited for as long as the hub's metadata limit.
pub async fn list(http: &Http, hub: &Hub, at: &RepoRef, progress: &dyn Progress) -> Result<RepoFiles, FetchError> {
    let http = &http.with_first_byte(hub.first_byte.metadata);
    let (org, name) = at.repo.parts();
    let url = hub.url(&["api", "models", org, name, "revision", at.revision.as_str()], Some("blobs=true"))?;
    source::check_scheme(&url, http.allow_http)?;
    let body = http
        .policy
        .run(&at.repo, &url, progress, |_| async {
            let resp = send(http, hub, http.client.get(url.clone()), &url).await?;
            if !resp.status().is_success() {
                return Err(status_failure(&url, &resp, Asked::Hub { token: hub.credential.is_some() }));
            }
            read_capped(http, resp, MAX_LISTING).await.map_err(|why| match why {
                Capped::TooLarge => Failure::Final(protocol(&url, &format!("listing larger than {MAX_LISTING} bytes"))),
                Capped::Cut(why) => Failure::transient(why),
            })
        })
        .await?;
    parse_listing(&url, &body)
}

enum Capped {
    TooLarge,
    Cut(String),
}

/// A whole body, refused as soon as it passes `cap` bytes (stall-timed like any transfer).
async fn read_capped(http: &Http, resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, Capped> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(Capped::TooLarge);
    }
    let mut stream = resp.bytes_stream();
    let mut body = Vec::new();
    let mut pace = crate::transfer::http::Pace::start();
    while let Some(chunk) = http.next_chunk(&mut stream, &mut pace).await.map_err(Capped::Cut)? {
        if body.len() + chunk.len() > cap {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:1/api/models/o/r/revision/main").unwrap()
    }

    #[test]
    fn a_listing_with_a_lying_value_is_refused_naming_it() {
        let sha = "a".repeat(40);
        for (doc, field) in [
            (r#"{"sha":"../../.bashrc","siblings":[]}"#.to_string(), "sha"),
            (format!(r#"{{"sha":"{sha}","siblings":[{{"rfilename":"../../x"}}]}}"#), "rfilename"),
            (
                format!(
                    r#"{{"sha":"{sha}","siblings":[{{"rfilename":"x","lfs":{{"sha256":"../../etc/passwd","size":1}}}}]}}"#
                ),
                "lfs.sha256",
            ),
            (format!(r#"{{"sha":"{sha}","siblings":[{{"rfilename":"x","blobId":"x.incomplete"}}]}}"#), "blobId"),
        ] {
            let e = parse_listing(&url(), doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains("127.0.0.1:1"), "{field}: {e}");
        }
        for (siblings, why) in [
            (r#"{"rfilename":"a.json"},{"rfilename":"a.json"}"#, "twice"),
            (r#"{"rfilename":"x"},{"rfilename":"x/y"}"#, "both as a file and as the folder"),
            (r#"{"rfilename":"x/y/z"},{"rfilename":"x/y"}"#, "both as a file and as the folder"),
        ] {
            let doc = format!(r#"{{"sha":"{sha}","siblings":[{siblings}]}}"#);
            let e = parse_listing(&url(), doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("127.0.0.1:1"), "{siblings}: {e}");
        }
        let ok = format!(r#"{{"sha":"{sha}","siblings":[{{"rfilename":"a/b.json","size":3,"blobId":"{sha}"}}]}}"#);
        assert_eq!(parse_listing(&url(), ok.as_bytes()).unwrap().files[0].name.as_str(), "a/b.json");
    }

    proptest! {
        // Whatever JSON a hub sends, parsing never panics, and what it accepts is made of
        // boundary types only (no name that leaves a snapshot folder).
        #[test]
        fn any_listing_parses_to_safe_values_or_an_error(
            sha in "[0-9a-f]{40}|\\PC{0,45}",
            names in proptest::collection::vec("\\PC{0,20}|[a-z./]{1,12}", 0..6),
            etags in proptest::collection::vec("[0-9a-f]{40}|[0-9a-f]{64}|\\PC{0,10}", 0..6),
        ) {
            let siblings: Vec<serde_json::Value> = names.iter().zip(etags.iter().chain(std::iter::repeat(&String::new())))
                .map(|(n, e)| serde_json::json!({"rfilename": n, "blobId": e, "size": 1}))
                .collect();
            let doc = serde_json::json!({"sha": sha, "siblings": siblings}).to_string();
            if let Ok(l) = parse_listing(&url(), doc.as_bytes()) {
                for f in &l.files {
                    prop_assert!(std::path::Path::new(f.name.as_str()).components().all(|c| matches!(c, std::path::Component::Normal(_))));
                }
                prop_assert_eq!(l.commit.len(), 40);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_listing(&url(), &body);
        }
    }
}
