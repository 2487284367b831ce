//! Everything a [`ModelStore`](super::ModelStore) needs, resolved once from the environment.
//!
//! | setting | variable | default |
//! |---|---|---|
//! | hub cache | `HF_HUB_CACHE`, `HF_HOME/hub` | `~/.cache/huggingface/hub` |
//! | endpoints | `HF_ENDPOINT`, then the `http(s)://` entries of `WHARF_MIRRORS` (comma-separated) | `https://huggingface.co` |
//! | team stores | the `s3://BUCKET[/PREFIX]` entries of `WHARF_MIRRORS`, asked first | none |
//! | their credentials | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL` | AWS, `us-east-1` |
//! | offline | `--offline`, `WHARF_OFFLINE`, `HF_HUB_OFFLINE` | off |
//! | retries | `WHARF_MAX_RETRIES`, `WHARF_RETRY_BASE_MS` | 3, 500 ms |
//! | stall | `WHARF_STALL_TIMEOUT`, `WHARF_LOW_SPEED` | 30 s, 1024 B/s |
//! | the primary hub's first byte | `HF_HUB_ETAG_TIMEOUT` (a `HEAD`, a listing), `HF_HUB_DOWNLOAD_TIMEOUT` (a download's `GET`) | the stall timeout |
//! | a mirror's first byte | `WHARF_MIRROR_TTFB` (every request), else the primary's limit when longer | [`DEFAULT_MIRROR_TTFB`] (300 s) |
//! | connections per large file | `WHARF_CONNECTIONS` | adaptive: 1, growing to 16 while they pay |
//!
//! **First byte.** How long a hub may take to answer a request (until its response headers
//! arrive) before the attempt fails (transiently: it is retried, then the next mirror is asked).
//! huggingface_hub talks to one endpoint and has two timeouts for it; wharf honours them for that
//! endpoint, the primary (`HF_ENDPOINT`), and without them keeps the stall timeout there. The
//! mirrors of `WHARF_MIRRORS` are wharf's own: an HF-protocol mirror (Artifactory, Nexus, Olah)
//! answers a cold miss only once it has fetched the whole file from upstream, so its first byte
//! may come after minutes. `WHARF_MIRROR_TTFB` wins for them; unset, a mirror waits
//! [`DEFAULT_MIRROR_TTFB`] or the primary's limit, whichever is longer (a mirror is never given
//! less time than the hub it stands in for). huggingface_hub's `0` means its default, so `0`
//! counts as unset here too. Once the answer came, its body is the stall rule's whatever the
//! first-byte limit: a body that stops for `WHARF_STALL_TIMEOUT` is stalled, from a mirror too.
//! (huggingface_hub's download timeout is a read timeout that also bounds gaps in a body; wharf
//! leaves those to the stall rule and its low-speed floor.)

use std::path::PathBuf;
use std::time::Duration;

use crate::env::{self, limits, vars, Env, EnvError, Layout, DEFAULT_HF_ENDPOINT};
use crate::ids::BucketUrl;
use crate::remote::hf::FirstByteLimits;
use crate::remote::s3::S3Credentials;
use crate::transfer::http::FirstByte;
use crate::transfer::retry::RetryPolicy;

/// How long a mirror may take to answer when `WHARF_MIRROR_TTFB` is unset: five minutes, the time
/// a mirror needs to fetch a shard of several GB from upstream on a cold miss.
pub const DEFAULT_MIRROR_TTFB: Duration = Duration::from_secs(300);

/// Everything a store needs, resolved by the caller from the environment (see [`StoreConfig::from_env`]).
#[derive(Clone)]
pub struct StoreConfig {
    /// The Hugging Face cache (shared with huggingface_hub).
    pub hub_cache: PathBuf,
    /// wharf's own store (URL and file sources, the index).
    pub wharf_cache: PathBuf,
    /// The primary hub endpoint, then mirrors (tried in order when the previous one fails).
    pub endpoints: Vec<String>,
    /// The hub token, sent only to the hub's origin.
    pub token: Option<String>,
    /// The team stores (S3 buckets), asked before the origin for files of known digest.
    pub teams: Vec<BucketUrl>,
    /// Their credentials and endpoint.
    pub s3: S3Credentials,
    /// Serve only what is in the store.
    pub offline: bool,
    /// Accept plain `http://` URLs.
    pub allow_http: bool,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// Time without progress after which a transfer is a stall.
    pub stall: Duration,
    /// Bytes a second below which a whole `stall` window counts as a stall (0: no floor).
    pub low_speed: u64,
    /// How long the primary hub may take to answer (see the module doc).
    pub hub_first_byte: FirstByteLimits,
    /// How long each mirror may take to answer (see the module doc).
    pub mirror_first_byte: FirstByteLimits,
    /// How long to wait for another process that is downloading the same file.
    pub blob_lock_timeout: Duration,
    /// Files of a repo downloaded at once.
    pub parallel_files: usize,
    /// Connections for one large file (1: a single stream; `None`: 4, or 1 for loopback hosts).
    pub connections: Option<usize>,
}

/// Every setting but the token's value.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("hub_cache", &self.hub_cache)
            .field("wharf_cache", &self.wharf_cache)
            .field("endpoints", &self.endpoints)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("teams", &self.teams)
            .field("s3", &self.s3)
            .field("offline", &self.offline)
            .field("allow_http", &self.allow_http)
            .field("retry", &self.retry)
            .field("stall", &self.stall)
            .field("low_speed", &self.low_speed)
            .field("hub_first_byte", &self.hub_first_byte)
            .field("mirror_first_byte", &self.mirror_first_byte)
            .field("blob_lock_timeout", &self.blob_lock_timeout)
            .field("parallel_files", &self.parallel_files)
            .field("connections", &self.connections)
            .finish()
    }
}

impl StoreConfig {
    /// Whether the team stores may be reached over plain `http://`: the endpoint is a loopback
    /// host (a test server, a local gateway), or `--allow-http` was given.
    pub fn s3_allow_http(&self) -> bool {
        self.allow_http
            || self
                .s3
                .endpoint
                .as_deref()
                .and_then(|e| url::Url::parse(e).ok())
                .is_some_and(|u| crate::ids::source::is_loopback(&u))
    }

    /// The model store's configuration from the environment; `offline` and `allow_http` are the
    /// command-line flags (the variables `WHARF_OFFLINE` and `HF_HUB_OFFLINE` also turn offline on).
    pub fn from_env(env: &Env, layout: &Layout, offline: bool, allow_http: bool) -> Result<StoreConfig, EnvError> {
        let hub_cache = match (env.abs_var(vars::HF_HUB_CACHE)?, env.abs_var(vars::HF_HOME)?) {
            (Some(p), _) => p,
            (None, Some(h)) => h.join("hub"),
            (None, None) => {
                env.abs_var(vars::XDG_CACHE_HOME)?.unwrap_or_else(|| env.home().join(".cache")).join("huggingface/hub")
            }
        };
        let mut endpoints =
            vec![env::http_url(vars::HF_ENDPOINT, env.var(vars::HF_ENDPOINT).unwrap_or(DEFAULT_HF_ENDPOINT))?];
        let mut teams = Vec::new();
        for m in env.var(vars::WHARF_MIRRORS).unwrap_or("").split(',').map(str::trim).filter(|m| !m.is_empty()) {
            if m.starts_with("s3://") {
                let team = m.parse::<BucketUrl>().map_err(|e| EnvError::BadUrl {
                    var: vars::WHARF_MIRRORS,
                    value: m.to_string(),
                    why: e.why.to_string(),
                })?;
                teams.push(team);
            } else {
                endpoints.push(env::http_url(vars::WHARF_MIRRORS, m)?);
            }
        }
        let endpoint = match env.var(vars::AWS_ENDPOINT_URL).filter(|v| !v.is_empty()) {
            Some(v) => Some(env::http_url(vars::AWS_ENDPOINT_URL, v)?),
            None => None,
        };
        let owned = |v: &str| env.var(v).filter(|v| !v.is_empty()).map(str::to_owned);
        let s3 = S3Credentials {
            key_id: owned(vars::AWS_ACCESS_KEY_ID),
            secret: owned(vars::AWS_SECRET_ACCESS_KEY),
            token: owned(vars::AWS_SESSION_TOKEN),
            region: owned(vars::AWS_REGION).or_else(|| owned(vars::AWS_DEFAULT_REGION)),
            endpoint,
        };
        let stall = Duration::from_secs_f64(env::number(env, &limits::STALL_TIMEOUT)?.unwrap_or(30.0));
        let (hub_first_byte, mirror_first_byte) = first_byte_limits(env, stall)?;
        Ok(StoreConfig {
            hub_cache,
            wharf_cache: layout.cache_dir.clone(),
            endpoints,
            token: env.var(vars::HF_TOKEN).map(str::to_owned),
            teams,
            s3,
            // HF_HUB_OFFLINE is read as huggingface_hub reads it (anything else is off).
            offline: offline || env::switch(env, vars::WHARF_OFFLINE)? || env::truthy(env.var(vars::HF_HUB_OFFLINE)),
            allow_http,
            retry: RetryPolicy {
                max_retries: env::number(env, &limits::MAX_RETRIES)?.map_or(3, |v| v as u32),
                base: Duration::from_millis(env::number(env, &limits::RETRY_BASE_MS)?.map_or(500, |v| v as u64)),
                max_wait: Duration::from_secs(60),
            },
            stall,
            low_speed: env::number(env, &limits::LOW_SPEED)?.map_or(1024, |v| v as u64),
            hub_first_byte,
            mirror_first_byte,
            blob_lock_timeout: Duration::from_secs(3600),
            parallel_files: 8,
            connections: env::number(env, &limits::CONNECTIONS)?.map(|v| v as usize),
        })
    }
}

/// The first-byte limits of the primary hub and of each mirror, by the precedence of the module
/// doc. Each names the variable that raises it, for the message of a request that hits it.
fn first_byte_limits(env: &Env, stall: Duration) -> Result<(FirstByteLimits, FirstByteLimits), EnvError> {
    // huggingface_hub reads these as `int(value) or DEFAULT`: `0` is its default, i.e. unset.
    let hf_hub = |l: &limits::Limit| -> Result<FirstByte, EnvError> {
        let within = env::number(env, l)?.filter(|v| *v > 0.0).map_or(stall, Duration::from_secs_f64);
        Ok(FirstByte { within, set_by: l.var })
    };
    let hub = FirstByteLimits {
        metadata: hf_hub(&limits::HF_HUB_ETAG_TIMEOUT)?,
        download: hf_hub(&limits::HF_HUB_DOWNLOAD_TIMEOUT)?,
    };
    // Unset, a mirror gets at least as long as the primary it stands in for.
    let wanted = env::number(env, &limits::MIRROR_TTFB)?.map(Duration::from_secs_f64);
    let mirror = |hub: FirstByte| FirstByte {
        within: wanted.unwrap_or(DEFAULT_MIRROR_TTFB.max(hub.within)),
        set_by: vars::WHARF_MIRROR_TTFB,
    };
    Ok((hub, FirstByteLimits { metadata: mirror(hub.metadata), download: mirror(hub.download) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new("/home/u", pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn numbers_out_of_range_are_refused_naming_the_variable_and_the_range() {
        for var in [
            "WHARF_LOCK_TIMEOUT",
            "WHARF_STALL_TIMEOUT",
            "WHARF_MAX_RETRIES",
            "WHARF_RETRY_BASE_MS",
            "WHARF_CONNECTIONS",
            "WHARF_LOW_SPEED",
            "WHARF_MIRROR_TTFB",
            "HF_HUB_ETAG_TIMEOUT",
            "HF_HUB_DOWNLOAD_TIMEOUT",
        ] {
            for bad in ["1e300", "-1", "NaN", "abc", "inf"] {
                let e = env(&[(var, bad)]);
                let err = Layout::from_env(&e)
                    .and_then(|l| StoreConfig::from_env(&e, &l, false, false).map(|_| ()))
                    .expect_err(&format!("{var}={bad}"))
                    .to_string();
                assert!(err.contains(var) && err.contains(bad) && err.contains(" to "), "{err}");
            }
        }
        let e = env(&[("WHARF_MAX_RETRIES", "2.5")]);
        assert!(StoreConfig::from_env(&e, &Layout::from_env(&e).unwrap(), false, false).is_err());
        let e = env(&[("WHARF_OFFLINE", "maybe")]);
        assert!(StoreConfig::from_env(&e, &Layout::from_env(&e).unwrap(), false, false).is_err());
        let e = env(&[("WHARF_MIRRORS", "http://127.0.0.1:1,abc")]);
        assert!(StoreConfig::from_env(&e, &Layout::from_env(&e).unwrap(), false, false)
            .unwrap_err()
            .to_string()
            .contains("WHARF_MIRRORS"));
    }

    #[test]
    fn first_byte_limits_follow_their_precedence() {
        let limits = |pairs: &[(&str, &str)]| {
            let e = env(pairs);
            let cfg = StoreConfig::from_env(&e, &Layout::from_env(&e).unwrap(), false, false).unwrap();
            let secs = |f: FirstByte| (f.within.as_secs_f64(), f.set_by);
            let (h, m) = (cfg.hub_first_byte, cfg.mirror_first_byte);
            [secs(h.metadata), secs(h.download), secs(m.metadata), secs(m.download)]
        };
        let (etag, dl, mirror) = ("HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT", "WHARF_MIRROR_TTFB");
        // Nothing set: the primary keeps the stall timeout, a mirror gets the generous default.
        assert_eq!(limits(&[]), [(30.0, etag), (30.0, dl), (300.0, mirror), (300.0, mirror)]);
        assert_eq!(limits(&[("WHARF_STALL_TIMEOUT", "2")]), [(2.0, etag), (2.0, dl), (300.0, mirror), (300.0, mirror)]);
        // huggingface_hub's variables are the primary's; a mirror never waits less than it.
        assert_eq!(
            limits(&[(etag, "7"), (dl, "900"), ("WHARF_STALL_TIMEOUT", "2")]),
            [(7.0, etag), (900.0, dl), (300.0, mirror), (900.0, mirror)]
        );
        // `0` is huggingface_hub's "the default": unset.
        assert_eq!(limits(&[(etag, "0"), (dl, "0")]), limits(&[]));
        // WHARF_MIRROR_TTFB wins for mirrors, shorter or longer, and leaves the primary alone.
        assert_eq!(
            limits(&[(mirror, "1.5"), (etag, "7"), (dl, "900")]),
            [(7.0, etag), (900.0, dl), (1.5, mirror), (1.5, mirror)]
        );
        assert_eq!(limits(&[(mirror, "3600")]), [(30.0, etag), (30.0, dl), (3600.0, mirror), (3600.0, mirror)]);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let e = env(&[("HF_TOKEN", "hf_s3cret"), ("HF_ENDPOINT", "http://127.0.0.1:9")]);
        let cfg = StoreConfig::from_env(&e, &Layout::from_env(&e).unwrap(), false, false).unwrap();
        assert_eq!(cfg.token.as_deref(), Some("hf_s3cret"));
        for shown in [format!("{cfg:?}"), format!("{e:?}")] {
            assert!(!shown.contains("hf_s3cret"), "{shown}");
            assert!(shown.contains("redacted") || shown.contains("HF_TOKEN"), "{shown}");
        }
        let url = reqwest::Url::parse("https://hub.example/x").unwrap();
        let c = crate::transfer::http::Credential { token: "hf_s3cret".into(), origin: url.origin() };
        assert!(!format!("{c:?}").contains("hf_s3cret"));
    }
}
