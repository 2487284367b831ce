//! `wharf._wharf`: the Python binding of the wharf library, and the wheel's `wharf` command.
//!
//! Thin by design: each function opens [`wharf::Wharf`] from the process environment as it is at
//! the call (so a program, or a test, may change `os.environ` between calls), makes one library
//! call and turns its answer into Python values; the typed Python surface (`pathlib.Path`, dicts,
//! the exception classes) is `wharf/__init__.py` and `wharf/_errors.py`, the stub `_wharf.pyi`.
//!
//! Invariants:
//! - Every long call runs with the GIL released, on its own tokio runtime, and polls Python's
//!   signal handlers every [`POLL`]: Ctrl-C (or an exception raised by a progress callback) drops
//!   the download at once and is raised in Python. What was received stays in the store's partial
//!   file (never at the final path), so the next pull resumes it.
//! - A library error becomes the exception class of its kind (`wharf._errors`), with the CLI's
//!   message, its hint and a stable `code`.
//! - The `wharf` command of the wheel is the CLI's own code (`src/cli/`, mounted below), run
//!   in-process by `run_cli`; `check` takes that code's `--json` document, so Python and the CLI
//!   cannot disagree on it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use wharf::env::vars;
use wharf::ids::source::Source;
use wharf::models::resolve::{self, ModelsError};
use wharf::ops::activate::{self, ActivateError};
use wharf::store::error::InventoryError;
use wharf::store::{ModelStore as Store, PullOptions, Pulled, Repair};
use wharf::transfer::progress::{Event, Progress};
use wharf::transfer::FetchError;
use wharf::{Access, Env, OpenError, Wharf};

#[path = "../../src/cli/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod cli;

/// How often a long call looks at Python's signals and at the progress callback's errors.
const POLL: Duration = Duration::from_millis(50);

/// How often a progress callback is called per file at most (and once when the file is done).
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------------
// Errors

/// A library error as the Python exception of its class (a name in `wharf/_errors.py`).
struct Raised {
    class: &'static str,
    code: &'static str,
    text: String,
    extra: Vec<(&'static str, String)>,
}

impl Raised {
    fn new(class: &'static str, code: &'static str, text: impl std::fmt::Display) -> Raised {
        Raised { class, code, text: text.to_string(), extra: Vec::new() }
    }

    fn usage(text: impl std::fmt::Display) -> Raised {
        Raised::new("UsageError", "usage", text)
    }
}

impl From<Raised> for PyErr {
    fn from(r: Raised) -> PyErr {
        Python::attach(|py| {
            let build = || -> PyResult<PyErr> {
                let (message, hint) = match r.text.split_once("\n  hint: ") {
                    Some((m, h)) => (m.trim_end().to_string(), Some(h.trim().to_string())),
                    None => (r.text.trim_end().to_string(), None),
                };
                let class = py.import("wharf._errors")?.getattr(r.class)?;
                let e = class.call1((r.text.trim_end(),))?;
                e.setattr("message", message)?;
                e.setattr("hint", hint)?;
                e.setattr("code", r.code)?;
                for (k, v) in &r.extra {
                    e.setattr(*k, v)?;
                }
                Ok(PyErr::from_value(e))
            };
            build().unwrap_or_else(|e| e)
        })
    }
}

fn fetch_error(e: &FetchError) -> Raised {
    match e {
        FetchError::ChecksumMismatch { expected, actual, .. } => Raised {
            extra: vec![("expected", expected.to_string()), ("actual", actual.to_string())],
            ..Raised::new("ChecksumMismatch", "checksum_mismatch", e)
        },
        FetchError::DiskFull { .. } => Raised::new("DiskFull", "disk_full", e),
        FetchError::Offline { .. } => Raised::new("OfflineError", "offline", e),
        FetchError::Source(_) => Raised::usage(e),
        _ => Raised::new("DownloadError", "download_failed", e),
    }
}

fn models_error(e: ModelsError) -> Raised {
    match &e {
        ModelsError::Model { error, .. } | ModelsError::Part { error, .. } => {
            Raised { text: e.to_string(), ..fetch_error(error) }
        }
        ModelsError::Unavailable { .. } => Raised::new("DownloadError", "download_failed", e),
        ModelsError::OfflineAssembly { .. } => Raised::new("OfflineError", "offline", e),
        ModelsError::Registry(_) => Raised::new("RegistryError", "registry", e),
        ModelsError::Manifest(_) | ModelsError::Lockfile(_) | ModelsError::NoManifest(_) => Raised::usage(e),
        _ => Raised::new("WharfError", "failed", e),
    }
}

fn activate_error(e: ActivateError) -> Raised {
    match e {
        ActivateError::Registry(_) => Raised::new("RegistryError", "registry", e),
        _ => Raised::usage(e),
    }
}

fn inventory_error(e: InventoryError) -> Raised {
    match e {
        InventoryError::Registry(_) => Raised::new("RegistryError", "registry", e),
        e if e.is_usage() => Raised::usage(e),
        e => Raised::new("WharfError", "failed", e),
    }
}

fn open_error(e: OpenError) -> Raised {
    if e.is_usage() {
        Raised::usage(e)
    } else {
        Raised::new("WharfError", "failed", e)
    }
}

// ---------------------------------------------------------------------------------------------
// Running a long call

/// Run `work` with the GIL released, on a runtime of its own; every [`POLL`], run Python's signal
/// handlers (a `KeyboardInterrupt` drops `work` and is raised) and look for a callback's error.
fn block_on<T: Send>(
    py: Python<'_>,
    progress: &PyProgress,
    work: impl Future<Output = Result<T, Raised>> + Send,
) -> PyResult<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Raised::new("WharfError", "failed", format!("cannot start the async runtime: {e}")))?;
    let out = py.detach(|| {
        runtime.block_on(async {
            let mut work = std::pin::pin!(work);
            let mut tick = tokio::time::interval(POLL);
            loop {
                tokio::select! {
                    r = &mut work => break r.map_err(PyErr::from),
                    _ = tick.tick() => {
                        Python::attach(|py| py.check_signals())?;
                        if let Some(e) = progress.failed() {
                            break Err(e);
                        }
                    }
                }
            }
        })
    });
    // A dropped download's tasks are not waited for: their partial file and lock are released as
    // they end, and the next pull resumes from what is on disk.
    runtime.shutdown_background();
    out
}

/// Progress events to a Python callable `(file, done_bytes, total_bytes | None)`, at most every
/// [`PROGRESS_EVERY`] per file and once when a file is done. The first exception it raises stops
/// the call and is raised in its place.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    files: Mutex<HashMap<String, FileProgress>>,
    error: Mutex<Option<PyErr>>,
}

struct FileProgress {
    done: u64,
    total: Option<u64>,
    shown: Option<Instant>,
}

impl PyProgress {
    fn new(callback: Option<Py<PyAny>>) -> PyProgress {
        PyProgress { callback, files: Mutex::new(HashMap::new()), error: Mutex::new(None) }
    }

    fn failed(&self) -> Option<PyErr> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Update the file's numbers; return them when the callback is due.
    fn update(&self, e: &Event) -> Option<(String, u64, Option<u64>)> {
        let mut files = self.files.lock().ok()?;
        let (id, last) = match e {
            Event::Start { id, total, resumed_from } => {
                files.insert(id.clone(), FileProgress { done: *resumed_from, total: *total, shown: None });
                (id, false)
            }
            Event::Bytes { id, n } => {
                files.get_mut(id)?.done += n;
                (id, false)
            }
            Event::Done { id } => {
                let f = files.get_mut(id)?;
                f.done = f.total.unwrap_or(f.done).max(f.done);
                (id, true)
            }
            _ => return None,
        };
        let f = files.get_mut(id)?;
        let due = last || f.shown.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
        if !due {
            return None;
        }
        f.shown = Some(Instant::now());
        Some((id.clone(), f.done, f.total))
    }
}

impl Progress for PyProgress {
    fn event(&self, e: Event) {
        if let Event::Warning { message } = &e {
            eprintln!("warning: {message}");
        }
        let Some(callback) = &self.callback else { return };
        let Some(args) = self.update(&e) else { return };
        Python::attach(|py| {
            if let Err(err) = callback.call1(py, args) {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(err);
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The store

/// The environment of the process now, with `overrides` set.
fn open(overrides: &[(&str, String)]) -> Result<Wharf, Raised> {
    let mut env = Env::from_process().map_err(|e| Raised::new("WharfError", "failed", e))?;
    for (k, v) in overrides {
        env = env.with_var(k, v.clone());
    }
    Wharf::new(env).map_err(Raised::usage)
}

/// The path a pull answers with: the file, or for a whole repo its snapshot folder.
fn answer(source: &Source, pulled: &[Pulled]) -> Result<PathBuf, Raised> {
    let first = pulled.first().ok_or_else(|| Raised::usage(format!("`{source}`: no file matched")))?;
    match (source, &first.hf) {
        (Source::HfRepo(_), Some(hf)) => {
            let depth = Path::new(hf.path.as_str()).components().count();
            let mut dir = first.path.clone();
            for _ in 0..depth {
                dir.pop();
            }
            Ok(dir)
        }
        _ => Ok(first.path.clone()),
    }
}

/// The model store, as `wharf.ModelStore(cache_dir=None, *, offline=False)`.
#[pyclass(module = "wharf._wharf", name = "ModelStore", frozen)]
struct ModelStore {
    /// `WHARF_CACHE_DIR` and `HF_HUB_CACHE`, when a cache folder was given.
    overrides: Vec<(&'static str, String)>,
    offline: bool,
}

impl ModelStore {
    fn open(&self, offline: bool) -> Result<(Wharf, Store), Raised> {
        let wharf = open(&self.overrides)?;
        let store = wharf.store(Access { offline: self.offline || offline, allow_http: false }).map_err(open_error)?;
        Ok((wharf, store))
    }
}

fn parse_source(spec: &str) -> Result<Source, Raised> {
    Source::parse(spec).map_err(Raised::usage)
}

#[pymethods]
impl ModelStore {
    #[new]
    #[pyo3(signature = (cache_dir=None, *, offline=false))]
    fn new(cache_dir: Option<PathBuf>, offline: bool) -> PyResult<ModelStore> {
        let overrides = match cache_dir {
            None => Vec::new(),
            Some(dir) => {
                let dir = std::path::absolute(&dir)
                    .map_err(|e| Raised::usage(format!("`{}`: {e}", dir.display())))?
                    .to_string_lossy()
                    .into_owned();
                vec![(vars::WHARF_CACHE_DIR, dir.clone()), (vars::HF_HUB_CACHE, format!("{dir}/hub"))]
            }
        };
        let store = ModelStore { overrides, offline };
        // Refuse a bad environment (a relative WHARF_CACHE_DIR, …) now, not at the first call.
        store.open(true)?;
        Ok(store)
    }

    /// (wharf's blob store, the Hugging Face cache)
    fn roots(&self) -> PyResult<(PathBuf, PathBuf)> {
        let (_, store) = self.open(true)?;
        Ok((store.blobs.root.clone(), store.hub_cache.root.clone()))
    }

    #[pyo3(signature = (spec, *, sha256=None, offline=false, progress=None, include=Vec::new(), exclude=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn get_model(
        &self,
        py: Python<'_>,
        spec: &str,
        sha256: Option<&str>,
        offline: bool,
        progress: Option<Py<PyAny>>,
        include: Vec<String>,
        exclude: Vec<String>,
    ) -> PyResult<PathBuf> {
        let source = parse_source(spec)?;
        let sha256 = sha256.map(|s| s.parse()).transpose().map_err(Raised::usage)?;
        let (_, store) = self.open(offline)?;
        let opts = PullOptions { include, exclude, sha256, now: chrono::Utc::now(), ..Default::default() };
        let progress = PyProgress::new(progress);
        let pulled = block_on(py, &progress, async {
            store.get_model(&source, &opts, &progress).await.map_err(|e| fetch_error(&e))
        })?;
        Ok(answer(&source, &pulled)?)
    }

    /// Offline, so nothing is asked of the network; `sha256` pins the digest as for a pull.
    #[pyo3(signature = (spec, *, sha256=None))]
    fn is_cached(&self, py: Python<'_>, spec: &str, sha256: Option<&str>) -> PyResult<bool> {
        let source = parse_source(spec)?;
        let sha256 = sha256.map(|s| s.parse()).transpose().map_err(Raised::usage)?;
        let (_, store) = self.open(true)?;
        let opts = PullOptions { sha256, now: chrono::Utc::now(), ..Default::default() };
        block_on(py, &PyProgress::new(None), async {
            Ok(match opts.sha256 {
                None => store.is_cached(&source).await,
                Some(_) => store.get_model(&source, &opts, &wharf::transfer::progress::Silent).await.is_ok(),
            })
        })
    }

    /// JSON of what was removed (`Removed`).
    #[pyo3(signature = (model_id, *, dry_run=false))]
    fn remove_model(&self, py: Python<'_>, model_id: String, dry_run: bool) -> PyResult<String> {
        let (wharf, store) = self.open(true)?;
        let cwd = std::env::current_dir().map_err(|e| Raised::new("WharfError", "failed", e))?;
        let chosen = wharf::ops::select::selectors(&[model_id], &cwd);
        let removed = py.detach(|| store.remove_model(&chosen, &wharf.registry(), dry_run)).map_err(inventory_error)?;
        json(&removed)
    }

    /// JSON of what was removed (`Removed`).
    #[pyo3(signature = (*, dry_run=false))]
    fn clear(&self, py: Python<'_>, dry_run: bool) -> PyResult<String> {
        let (wharf, store) = self.open(true)?;
        let removed = py.detach(|| store.clear(&wharf.registry(), dry_run)).map_err(inventory_error)?;
        json(&removed)
    }

    /// JSON of `Stats`.
    fn stats(&self, py: Python<'_>) -> PyResult<String> {
        let (wharf, store) = self.open(true)?;
        json(&py.detach(|| store.stats(&wharf.registry())))
    }

    /// JSON of `Verified`.
    #[pyo3(signature = (*, fix=false))]
    fn validate_integrity(&self, py: Python<'_>, fix: bool) -> PyResult<String> {
        let (_, store) = self.open(true)?;
        let repair = if fix { Repair::Yes } else { Repair::No };
        let verified = py.detach(|| store.validate_integrity(repair, &[])).map_err(inventory_error)?;
        json(&verified)
    }
}

fn json(doc: &impl serde::Serialize) -> PyResult<String> {
    Ok(serde_json::to_string(doc).map_err(|e| Raised::new("WharfError", "failed", e))?)
}

// ---------------------------------------------------------------------------------------------
// Projects

/// The view of model `name` of the project around `start`; the project's models are pulled
/// first (as `wharf pull` in the project does) when the view is not there yet.
#[pyfunction]
#[pyo3(signature = (name, start, *, offline=false, progress=None))]
fn model(py: Python<'_>, name: &str, start: PathBuf, offline: bool, progress: Option<Py<PyAny>>) -> PyResult<PathBuf> {
    let start = std::path::absolute(&start).map_err(|e| Raised::usage(format!("`{}`: {e}", start.display())))?;
    let wharf = open(&[])?;
    match activate::model_path(&wharf.registry(), &start, name) {
        Ok(path) => return Ok(path),
        Err(ActivateError::NotPulled { .. }) => {}
        Err(e) => return Err(activate_error(e).into()),
    }
    let dir = resolve::find_manifest_dir(&start).ok_or_else(|| models_error(ModelsError::NoManifest(start.clone())))?;
    let store = wharf.store(Access { offline, allow_http: false }).map_err(open_error)?;
    let opts = PullOptions { now: chrono::Utc::now(), ..Default::default() };
    let progress = PyProgress::new(progress);
    block_on(py, &progress, async {
        resolve::pull_project(&store, wharf.registry(), &dir, false, &opts, &progress).await.map_err(|e| match e {
            // Offline, a model none of whose sources is stored: the class a single pull raises.
            ModelsError::Unavailable { .. } if store.is_offline() => Raised::new("OfflineError", "offline", e),
            e => models_error(e),
        })
    })?;
    Ok(activate::model_path(&wharf.registry(), &start, name).map_err(activate_error)?)
}

/// `wharf ARGS… --json` run by the CLI's own code, its document captured: the document, or the
/// error it reports raised as the exception of its code.
#[pyfunction]
fn cli_json(py: Python<'_>, args: Vec<OsString>) -> PyResult<String> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("wharf")).chain(args).collect();
    let (_, out) = py.detach(|| cli::output::capture(|| cli::main(argv)));
    let text = String::from_utf8_lossy(&out).into_owned();
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Raised::new("WharfError", "failed", format!("the command's output is not JSON: {e}")))?;
    if let Some(err) = doc.get("error") {
        let field = |k: &str| err.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (code, message, hint) = (field("code"), field("message"), field("hint"));
        let class = match code.as_str() {
            c if c.starts_with("registry") => "RegistryError",
            _ if err.get("exit_code").and_then(|v| v.as_u64()) == Some(2) => "UsageError",
            _ => "WharfError",
        };
        let text = if hint.is_empty() { message } else { format!("{message}\n  hint: {hint}") };
        let mut raised = Raised::new(class, "failed", text);
        raised.extra.push(("code", code));
        return Err(raised.into());
    }
    Ok(text)
}

/// The wheel's `wharf` command: the CLI, in this process, with the GIL released; its exit code.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> u8 {
    let code = py.detach(|| cli::main(argv));
    // Rust flushes stdout when its own `main` returns; here Python's does, so flush it now.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    (0..=u8::MAX).find(|n| ExitCode::from(*n) == code).unwrap_or(1)
}

#[pymodule]
fn _wharf(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", wharf::VERSION)?;
    m.add_class::<ModelStore>()?;
    m.add_function(wrap_pyfunction!(model, m)?)?;
    m.add_function(wrap_pyfunction!(cli_json, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    Ok(())
}
