//! Questions on the terminal, asked only when someone is there to answer, and the rules every
//! deleting command (`prune`, `remove`, `models clear`) follows around them: without a terminal
//! and without `--yes` nothing is removed (exit 2); a declined question removes nothing (exit 1).

use std::io::{BufRead, Write};

use wharf::Registry;

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

/// Whether a deleting command may go on: yes with `--yes` or `--dry-run`, or when someone can be
/// asked; else a usage error naming `command` (an unreadable registry still says so, with exit 3).
pub fn may_proceed(yes: bool, dry_run: bool, registry: &Registry, command: &str) -> Result<(), CliError> {
    if yes || dry_run || interactive() {
        return Ok(());
    }
    registry.read()?;
    Err(needs_yes(command))
}

/// Something would be removed and nobody can be asked: a usage error (2) naming `--yes`.
pub fn needs_yes(command: &str) -> CliError {
    CliError::Usage(format!(
        "not on a terminal, so nothing was removed\n  hint: pass `--yes` (`{command} --yes`) to remove without asking, or \
         `--dry-run` to see what would go"
    ))
}

/// A question answered no: nothing was removed, and the exit code says so (1).
pub fn declined(command: &str) -> CliError {
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
