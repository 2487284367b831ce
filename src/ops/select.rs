//! Which stored files a `models rm` / `models verify` argument names: the one place that knows
//! that an argument may be a model name of the current project, beside what the store itself
//! understands (ids, prefixes, sources; see `store/id.rs`).
//!
//! Order, first match wins: a spec with a scheme (`hf://…`, `https://…`, `file://…`) is a source;
//! a name of a model in the `wharf.toml` at or above the current folder is that model — the file
//! `wharf.lock` pins for it (its SHA-256), or, not pinned yet, the files pulled from its sources;
//! anything else is an id or a prefix of one. A `wharf.toml` or `wharf.lock` that cannot be read
//! only means no name is known: an id still works.

use std::path::Path;

use crate::models::{lockfile, manifest, resolve};
use crate::store::id::Selector;

/// Turn the command-line arguments into selectors, reading the project around `cwd` for names.
pub fn selectors(args: &[String], cwd: &Path) -> Vec<Selector> {
    let dir = resolve::find_manifest_dir(cwd);
    let specs = dir.as_deref().and_then(|d| manifest::read(d).ok().flatten()).map(|m| m.models).unwrap_or_default();
    let lock = dir.as_deref().and_then(|d| lockfile::read(d).ok().flatten());
    args.iter()
        .map(|arg| {
            if arg.contains("://") {
                return Selector::parse(arg);
            }
            let Some(spec) = specs.iter().find(|s| &s.name == arg) else { return Selector::parse(arg) };
            if let Some(locked) = lock.as_ref().and_then(|l| l.get(arg)) {
                return Selector::Sha256 { given: arg.clone(), sha256: locked.sha256.clone() };
            }
            match spec.candidates().first() {
                Some(src) => match Selector::parse(src) {
                    Selector::Source { normal, .. } => Selector::Source { given: src.to_string(), normal },
                    other => other,
                },
                None => Selector::parse(arg),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_name_is_its_pinned_digest_and_other_words_are_ids() {
        let d = tempfile::tempdir().unwrap();
        let hex = "c".repeat(64);
        std::fs::write(d.path().join("wharf.toml"), "[models.tok]\nsource = \"https://127.0.0.1/t.json\"\n").unwrap();
        let sub = d.path().join("src");
        std::fs::create_dir(&sub).unwrap();
        let got = selectors(&["tok".into(), "abcd".into()], &sub);
        assert!(matches!(&got[0], Selector::Source { given, .. } if given == "https://127.0.0.1/t.json"));
        assert_eq!(got[1], Selector::Id("abcd".into()));
        let lock = format!("version = 1\n\n[[model]]\nname = \"tok\"\nsha256 = \"{hex}\"\nsize = 3\n");
        std::fs::write(d.path().join("wharf.lock"), lock).unwrap();
        let got = selectors(&["tok".into()], &sub);
        assert!(matches!(&got[0], Selector::Sha256 { sha256, .. } if sha256.as_str() == hex), "{got:?}");
    }
}
