//! Where output goes: data on stdout (a table, or one JSON document with `--json`), diagnostics and
//! progress on stderr. A closed stdout (`wharf list | head`) is not an error: what would be written
//! is dropped and the command ends with its own exit code — `wharf check --json | head -c0` still
//! exits 1 when a project is not valid, so `set -o pipefail` in CI sees the truth.
//! Colour only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

/// The JSON output contract's version, at the top of every `--json` document.
pub const SCHEMA: u32 = 1;

/// A column whose cells are coloured by a function of their text.
pub type ColorColumn = (usize, fn(&str) -> &'static str);

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool, verbose: bool, no_color_env: bool) -> Output {
        let color = !json && !no_color_env && io::stdout().is_terminal();
        Output { json, quiet, verbose, color }
    }

    /// Write one line of data to stdout.
    pub fn line(&self, s: impl AsRef<str>) {
        to_stdout(|out| writeln!(out, "{}", s.as_ref()));
    }

    /// Print `doc` as the command's JSON document, with `"schema"` first. Streamed: a list of
    /// 100,000 projects is never built as a second tree in memory.
    pub fn json<T: Serialize>(&self, doc: &T) {
        #[derive(Serialize)]
        struct WithSchema<'a, T: Serialize> {
            schema: u32,
            #[serde(flatten)]
            doc: &'a T,
        }
        to_stdout(|out| {
            let mut out = io::BufWriter::with_capacity(1 << 16, out);
            serde_json::to_writer_pretty(&mut out, &WithSchema { schema: SCHEMA, doc })
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
                .and_then(|()| out.flush())
        });
    }

    /// A status message on stderr (hidden by `-q`).
    pub fn status(&self, s: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", s.as_ref());
        }
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, s: impl AsRef<str>) {
        if self.verbose && !self.quiet {
            eprintln!("{}", s.as_ref());
        }
    }

    /// A warning on stderr (shown even with `-q`).
    pub fn warn(&self, s: impl AsRef<str>) {
        eprintln!("warning: {}", s.as_ref());
    }

    pub fn paint(&self, s: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Print rows as aligned columns under a header.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>], color_col: Option<ColorColumn>) {
        let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let render = |cells: Vec<String>, raw: &[String]| {
            let last = cells.len().saturating_sub(1);
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&width).enumerate() {
                s.push_str(cell);
                if i < last {
                    let pad = w.saturating_sub(raw[i].chars().count()) + 2;
                    s.push_str(&" ".repeat(pad));
                }
            }
            s.trim_end().to_string()
        };
        let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        self.line(render(head.iter().map(|h| self.paint(h, "1")).collect(), &head));
        for row in rows {
            let painted = row
                .iter()
                .enumerate()
                .map(|(i, c)| match color_col {
                    Some((col, f)) if col == i => self.paint(c, f(c)),
                    _ => c.clone(),
                })
                .collect();
            self.line(render(painted, row));
        }
    }
}

/// Set once stdout was found closed: later output is dropped without another try.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

std::thread_local! {
    /// Set by [`capture`]: this thread's data goes here instead of stdout.
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Run `f`, keeping what it writes as data (tables, JSON documents) instead of printing it; the
/// Python binding takes `wharf check --json`'s document this way, so both are one piece of code.
/// Diagnostics still go to stderr.
#[allow(dead_code)] // Used by the Python binding (python/src/lib.rs), which mounts this module too.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<u8>) {
    /// Puts back what was there before, also when `f` panics (a later command on this thread
    /// must print again).
    struct Restore(Option<Vec<u8>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            CAPTURED.with(|c| *c.borrow_mut() = outer);
        }
    }
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let restore = Restore(outer);
    let r = f();
    let out = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(restore);
    (r, out)
}

/// Write to stdout unless it was found closed; a closed stdout is remembered, never fatal.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
    use std::sync::atomic::Ordering;
    let captured = CAPTURED.with(|c| c.borrow_mut().take());
    if let Some(mut buf) = captured {
        // Writing to a Vec cannot fail.
        let _ = write(&mut buf);
        CAPTURED.with(|c| *c.borrow_mut() = Some(buf));
        return;
    }
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = write(&mut io::stdout().lock()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Raw bytes on stdout (a completion script), by the same rule.
pub fn write_stdout(bytes: &[u8]) {
    to_stdout(|out| out.write_all(bytes).and_then(|()| out.flush()));
}

/// `1.4 GiB`, `312 KiB`, `17 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_like_humans_write_them() {
        assert_eq!(super::human_bytes(17), "17 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}

/// A failed command as the user sees it: a stable `code`, the message, an optional hint (a command
/// that fixes it) and the exit code. With `--json` it is the one document on stdout, so a script that
/// parses stdout always gets JSON, whatever went wrong — a usage error from argument parsing included.
#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub exit_code: u8,
}

/// The separator every error's Display text uses between what went wrong and how to fix it.
const HINT: &str = "\n  hint: ";

impl ErrorReport {
    /// The message and, on its own line, the hint: how every error's text reads.
    pub fn text(&self) -> String {
        match &self.hint {
            Some(h) => format!("{}{HINT}{h}", self.message),
            None => self.message.clone(),
        }
    }

    /// Split an error's text at the house hint separator.
    pub fn from_text(code: &'static str, text: &str, exit_code: u8) -> ErrorReport {
        let (message, hint) = match text.split_once(HINT) {
            Some((m, h)) => (m.trim_end().to_string(), Some(h.trim().to_string())),
            None => (text.trim_end().to_string(), None),
        };
        ErrorReport { code, message, hint, exit_code }
    }

    /// Print it: the human text on stderr always, and the document on stdout with `--json`.
    /// (When data is captured, the caller has the document: nothing goes to stderr.)
    pub fn print(&self, json: bool) {
        if !CAPTURED.with(|c| c.borrow().is_some()) {
            eprintln!("error: {}", self.text());
        }
        if json {
            #[derive(Serialize)]
            struct Doc<'a> {
                schema: u32,
                error: &'a ErrorReport,
            }
            let text = serde_json::to_string_pretty(&Doc { schema: SCHEMA, error: self }).unwrap_or_default();
            to_stdout(|out| writeln!(out, "{text}"));
        }
    }
}
