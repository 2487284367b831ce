//! What `wharf pull` accepts, parsed and checked before any network call.
//!
//! | form | meaning |
//! |---|---|
//! | `hf://ORG/REPO[@REV]/PATH` | one file of a Hugging Face model repo (REV defaults to `main`) |
//! | `hf://ORG/REPO[@REV]` | a whole repo (filtered with `--include`/`--exclude`) |
//! | `https://…[#sha256=HEX]` | a plain URL, optionally pinned by its SHA-256 |
//! | `file:///abs/path[#sha256=HEX]` | a local file, copied into the store |
//! | `s3://BUCKET/KEY[#sha256=HEX]` | an object of an S3 bucket (credentials and endpoint: the `AWS_*` variables) |
//! | `models/x.bin[#sha256=HEX]` | in `wharf.toml` only ([`Source::parse_in`]): a file of the project, relative to its folder |
//!
//! Plain `http://` is accepted only for loopback hosts, or with `--allow-http` ([`check_scheme`]);
//! no other scheme is ever fetched, also not through a redirect.
//!
//! Every part is parsed into its boundary type ([`RepoId`], [`Revision`], [`RepoPath`](crate::ids::RepoPath),
//! [`Sha256`]; a Hugging Face file into an [`HfFile`], a repo into a [`RepoRef`]) here, so nothing
//! downstream handles a raw string from the spec.

use std::path::{Path, PathBuf};

use crate::ids::{HfFile, ProjectPath, RepoId, RepoRef, Revision, S3Object, Sha256};

/// A spec or a URL refused before any request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    /// The spec does not parse.
    #[error("`{spec}`: {why}\n  hint: use hf://ORG/REPO[@REV]/PATH, hf://ORG/REPO[@REV], https://…[#sha256=HEX], s3://BUCKET/KEY[#sha256=HEX] or file:///…")]
    Invalid {
        /// The spec.
        spec: String,
        /// What is wrong with it.
        why: String,
    },
    /// Plain `http://` to a host that is not loopback, without `--allow-http`.
    #[error("`{url}` uses plain http to a host that is not loopback\n  hint: use https, or pass `--allow-http` if you trust the network")]
    PlainHttp {
        /// The URL.
        url: String,
    },
    /// A scheme wharf never fetches (`file://` from a redirect, `ftp://`, …).
    #[error("`{url}` uses the scheme `{scheme}`, which wharf never fetches from the network\n  hint: only https (and http to loopback) are fetched; a local file is `file:///…` as a spec, never through a redirect")]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// A redirect from https (or from elsewhere to loopback) to plain http.
    #[error("`{from}` redirects to plain http at `{to}`; refused (never from https, never from another host to loopback)\n  hint: ask the server's owner to keep the redirect on https")]
    Downgrade {
        /// The page that redirects.
        from: String,
        /// Where to.
        to: String,
    },
}

/// What to pull, parsed from a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One file of a Hugging Face repo.
    HfFile(HfFile),
    /// A whole Hugging Face repo.
    HfRepo(RepoRef),
    /// A plain URL (https, or http to loopback), optionally pinned by its SHA-256.
    Url {
        /// The URL, normalised by parsing.
        url: String,
        /// `#sha256=HEX`.
        sha256: Option<Sha256>,
    },
    /// A local file, copied into the store.
    File {
        /// An absolute path.
        path: PathBuf,
        /// `#sha256=HEX`.
        sha256: Option<Sha256>,
    },
    /// An object of an S3 bucket, read with the AWS credentials of the environment.
    S3 {
        /// The bucket and key.
        object: S3Object,
        /// `#sha256=HEX`.
        sha256: Option<Sha256>,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::HfFile(file) => file.fmt(f),
            Source::HfRepo(at) => at.fmt(f),
            Source::Url { url, .. } => f.write_str(url),
            Source::File { path, .. } => write!(f, "file://{}", path.display()),
            Source::S3 { object, .. } => object.fmt(f),
        }
    }
}

fn invalid(spec: &str, why: impl Into<String>) -> SourceError {
    SourceError::Invalid { spec: spec.to_string(), why: why.into() }
}

fn parse_sha256(spec: &str, fragment: Option<&str>) -> Result<Option<Sha256>, SourceError> {
    let Some(frag) = fragment else { return Ok(None) };
    let hex =
        frag.strip_prefix("sha256=").ok_or_else(|| invalid(spec, "the only fragment understood is #sha256=HEX"))?;
    hex.parse().map(Some).map_err(|_| invalid(spec, "#sha256= needs 64 hex digits"))
}

impl Source {
    /// Parse a spec (see the module's table).
    pub fn parse(spec: &str) -> Result<Source, SourceError> {
        if let Some(rest) = spec.strip_prefix("hf://") {
            return parse_hf(spec, rest);
        }
        let (base, fragment) = match spec.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (spec, None),
        };
        let sha256 = parse_sha256(spec, fragment)?;
        if let Some(path) = base.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid(spec, "file:// needs an absolute path (file:///…)"));
            }
            return Ok(Source::File { path: PathBuf::from(path), sha256 });
        }
        if base.starts_with("https://") || base.starts_with("http://") {
            let url = reqwest::Url::parse(base).map_err(|e| invalid(spec, e.to_string()))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid(spec, "the URL has no host"));
            }
            return Ok(Source::Url { url: url.to_string(), sha256 });
        }
        if base.starts_with("s3://") {
            let object = base.parse().map_err(|e: crate::ids::IdError| invalid(spec, e.why))?;
            return Ok(Source::S3 { object, sha256 });
        }
        Err(invalid(spec, "unknown scheme"))
    }

    /// Parse a spec of the `wharf.toml` in `project`: the forms of [`Source::parse`], or, without a
    /// scheme, a file of the project named relative to its folder (`models/x.bin`, parsed as a
    /// [`ProjectPath`]), which becomes a [`Source::File`] inside it. The relative spelling is what
    /// `wharf.lock` keeps, so a moved project still agrees with its lock. An absolute path needs
    /// `file://`; `..` and a symlink that leads out of the project are refused.
    pub fn parse_in(spec: &str, project: &Path) -> Result<Source, SourceError> {
        let scheme = spec.split_once(':').is_some_and(|(s, _)| {
            s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        });
        if scheme {
            return Source::parse(spec);
        }
        let (base, fragment) = spec.split_once('#').map_or((spec, None), |(b, f)| (b, Some(f)));
        if base.starts_with('/') {
            return Err(invalid(spec, "an absolute path needs file:// (file:///…); a project file is relative to it"));
        }
        let rel: ProjectPath =
            base.parse().map_err(|_| invalid(spec, "a project file is relative to the project, without `..`"))?;
        let sha256 = parse_sha256(spec, fragment)?;
        let path = project.join(rel.as_str());
        // The name stays inside; a symlink on the way may not lead out (a file not there yet is
        // reported by the pull).
        if let (Ok(real), Ok(root)) = (path.canonicalize(), project.canonicalize()) {
            if !real.starts_with(&root) {
                return Err(invalid(spec, format!("leads out of the project to `{}`", real.display())));
            }
        }
        Ok(Source::File { path, sha256 })
    }

    /// The `@REV` given, or `main`.
    pub fn revision(&self) -> Option<&Revision> {
        match self {
            Source::HfFile(HfFile { revision, .. }) | Source::HfRepo(RepoRef { revision, .. }) => Some(revision),
            _ => None,
        }
    }

    /// The digest the spec carries (`#sha256=`).
    pub fn digest(&self) -> Option<&Sha256> {
        match self {
            Source::Url { sha256, .. } | Source::File { sha256, .. } | Source::S3 { sha256, .. } => sha256.as_ref(),
            Source::HfFile(_) | Source::HfRepo(_) => None,
        }
    }

    /// The Hugging Face file this is, if it is one.
    pub fn hf_file(&self) -> Option<&HfFile> {
        match self {
            Source::HfFile(file) => Some(file),
            _ => None,
        }
    }
}

fn parse_hf(spec: &str, rest: &str) -> Result<Source, SourceError> {
    let mut parts = rest.splitn(3, '/');
    let org = parts.next().unwrap_or_default();
    let name_rev = parts.next().ok_or_else(|| invalid(spec, "expected ORG/REPO"))?;
    let path = parts.next();
    let (name, revision) = name_rev.split_once('@').unwrap_or((name_rev, "main"));
    let repo: RepoId = format!("{org}/{name}")
        .parse()
        .map_err(|_| invalid(spec, "ORG and REPO may hold letters, digits, `-`, `_` and `.`"))?;
    let revision: Revision =
        revision.parse().map_err(|_| invalid(spec, "REV may hold letters, digits, `-`, `_` and `.`"))?;
    let at = RepoRef { repo, revision };
    match path {
        None | Some("") => Ok(Source::HfRepo(at)),
        Some(p) => p
            .parse()
            .map(|path| Source::HfFile(at.file(path)))
            .map_err(|_| invalid(spec, "PATH must be relative, without `..`")),
    }
}

/// The host is 127.0.0.0/8, ::1 or localhost.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// https anywhere; plain http only to loopback hosts unless `allow_http`; no other scheme.
pub fn check_scheme(url: &reqwest::Url, allow_http: bool) -> Result<(), SourceError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(SourceError::PlainHttp { url: url.to_string() }),
        other => Err(SourceError::Scheme { url: url.to_string(), scheme: other.to_string() }),
    }
}

/// A redirect from `from` to `to` may be followed: `to` passes [`check_scheme`], and an https
/// page never sends us to plain http (except from loopback to loopback, where nothing travels a
/// network; a remote page may not point us at local services either).
pub fn check_redirect(from: &reqwest::Url, to: &reqwest::Url, allow_http: bool) -> Result<(), SourceError> {
    check_scheme(to, allow_http)?;
    let local = is_loopback(from) && is_loopback(to);
    if to.scheme() == "http" && !local && (from.scheme() == "https" || is_loopback(to)) {
        return Err(SourceError::Downgrade { from: from.to_string(), to: to.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_forms() {
        assert_eq!(
            Source::parse("hf://TheBloke/Tiny-1.1B@v2/sub/model.gguf").unwrap(),
            Source::HfFile(HfFile {
                repo: "TheBloke/Tiny-1.1B".parse().unwrap(),
                revision: "v2".parse().unwrap(),
                path: "sub/model.gguf".parse().unwrap()
            })
        );
        assert_eq!(
            Source::parse("hf://org/repo").unwrap(),
            Source::HfRepo(RepoRef { repo: "org/repo".parse().unwrap(), revision: Revision::main() })
        );
        for bad in ["hf://org", "hf://org/repo/../x", "hf://org/repo//x", "hf://../repo/x", "hf://org/repo@/x"] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_and_file_forms_with_pins() {
        let h = "ab".repeat(32);
        assert_eq!(
            Source::parse(&format!("https://example.org/m.bin#sha256={}", h.to_uppercase())).unwrap(),
            Source::Url { url: "https://example.org/m.bin".into(), sha256: Some(h.parse().unwrap()) }
        );
        assert!(Source::parse("https://example.org/m.bin#sha256=abc").is_err());
        assert_eq!(
            Source::parse("file:///data/m.bin").unwrap(),
            Source::File { path: "/data/m.bin".into(), sha256: None }
        );
        assert!(Source::parse("file://relative/m.bin").is_err());
        assert!(Source::parse("ftp://x/y").is_err());
    }

    #[test]
    fn project_files_are_relative_and_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("models")).unwrap();
        assert_eq!(
            Source::parse_in("models/x.bin", &root).unwrap(),
            Source::File { path: root.join("models/x.bin"), sha256: None }
        );
        assert_eq!(Source::parse_in("hf://o/r/f.gguf", &root).unwrap(), Source::parse("hf://o/r/f.gguf").unwrap());
        for bad in ["../x.bin", "/etc/passwd", "models/../../x", "ftp://x/y", "x.bin#md5=1"] {
            assert!(Source::parse_in(bad, &root).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
            let e = Source::parse_in("out/passwd", &root).unwrap_err().to_string();
            assert!(e.contains("leads out of the project"), "{e}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let ok = |u: &str, allow| check_scheme(&reqwest::Url::parse(u).unwrap(), allow).is_ok();
        assert!(ok("http://127.0.0.1:8080/x", false));
        assert!(ok("http://localhost/x", false));
        assert!(ok("http://[::1]/x", false));
        assert!(!ok("http://10.0.0.1/x", false));
        assert!(ok("http://10.0.0.1/x", true));
        assert!(ok("https://example.org/x", false));
        assert!(!ok("file:///etc/passwd", true));
        assert!(!ok("ftp://example.org/x", true));
    }

    #[test]
    fn redirects_never_downgrade_or_change_scheme() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_redirect(&u("https://a.org/x"), &u("https://b.org/y"), false).is_ok());
        assert!(check_redirect(&u("https://a.org/x"), &u("http://b.org/y"), true).is_err());
        assert!(check_redirect(&u("https://a.org/x"), &u("http://127.0.0.1:9/y"), false).is_err());
        assert!(check_redirect(&u("https://127.0.0.1/x"), &u("http://127.0.0.1:9/y"), false).is_ok());
        assert!(check_redirect(&u("http://127.0.0.1/x"), &u("file:///etc/passwd"), true).is_err());
    }
}
