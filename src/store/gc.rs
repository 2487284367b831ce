//! `models gc --max-size SIZE`: remove the partial downloads no process is writing, then evict
//! wharf's unused files, least recently used first, until the finished files take at most SIZE.
//!
//! Only files wharf fetched and no registered project uses are candidates (see
//! [`Item::removable`]); files of other tools and used files stay even if the store is then still
//! over the cap, and [`Collected::under_cap`] says so.

use std::str::FromStr;

use serde::Serialize;

use super::error::{InventoryError, SizeError};
use super::inventory::{sweep_into, Inventory, Item, Removed, Usage};
use super::partial::Kept;

/// A size in bytes, read from `10G`, `512MiB`, `1.5GB` or `1000B`. Binary and decimal units both
/// mean powers of 1024, as `du -h` and `huggingface-cli` users expect. A number without a unit is
/// refused (`--max-size 1` meant one byte, which nobody means), except `0`: nothing is as small as
/// it gets whatever the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = SizeError;
    fn from_str(s: &str) -> Result<ByteSize, SizeError> {
        let bad = |why: &'static str| SizeError { value: s.to_string(), why };
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.parse().map_err(|_| bad("it does not start with a number"))?;
        let unit = unit.trim().to_ascii_lowercase();
        let mult = match unit.trim_end_matches("ib").trim_end_matches('b') {
            "" if unit.is_empty() && n != 0.0 => return Err(bad("it has no unit")),
            "" => 1u64,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            "t" => 1 << 40,
            _ => return Err(bad("the unit is not one of B, K, M, G, T")),
        };
        Ok(ByteSize((n * mult as f64) as u64))
    }
}

/// What `gc` did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Collected {
    /// Ids of the finished files evicted.
    pub evicted: Vec<String>,
    /// Partial downloads removed (their bytes count in `freed_bytes`).
    pub partials_removed: Vec<String>,
    /// Partial downloads left alone (see `partial::Swept::Kept`).
    pub kept: Vec<Kept>,
    /// Bytes freed, finished files and partials together.
    pub freed_bytes: u64,
    /// What the finished files take afterwards.
    pub total_bytes: u64,
    /// The cap.
    pub max_bytes: u64,
    /// False when only used or other tools' items are left and the store is still over the cap.
    /// (`total_bytes` and the cap count finished files only.)
    pub under_cap: bool,
}

/// Evict wharf's unused items, least recently used first, until the store holds at most `max`.
/// Pure: returns the items to evict and the summary.
pub fn plan(items: &[Item], max: u64) -> (Vec<&Item>, Collected) {
    let mut total: u64 = items.iter().map(|i| i.size).sum();
    let mut candidates: Vec<&Item> = items.iter().filter(|i| i.removable()).collect();
    candidates.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.id.cmp(&b.id)));
    let mut out = Collected { total_bytes: total, max_bytes: max, ..Default::default() };
    let mut evict = Vec::new();
    for c in candidates {
        if total <= max {
            break;
        }
        total -= c.size;
        out.freed_bytes += c.size;
        out.evicted.push(c.id.to_string());
        evict.push(c);
    }
    out.total_bytes = total;
    out.under_cap = total <= max;
    (evict, out)
}

impl Inventory<'_> {
    /// The partials whose lock is free, then the [`plan`]'s evictions (unless `dry_run`).
    pub fn gc(&self, usage: &Usage, max: ByteSize, dry_run: bool) -> Result<Collected, InventoryError> {
        let mut swept = Removed::default();
        sweep_into(&self.partials(), dry_run, &mut swept)?;
        let items = self.items(usage);
        let (evict, mut out) = plan(&items, max.0);
        if !dry_run {
            for it in evict {
                self.remove(it)?;
            }
        }
        out.freed_bytes += swept.freed_bytes;
        (out.partials_removed, out.kept) = (swept.removed, swept.kept);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> Option<u64> {
        s.parse::<ByteSize>().ok().map(|b| b.0)
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(size("1000B"), Some(1000));
        assert_eq!(size("1000"), None, "a number without a unit is refused");
        assert_eq!(size("0"), Some(0));
        assert_eq!(size("2K"), Some(2048));
        assert_eq!(size("1.5GiB"), Some(3 << 29));
        assert_eq!(size("3 MB"), Some(3 << 20));
        assert_eq!(size("lots"), None);
        assert!("1"
            .parse::<ByteSize>()
            .unwrap_err()
            .to_string()
            .contains("`1` is not a size: it has no unit\n  hint: "));
    }
}
