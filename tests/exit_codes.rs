//! The README's exit-code table, held by every command: one table of cases drives them all. Each
//! case names a phrase that the README's row for its code must contain, so the table and the
//! behaviour cannot drift apart; every command and `models` subcommand that `--help` lists must
//! have a case, so a new command cannot slip past.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use support::TestHome;

/// The state a case starts from.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// An empty home; the current folder is the home.
    Fresh,
    /// A project folder that is not registered; the current folder.
    Folder,
    /// A registered project (no venv); the current folder.
    Project,
    /// A registered project whose folder was deleted; the current folder is the home.
    Orphan,
    /// A corrupt registry; the current folder is a registered-looking project.
    Corrupt,
}

struct Case {
    args: &'static [&'static str],
    setup: Setup,
    code: i32,
    /// Words the README row of `code` must contain for this case.
    readme: &'static str,
}

const fn case(args: &'static [&'static str], setup: Setup, code: i32, readme: &'static str) -> Case {
    Case { args, setup, code, readme }
}

use Setup::*;

/// `@FILE` in a case's arguments stands for a `file://` URL of a real file in the temp home.
const CASES: &[Case] = &[
    case(&["init", "--no-venv"], Folder, 0, "success"),
    case(&["init", "--python", "/nonexistent/python3"], Folder, 1, "venv could not be created"),
    case(&["init", "/"], Fresh, 2, "`init` of `/`"),
    case(&["init", "--no-venv"], Corrupt, 3, "corrupt"),
    case(&["run", "--", "true"], Project, 0, "success"),
    case(&["run", "--", "sh", "-c", "exit 7"], Project, 7, "`wharf run` exits with the code"),
    case(&["run", "--", "wharf-no-such-command"], Project, 1, "the operation failed"),
    case(&["run", "--", "true"], Folder, 1, "the operation failed"),
    case(&["run", "--", "true"], Corrupt, 3, "cannot be read"),
    case(&["env"], Project, 0, "success"),
    case(&["env", "--format", "tcsh"], Project, 2, "bad flag or value"),
    case(&["env"], Corrupt, 3, "cannot be read"),
    case(&["list"], Orphan, 0, "success"),
    case(&["list", "--status", "lost"], Fresh, 2, "bad flag or value"),
    case(&["list"], Corrupt, 3, "corrupt"),
    case(&["check"], Project, 0, "every checked project is valid"),
    case(&["check", "--all"], Orphan, 1, "a project is not valid"),
    case(&["check"], Fresh, 1, "no wharf project"),
    case(&["check", "--fail-on", "lost"], Project, 2, "bad flag or value"),
    case(&["check", "--all"], Corrupt, 3, "corrupt"),
    case(&["prune", "--yes"], Orphan, 0, "success"),
    case(&["prune", "--dry-run"], Orphan, 0, "success"),
    case(&["prune"], Project, 0, "success"),
    case(&["prune"], Orphan, 2, "without a terminal and without `--yes`"),
    case(&["prune", "--yes"], Corrupt, 3, "corrupt"),
    case(&["remove", "--yes"], Project, 0, "success"),
    case(&["remove"], Project, 2, "without a terminal and without `--yes`"),
    case(&["remove", "--yes", "/nowhere/at/all"], Fresh, 2, "not registered"),
    case(&["remove", "--yes"], Corrupt, 3, "corrupt"),
    case(&["pull", "@FILE"], Fresh, 0, "success"),
    case(&["pull", "ftp://example.invalid/m.bin"], Fresh, 2, "bad flag or value"),
    case(&["pull", "--offline", "https://example.invalid/m.bin"], Fresh, 1, "the operation failed"),
    case(&["pull"], Folder, 2, "no `wharf.toml`"),
    case(&["push", "ftp://team"], Fresh, 2, "bad flag or value"),
    case(&["push", "s3://team"], Folder, 2, "no `wharf.toml`"),
    case(&["push", "s3://team", "@FILE"], Fresh, 1, "the operation failed"),
    case(&["models", "list"], Fresh, 0, "success"),
    case(&["models", "stats"], Fresh, 0, "success"),
    case(&["models", "verify"], Fresh, 0, "success"),
    case(&["models", "verify", "sha256:0000"], Fresh, 2, "names nothing"),
    case(&["models", "rm", "sha256:0000"], Fresh, 2, "names nothing"),
    case(&["models", "gc", "--max-size", "1G"], Fresh, 0, "success"),
    case(&["models", "gc", "--max-size", "1"], Fresh, 2, "a size without a unit"),
    case(&["models", "gc", "--max-size", "1G"], Corrupt, 3, "cannot be read"),
    case(&["models", "clear", "--yes"], Fresh, 0, "success"),
    case(&["models", "clear"], Fresh, 0, "success"),
    case(&["models", "clear", "--yes"], Corrupt, 3, "cannot be read"),
    case(&["models", "path", "weights"], Project, 2, "bad flag or value"),
    case(&["migrate"], Fresh, 0, "success"),
    case(&["migrate"], Corrupt, 3, "corrupt"),
    case(&["doctor"], Fresh, 0, "success"),
    case(&["doctor"], Corrupt, 3, "corrupt"),
    case(&["completions", "bash"], Fresh, 0, "success"),
    case(&["completions", "tcsh"], Fresh, 2, "bad flag or value"),
];

/// The README's exit-code table: code → the row's text.
fn readme_table() -> BTreeMap<i32, String> {
    let readme = std::fs::read_to_string(support::fixture("../README.md")).unwrap();
    let section = readme.split("## Exit codes").nth(1).expect("README has an `## Exit codes` section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        if let (Some(code), Some(text)) = (cells.first(), cells.get(1)) {
            if let Ok(code) = code.trim_start_matches("| ").trim().parse::<i32>() {
                rows.insert(code, text.to_string());
            }
        }
    }
    // Prose after the table may add a line that starts with the code in backticks.
    rows.entry(-1).or_insert_with(|| section.to_string());
    rows
}

fn prepare(t: &TestHome, setup: Setup) -> PathBuf {
    match setup {
        Fresh => t.home.clone(),
        Folder => t.project("code/folder"),
        Project => {
            let p = t.project("code/app");
            t.init(&p);
            std::fs::write(p.join("wharf.toml"), "").unwrap();
            p
        }
        Orphan => {
            let p = t.project("code/gone");
            t.init(&p);
            std::fs::remove_dir_all(&p).unwrap();
            t.home.clone()
        }
        Corrupt => {
            let p = t.project("code/app");
            t.init(&p);
            std::fs::write(t.registry_file(), "{\"version\": 2, \"projects\": {").unwrap();
            p
        }
    }
}

#[test]
fn every_command_exits_as_the_readme_table_says() {
    let table = readme_table();
    let mut failures = Vec::new();
    for c in CASES {
        let t = TestHome::new();
        let cwd = prepare(&t, c.setup);
        let file = t.home.join("weights.bin");
        std::fs::write(&file, b"weights").unwrap();
        let file_url = format!("file://{}", file.display());
        let args: Vec<&str> = c.args.iter().map(|a| if *a == "@FILE" { file_url.as_str() } else { a }).collect();
        let out = t.cmd().current_dir(&cwd).args(&args).output().unwrap();
        if out.status.code() != Some(c.code) {
            failures.push(format!(
                "{args:?} ({:?}): exit {:?}, the table says {}\n{}",
                c.setup,
                out.status.code(),
                c.code,
                support::text(&out.stderr)
            ));
        }
        let row = table.get(&c.code).or_else(|| table.get(&-1)).unwrap();
        if !row.contains(c.readme) {
            failures.push(format!("README's exit-code row {} does not say {:?} (for {args:?})", c.code, c.readme));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every command and `models` subcommand `--help` lists, as `["models", "rm"]`.
fn all_commands() -> BTreeSet<Vec<String>> {
    let t = TestHome::new();
    let names = |args: &[&str]| support::subcommands(&support::text(&t.run(args).stdout));
    let mut all = BTreeSet::new();
    for c in names(&["--help"]) {
        let subs = names(&[c.as_str(), "--help"]);
        if subs.is_empty() {
            all.insert(vec![c]);
        } else {
            all.extend(subs.into_iter().map(|s| vec![c.clone(), s]));
        }
    }
    all
}

#[test]
fn every_command_has_a_case_and_every_code_of_the_table_is_exercised() {
    let commands = all_commands();
    assert!(commands.len() >= 18, "{commands:?}");
    for cmd in &commands {
        let cases: Vec<&Case> = CASES
            .iter()
            .filter(|c| c.args.iter().take(cmd.len()).map(|a| a.to_string()).eq(cmd.iter().cloned()))
            .collect();
        assert!(!cases.is_empty(), "no exit-code case for `wharf {}`", cmd.join(" "));
    }
    let table: BTreeSet<i32> = readme_table().into_keys().filter(|c| *c >= 0).collect();
    let used: BTreeSet<i32> = CASES.iter().map(|c| c.code).filter(|c| table.contains(c)).collect();
    assert_eq!(used, table, "every row of the README's table has a case");
}
