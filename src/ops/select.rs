//! Which stored files a `models rm` / `models verify` argument names: the one place that knows
//! that an argument may be a model name of the current project, beside what the store itself
//! understands (ids, prefixes, sources; see `store/id.rs`).
//!
//! Order, first match wins: a spec with a scheme (`hf://…`, `https://…`, `file://…`) is a source;
//! a name of a model in the `wharf.toml` at or above the current folder is that model — the file
//! `wharf.lock` pins for it (its SHA-256), or, not pinned yet, the files pulled from any of its
//! sources (the primary or a fallback) or with the SHA-256 `wharf.toml` asks for;
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
            // Not pinned yet: whichever of its sources it was pulled from (a fallback when the
            // primary was down), or the digest wharf.toml asks for.
            let mut of: Vec<Selector> = spec.candidates().into_iter().map(Selector::source).collect();
            if let Some(sha256) = &spec.sha256 {
                of.push(Selector::Sha256 { given: arg.clone(), sha256: sha256.clone() });
            }
            match of.is_empty() {
                true => Selector::parse(arg),
                false => Selector::AnyOf { given: arg.clone(), of },
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
        let toml = "[models.tok]\nsource = \"https://127.0.0.1/t.json\"\nfallback = [\"https://127.0.0.2/t.json\"]\n";
        std::fs::write(d.path().join("wharf.toml"), toml).unwrap();
        let sub = d.path().join("src");
        std::fs::create_dir(&sub).unwrap();
        let got = selectors(&["tok".into(), "abcd".into()], &sub);
        let id = crate::store::StoreId::blob(&"d".repeat(64));
        assert_eq!(got[0].given(), "tok");
        assert!(got[0].matches(&id, &["https://127.0.0.2/t.json".into()], None), "a fallback names it: {got:?}");
        assert!(!got[0].matches(&id, &["https://127.0.0.3/t.json".into()], None));
        assert_eq!(got[1], Selector::Id("abcd".into()));
        let lock = format!("version = 1\n\n[[model]]\nname = \"tok\"\nsha256 = \"{hex}\"\nsize = 3\n");
        std::fs::write(d.path().join("wharf.lock"), lock).unwrap();
        let got = selectors(&["tok".into()], &sub);
        assert!(matches!(&got[0], Selector::Sha256 { sha256, .. } if sha256.as_str() == hex), "{got:?}");
    }
}
