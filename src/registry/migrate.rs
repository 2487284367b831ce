//! Ordered migrations of the registry file, applied in memory on every read.
//!
//! | version | shape |
//! |---|---|
//! | v0 | prime-uve style, no `version`: `{"venvs": {...}}` or the bare `{"/abs/project": {...}}` |
//! | v1 | `{"version": "1.0", "venvs": {"/abs/project": {venv_path, venv_path_expanded, project_name, path_hash, created_at, last_validated}}}` |
//! | v2 | `{"version": 2, "projects": {...}}` (see `schema.rs`) |
//!
//! Steps work on `serde_json::Value` so that they never depend on today's structs, and are never
//! removed: a v0 file from years ago still walks v0→v1→v2. Unknown keys are carried along at every
//! level. The file on disk is rewritten only by a command that writes, after a `.v<N>.bak` copy.

use serde_json::{Map, Value};

use crate::env::Env;
use crate::home_path::{expand_vars, HomePath};

use super::schema::CURRENT_VERSION;

/// The version a file was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Found {
    /// No `version` key: the first format.
    V0,
    /// Version 1 (`.env.uve` markers).
    V1,
    /// Version 2, the current one.
    V2,
}

impl Found {
    /// The version number.
    pub fn number(self) -> u32 {
        match self {
            Found::V0 => 0,
            Found::V1 => 1,
            Found::V2 => 2,
        }
    }
}

/// Why a document could not be brought to the current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrateError {
    /// The file is from a newer wharf (the version it says).
    Newer(String),
    /// The file does not have the registry's shape (what is wrong).
    Shape(String),
}

type Step = fn(Value, &Env) -> Result<Value, MigrateError>;

/// The steps, in order: `STEPS[n]` brings version n to n+1.
const STEPS: &[(&str, Step)] = &[("v0 -> v1", v0_to_v1), ("v1 -> v2", v1_to_v2)];

/// The version of the document `v`.
pub fn detect(v: &Value) -> Result<Found, MigrateError> {
    let Some(obj) = v.as_object() else {
        return Err(MigrateError::Shape("the top level is not a JSON object".into()));
    };
    match obj.get("version") {
        None => Ok(Found::V0),
        Some(Value::String(s)) if s == "1" || s.starts_with("1.") => Ok(Found::V1),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => Ok(Found::V1),
            Some(2) => Ok(Found::V2),
            Some(k) if k > u64::from(CURRENT_VERSION) => Err(MigrateError::Newer(k.to_string())),
            _ => Err(MigrateError::Shape(format!("unknown version {n}"))),
        },
        Some(Value::String(s)) => match s.split('.').next().and_then(|m| m.parse::<u64>().ok()) {
            Some(k) if k > u64::from(CURRENT_VERSION) => Err(MigrateError::Newer(s.clone())),
            _ => Err(MigrateError::Shape(format!("unknown version {s:?}"))),
        },
        Some(other) => Err(MigrateError::Shape(format!("unknown version {other}"))),
    }
}

/// Bring `v` to the current version; returns it, the version found and the steps applied.
pub fn migrate(mut v: Value, env: &Env) -> Result<(Value, Found, Vec<&'static str>), MigrateError> {
    let found = detect(&v)?;
    let mut applied = Vec::new();
    for (name, step) in &STEPS[found.number() as usize..] {
        v = step(v, env)?;
        applied.push(*name);
    }
    Ok((v, found, applied))
}

fn into_object(v: Value, what: &str) -> Result<Map<String, Value>, MigrateError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(MigrateError::Shape(format!("{what} is not a JSON object"))),
    }
}

fn v0_to_v1(v: Value, _env: &Env) -> Result<Value, MigrateError> {
    let mut obj = into_object(v, "the registry")?;
    if !obj.contains_key("venvs") {
        // The bare form: every key is a project path.
        let venvs = std::mem::take(&mut obj);
        obj.insert("venvs".into(), Value::Object(venvs));
    }
    obj.insert("version".into(), Value::String("1.0".into()));
    Ok(Value::Object(obj))
}

const V1_KNOWN: &[&str] =
    &["venv_path", "venv_path_expanded", "project_name", "path_hash", "created_at", "last_validated"];

fn v1_to_v2(v: Value, env: &Env) -> Result<Value, MigrateError> {
    let mut obj = into_object(v, "the registry")?;
    let venvs = into_object(obj.remove("venvs").unwrap_or(Value::Object(Map::new())), "`venvs`")?;
    let mut projects = Map::new();
    for (key, entry) in venvs {
        let mut e = into_object(entry, &format!("entry `{key}`"))?;
        let text = |e: &Map<String, Value>, k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
        let raw_env = text(&e, "venv_path")
            .or_else(|| text(&e, "venv_path_expanded"))
            .ok_or_else(|| MigrateError::Shape(format!("entry `{key}` has no `venv_path`")))?;
        // `${HOME}` and other set variables expand now; an unset one falls back to the expansion the
        // old tool recorded; without that the raw text stays and validation names the variable.
        let expanded = expand_vars(&raw_env, env).ok().or_else(|| text(&e, "venv_path_expanded"));
        let stored = expanded.as_deref().map_or(raw_env.clone(), |x| home_form(x, env));
        let project_key = expand_vars(&key, env).map_or(key.clone(), |k| home_form(&k, env));
        let mut p = Map::new();
        p.insert("name".into(), Value::String(text(&e, "project_name").unwrap_or_else(|| "project".into())));
        p.insert("path_hash".into(), Value::String(text(&e, "path_hash").unwrap_or_default()));
        let mut env_obj = Map::new();
        env_obj.insert("path".into(), Value::String(stored));
        env_obj.insert("expanded".into(), Value::String(expanded.unwrap_or_default()));
        p.insert("env".into(), Value::Object(env_obj));
        p.insert("models".into(), Value::Array(Vec::new()));
        p.insert("created_at".into(), Value::String(text(&e, "created_at").unwrap_or_default()));
        if let Some(t) = text(&e, "last_validated") {
            p.insert("last_validated".into(), Value::String(t));
        }
        p.insert("legacy_marker".into(), Value::Bool(true));
        for k in V1_KNOWN {
            e.remove(*k);
        }
        for (k, val) in e {
            p.entry(k).or_insert(val);
        }
        projects.insert(project_key, Value::Object(p));
    }
    obj.insert("version".into(), Value::from(2));
    obj.insert("projects".into(), Value::Object(projects));
    Ok(Value::Object(obj))
}

fn home_form(abs: &str, env: &Env) -> String {
    HomePath::from_path(std::path::Path::new(abs), env.home()).map_or(abs.to_string(), |h| h.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn env() -> Env {
        Env::new("/home/ann", HashMap::from([("DATA".to_string(), "/srv".to_string())]))
    }

    #[test]
    fn v0_bare_map_gains_version_and_venvs() {
        let v0 = json!({"/p": {"venv_path": "${HOME}/v"}});
        let v1 = v0_to_v1(v0, &env()).unwrap();
        assert_eq!(v1, json!({"version": "1.0", "venvs": {"/p": {"venv_path": "${HOME}/v"}}}));
    }

    #[test]
    fn v1_to_v2_keeps_unknown_keys_and_homes_paths() {
        let v1 = json!({"version": "1.0", "owner": "ci", "venvs": {
            "/home/ann/p": {"venv_path": "${HOME}/v/p_1", "venv_path_expanded": "/home/old/v/p_1",
                            "project_name": "p", "path_hash": "12345678", "created_at": "2025-01-01T00:00:00Z",
                            "last_validated": "2025-01-02T00:00:00Z", "note": "keep me"},
            "/srv/q": {"venv_path": "${UNSET}/q", "venv_path_expanded": "/home/ann/v/q_2", "project_name": "q"}}});
        let v2 = v1_to_v2(v1, &env()).unwrap();
        assert_eq!(v2["owner"], "ci");
        let p = &v2["projects"]["${HOME}/p"];
        assert_eq!(p["env"]["path"], "${HOME}/v/p_1");
        assert_eq!(p["env"]["expanded"], "/home/ann/v/p_1");
        assert_eq!(p["note"], "keep me");
        assert_eq!(p["legacy_marker"], true);
        assert_eq!(v2["projects"]["/srv/q"]["env"]["path"], "${HOME}/v/q_2");
    }

    #[test]
    fn versions_are_detected_and_newer_refused() {
        assert_eq!(detect(&json!({"version": 2})).unwrap(), Found::V2);
        assert_eq!(detect(&json!({"version": "1.0"})).unwrap(), Found::V1);
        assert_eq!(detect(&json!({})).unwrap(), Found::V0);
        assert_eq!(detect(&json!({"version": 7})).unwrap_err(), MigrateError::Newer("7".into()));
        assert!(matches!(detect(&json!([1])).unwrap_err(), MigrateError::Shape(_)));
    }
}
