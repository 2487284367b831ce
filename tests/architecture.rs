//! The floor plan, checked: every `crate::…` and `super::…` path in `src/` is mapped to the module
//! it names, and the test fails when a module uses one of a higher layer, when modules use each
//! other in a cycle, or when one command of the CLI calls another command's module.
//!
//! The layers, top to bottom (STYLE.md's words; `src/lib.rs` draws the same picture):
//!
//! ```text
//! 7 cli            the binary: src/main.rs, src/cli/
//! 6 (crate root)   src/lib.rs: the facade and re-exports
//! 5 ops, models    the commands' logic
//! 4 registry, store  the two doors
//! 3 remote         origins of models
//! 2 transfer       bytes over HTTP, retries, hashing
//! 1 project, env, home_path, ids, lock, fsx   the vocabulary
//! ```
//!
//! A module may use its own layer and the layers below. A folder's `mod.rs` re-exporting its own
//! children (`pub use child::X`) is the folder's door, not a use; a path through such a re-export
//! is resolved to the child that defines the name, so `crate::transfer::FetchError` counts as a use
//! of `transfer::error`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of the library and their layer. A new top-level module must be added
/// here, in the layer it belongs to.
const LAYERS: &[(&str, u8)] = &[
    ("ops", 5),
    ("models", 5),
    ("registry", 4),
    ("store", 4),
    ("remote", 3),
    ("transfer", 2),
    ("project", 1),
    ("env", 1),
    ("home_path", 1),
    ("ids", 1),
    ("lock", 1),
    ("fsx", 1),
];
const ROOT_LAYER: u8 = 6;
const CLI_LAYER: u8 = 7;

/// Modules of `src/cli/` every command may use: the dispatch and context (`mod.rs`), shared
/// rendering and prompts. Any other module of `src/cli/` is one command, used by no other.
const CLI_SHARED: &[&str] = &[
    "cli",
    "cli::output",
    "cli::view",
    "cli::prompt",
    "cli::removals",
    "cli::bars",
    "cli::project_pull",
    "cli::activation",
];

type Module = Vec<String>;

struct File {
    module: Module,
    text: String,
    path: PathBuf,
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_string()
    } else {
        m.join("::")
    }
}

/// Every `.rs` file under `root`, with its module path (`a/b.rs` and `a/b/mod.rs` are `a::b`).
fn files(root: &Path) -> Vec<File> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.expect("walk src/");
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().with_extension("");
        let mut module: Module = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if module.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
            module.pop();
        }
        let text = std::fs::read_to_string(path).expect("read a source file");
        out.push(File { module, text, path: path.to_path_buf() });
    }
    out
}

/// The text without comments (doc links are not uses) and without string literals.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if !in_str && c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Paths that start with `crate::` or `super::`, with `{…}` groups expanded to one path per
/// item (only as deep as needed to name a module). `*` items are dropped.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        let rest: String = bytes[i..bytes.len().min(i + 8)].iter().collect();
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let (mut found, end) = path_at(&bytes, i);
            out.append(&mut found);
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Parse `seg::seg::{a, b::c}` at `i`; return every full path and the index after it.
fn path_at(s: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        let start = i;
        while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
            i += 1;
        }
        if start == i {
            break;
        }
        prefix.push(s[start..i].iter().collect::<String>());
        if i + 1 < s.len() && s[i] == ':' && s[i + 1] == ':' {
            i += 2;
            if i < s.len() && s[i] == '{' {
                return group(s, i + 1, &prefix);
            }
        } else {
            break;
        }
    }
    (vec![prefix], i)
}

fn group(s: &[char], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut out = Vec::new();
    loop {
        while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
            i += 1;
        }
        if i >= s.len() || s[i] == '}' {
            return (out, i + 1);
        }
        if s[i] == '*' {
            i += 1;
            continue;
        }
        let (items, end) = path_at(s, i);
        for item in items {
            let mut full = prefix.to_vec();
            full.extend(item.into_iter().filter(|seg| seg != "self"));
            out.push(full);
        }
        // Skip ` as alias`.
        i = end;
        while i < s.len() && !matches!(s[i], ',' | '}') {
            i += 1;
        }
    }
}

/// The path after `pub use` when the statement re-exports the module's own children (a relative
/// path): a folder's door, not a use.
fn own_reexport(stmt: &str) -> Option<&str> {
    let body = stmt.trim().strip_prefix("pub use ")?;
    (!body.contains("crate::") && !body.contains("super::")).then_some(body)
}

/// The crate-absolute form of a path written in `from` (`super::` counted from the file's module).
fn absolute(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base = from.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

struct Crate {
    modules: BTreeSet<Module>,
    /// `module -> name -> child module that defines it`, from `pub use child::…` in a folder door.
    reexports: BTreeMap<Module, BTreeMap<String, Module>>,
}

impl Crate {
    fn new(files: &[File]) -> Crate {
        let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
        let mut reexports: BTreeMap<Module, BTreeMap<String, Module>> = BTreeMap::new();
        for f in files {
            for stmt in code(&f.text).split(';') {
                let Some(body) = own_reexport(stmt) else { continue };
                let rel = match f.module.is_empty() {
                    true => format!("crate::{body}"),
                    false => format!("crate::{}::{body}", name(&f.module)),
                };
                for p in paths(&rel) {
                    let Some(abs) = absolute(&f.module, &p) else { continue };
                    let Some((target, _)) = longest_module(&modules, &abs) else { continue };
                    if let Some(item) = abs.last() {
                        reexports.entry(f.module.clone()).or_default().insert(item.clone(), target);
                    }
                }
            }
        }
        Crate { modules, reexports }
    }

    /// The module a crate-absolute path names (through re-exports), or `None` for a name of the
    /// crate root that is not a module (a type or a constant of `lib.rs`).
    fn resolve(&self, abs: &[String]) -> Option<Module> {
        let (mut module, used) = longest_module(&self.modules, abs)?;
        if let Some(next) = abs.get(used) {
            if let Some(target) = self.reexports.get(&module).and_then(|r| r.get(next)) {
                module = target.clone();
            }
        }
        Some(module)
    }
}

fn longest_module(modules: &BTreeSet<Module>, abs: &[String]) -> Option<(Module, usize)> {
    (0..=abs.len()).rev().find_map(|n| modules.contains(&abs[..n].to_vec()).then(|| (abs[..n].to_vec(), n)))
}

fn layer(m: &[String], binary: bool) -> Result<u8, String> {
    if binary {
        return Ok(CLI_LAYER);
    }
    let Some(top) = m.first() else { return Ok(ROOT_LAYER) };
    LAYERS
        .iter()
        .find(|(n, _)| n == top)
        .map(|(_, l)| *l)
        .ok_or_else(|| format!("`{top}` is not in the table of layers in tests/architecture.rs: add it"))
}

/// The uses of each module: `from -> {to}` (self-uses and a door's own re-exports left out).
fn uses(krate: &Crate, files: &[File]) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for f in files {
        let text = code(&f.text);
        // `super::` inside the test module is relative to it, not to the file: skip those.
        let (body, tests) = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => text.split_at(i),
            None => (text.as_str(), ""),
        };
        let mut found: Vec<Vec<String>> = Vec::new();
        for stmt in body.split(';') {
            if own_reexport(stmt).is_some() {
                continue; // a door re-exporting its own children
            }
            found.extend(paths(stmt));
        }
        found.extend(paths(tests).into_iter().filter(|p| p[0] == "crate"));
        let from = edges.entry(f.module.clone()).or_default();
        for p in found {
            let Some(abs) = absolute(&f.module, &p) else { continue };
            let Some(to) = krate.resolve(&abs) else { continue };
            // `super::x` from an inline module (`mod vars { … }`) counted from the file lands on
            // the crate root with a name it does not have: not a use of the root.
            let root_item = |name: &String| !krate.modules.contains(&vec![name.clone()]);
            if to.is_empty() && p[0] == "super" && abs.first().is_some_and(root_item) {
                continue;
            }
            if to != f.module {
                from.insert(to);
            }
        }
    }
    edges
}

/// Every cycle, as the modules of each strongly connected component with more than one member.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    let nodes: Vec<&Module> = edges.keys().collect();
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    for n in &nodes {
        let mut scc: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[*n].contains(**m) && reachable[*m].contains(*n))
            .map(|m| name(m))
            .collect();
        if scc.len() > 1 {
            scc.sort();
            out.insert(scc);
        }
    }
    out.into_iter().collect()
}

fn check(src: &Path) -> Vec<String> {
    let all = files(src);
    let binary = |f: &File| f.module.first().is_some_and(|m| m == "cli") || f.path.ends_with("main.rs");
    let (bin, lib): (Vec<File>, Vec<File>) = all.into_iter().partition(binary);
    let mut problems = Vec::new();
    let lib_crate = Crate::new(&lib);
    let lib_uses = uses(&lib_crate, &lib);
    for (from, tos) in &lib_uses {
        let lf = match layer(from, false) {
            Ok(l) => l,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for to in tos {
            match layer(to, false) {
                Ok(lt) if lt > lf => problems.push(format!(
                    "`{}` (layer {lf}) uses `{}` (layer {lt}): an import points up",
                    name(from),
                    name(to)
                )),
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
    }
    for c in cycles(&lib_uses) {
        problems.push(format!("modules use each other in a cycle: {}", c.join(", ")));
    }
    let bin_crate = Crate::new(&bin);
    let bin_uses = uses(&bin_crate, &bin);
    for c in cycles(&bin_uses) {
        problems.push(format!("CLI modules use each other in a cycle: {}", c.join(", ")));
    }
    let shared = |m: &Module| CLI_SHARED.contains(&name(m).as_str()) || m.is_empty();
    for (from, tos) in &bin_uses {
        for to in tos {
            if !shared(from) && !shared(to) && to.first().is_some_and(|t| t == "cli") {
                problems.push(format!(
                    "command `{}` calls command `{}`: move what they share into the library or a shared CLI module",
                    name(from),
                    name(to)
                ));
            }
        }
    }
    problems
}

#[test]
fn no_import_points_up_and_no_module_cycle() {
    let src = std::env::var_os("WHARF_ARCH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let problems = check(&src);
    assert!(problems.is_empty(), "the layout breaks the layers ({}):\n  {}", src.display(), problems.join("\n  "));
}

#[test]
fn the_checker_sees_an_upward_import_a_cycle_and_a_command_calling_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod fsx;\npub mod store;\npub mod transfer;\n");
    // Upward: the bottom layer names a store type.
    write("fsx.rs", "use crate::store::{config::StoreConfig, Other};\n");
    write("store/mod.rs", "pub mod config;\npub use config::StoreConfig;\n");
    write("store/config.rs", "pub struct StoreConfig;\n");
    // A cycle inside one layer, one side through a door's re-export.
    write("transfer/mod.rs", "pub mod a;\npub mod b;\npub use b::Thing;\n");
    write("transfer/a.rs", "use super::Thing;\npub struct A;\n");
    write("transfer/b.rs", "pub struct Thing(crate::transfer::a::A);\n// use crate::store; (a comment is no use)\n");
    // The CLI: one command calling another.
    write("main.rs", "mod cli;\n");
    write("cli/mod.rs", "mod init;\nmod pull;\n");
    write("cli/init.rs", "fn f() { super::pull::pull_project(); }\n");
    write("cli/pull.rs", "pub fn pull_project() {}\n");
    let problems = check(src);
    let all = problems.join("\n");
    assert!(all.contains("`fsx` (layer 1) uses `store::config` (layer 4)"), "{all}");
    assert!(all.contains("`fsx` (layer 1) uses `store` (layer 4)"), "{all}");
    assert!(all.contains("cycle: transfer::a, transfer::b"), "{all}");
    assert!(all.contains("command `cli::init` calls command `cli::pull`"), "{all}");
    assert!(!all.contains("`transfer::b` (layer 2) uses `store`"), "a comment counted as a use: {all}");
    assert_eq!(problems.len(), 4, "{all}");
}

/// The README's "Architecture" section names every folder and top-level file of `src/`, and
/// names nothing that is not there.
#[test]
fn the_readme_architecture_matches_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("## Architecture").expect("README has an Architecture section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        on_disk.insert(if entry.path().is_dir() { format!("src/{name}/") } else { format!("src/{name}") });
    }
    let named: BTreeSet<String> = section
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("src/"))
        .map(|w| w.trim_end_matches([',', ':']).to_string())
        .collect();
    let missing: Vec<_> = on_disk.difference(&named).collect();
    let stale: Vec<_> = named.difference(&on_disk).collect();
    assert!(missing.is_empty(), "README's Architecture does not name {missing:?}");
    assert!(stale.is_empty(), "README's Architecture names what is not in src/: {stale:?}");
}
