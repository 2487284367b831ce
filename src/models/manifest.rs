//! `wharf.toml`: the models a project declares.
//!
//! ```toml
//! [models.tinyllama]
//! source = "hf://TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF@main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf"
//! fallback = ["hf://TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF@main/tinyllama-1.1b-chat-v1.0.Q2_K.gguf"]
//!
//! [models.detector]
//! source = "https://example.org/yolov8s.pt"
//! sha256 = "…"
//!
//! [models.classifier]              # published in fragments
//! parts = ["https://example.org/m.h5.aa#sha256=…", "https://example.org/m.h5.ab#sha256=…"]
//! sha256 = "…"                     # of the assembled file
//! ```
//!
//! A model's name is a [`ModelName`] (it names the model's view `<env>/models/<name><ext>` and its
//! variable `WHARF_MODEL_<NAME>`); a `source` without a scheme is a file of the project, relative to
//! its folder (`source = "models/x.bin"`, see [`Source::parse_in`]).
//!
//! A model has a `source` (one file) or `parts` (fragments, concatenated in order, which then
//! need the `sha256` of the whole); `fallback` sources are tried in order when the primary cannot
//! be had. A part may carry its own `#sha256=` so that a bad fragment is named. Every error names
//! the file, the line and the key. Tables other than `[models]` belong to other tools and are left
//! alone; inside a model, an unknown key is a typo and an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::ids::source::Source;
use crate::ids::{FileExt, ModelName, Sha256};

/// The manifest's file name, at the project's root.
pub const MANIFEST: &str = "wharf.toml";

/// A `wharf.toml` that cannot be used, with the line at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct ManifestError {
    /// The manifest.
    pub file: PathBuf,
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One `[models.NAME]` table: what the project wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name the project uses for it.
    pub name: String,
    /// The primary source, as written.
    pub source: Option<String>,
    /// The SHA-256 the file must have (required for a URL).
    pub sha256: Option<Sha256>,
    /// Sources tried in order when the primary fails.
    pub fallback: Vec<String>,
    /// Sources whose concatenation is the model (a split file).
    pub parts: Vec<String>,
}

impl ModelSpec {
    /// The sources to try, in order: the primary, then the fallbacks.
    pub fn candidates(&self) -> Vec<&str> {
        self.source.iter().chain(self.fallback.iter()).map(String::as_str).collect()
    }

    /// The extension of the model's view: that of its source's last path component (of its first
    /// part without the part suffix, for a model in parts), if it is a safe one.
    pub fn view_ext(&self) -> Option<FileExt> {
        let last = |src: &str| -> String {
            let base = src.split(['#', '?']).next().unwrap_or_default();
            base.rsplit('/').next().unwrap_or_default().to_string()
        };
        match (&self.source, self.parts.first()) {
            (Some(src), _) => FileExt::of_file_name(&last(src)),
            (None, Some(part)) => {
                let name = last(part);
                FileExt::of_file_name(name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem))
            }
            (None, None) => None,
        }
    }
}

/// `WHARF_MODEL_<NAME>`, the variable `wharf run`/`wharf env` set for model `name`: uppercased,
/// each run of characters outside `[A-Z0-9]` one `_`.
pub fn model_var(name: &str) -> String {
    let mut var = String::from("WHARF_MODEL_");
    let mut gap = false;
    for c in name.chars().flat_map(char::to_uppercase) {
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            var.push(c);
            gap = false;
        } else if !gap {
            var.push('_');
            gap = true;
        }
    }
    var
}

/// A parsed `wharf.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Where it was read from.
    pub file: PathBuf,
    /// Its models, in file order.
    pub models: Vec<ModelSpec>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    models: BTreeMap<String, Spanned<RawModel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    source: Option<Spanned<String>>,
    sha256: Option<Spanned<String>>,
    #[serde(default)]
    fallback: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    parts: Option<Spanned<Vec<String>>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Read `wharf.toml` in `dir`; `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<Manifest>, ManifestError> {
    let file = dir.join(MANIFEST);
    let text = match crate::fsx::read_optional(&file) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(ManifestError { file, line: 0, message: format!("cannot read: {}", e.source) }),
    };
    parse(&file, &text).map(Some)
}

/// Parse the text of `file`; every error names `file:line`.
pub fn parse(file: &Path, text: &str) -> Result<Manifest, ManifestError> {
    let err = |offset: usize, message: String| ManifestError {
        file: file.to_path_buf(),
        line: line_of(text, offset),
        message,
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        err(at, e.message().trim().to_string())
    })?;
    let project = file.parent().unwrap_or(Path::new(""));
    let mut models: Vec<ModelSpec> = Vec::new();
    for (name, spanned) in raw.models {
        let at = spanned.span().start;
        // The name becomes a file name (`<env>/models/<name><ext>`) and a variable: parsed here.
        if let Err(e) = name.parse::<ModelName>() {
            return Err(err(at, format!("models.{}: {e}", name.escape_debug())));
        }
        let m = spanned.into_inner();
        let sha256 = match m.sha256 {
            Some(h) => {
                let (span, h) = (h.span(), h.into_inner());
                match h.parse::<Sha256>() {
                    Ok(h) => Some(h),
                    Err(_) => {
                        return Err(err(span.start, format!("models.{name}.sha256: needs 64 hex digits, got `{h}`")))
                    }
                }
            }
            None => None,
        };
        let check = |key: &str, span: std::ops::Range<usize>, s: &str, hf_repo_ok: bool| -> Result<(), ManifestError> {
            match Source::parse_in(s, project) {
                Err(e) => Err(err(span.start, format!("models.{name}.{key}: {e}"))),
                Ok(Source::HfRepo { .. }) if !hf_repo_ok => Err(err(
                    span.start,
                    format!("models.{name}.{key}: `{s}` is a whole repo; name one file (hf://ORG/REPO/PATH)"),
                )),
                Ok(_) => Ok(()),
            }
        };
        let source = match m.source {
            Some(s) => {
                check("source", s.span(), s.get_ref(), false)?;
                Some(s.into_inner())
            }
            None => None,
        };
        let fallback = match m.fallback {
            Some(f) => {
                let span = f.span();
                for s in f.get_ref() {
                    check("fallback", span.clone(), s, false)?;
                }
                f.into_inner()
            }
            None => Vec::new(),
        };
        let parts = match m.parts {
            Some(p) => {
                let span = p.span();
                for s in p.get_ref() {
                    check("parts", span.clone(), s, false)?;
                }
                if p.get_ref().is_empty() {
                    return Err(err(span.start, format!("models.{name}.parts: is empty")));
                }
                p.into_inner()
            }
            None => Vec::new(),
        };
        match (&source, parts.is_empty()) {
            (None, true) => return Err(err(at, format!("models.{name}: needs `source` or `parts`"))),
            (Some(_), false) => {
                return Err(err(at, format!("models.{name}: has both `source` and `parts`; choose one")))
            }
            (None, false) if sha256.is_none() => {
                return Err(err(at, format!("models.{name}: `parts` need the `sha256` of the assembled file")))
            }
            (None, false) if !fallback.is_empty() => {
                return Err(err(at, format!("models.{name}: `fallback` goes with `source`, not `parts`")))
            }
            _ => {}
        }
        let spec = ModelSpec { name, source, sha256, fallback, parts };
        // Two models on one variable or one view would hand a program the other's bytes: refused
        // here, so `pull`, `check`, `run` and `env` all see the same error.
        let view = |m: &ModelSpec| format!("{}{}", m.name, m.view_ext().map(|e| e.to_string()).unwrap_or_default());
        for other in &models {
            let (a, b) = (&other.name, &spec.name);
            let clash = if model_var(a) == model_var(b) {
                Some(format!("the variable `{}`", model_var(b)))
            } else if view(other) == view(&spec) {
                Some(format!("the view `models/{}`", view(&spec)))
            } else {
                None
            };
            if let Some(what) = clash {
                return Err(err(at, format!("models `{a}` and `{b}` would share {what}; rename one of them")));
            }
        }
        models.push(spec);
    }
    Ok(Manifest { file: file.to_path_buf(), models })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Manifest, ManifestError> {
        parse(Path::new("wharf.toml"), text)
    }

    #[test]
    fn reads_the_three_kinds() {
        let h = "a".repeat(64);
        let m = p(&format!(
            "[tool.other]\nx = 1\n[models.t]\nsource = \"hf://o/r/f.gguf\"\nfallback = [\"hf://o/r/g.gguf\"]\n\
             [models.d]\nsource = \"https://e.org/y.pt\"\nsha256 = \"{h}\"\n[models.c]\nparts = [\"https://e.org/a\", \"https://e.org/b\"]\nsha256 = \"{h}\"\n"
        ))
        .unwrap();
        let names: Vec<_> = m.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["c", "d", "t"]);
        assert_eq!(m.models[2].candidates(), ["hf://o/r/f.gguf", "hf://o/r/g.gguf"]);
        assert_eq!(m.models[0].parts.len(), 2);
    }

    #[test]
    fn errors_point_at_the_line_and_key() {
        let e = p("[models.a]\nsource = \"hf://o/r/f\"\nsorce = \"x\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("sorce"), "{e}");
        let e = p("[models.a]\n\nsha256 = \"abc\"\nsource = \"hf://o/r/f\"\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("models.a.sha256")), (3, true), "{e}");
        let e = p("[models.a]\nsource = \"ftp://x\"\n").unwrap_err();
        assert!(e.to_string().starts_with("wharf.toml:2: models.a.source"), "{e}");
        let e = p("[models.a]\nparts = [\"https://e/a\"]\n").unwrap_err();
        assert!(e.message.contains("sha256"), "{e}");
        let e = p("[models.a]\nsource = \"hf://o/r\"\n").unwrap_err();
        assert!(e.message.contains("whole repo"), "{e}");
        let e = p("[models.\"../x\"]\nsource = \"hf://o/r/f\"\n").unwrap_err();
        assert!(e.message.contains("model name"), "{e}");
        let e = p("[models.a]\nsource = \"/abs/x.bin\"\n").unwrap_err();
        assert!(e.message.contains("file://"), "{e}");
        assert!(p("[models.a]\nsource = \"models/x.bin\"\n").is_ok());
        let e = p("[models.a\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
