//! Variables as a shell script: set some, remove others, each value quoted so that the shell reads
//! it back byte for byte (`wharf env`, for `eval "$(wharf env)"`, `wharf env --format fish | source`,
//! PowerShell's `Invoke-Expression`, and a dotenv file for tools that read one).
//!
//! | format | set | remove |
//! |---|---|---|
//! | `sh` | `export NAME='v'`, a `'` as `'\''` | `unset NAME` |
//! | `fish` | `set -gx NAME 'v'`, `\` and `'` escaped by `\` | `set -e NAME; or true` |
//! | `powershell` | `$env:NAME = 'v'`, every single quote (also `‘ ’ ‚ ‛`) doubled | `Remove-Item Env:NAME -ErrorAction SilentlyContinue` |
//! | `dotenv` | as `.env.wharf` is written ([`crate::project::dotenv`]) | (a dotenv file cannot remove) |
//!
//! Inside single quotes nothing is special to sh but the quote itself, and to fish only `\` and
//! `'`; a newline is kept as it is. Names are the caller's (wharf's own variables), never input.

use crate::project::dotenv::Document;

/// A shell dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// POSIX sh, bash, zsh.
    Sh,
    /// fish.
    Fish,
    /// PowerShell.
    PowerShell,
    /// A dotenv file.
    Dotenv,
}

/// `'v'` for sh.
pub fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// `'v'` for fish.
pub fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
}

/// `'v'` for PowerShell (which takes the typographic single quotes for quotes too).
pub fn powershell_quote(v: &str) -> String {
    let mut out = String::from("'");
    for c in v.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

impl Shell {
    /// A script that sets `vars` in order, then removes `unset`.
    pub fn script(self, vars: &[(String, String)], unset: &[String]) -> String {
        if self == Shell::Dotenv {
            let mut doc = Document::parse("");
            for (k, v) in vars {
                doc.set(k, v);
            }
            return doc.render().trim_start_matches('\n').to_string();
        }
        let mut out = String::new();
        for (k, v) in vars {
            out.push_str(&match self {
                Shell::Sh => format!("export {k}={}\n", sh_quote(v)),
                Shell::Fish => format!("set -gx {k} {}\n", fish_quote(v)),
                Shell::PowerShell | Shell::Dotenv => format!("$env:{k} = {}\n", powershell_quote(v)),
            });
        }
        for k in unset {
            out.push_str(&match self {
                Shell::Sh => format!("unset {k}\n"),
                // `set -e` of an unset variable fails: `… | source; and cmd` must still run cmd.
                Shell::Fish => format!("set -e {k}; or true\n"),
                Shell::PowerShell | Shell::Dotenv => format!("Remove-Item Env:{k} -ErrorAction SilentlyContinue\n"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const HARD: [&str; 8] =
        ["plain", "it's", "$HOME `id` $(id)", "two\nlines\n", " spaced  out ", "back\\slash\\", "'", ""];

    /// What `shell -c '<script>; printf %s "$V"'` prints: the value as the shell read it.
    fn read_back(shell: &str, script: &str, print: &str) -> Option<String> {
        let out = Command::new(shell).arg("-c").arg(format!("{script}\n{print}")).output().ok()?;
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        Some(String::from_utf8(out.stdout).unwrap())
    }

    #[test]
    fn sh_reads_every_value_back() {
        for v in HARD {
            let script = Shell::Sh.script(&[("V".into(), v.into())], &["GONE".into()]);
            let got = read_back("sh", &script, r#"printf %s "$V"; printf %s "${GONE-unset}""#).unwrap();
            assert_eq!(got, format!("{v}unset"), "{script}");
        }
    }

    #[test]
    fn fish_reads_every_value_back_when_installed() {
        if Command::new("fish").arg("-c").arg("true").output().is_err() {
            return; // tests/run_env.rs fails when fish is missing; this only adds cases
        }
        for v in HARD {
            let script = Shell::Fish.script(&[("V".into(), v.into())], &[]);
            assert_eq!(read_back("fish", &script, "printf %s \"$V\"").unwrap(), v, "{script}");
        }
    }

    #[test]
    fn dotenv_is_what_the_marker_reader_reads() {
        for v in HARD {
            let script = Shell::Dotenv.script(&[("V".into(), v.into())], &[]);
            assert_eq!(Document::parse(&script).get("V"), Some(v), "{script}");
        }
    }

    #[test]
    fn powershell_doubles_every_kind_of_single_quote() {
        assert_eq!(powershell_quote("it's ‘x’"), "'it''s ‘‘x’’'");
        assert_eq!(Shell::PowerShell.script(&[], &["A".into()]), "Remove-Item Env:A -ErrorAction SilentlyContinue\n");
    }
}
