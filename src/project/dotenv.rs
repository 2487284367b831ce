//! Dotenv files that wharf shares with their owner (`.env.wharf`, legacy `.env.uve`).
//!
//! Parsing follows the common dotenv dialect (python-dotenv, dotenvy, direnv's `dotenv`): `KEY=VALUE`,
//! an optional `export ` prefix, `#` comments (inline after unquoted values when preceded by space),
//! single quotes (literal), double quotes (`\n \t \" \\` escapes, may span lines), LF or CRLF.
//! Values are returned raw: `${HOME}` stays unexpanded, because wharf expands it itself with the
//! current home. Rewriting ([`Document::set`]) replaces only the lines of the keys it is given and
//! keeps every other byte, comment and the file's line ending.
//!
//! Writing ([`Document::set`]) quotes so that a POSIX shell sourcing the file (`set -a; . ./.env.wharf;
//! set +a`) gets the same value: a value of plain characters stays bare; anything else goes in double
//! quotes with `\\`, `"`, `` ` `` and `$` escaped by a backslash — the four characters that are special
//! inside sh double quotes — except that a `${NAME}` reference (wharf's `${HOME}`) stays as it is, for
//! the shell and for wharf to expand. A newline is written as itself inside the quotes (sh keeps it;
//! our reader joins the lines), a carriage return before a newline as `\r`. The reader undoes exactly
//! this, so a write then a read gives back any string.
//!
//! Hand-written rather than the `dotenvy` crate: that crate substitutes variables from the process
//! environment while parsing and does not keep line positions, and we need both raw values and a
//! byte-preserving rewrite.

/// A parsed file: its lines (raw, for rewriting) and the entries found in them.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Logical entries: (key, value, index of the first raw line, count of raw lines).
    entries: Vec<(String, String, usize, usize)>,
    lines: Vec<String>,
    crlf: bool,
}

impl Document {
    /// Parse a dotenv file (a BOM and CRLF line ends are kept for the rewrite).
    pub fn parse(text: &str) -> Document {
        let crlf = text.contains("\r\n");
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<String> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
        // `split` yields a trailing empty piece for a final newline; drop it so rewrites keep one.
        let lines = match lines.last() {
            Some(l) if l.is_empty() => lines[..lines.len() - 1].to_vec(),
            _ => lines,
        };
        let mut entries = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let (entry, used) = parse_entry(&lines[i..]);
            if let Some((k, v)) = entry {
                entries.push((k, v, i, used));
            }
            i += used.max(1);
        }
        Document { entries, lines, crlf }
    }

    /// The last value given for `key` (later lines win, as in every dotenv loader).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().rev().find(|e| e.0 == key).map(|e| e.1.as_str())
    }

    /// Set `key` to `value`: the first line of the key is replaced, later duplicates removed,
    /// and a missing key appended. Every other line is kept as it was.
    pub fn set(&mut self, key: &str, value: &str) {
        let line = format!("{key}={}", quote(value));
        let spans: Vec<(usize, usize)> = self.entries.iter().filter(|e| e.0 == key).map(|e| (e.2, e.3)).collect();
        match spans.first() {
            None => self.lines.push(line),
            Some(&(first, _)) => {
                let mut drop = vec![false; self.lines.len()];
                for &(start, n) in &spans {
                    drop[start..start + n].iter_mut().for_each(|d| *d = true);
                }
                let old = std::mem::take(&mut self.lines);
                for (i, l) in old.into_iter().enumerate() {
                    if i == first {
                        self.lines.push(line.clone());
                    } else if !drop[i] {
                        self.lines.push(l);
                    }
                }
            }
        }
        *self = Document::parse(&self.render());
    }

    /// Remove every line of `key` (a multi-line value with all of its lines). Every other line is
    /// kept as it was. True when something was removed.
    pub fn remove(&mut self, key: &str) -> bool {
        let spans: Vec<(usize, usize)> = self.entries.iter().filter(|e| e.0 == key).map(|e| (e.2, e.3)).collect();
        if spans.is_empty() {
            return false;
        }
        let mut drop = vec![false; self.lines.len()];
        for &(start, n) in &spans {
            drop[start..start + n].iter_mut().for_each(|d| *d = true);
        }
        let old = std::mem::take(&mut self.lines);
        self.lines = old.into_iter().zip(drop).filter(|(_, d)| !d).map(|(l, _)| l).collect();
        *self = Document::parse(&self.render());
        true
    }

    /// No line is left but blank ones.
    pub fn is_blank(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    /// The file as text, with its original line ends.
    pub fn render(&self) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut out = self.lines.join(eol);
        out.push_str(eol);
        out
    }
}

/// Quote a value for the file (see the module doc): bare when every character is plain, else in
/// double quotes with the characters sh treats specially inside them escaped.
fn quote(value: &str) -> String {
    let plain_char = |c: char| c.is_ascii_alphanumeric() || "/_-.:@%+,".contains(c);
    let mut bare = !value.is_empty();
    let mut out = String::with_capacity(value.len() + 8);
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = reference_len(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        bare &= plain_char(c);
        match c {
            '\\' | '"' | '`' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\r' if rest[1..].starts_with('\n') => out.push_str("\\r"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    if bare {
        out
    } else {
        format!("\"{out}\"")
    }
}

/// The length of a `${NAME}` reference (NAME = a letter or `_`, then letters, digits, `_`) at the
/// start of `s`.
fn reference_len(s: &str) -> Option<usize> {
    let name = s.strip_prefix("${")?;
    let end = name.find('}')?;
    let n = &name[..end];
    let first_ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (first_ok && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(end + 3)
}

/// Parse one logical entry starting at `lines[0]`; returns it (if the line holds one) and how many
/// raw lines it used (a double-quoted value may span several).
fn parse_entry(lines: &[String]) -> (Option<(String, String)>, usize) {
    let line = lines[0].trim_start();
    if line.is_empty() || line.starts_with('#') {
        return (None, 1);
    }
    let line = line.strip_prefix("export").filter(|r| r.starts_with([' ', '\t'])).map_or(line, str::trim_start);
    let Some((key, rest)) = line.split_once('=') else {
        return (None, 1);
    };
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return (None, 1);
    }
    let rest = rest.trim_start();
    let (value, used) = match rest.chars().next() {
        Some('\'') => match rest[1..].find('\'') {
            Some(end) => (rest[1..1 + end].to_string(), 1),
            None => (rest[1..].to_string(), 1),
        },
        Some('"') => parse_double_quoted(&rest[1..], &lines[1..]),
        _ => (strip_inline_comment(rest).trim_end().to_string(), 1),
    };
    (Some((key.to_string(), value)), used)
}

fn strip_inline_comment(v: &str) -> &str {
    let b = v.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'#' && i > 0 && b[i - 1].is_ascii_whitespace()).map_or(v, |i| &v[..i])
}

fn parse_double_quoted(first: &str, more: &[String]) -> (String, usize) {
    let mut out = String::new();
    let mut used = 1;
    let mut chunk = first.to_string();
    loop {
        let mut chars = chunk.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return (out, used),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(o) => out.push(o),
                    None => {}
                },
                c => out.push(c),
            }
        }
        // No closing quote on this line: the value goes on in the next raw line.
        match more.get(used - 1) {
            Some(next) => {
                out.push('\n');
                chunk = next.clone();
                used += 1;
            }
            None => return (out, used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quotes_export_comments_and_crlf() {
        let d = Document::parse(
            "# mine\r\nexport A = \"x y\" # c\r\nB='lit ${X}'\r\nC=plain # note\r\nD=\"l1\nl2\"\r\nE=a#b\r\n",
        );
        assert_eq!(d.get("A"), Some("x y"));
        assert_eq!(d.get("B"), Some("lit ${X}"));
        assert_eq!(d.get("C"), Some("plain"));
        assert_eq!(d.get("D"), Some("l1\nl2"));
        assert_eq!(d.get("E"), Some("a#b"));
    }

    #[test]
    fn values_with_shell_characters_are_escaped_but_references_are_kept() {
        assert_eq!(quote("${HOME}/envs/a_1"), "${HOME}/envs/a_1");
        assert_eq!(quote("/a$b"), r#""/a\$b""#);
        assert_eq!(quote("${HOME}/x `y` $(z)"), r#""${HOME}/x \`y\` \$(z)""#);
        assert_eq!(quote("${1}"), r#""\${1}""#);
        assert_eq!(quote(""), r#""""#);
    }

    proptest::proptest! {
        #[test]
        fn any_value_written_is_read_back_the_same(value in "\\PC*|[\\s\\S]{0,40}", crlf in proptest::bool::ANY) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut d = Document::parse(&format!("# mine{eol}A=1{eol}K=old # c{eol}"));
            d.set("K", &value);
            let back = Document::parse(&d.render());
            proptest::prop_assert_eq!(back.get("K"), Some(value.as_str()), "{:?}", d.render());
            proptest::prop_assert_eq!(back.get("A"), Some("1"));
        }
    }

    #[test]
    fn set_rewrites_only_its_key_and_keeps_line_endings() {
        let mut d = Document::parse("# keep\r\nexport K='old'\r\nOTHER=1\r\nK=dup\r\n");
        d.set("K", "${HOME}/new");
        d.set("N", "has space");
        assert_eq!(d.render(), "# keep\r\nK=${HOME}/new\r\nOTHER=1\r\nN=\"has space\"\r\n");
        assert_eq!(Document::parse(&d.render()).get("N"), Some("has space"));
    }
}
