//! Questions on the terminal, asked only when someone is there to answer, and the rules every
//! deleting command (`prune`, `remove`, `models clear`) follows around them: without a terminal
//! and without `--yes` nothing is removed (exit 2); a declined question removes nothing (exit 1).

use std::cell::Cell;
use std::io::{BufRead, Write};

use super::output::human_bytes;
use super::CliError;

/// Both stdin and stderr are a terminal: we may ask a question and read the answer.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask a yes/no question on the terminal; anything but y/yes is no.
pub fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    yes(&answer)
}

/// The decision on an answer: only `y` or `yes` (any case, spaces around) is yes.
fn yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// One line of what a deleting command would remove, shown before its question.
pub struct Going {
    /// What it is (`env`, `entry`, `file`, …).
    pub kind: &'static str,
    /// Its path or id.
    pub what: String,
    /// Its size (0: not shown).
    pub bytes: u64,
}

/// The question a deleting command asks before it removes anything, the one owner of the rules
/// above. Nothing to remove needs no answer (so `wharf prune` with nothing orphaned exits 0 off a
/// terminal); something to remove needs a yes on a terminal, and without one it is refused with
/// the hint to pass `--yes`.
pub struct Confirm {
    command: &'static str,
    no_terminal: Cell<bool>,
}

impl Confirm {
    /// The question of `command` (named in the hints of a refusal).
    pub fn new(command: &'static str) -> Confirm {
        Confirm { command, no_terminal: Cell::new(false) }
    }

    /// Show what would go and ask `question`; true when nothing would go or the answer was yes.
    pub fn ask(&self, going: &[Going], question: &str) -> bool {
        if going.is_empty() {
            return true;
        }
        if !interactive() {
            self.no_terminal.set(true);
            return false;
        }
        eprintln!("wharf will remove:");
        for g in going {
            let bytes = if g.bytes > 0 { human_bytes(g.bytes) } else { String::new() };
            eprintln!("  {:<6} {} {bytes}", g.kind, g.what);
        }
        ask(question)
    }

    /// Why nothing was removed: no terminal to ask on (exit 2), or the answer was no (exit 1).
    pub fn refused(&self) -> CliError {
        match self.no_terminal.get() {
            true => needs_yes(self.command),
            false => declined(self.command),
        }
    }
}

/// Something would be removed and nobody can be asked: a usage error (2) naming `--yes`.
fn needs_yes(command: &str) -> CliError {
    CliError::Usage(format!(
        "not on a terminal, so nothing was removed\n  hint: pass `--yes` (`{command} --yes`) to remove without asking, or \
         `--dry-run` to see what would go"
    ))
}

/// A question answered no: nothing was removed, and the exit code says so (1).
fn declined(command: &str) -> CliError {
    CliError::Failed(format!(
        "nothing was removed: the question was answered no\n  hint: run `{command}` again and answer `y`, or pass `--yes`"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_y_or_yes_is_yes() {
        for a in ["y\n", "Y", " yes \n", "YES"] {
            assert!(super::yes(a), "{a:?}");
        }
        for a in ["", "\n", "n", "no", "yep", "y es"] {
            assert!(!super::yes(a), "{a:?}");
        }
    }
}
