//! The rows of a deleting command (`prune`, `remove`), shared: the list shown before the
//! question, and the report table. A dry run's rows read "would remove" / "would skip"; its JSON
//! keeps the actions a real run would report (see the README's JSON contract).

use std::cell::Cell;

use wharf::ops::prune::{Outcome, Summary, Target};

use super::output::{human_bytes, Output};
use super::prompt;
use super::CliError;

/// The word for a row's kind.
pub fn kind(k: Target) -> &'static str {
    match k {
        Target::Env => "env",
        Target::Entry => "entry",
        Target::Model => "model",
        Target::Marker => "marker",
    }
}

/// The word for a row's action, in the tense of the run.
fn action(a: Outcome, dry_run: bool) -> &'static str {
    match (a, dry_run) {
        (Outcome::Removed, false) => "removed",
        (Outcome::Removed, true) => "would remove",
        (Outcome::Skipped, false) => "skipped",
        (Outcome::Skipped, true) => "would skip",
        (Outcome::AlreadyGone, _) => "already gone",
        (Outcome::Failed, _) => "failed",
    }
}

/// The question a deleting command asks before it removes anything. Nothing to remove needs no
/// answer (so `wharf prune` with nothing orphaned exits 0 off a terminal); something to remove needs
/// a yes on a terminal, and without one it is refused with the hint to pass `--yes`.
pub struct Confirm {
    command: &'static str,
    no_terminal: Cell<bool>,
}

impl Confirm {
    pub fn new(command: &'static str) -> Confirm {
        Confirm { command, no_terminal: Cell::new(false) }
    }

    /// Show what would go and ask `question`; true when nothing would go or the answer was yes.
    pub fn ask(&self, preview: &Summary, question: &str) -> bool {
        let going: Vec<_> = preview.items.iter().filter(|i| i.action == Outcome::Removed).collect();
        if going.is_empty() {
            return true;
        }
        if !prompt::interactive() {
            self.no_terminal.set(true);
            return false;
        }
        eprintln!("wharf will remove:");
        for i in &going {
            let bytes = if i.bytes > 0 { human_bytes(i.bytes) } else { String::new() };
            eprintln!("  {:<6} {} {bytes}", kind(i.kind), i.path);
        }
        prompt::ask(question)
    }

    /// Why nothing was removed: no terminal to ask on (exit 2), or the answer was no (exit 1).
    pub fn refused(&self) -> CliError {
        match self.no_terminal.get() {
            true => prompt::needs_yes(self.command),
            false => prompt::declined(self.command),
        }
    }
}

/// The report table (human output only); false when there were no rows.
pub fn table(s: &Summary, out: &Output) -> bool {
    let rows: Vec<Vec<String>> = s
        .items
        .iter()
        .map(|i| {
            let bytes = if i.bytes > 0 { human_bytes(i.bytes) } else { String::new() };
            let reason = i.reason.clone().unwrap_or_default();
            vec![action(i.action, s.dry_run).into(), kind(i.kind).into(), i.path.clone(), bytes, reason]
        })
        .collect();
    if !rows.is_empty() {
        out.table(&["ACTION", "KIND", "PATH", "SIZE", "REASON"], &rows, None);
    }
    !rows.is_empty()
}

/// Did any row fail (the command's exit status is then 1)?
pub fn any_failed(s: &Summary) -> bool {
    s.items.iter().any(|i| i.action == Outcome::Failed)
}
