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
}

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
