//! `wharf._wharf`: the Python binding of the wharf library, and the wheel's `wharf` command.
//!
//! Thin by design: each function opens [`wharf::Wharf`] from the process environment as it is at
//! the call (so a program, or a test, may change `os.environ` between calls), makes one library
//! call and turns its answer into Python values; the typed Python surface (`pathlib.Path`, dicts,
//! the exception classes) is `wharf/__init__.py` and `wharf/_errors.py`, the stub `_wharf.pyi`.
//!
//! Invariants:
//! - Every download runs with the GIL released, on its own tokio runtime, and every [`POLL`] the
//!   calling thread runs Python's signal handlers and the progress callback: Ctrl-C (or an
//!   exception the callback raises) drops the download and is raised in Python. What was received
//!   stays in the store's partial file (never at the final path), so the next pull resumes it. The
//!   transfer's own tasks never wait for Python.
//! - A library error becomes the CLI's report of it (`CliError`: message, hint, code, exit code)
//!   in the exception class of its kind (`wharf._errors`): exit code 2 is a `UsageError`.
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
use wharf::ids::Sha256;
use wharf::models::resolve::{self, ModelsError};
use wharf::ops::activate::{self, ActivateError};
use wharf::store::{ModelStore as Store, PullOptions, Pulled, Repair};
use wharf::transfer::progress::{Event, Progress};
use wharf::transfer::FetchError;
use wharf::{Access, Env, Wharf};

#[path = "../../src/cli/mod.rs"]
#[allow(dead_code)]
mod cli;

use cli::output::ErrorReport;
use cli::CliError;

/// How often a long call looks at Python's signals and at the progress callback's errors.
const POLL: Duration = Duration::from_millis(50);

/// How often a progress callback is called per file at most (and once when the file is done).
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// How long a dropped download's threads are waited for (Ctrl-C must be raised within a second).
const SHUTDOWN: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------------
// Errors

/// A failure as the Python exception of its class (a name in `wharf/_errors.py`): the CLI's own
/// report of it (message, hint, code, exit code), so Python and the command say the same.
struct Raised {
    class: &'static str,
    report: ErrorReport,
    extra: Vec<(&'static str, String)>,
}

impl Raised {
    fn cli(e: impl Into<CliError>) -> Raised {
        let report = e.into().report();
        Raised { class: class_of(report.code, report.exit_code), report, extra: Vec::new() }
    }

    fn usage(text: impl std::fmt::Display) -> Raised {
        Raised::cli(CliError::Usage(text.to_string()))
    }

    fn failed(text: impl std::fmt::Display) -> Raised {
        Raised::cli(CliError::failed(text))
    }

    fn class(self, class: &'static str) -> Raised {
        Raised { class, ..self }
    }
}

/// The class of a CLI report: exit code 2 is bad input, a registry code is the registry.
fn class_of(code: &str, exit_code: u8) -> &'static str {
    match code {
        _ if exit_code == 2 => "UsageError",
        c if c.starts_with("registry") || c == "lock_timeout" => "RegistryError",
        _ => "WharfError",
    }
}

impl From<Raised> for PyErr {
    fn from(r: Raised) -> PyErr {
        Python::attach(|py| {
            let build = || -> PyResult<PyErr> {
                let text = r.report.text();
                let ErrorReport { code, message, hint, .. } = r.report;
                let e = py.import("wharf._errors")?.getattr(r.class)?.call1((text,))?;
                e.setattr("message", message)?;
                e.setattr("hint", hint)?;
                e.setattr("code", code)?;
                for (k, v) in &r.extra {
                    e.setattr(*k, v)?;
                }
                Ok(PyErr::from_value(e))
            };
            build().unwrap_or_else(|e| e)
        })
    }
}

/// A download's failure: the CLI's report, in the class of its kind.
fn fetch_error(e: &FetchError) -> Raised {
    if e.is_usage() {
        return Raised::usage(e);
    }
    let r = Raised::failed(e);
    match e {
        FetchError::ChecksumMismatch { expected, actual, .. } => Raised {
            extra: vec![("expected", expected.to_string()), ("actual", actual.to_string())],
            ..r.class("ChecksumMismatch")
        },
        FetchError::DiskFull { .. } => r.class("DiskFull"),
        FetchError::Offline { .. } => r.class("OfflineError"),
        FetchError::Worker { .. } => r,
        _ => r.class("DownloadError"),
    }
}

/// A project pull's failure, as `wharf pull` in the project reports it (`offline`: the store
/// made no network call, so a model none of whose sources is stored is an [`OfflineError`]).
fn models_error(e: ModelsError, offline: bool) -> Raised {
    match e {
        ModelsError::Model { ref error, .. } | ModelsError::Part { ref error, .. } if !error.is_usage() => {
            Raised { report: Raised::failed(&e).report, ..fetch_error(error) }
        }
        ModelsError::Unavailable { .. } if offline => Raised::failed(e).class("OfflineError"),
        ModelsError::Unavailable { .. } => Raised::failed(e).class("DownloadError"),
        ModelsError::OfflineAssembly { .. } => Raised::failed(e).class("OfflineError"),
        e => Raised::cli(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a long call

/// Run `work` with the GIL released, on a runtime of its own; every [`POLL`], on this thread, run
/// Python's signal handlers (a `KeyboardInterrupt` drops `work` and is raised) and the progress
/// callback (an exception it raises does the same).
fn block_on<T: Send>(
    py: Python<'_>,
    progress: &PyProgress,
    work: impl Future<Output = Result<T, Raised>> + Send,
) -> PyResult<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Raised::failed(format!("cannot start the async runtime: {e}")))?;
    let out = py.detach(|| {
        runtime.block_on(async {
            let mut work = std::pin::pin!(work);
            let mut tick = tokio::time::interval(POLL);
            loop {
                tokio::select! {
                    r = &mut work => break r.map_err(PyErr::from),
                    _ = tick.tick() => Python::attach(|py| {
                        py.check_signals()?;
                        progress.flush(py)
                    })?,
                }
            }
        })
    });
    // A dropped download's writer threads end within milliseconds once their queue closes: wait
    // for them (boundedly), so that no byte lands in the partial file after its lock is released.
    runtime.shutdown_timeout(SHUTDOWN);
    let value = out?;
    // The last calls (a file's `done == total`), and an exception they raise.
    progress.flush(py)?;
    Ok(value)
}

/// Progress events turned into calls of a Python callable `(file, done_bytes, total_bytes |
/// None)`: the events only record numbers (they come from the transfer's tasks, which must never
/// wait for Python); [`block_on`] makes the calls on the calling thread, at most every
/// [`PROGRESS_EVERY`] per file, and once when a file is done.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    state: Mutex<Files>,
}

#[derive(Default)]
struct Files {
    files: HashMap<String, FileProgress>,
    /// Calls due, in order.
    due: Vec<(String, u64, Option<u64>)>,
}

struct FileProgress {
    done: u64,
    total: Option<u64>,
    shown: Option<Instant>,
}

impl PyProgress {
    fn new(callback: Option<Py<PyAny>>) -> PyProgress {
        PyProgress { callback, state: Mutex::new(Files::default()) }
    }

    /// Make the calls that are due.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let Some(callback) = &self.callback else { return Ok(()) };
        let due = match self.state.lock() {
            Ok(mut s) => std::mem::take(&mut s.due),
            Err(_) => return Ok(()),
        };
        for args in due {
            callback.call1(py, args)?;
        }
        Ok(())
    }
}

impl Progress for PyProgress {
    fn event(&self, e: Event) {
        match &e {
            Event::Warning { message } => eprintln!("warning: {message}"),
            Event::Waiting { id, lock } => {
                eprintln!("waiting for another process downloading {id} (lock `{}`)", lock.display())
            }
            _ => {}
        }
        if self.callback.is_none() {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        let (id, last) = match e {
            Event::Start { id, total, resumed_from } => {
                s.files.insert(id.clone(), FileProgress { done: resumed_from, total, shown: None });
                (id, false)
            }
            Event::Bytes { id, n } => match s.files.get_mut(&id) {
                Some(f) => {
                    f.done += n;
                    (id, false)
                }
                None => return,
            },
            Event::Done { id } => (id, true),
            _ => return,
        };
        let Some(f) = s.files.get_mut(&id) else { return };
        if last {
            f.done = f.total.unwrap_or(f.done).max(f.done);
        }
        if last || f.shown.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            f.shown = Some(Instant::now());
            let call = (id, f.done, f.total);
            s.due.push(call);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The store

/// The environment of the process now, with `overrides` set.
fn open(overrides: &[(&str, String)]) -> Result<Wharf, Raised> {
    let mut env = Env::from_process().map_err(Raised::failed)?;
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

fn parse_source(spec: &str) -> Result<Source, Raised> {
    Source::parse(spec).map_err(Raised::usage)
}

fn parse_sha256(hex: Option<&str>) -> Result<Option<Sha256>, Raised> {
    hex.map(str::parse).transpose().map_err(Raised::usage)
}

/// The model store, as `wharf.ModelStore(cache_dir=None, *, offline=False)`.
#[pyclass(module = "wharf._wharf", name = "ModelStore", frozen)]
struct ModelStore {
    /// `WHARF_CACHE_DIR` and `HF_HUB_CACHE` as found when it was made: the roots do not move
    /// when the environment changes later (the other variables are read at each call).
    overrides: Vec<(&'static str, String)>,
    offline: bool,
}

impl ModelStore {
    fn open(&self, offline: bool, allow_http: bool) -> Result<(Wharf, Store), Raised> {
        let wharf = open(&self.overrides)?;
        let access = Access { offline: self.offline || offline, allow_http };
        let store = wharf.store(access).map_err(Raised::cli)?;
        Ok((wharf, store))
    }
}

/// A path as the text of a variable; one that is not UTF-8 is refused (it would name another
/// folder once replaced).
fn path_text(p: PathBuf) -> Result<String, Raised> {
    p.into_os_string()
        .into_string()
        .map_err(|p| Raised::usage(format!("`{}` is not valid UTF-8", PathBuf::from(p).display())))
}

#[pymethods]
impl ModelStore {
    #[new]
    #[pyo3(signature = (cache_dir=None, *, offline=false))]
    fn new(cache_dir: Option<PathBuf>, offline: bool) -> PyResult<ModelStore> {
        let given = match cache_dir {
            None => Vec::new(),
            Some(dir) => {
                let dir = std::path::absolute(&dir).map_err(|e| Raised::usage(format!("`{}`: {e}", dir.display())))?;
                vec![
                    (vars::WHARF_CACHE_DIR, path_text(dir.clone())?),
                    (vars::HF_HUB_CACHE, path_text(dir.join("hub"))?),
                ]
            }
        };
        // Refuse a bad environment (a relative WHARF_CACHE_DIR, …) now, and pin the roots.
        let (_, store) = ModelStore { overrides: given, offline }.open(true, false)?;
        let overrides = vec![
            (vars::WHARF_CACHE_DIR, path_text(store.blobs.root.clone())?),
            (vars::HF_HUB_CACHE, path_text(store.hub_cache.root.clone())?),
        ];
        Ok(ModelStore { overrides, offline })
    }

    /// (wharf's blob store, the Hugging Face cache)
    fn roots(&self) -> PyResult<(PathBuf, PathBuf)> {
        let (_, store) = self.open(true, false)?;
        Ok((store.blobs.root.clone(), store.hub_cache.root.clone()))
    }

    #[pyo3(signature = (spec, *, sha256=None, offline=false, allow_http=false, progress=None, include=Vec::new(), exclude=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn get_model(
        &self,
        py: Python<'_>,
        spec: &str,
        sha256: Option<&str>,
        offline: bool,
        allow_http: bool,
        progress: Option<Py<PyAny>>,
        include: Vec<String>,
        exclude: Vec<String>,
    ) -> PyResult<PathBuf> {
        let source = parse_source(spec)?;
        let sha256 = parse_sha256(sha256)?;
        let (_, store) = self.open(offline, allow_http)?;
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
        let sha256 = parse_sha256(sha256)?;
        let (_, store) = self.open(true, false)?;
        block_on(py, &PyProgress::new(None), async { Ok(store.is_cached(&source, sha256).await) })
    }

    /// JSON of what was removed (`Removed`).
    #[pyo3(signature = (model_id, *, dry_run=false))]
    fn remove_model(&self, py: Python<'_>, model_id: String, dry_run: bool) -> PyResult<String> {
        let (wharf, store) = self.open(true, false)?;
        let cwd = std::env::current_dir().map_err(Raised::failed)?;
        let chosen = wharf::ops::select::selectors(&[model_id], &cwd);
        json(&py.detach(|| store.remove_model(&chosen, &wharf.registry(), dry_run)).map_err(Raised::cli)?)
    }

    /// JSON of what was removed (`Removed`).
    #[pyo3(signature = (*, dry_run=false))]
    fn clear(&self, py: Python<'_>, dry_run: bool) -> PyResult<String> {
        let (wharf, store) = self.open(true, false)?;
        json(&py.detach(|| store.clear(&wharf.registry(), dry_run)).map_err(Raised::cli)?)
    }

    /// JSON of `Stats`.
    fn stats(&self, py: Python<'_>) -> PyResult<String> {
        let (wharf, store) = self.open(true, false)?;
        json(&py.detach(|| store.stats(&wharf.registry())))
    }

    /// JSON of `Verified`.
    #[pyo3(signature = (*, fix=false))]
    fn validate_integrity(&self, py: Python<'_>, fix: bool) -> PyResult<String> {
        let (_, store) = self.open(true, false)?;
        let repair = if fix { Repair::Yes } else { Repair::No };
        json(&py.detach(|| store.validate_integrity(repair, &[])).map_err(Raised::cli)?)
    }
}

fn json(doc: &impl serde::Serialize) -> PyResult<String> {
    Ok(serde_json::to_string(doc).map_err(Raised::failed)?)
}

// ---------------------------------------------------------------------------------------------
// Projects

/// The view of model `name` of the project around `start`; the project's models are pulled
/// first (as `wharf pull` in the project does) when the view is not there yet. Offline, no view
/// is made: the stored file is the answer.
#[pyfunction]
#[pyo3(signature = (name, start, *, offline=false, progress=None))]
fn model(py: Python<'_>, name: &str, start: PathBuf, offline: bool, progress: Option<Py<PyAny>>) -> PyResult<PathBuf> {
    let start = std::path::absolute(&start).map_err(|e| Raised::usage(format!("`{}`: {e}", start.display())))?;
    let wharf = open(&[])?;
    let view = || activate::model_path(&wharf.registry(), &start, name);
    match py.detach(view) {
        Ok(path) => return Ok(path),
        Err(ActivateError::NotPulled { .. }) => {}
        Err(e) => return Err(Raised::cli(e).into()),
    }
    let dir = resolve::find_manifest_dir(&start).ok_or_else(|| Raised::cli(ModelsError::NoManifest(start.clone())))?;
    let store = wharf.store(Access { offline, allow_http: false }).map_err(Raised::cli)?;
    let opts = PullOptions { now: chrono::Utc::now(), ..Default::default() };
    let progress = PyProgress::new(progress);
    let offline = store.is_offline();
    let (pulled, _) = block_on(py, &progress, async {
        resolve::pull_project(&store, wharf.registry(), &dir, false, &opts, &progress)
            .await
            .map_err(|e| models_error(e, offline))
    })?;
    match py.detach(view) {
        Ok(path) => Ok(path),
        Err(ActivateError::NotPulled { .. }) if offline => {
            let m = pulled.models.into_iter().find(|m| m.name == name);
            Ok(m.map(|m| m.file.path).ok_or_else(|| Raised::failed(format!("model `{name}` was not pulled")))?)
        }
        Err(e) => Err(Raised::cli(e).into()),
    }
}

/// `wharf ARGS… --json` run by the CLI's own code, its document captured: the document, or the
/// error it reports raised as the exception of its code. `args` come from wharf's Python code,
/// which puts `--` before any path.
#[pyfunction]
fn cli_json(py: Python<'_>, args: Vec<OsString>) -> PyResult<String> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("wharf")).chain(args).collect();
    let (_, out) = py.detach(|| cli::output::capture(|| cli::main(argv)));
    let text = String::from_utf8_lossy(&out).into_owned();
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Raised::failed(format!("the command's output is not JSON: {e}")))?;
    if let Some(err) = doc.get("error") {
        let field = |k: &str| err.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let code = field("code").unwrap_or_default();
        let exit_code = err.get("exit_code").and_then(|v| v.as_u64()).map_or(1, |c| c.min(255) as u8);
        // The report as the command made it; its code (not a `'static` one) goes on as `extra`.
        let report = ErrorReport {
            code: "failed",
            message: field("message").unwrap_or_default(),
            hint: field("hint"),
            exit_code,
        };
        let raised = Raised { class: class_of(&code, exit_code), report, extra: vec![("code", code)] };
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
    // `ExitCode` shows no number; find the one it was made from.
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
