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
    pub const HOME: &str = "HOME";
    pub const WHARF_HOME: &str = "WHARF_HOME";
    pub const WHARF_ENVS_DIR: &str = "WHARF_ENVS_DIR";
    pub const WHARF_CACHE_DIR: &str = "WHARF_CACHE_DIR";
    pub const WHARF_LOCK_TIMEOUT: &str = "WHARF_LOCK_TIMEOUT";
    pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
    pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
    pub const NO_COLOR: &str = "NO_COLOR";
    pub const PATH: &str = "PATH";
    pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
    pub const HF_TOKEN: &str = "HF_TOKEN";
    pub const HF_HOME: &str = "HF_HOME";
    pub const HF_HUB_CACHE: &str = "HF_HUB_CACHE";
    pub const HF_HUB_OFFLINE: &str = "HF_HUB_OFFLINE";
    pub const WHARF_OFFLINE: &str = "WHARF_OFFLINE";
    pub const WHARF_MIRRORS: &str = "WHARF_MIRRORS";
    pub const WHARF_MAX_RETRIES: &str = "WHARF_MAX_RETRIES";
    pub const WHARF_RETRY_BASE_MS: &str = "WHARF_RETRY_BASE_MS";
    pub const WHARF_STALL_TIMEOUT: &str = "WHARF_STALL_TIMEOUT";
    pub const WHARF_CONNECTIONS: &str = "WHARF_CONNECTIONS";
}

/// The public Hugging Face hub.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Default time to wait for the registry lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot find the home directory\n  hint: set `HOME`")]
    NoHome,
    #[error("`{var}` must be an absolute path, got `{value}`")]
    NotAbsolute { var: &'static str, value: String },
    #[error("`{var}` must be a number of seconds, got `{value}`")]
    BadTimeout { var: &'static str, value: String },
    #[error("`{var}` must be a whole number, got `{value}`")]
    BadNumber { var: &'static str, value: String },
}

/// A snapshot of the environment: the home directory and the variables wharf reads.
#[derive(Debug, Clone)]
pub struct Env {
    home: PathBuf,
    vars: HashMap<String, String>,
}

impl Env {
    /// Snapshot the current process environment.
    pub fn from_process() -> Result<Env, PathsError> {
        let vars: HashMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        let home = match vars.get(vars::HOME) {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => dirs::home_dir().ok_or(PathsError::NoHome)?,
        };
        Ok(Env { home, vars })
    }

    /// An environment made of explicit parts (tests, embedding).
    pub fn new(home: impl Into<PathBuf>, vars: HashMap<String, String>) -> Env {
        Env { home: home.into(), vars }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A variable's value; empty counts as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn abs_var(&self, name: &'static str) -> Result<Option<PathBuf>, PathsError> {
        match self.var(name) {
            None => Ok(None),
            Some(v) if Path::new(v).is_absolute() => Ok(Some(PathBuf::from(v))),
            Some(v) => Err(PathsError::NotAbsolute { var: name, value: v.to_string() }),
        }
    }
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

fn number<T: std::str::FromStr>(env: &Env, var: &'static str, default: T) -> Result<T, PathsError> {
    match env.var(var) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| PathsError::BadNumber { var, value: v.to_string() }),
    }
}

/// The model store's configuration from the environment; `offline` and `allow_http` are the
/// command-line flags (the variables `WHARF_OFFLINE` and `HF_HUB_OFFLINE` also turn offline on).
pub fn store_config(
    env: &Env,
    layout: &Layout,
    offline: bool,
    allow_http: bool,
) -> Result<crate::store::pull::StoreConfig, PathsError> {
    let hub_cache = match (env.abs_var(vars::HF_HUB_CACHE)?, env.abs_var(vars::HF_HOME)?) {
        (Some(p), _) => p,
        (None, Some(h)) => h.join("hub"),
        (None, None) => {
            env.abs_var(vars::XDG_CACHE_HOME)?.unwrap_or_else(|| env.home().join(".cache")).join("huggingface/hub")
        }
    };
    let mut endpoints = vec![env.var(vars::HF_ENDPOINT).unwrap_or(DEFAULT_HF_ENDPOINT).to_string()];
    endpoints.extend(
        env.var(vars::WHARF_MIRRORS)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
    );
    let stall = number(env, vars::WHARF_STALL_TIMEOUT, 30.0f64)?;
    Ok(crate::store::pull::StoreConfig {
        hub_cache,
        wharf_cache: layout.cache_dir.clone(),
        endpoints,
        token: env.var(vars::HF_TOKEN).map(str::to_owned),
        offline: offline || truthy(env.var(vars::WHARF_OFFLINE)) || truthy(env.var(vars::HF_HUB_OFFLINE)),
        allow_http,
        retry: crate::fetch::retry::RetryPolicy {
            max_retries: number(env, vars::WHARF_MAX_RETRIES, 3u32)?,
            base: Duration::from_millis(number(env, vars::WHARF_RETRY_BASE_MS, 500u64)?),
            max_wait: Duration::from_secs(60),
        },
        stall: Duration::from_secs_f64(stall.max(0.1)),
        blob_lock_timeout: Duration::from_secs(3600),
        parallel_files: 8,
        connections: match env.var(vars::WHARF_CONNECTIONS) {
            None => None,
            Some(_) => Some(number(env, vars::WHARF_CONNECTIONS, 4usize)?.max(1)),
        },
    })
}

/// The folders and files wharf uses, resolved from an [`Env`].
#[derive(Debug, Clone)]
pub struct Layout {
    pub data_root: PathBuf,
    pub registry_file: PathBuf,
    pub lock_file: PathBuf,
    pub envs_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub lock_timeout: Duration,
}

impl Layout {
    pub fn from_env(env: &Env) -> Result<Layout, PathsError> {
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
        let lock_timeout = match env.var(vars::WHARF_LOCK_TIMEOUT) {
            None => DEFAULT_LOCK_TIMEOUT,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| PathsError::BadTimeout { var: vars::WHARF_LOCK_TIMEOUT, value: v.to_string() })?,
        };
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
