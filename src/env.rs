//! Where wharf keeps things, decided once from the environment.
//!
//! This is the only module that knows environment variable names. `main` snapshots the process
//! environment into an [`Env`]; everything below receives the [`Env`] or a [`Layout`] derived from it,
//! so tests can run many homes side by side in one process.
//!
//! | what         | default (Linux)                       | override          |
//! |--------------|---------------------------------------|-------------------|
//! | data root    | `$XDG_DATA_HOME/wharf` = `~/.local/share/wharf` | `WHARF_HOME` |
//! | registry     | `<data root>/registry.json` (+ `registry.lock`) |           |
//! | environments | `<data root>/envs`                     | `WHARF_ENVS_DIR`  |
//! | model store  | `~/.cache/wharf` (`$WHARF_HOME/cache` when `WHARF_HOME` is set) | `WHARF_CACHE_DIR` |

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Variable names, all in one place.
pub mod vars {
    /// The home directory; `${HOME}` in stored paths.
    pub const HOME: &str = "HOME";
    /// One folder for all of wharf's data (registry, envs, cache).
    pub const WHARF_HOME: &str = "WHARF_HOME";
    /// Where project environments are created.
    pub const WHARF_ENVS_DIR: &str = "WHARF_ENVS_DIR";
    /// wharf's own model store (URL and file sources).
    pub const WHARF_CACHE_DIR: &str = "WHARF_CACHE_DIR";
    /// Seconds to wait for the registry lock.
    pub const WHARF_LOCK_TIMEOUT: &str = "WHARF_LOCK_TIMEOUT";
    /// The XDG data root (default `~/.local/share`).
    pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
    /// The XDG cache root (default `~/.cache`).
    pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
    /// Set: no colours in the output.
    pub const NO_COLOR: &str = "NO_COLOR";
    /// Where `uv` and `python3` are looked for.
    pub const PATH: &str = "PATH";
    /// The Hugging Face hub to talk to.
    pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
    /// The token sent to the hub (only to its own origin).
    pub const HF_TOKEN: &str = "HF_TOKEN";
    /// huggingface_hub's home; the hub cache is `$HF_HOME/hub`.
    pub const HF_HOME: &str = "HF_HOME";
    /// The hub cache shared with huggingface_hub.
    pub const HF_HUB_CACHE: &str = "HF_HUB_CACHE";
    /// huggingface_hub's offline switch, honoured too.
    pub const HF_HUB_OFFLINE: &str = "HF_HUB_OFFLINE";
    /// Never touch the network.
    pub const WHARF_OFFLINE: &str = "WHARF_OFFLINE";
    /// Comma-separated hub mirrors, tried after `HF_ENDPOINT`.
    pub const WHARF_MIRRORS: &str = "WHARF_MIRRORS";
    /// The team store's access key id.
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// The team store's secret key.
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// A session token for temporary credentials.
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// The team store's region.
    pub const AWS_REGION: &str = "AWS_REGION";
    /// The region, as older AWS tools name it.
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// An S3-compatible endpoint other than AWS's.
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// Retries of a transient failure.
    pub const WHARF_MAX_RETRIES: &str = "WHARF_MAX_RETRIES";
    /// The first backoff wait, doubled each retry.
    pub const WHARF_RETRY_BASE_MS: &str = "WHARF_RETRY_BASE_MS";
    /// Seconds without progress before a transfer counts as stalled.
    pub const WHARF_STALL_TIMEOUT: &str = "WHARF_STALL_TIMEOUT";
    /// Connections for one large file.
    pub const WHARF_CONNECTIONS: &str = "WHARF_CONNECTIONS";
    /// Bytes a second below which a whole stall window counts as a stall.
    pub const WHARF_LOW_SPEED: &str = "WHARF_LOW_SPEED";
    /// Seconds a hub mirror may take to answer (time to first byte): a mirror fetches a cold file
    /// from upstream before it answers.
    pub const WHARF_MIRROR_TTFB: &str = "WHARF_MIRROR_TTFB";
    /// huggingface_hub's timeout of a metadata request (`HEAD`, listing), honoured for the primary hub.
    pub const HF_HUB_ETAG_TIMEOUT: &str = "HF_HUB_ETAG_TIMEOUT";
    /// huggingface_hub's timeout of a download, honoured for the primary hub's first byte.
    pub const HF_HUB_DOWNLOAD_TIMEOUT: &str = "HF_HUB_DOWNLOAD_TIMEOUT";
}

/// The numeric variables: name, smallest and largest value, unit, whole numbers only.
/// Anything outside (or not a number) is refused with this range in the message.
pub mod limits {
    /// A numeric variable and the values it accepts.
    pub struct Limit {
        /// The variable.
        pub var: &'static str,
        /// The smallest accepted value.
        pub min: f64,
        /// The largest accepted value.
        pub max: f64,
        /// The unit, for messages.
        pub unit: &'static str,
        /// Whole numbers only.
        pub whole: bool,
    }

    /// `WHARF_LOCK_TIMEOUT`: 0 to a day.
    pub const LOCK_TIMEOUT: Limit =
        Limit { var: super::vars::WHARF_LOCK_TIMEOUT, min: 0.0, max: 86_400.0, unit: "seconds", whole: false };
    /// `WHARF_STALL_TIMEOUT`: 0.1 s to an hour.
    pub const STALL_TIMEOUT: Limit =
        Limit { var: super::vars::WHARF_STALL_TIMEOUT, min: 0.1, max: 3_600.0, unit: "seconds", whole: false };
    /// `WHARF_LOW_SPEED`: 0 (no floor) to 1 GB/s.
    pub const LOW_SPEED: Limit =
        Limit { var: super::vars::WHARF_LOW_SPEED, min: 0.0, max: 1e9, unit: "bytes per second", whole: true };
    /// `WHARF_MAX_RETRIES`: 0 to 100.
    pub const MAX_RETRIES: Limit =
        Limit { var: super::vars::WHARF_MAX_RETRIES, min: 0.0, max: 100.0, unit: "retries", whole: true };
    /// `WHARF_RETRY_BASE_MS`: 0 to a minute.
    pub const RETRY_BASE_MS: Limit =
        Limit { var: super::vars::WHARF_RETRY_BASE_MS, min: 0.0, max: 60_000.0, unit: "milliseconds", whole: true };
    /// `WHARF_MIRROR_TTFB`: 0.1 s to a day (a cold miss of a large file behind a slow upstream).
    pub const MIRROR_TTFB: Limit =
        Limit { var: super::vars::WHARF_MIRROR_TTFB, min: 0.1, max: 86_400.0, unit: "seconds", whole: false };
    /// `HF_HUB_ETAG_TIMEOUT`: 0 to a day; 0 counts as unset, as huggingface_hub reads it
    /// (`int(value) or 10`). Fractions are accepted too (huggingface_hub wants a whole number).
    pub const HF_HUB_ETAG_TIMEOUT: Limit =
        Limit { var: super::vars::HF_HUB_ETAG_TIMEOUT, min: 0.0, max: 86_400.0, unit: "seconds", whole: false };
    /// `HF_HUB_DOWNLOAD_TIMEOUT`: as `HF_HUB_ETAG_TIMEOUT`.
    pub const HF_HUB_DOWNLOAD_TIMEOUT: Limit =
        Limit { var: super::vars::HF_HUB_DOWNLOAD_TIMEOUT, min: 0.0, max: 86_400.0, unit: "seconds", whole: false };
    /// `WHARF_CONNECTIONS`: 1 to 64.
    pub const CONNECTIONS: Limit =
        Limit { var: super::vars::WHARF_CONNECTIONS, min: 1.0, max: 64.0, unit: "connections", whole: true };
}

/// wharf's version, written into back-links.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The public Hugging Face hub.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Default time to wait for the registry lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
/// A variable of the environment that cannot be used.
pub enum EnvError {
    /// Neither `HOME` nor the system knows the home directory.
    #[error("cannot find the home directory\n  hint: set `HOME`")]
    NoHome,
    /// A path variable holds a relative path.
    #[error("`{var}` must be an absolute path, got `{value}`")]
    NotAbsolute {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A numeric variable is not a number in its range.
    #[error("`{var}` must be {what} from {min} to {max} {unit}, got `{value}`\n  hint: unset it for the default")]
    OutOfRange {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// "a number" or "a whole number".
        what: &'static str,
        /// The smallest accepted value.
        min: f64,
        /// The largest accepted value.
        max: f64,
        /// The unit.
        unit: &'static str,
    },
    /// An on/off variable holds something else.
    #[error("`{var}` must be one of 1, true, yes, on, 0, false, no, off; got `{value}`")]
    BadSwitch {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A URL variable is not an http(s) URL.
    #[error("`{var}` holds `{value}`, which is not an http(s) URL: {why}")]
    BadUrl {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A snapshot of the environment: the home directory and the variables wharf reads.
#[derive(Clone)]
pub struct Env {
    home: PathBuf,
    vars: HashMap<String, String>,
}

/// The variables' names only: their values may hold secrets (`HF_TOKEN`).
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Env").field("home", &self.home).field("vars", &names).finish()
    }
}

impl Env {
    /// Snapshot the current process environment.
    pub fn from_process() -> Result<Env, EnvError> {
        let vars: HashMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        let home = match vars.get(vars::HOME) {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => dirs::home_dir().ok_or(EnvError::NoHome)?,
        };
        Ok(Env { home, vars })
    }

    /// An environment made of explicit parts (tests, embedding).
    pub fn new(home: impl Into<PathBuf>, vars: HashMap<String, String>) -> Env {
        Env { home: home.into(), vars }
    }

    /// This environment with `name` set to `value` (the Python binding's `ModelStore(cache_dir)`).
    pub fn with_var(mut self, name: &str, value: impl Into<String>) -> Env {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A variable's value; empty counts as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A path variable; a relative path is refused naming the variable.
    pub fn abs_var(&self, name: &'static str) -> Result<Option<PathBuf>, EnvError> {
        match self.var(name) {
            None => Ok(None),
            Some(v) if Path::new(v).is_absolute() => Ok(Some(PathBuf::from(v))),
            Some(v) => Err(EnvError::NotAbsolute { var: name, value: v.to_string() }),
        }
    }
}

/// On, as huggingface_hub reads a switch: `1`, `true`, `yes`, `on` (any case).
pub fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// wharf's own switches are read strictly: a typo is an error, not a silent "off".
pub fn switch(env: &Env, var: &'static str) -> Result<bool, EnvError> {
    match env.var(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(_) => Err(EnvError::BadSwitch { var, value: env.var(var).unwrap_or_default().to_string() }),
    }
}

/// A numeric variable within its [`limits::Limit`], or `None` when unset.
pub fn number(env: &Env, l: &limits::Limit) -> Result<Option<f64>, EnvError> {
    let Some(raw) = env.var(l.var) else { return Ok(None) };
    let ok = raw.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= l.min && *v <= l.max);
    match ok {
        Some(v) if !l.whole || v.fract() == 0.0 => Ok(Some(v)),
        _ => Err(EnvError::OutOfRange {
            var: l.var,
            value: raw.to_string(),
            what: if l.whole { "a whole number" } else { "a number" },
            min: l.min,
            max: l.max,
            unit: l.unit,
        }),
    }
}

/// An http(s) URL with a host, from variable `var`.
pub fn http_url(var: &'static str, value: &str) -> Result<String, EnvError> {
    let bad = |why: String| EnvError::BadUrl { var, value: value.to_string(), why };
    let url = url::Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("expected http(s)://HOST[:PORT][/PATH]".to_string()));
    }
    Ok(value.to_string())
}

/// The folders and files wharf uses, resolved from an [`Env`].
#[derive(Debug, Clone)]
pub struct Layout {
    /// wharf's data folder (`$WHARF_HOME`, else `$XDG_DATA_HOME/wharf`).
    pub data_root: PathBuf,
    /// `<data root>/registry.json`.
    pub registry_file: PathBuf,
    /// `<data root>/registry.lock`, the registry's sidecar lock.
    pub lock_file: PathBuf,
    /// Where environments are created.
    pub envs_dir: PathBuf,
    /// wharf's own model store.
    pub cache_dir: PathBuf,
    /// How long to wait for the registry lock.
    pub lock_timeout: Duration,
}

impl Layout {
    /// Resolve every folder from `env`; relative overrides are refused.
    pub fn from_env(env: &Env) -> Result<Layout, EnvError> {
        let wharf_home = env.abs_var(vars::WHARF_HOME)?;
        let data_root = match &wharf_home {
            Some(p) => p.clone(),
            None => env.abs_var(vars::XDG_DATA_HOME)?.unwrap_or_else(|| env.home().join(".local/share")).join("wharf"),
        };
        let envs_dir = env.abs_var(vars::WHARF_ENVS_DIR)?.unwrap_or_else(|| data_root.join("envs"));
        let cache_dir = match (env.abs_var(vars::WHARF_CACHE_DIR)?, &wharf_home) {
            (Some(p), _) => p,
            (None, Some(h)) => h.join("cache"),
            (None, None) => {
                env.abs_var(vars::XDG_CACHE_HOME)?.unwrap_or_else(|| env.home().join(".cache")).join("wharf")
            }
        };
        let lock_timeout = number(env, &limits::LOCK_TIMEOUT)?.map_or(DEFAULT_LOCK_TIMEOUT, Duration::from_secs_f64);
        Ok(Layout {
            registry_file: data_root.join("registry.json"),
            lock_file: data_root.join("registry.lock"),
            data_root,
            envs_dir,
            cache_dir,
            lock_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new("/home/u", pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_follow_xdg_under_home() {
        let l = Layout::from_env(&env(&[])).unwrap();
        assert_eq!(l.registry_file, Path::new("/home/u/.local/share/wharf/registry.json"));
        assert_eq!(l.envs_dir, Path::new("/home/u/.local/share/wharf/envs"));
        assert_eq!(l.cache_dir, Path::new("/home/u/.cache/wharf"));
    }

    #[test]
    fn wharf_home_moves_data_and_cache() {
        let l = Layout::from_env(&env(&[("WHARF_HOME", "/w"), ("WHARF_LOCK_TIMEOUT", "2.5")])).unwrap();
        assert_eq!(l.lock_file, Path::new("/w/registry.lock"));
        assert_eq!(l.cache_dir, Path::new("/w/cache"));
        assert_eq!(l.lock_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn relative_override_is_refused() {
        let err = Layout::from_env(&env(&[("WHARF_ENVS_DIR", "envs")])).unwrap_err();
        assert!(err.to_string().contains("WHARF_ENVS_DIR"));
    }
}
