//! The names a project gives its models, and what is built from them: the model's name in
//! `wharf.toml` ([`ModelName`]), the extension its view keeps ([`FileExt`]) and a file named relative
//! to the project ([`ProjectPath`]).
//!
//! A model's view is `<env>/models/<name><ext>` and its variable `WHARF_MODEL_<NAME>`: both come
//! from a cloned `wharf.toml`, so both parts are parsed here into values that cannot hold `/`, `..`,
//! a leading `.` or a control character, and cannot make a file name leave `<env>/models`.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use super::{refuse, IdError, MAX_LEN};

boundary_type!(
    /// A model's name in `wharf.toml`: 1–64 letters, digits, `-`, `_` or `.`, starting with a letter
    /// or digit (so it is one plain file name, never hidden, never `.` or `..`).
    ModelName, "model name", |s| {
        let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
        let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if s.len() <= 64 && first_ok && s.bytes().all(ok_char) {
            Ok(s.to_string())
        } else {
            Err(refuse("model name", s, "use 1-64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"))
        }
    }
);

boundary_type!(
    /// A file extension a view keeps: `.` then one or two parts of 1–16 letters or digits
    /// (`.gguf`, `.tar.gz`).
    FileExt, "file extension", |s| {
        let part_ok = |p: &str| (1..=16).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric());
        match s.strip_prefix('.') {
            Some(rest) if rest.split('.').count() <= 2 && rest.split('.').all(part_ok) => Ok(s.to_string()),
            _ => Err(refuse("file extension", s, "expected `.` and one or two parts of letters and digits")),
        }
    }
);

boundary_type!(
    /// A file of the project named relative to its folder (`models/x.bin`): `/`-separated parts,
    /// none empty, `.` or `..`, no `\` or control character (a leading `./` is dropped).
    ProjectPath, "project path", |s| {
        let s = s.strip_prefix("./").unwrap_or(s);
        if super::relative_parts_ok(s) {
            Ok(s.to_string())
        } else {
            Err(refuse("project path", s, "must be relative to the project, without empty, `.` or `..` parts"))
        }
    }
);

impl FileExt {
    /// The extension a file name keeps in its view: its last one (`.gguf`), or the last two when
    /// the one before is `tar` (`.tar.gz`); none for a name without one, a hidden name, or one
    /// that is not plain letters and digits.
    pub fn of_file_name(name: &str) -> Option<FileExt> {
        let (stem, last) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        let ext = match stem.rsplit_once('.') {
            Some((s, t)) if !s.is_empty() && t.eq_ignore_ascii_case("tar") => format!(".{t}.{last}"),
            _ => format!(".{last}"),
        };
        ext.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_one_plain_file_name() {
        for ok in ["tinyllama", "Tiny-Llama_1.1b", "a", "x.y"] {
            assert!(ok.parse::<ModelName>().is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "..", "a/b", "../x", "a b", "a\nb", "-x", &"a".repeat(65), "ü"] {
            assert!(bad.parse::<ModelName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn extensions_are_taken_from_the_last_component() {
        let ext = |n: &str| FileExt::of_file_name(n).map(|e| e.to_string());
        assert_eq!(ext("m.Q4_K_M.gguf").as_deref(), Some(".gguf"));
        assert_eq!(ext("weights.tar.gz").as_deref(), Some(".tar.gz"));
        assert_eq!(ext("model.bin").as_deref(), Some(".bin"));
        assert_eq!(ext("README"), None);
        assert_eq!(ext(".bashrc"), None);
        assert_eq!(ext("x.a/b"), None);
        assert_eq!(ext("x.$(id)"), None);
        for bad in ["gguf", "./x", ".a.b.c", ".", ".a/b", ".x\n"] {
            assert!(bad.parse::<FileExt>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn project_paths_stay_inside_the_project() {
        assert_eq!("./models/x.bin".parse::<ProjectPath>().unwrap().as_str(), "models/x.bin");
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "", "a\\b", "."] {
            assert!(bad.parse::<ProjectPath>().is_err(), "{bad:?}");
        }
    }
}
