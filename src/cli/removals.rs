//! The rows of a deleting command (`prune`, `remove`), shared: the list shown before the
//! question (asked by `prompt::Confirm`), and the report table. A dry run's rows read "would remove" / "would skip"; its JSON
//! keeps the actions a real run would report (see the README's JSON contract).

use wharf::ops::prune::{Outcome, Summary, Target};

use super::output::{human_bytes, Output};
use super::prompt::Going;

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

/// What a preview would remove, as the question shows it (see `prompt::Confirm`).
pub fn going(preview: &Summary) -> Vec<Going> {
    let going = preview.items.iter().filter(|i| i.action == Outcome::Removed);
    going.map(|i| Going { kind: kind(i.kind), what: i.path.clone(), bytes: i.bytes }).collect()
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
