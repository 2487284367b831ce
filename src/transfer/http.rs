//! The HTTP side shared by every request of a pull: one client, the token bound to one origin,
//! redirects followed by our rules, stall and low-speed detection, `Content-Range` parsing, and
//! which answers are worth another try ([`status_failure`]; the loop itself is in `retry.rs`).
//!
//! Invariants:
//! - The client never follows redirects by itself: [`Http::get_following`] follows at most
//!   [`MAX_REDIRECTS`], each hop checked by [`source::check_redirect`] (https or loopback http
//!   only, never https → http), and the token goes only to its own origin on every hop.
//! - A server that sends no answer (its response headers: the first byte) within
//!   [`FirstByte::within`] has failed this attempt (transient). That limit is the request's own: a
//!   hub mirror that fetches a cold file from upstream before it answers may take minutes
//!   ([`Http::with_first_byte`]). Once the answer came, the body is the stall rule's, whatever the
//!   first-byte limit was.
//! - A body that sends no byte for `stall`, or fewer than `low_speed` bytes a second over a whole
//!   `stall` window (curl's `--speed-limit`/`--speed-time`), is stalled: a transient failure.
//! - A `206` is used only when its `Content-Range` is exactly the range asked ([`ContentRange`]).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, LOCATION, RETRY_AFTER};
use reqwest::{Response, Url};

use super::retry::{self, Failure, RetryPolicy};
use super::FetchError;
use crate::env::vars;
use crate::ids::source;

/// Redirect hops followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// How long a server may take to answer a request (until its response headers, the first byte,
/// arrive), and the variable that sets the limit: the message of a request that hit it names the
/// variable, so the fix is in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstByte {
    /// The limit.
    pub within: Duration,
    /// The variable that raises it (e.g. `WHARF_MIRROR_TTFB`).
    pub set_by: &'static str,
}

/// Shared by every transfer of a pull.
#[derive(Debug, Clone)]
pub struct Http {
    /// The client (it never follows redirects by itself).
    pub client: reqwest::Client,
    /// How transient failures are retried.
    pub policy: RetryPolicy,
    /// No answer to a request within this is a transient failure. [`Http::new`] sets the stall
    /// time; a hub's requests use the hub's own limits ([`Http::with_first_byte`]).
    pub first_byte: FirstByte,
    /// No byte of a body for this long counts as a transient failure; also the low-speed window.
    pub stall: Duration,
    /// Fewer bytes a second than this over a whole `stall` window is a stall (0: no limit).
    pub low_speed: u64,
    /// Accept plain `http://` to hosts that are not loopback.
    pub allow_http: bool,
    /// Connections for one large file, forced (1: a single stream); `None`: as many as make it
    /// faster (see `split.rs`).
    pub connections: Option<usize>,
}

/// A bearer token and the one origin (scheme, host, port) it may be sent to. Its `Debug` never
/// shows the token.
#[derive(Clone)]
pub struct Credential {
    /// The bearer token.
    pub token: String,
    /// The only origin it is sent to.
    pub origin: url::Origin,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("token", &"<redacted>").field("origin", &self.origin).finish()
    }
}

impl Credential {
    /// The `Authorization` value for `url`, only if it goes to the credential's origin: a redirect
    /// to a CDN on another host (or another port) never carries the token.
    pub fn for_url(&self, url: &Url) -> Option<String> {
        (url.origin() == self.origin).then(|| format!("Bearer {}", self.token))
    }
}

/// Who a refused request went to, for the hint of an error: the hint names `HF_TOKEN` only for the
/// hub (whose origin the token is bound to), and says the token was refused when one was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// The Hugging Face endpoint; `token`: `HF_TOKEN` went with the request.
    Hub {
        /// Whether the token was sent.
        token: bool,
    },
    /// Any other server (a plain URL source, a CDN a redirect led to).
    Other,
}

impl Asked {
    /// A request to `url` with `credential` bound to the hub's origin: the hub when `url` is on it.
    pub fn of(url: &Url, credential: Option<&Credential>) -> Asked {
        match credential {
            Some(c) if c.for_url(url).is_some() => Asked::Hub { token: true },
            _ => Asked::Other,
        }
    }
}

/// Classify a response that is not the one we wanted.
pub fn status_failure(url: &Url, resp: &Response, asked: Asked) -> Failure {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, chrono::Utc::now()));
    let url = url.to_string();
    let err = match (status, asked) {
        (404, Asked::Hub { .. }) => FetchError::NotFound {
            url,
            hint: "check the repo, the revision and the file name; a private repo also needs `HF_TOKEN`",
        },
        (404, Asked::Other) => FetchError::NotFound { url, hint: "check the URL; the server has no file there" },
        (401 | 403, Asked::Hub { token: true }) => FetchError::Http {
            url,
            status,
            hint: "\n  hint: the hub refused the token in `HF_TOKEN`: check that it is valid and may read this repo \
                   (a gated repo must be accepted on its page first)",
        },
        (401 | 403, Asked::Hub { token: false }) => FetchError::Http {
            url,
            status,
            hint: "\n  hint: access refused; a gated or private Hugging Face repo needs `HF_TOKEN` set to a token that may read it",
        },
        (401 | 403, Asked::Other) => FetchError::Http {
            url,
            status,
            hint: "\n  hint: the server refused access; wharf sends no credentials to this host, so use a URL that needs none \
                   (e.g. a pre-signed one)",
        },
        _ => FetchError::Http { url, status, hint: "" },
    };
    if retry::transient_status(status) {
        Failure::Transient { why: err.to_string(), retry_after }
    } else {
        Failure::Final(err)
    }
}

/// An error and every cause under it, joined: reqwest's own text ("error sending request for url")
/// says nothing of why; the cause chain holds "Connection refused", the DNS or the TLS failure.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    without_signed_query(&text)
}

/// `text` with the query of every URL signed for one object (S3's `X-Amz-…` parameters, which
/// are a credential) cut to `?…`: reqwest names the URL of a failed request.
pub fn without_signed_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('?') {
        let (head, tail) = rest.split_at(q);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == ')' || c == '`').unwrap_or(tail.len());
        if tail[..end].contains("X-Amz-") {
            out.push_str("?…");
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `Content-Range: bytes START-END/TOTAL` (`TOTAL` may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// The first byte.
    pub start: u64,
    /// The last byte (inclusive).
    pub end: u64,
    /// The whole file's size, unless the server sent `*`.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parse the header value; `None` for anything malformed or inconsistent (end before start,
    /// end at or past the total).
    pub fn parse(v: &str) -> Option<ContentRange> {
        let (span, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        let num = |s: &str| -> Option<u64> {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
        };
        let (start, end) = (num(a)?, num(b)?);
        let total = if total.trim() == "*" { None } else { Some(num(total)?) };
        (start <= end && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
    }

    /// The `Content-Range` of `resp`, if it has a valid one.
    pub fn of(resp: &Response) -> Option<ContentRange> {
        ContentRange::parse(resp.headers().get(CONTENT_RANGE)?.to_str().ok()?)
    }

    /// Bytes in the range (never zero: `end` is inclusive and not before `start`).
    pub fn bytes(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Bytes received in the current low-speed window.
#[derive(Debug)]
pub struct Pace {
    since: Instant,
    bytes: u64,
}

impl Pace {
    /// A window starting now.
    pub fn start() -> Pace {
        Pace { since: Instant::now(), bytes: 0 }
    }
}

impl Http {
    /// The client and its rules (see the fields); an answer is waited for as long as a byte of a
    /// body (`stall`), until [`Http::with_first_byte`] says otherwise.
    pub fn new(
        policy: RetryPolicy,
        stall: Duration,
        low_speed: u64,
        allow_http: bool,
        connections: Option<usize>,
    ) -> Result<Http, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Protocol {
                url: String::new(),
                why: format!("cannot start the HTTP client: {e}"),
            })?;
        let first_byte = FirstByte { within: stall, set_by: vars::WHARF_STALL_TIMEOUT };
        Ok(Http { client, policy, first_byte, stall, low_speed, allow_http, connections })
    }

    /// The same client and rules, waiting `first_byte` for each answer (a clone shares the
    /// connection pool). The stall rule for bodies stays: a server slow to answer is not allowed
    /// to stop in the middle of a body for longer.
    pub fn with_first_byte(&self, first_byte: FirstByte) -> Http {
        Http { first_byte, ..self.clone() }
    }

    /// Send `req` to `url`, with the credential's token only if `url` is its origin. A connection
    /// error, or no answer within [`Http::first_byte`], is transient: `Err` says why.
    pub async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        url: &Url,
        credential: Option<&Credential>,
    ) -> Result<Response, String> {
        if let Some(auth) = credential.and_then(|c| c.for_url(url)) {
            req = req.header(AUTHORIZATION, auth);
        }
        let FirstByte { within, set_by } = self.first_byte;
        match tokio::time::timeout(within, req.send()).await {
            Err(_) => Err(format!("no answer within {}s (`{set_by}` raises this limit)", within.as_secs_f64())),
            Ok(Err(e)) => Err(with_causes(&e)),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// GET `url` with the request `make` builds for each hop, following redirects by our rules.
    /// Returns the final answer (not a redirect).
    pub async fn get_following(
        &self,
        url: &Url,
        credential: Option<&Credential>,
        make: impl Fn(&Url) -> reqwest::RequestBuilder,
    ) -> Result<Response, Failure> {
        source::check_scheme(url, self.allow_http).map_err(|e| Failure::Final(e.into()))?;
        let mut at = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send(make(&at), &at, credential).await.map_err(Failure::transient)?;
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Failure::Final(protocol(&at, "redirect without Location")))?;
            let next =
                at.join(loc).map_err(|e| Failure::Final(protocol(&at, &format!("bad Location `{loc}`: {e}"))))?;
            source::check_redirect(&at, &next, self.allow_http).map_err(|e| refused_redirect(&at, e))?;
            at = next;
        }
        Err(Failure::Final(protocol(url, &format!("more than {MAX_REDIRECTS} redirects"))))
    }

    /// The next chunk of a body (`Ok(None)` at its end), or why it stopped: no byte for the stall
    /// time, too slow over a whole window, or a broken connection, all transient.
    pub async fn next_chunk<S>(&self, stream: &mut S, pace: &mut Pace) -> Result<Option<bytes::Bytes>, String>
    where
        S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
    {
        let chunk = match tokio::time::timeout(self.stall, stream.next()).await {
            Err(_) => return Err(format!("stalled: no byte for {}s", self.stall.as_secs_f64())),
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => return Err(format!("connection broken: {}", with_causes(&e))),
            Ok(Some(Ok(chunk))) => chunk,
        };
        pace.bytes += chunk.len() as u64;
        let window = pace.since.elapsed();
        if window >= self.stall {
            let floor = (self.low_speed as f64 * window.as_secs_f64()) as u64;
            if pace.bytes < floor {
                return Err(format!(
                    "stalled: {} bytes in {:.0}s, under the low-speed limit of {} bytes/s (`WHARF_LOW_SPEED`)",
                    pace.bytes,
                    window.as_secs_f64(),
                    self.low_speed
                ));
            }
            *pace = Pace::start();
        }
        Ok(Some(chunk))
    }
}

/// A redirect the server asked for and we will not follow: final, and the server's fault (not a
/// usage error).
pub fn refused_redirect(from: &Url, e: source::SourceError) -> Failure {
    Failure::Final(protocol(from, &format!("refused redirect: {e}")))
}

/// A [`FetchError::Protocol`] naming `url`.
pub fn protocol(url: &Url, why: &str) -> FetchError {
    FetchError::Protocol { url: url.to_string(), why: why.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_queries_are_cut_from_messages() {
        let t = "error sending request for url (http://127.0.0.1:9/team/blobs/sha256/ab?X-Amz-Algorithm=AWS4&X-Amz-Signature=f00): refused; see http://x/y?a=1";
        let got = without_signed_query(t);
        assert_eq!(
            got,
            "error sending request for url (http://127.0.0.1:9/team/blobs/sha256/ab?…): refused; see http://x/y?a=1"
        );
    }
    use proptest::prelude::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            ContentRange::parse("bytes 100-179/180"),
            Some(ContentRange { start: 100, end: 179, total: Some(180) })
        );
        assert_eq!(ContentRange::parse("bytes 0-9/*"), Some(ContentRange { start: 0, end: 9, total: None }));
        for bad in [
            "bytes 100-229/180",
            "bytes 9-1/20",
            "bytes -1/2",
            "bytes 1-2",
            "items 0-1/2",
            "bytes +1-2/3",
            "bytes 0-1/18446744073709551616",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn content_range_round_trips_and_never_panics(start in 0u64..1 << 40, len in 1u64..1 << 30, extra in 0u64..1 << 20, junk in "\\PC{0,30}") {
            let (end, total) = (start + len - 1, start + len + extra);
            prop_assert_eq!(
                ContentRange::parse(&format!("bytes {start}-{end}/{total}")),
                Some(ContentRange { start, end, total: Some(total) })
            );
            if let Some(r) = ContentRange::parse(&junk) {
                prop_assert!(r.start <= r.end && r.total.is_none_or(|t| r.end < t));
            }
        }
    }
}
