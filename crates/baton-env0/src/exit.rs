//! Exit codes and the one-line-plus-hint failure every command reports.

use std::fmt;
use std::fmt::Write as _;
use std::process::ExitCode;

/// The documented exit codes. Every failure maps to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitKind {
    /// 0: success.
    Success,
    /// 1: anything else (a bug, an unexpected response, an interrupted run).
    Other,
    /// 2: usage or configuration error, found before any request.
    Usage,
    /// 3: authentication failed (env0 answered 401).
    Auth,
    /// 4: permission or plan (env0 answered 403 or 402 to a request the run needs).
    Permission,
    /// 5: env0 unavailable after retries (429, 5xx, network).
    Unavailable,
    /// 6: c1z file error (cannot write the output, or cannot read the file given to `inspect`).
    File,
}

/// Every exit kind in code order, for documentation.
pub const ALL_EXIT_KINDS: [ExitKind; 7] = [
    ExitKind::Success,
    ExitKind::Other,
    ExitKind::Usage,
    ExitKind::Auth,
    ExitKind::Permission,
    ExitKind::Unavailable,
    ExitKind::File,
];

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Success => 0,
            ExitKind::Other => 1,
            ExitKind::Usage => 2,
            ExitKind::Auth => 3,
            ExitKind::Permission => 4,
            ExitKind::Unavailable => 5,
            ExitKind::File => 6,
        }
    }

    /// What the code means, as documented in `--help`, `docs/cli.md` and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitKind::Success => "success",
            ExitKind::Other => "anything else (unexpected response, interrupted, bug)",
            ExitKind::Usage => "usage or configuration error (found before any request)",
            ExitKind::Auth => "authentication failed (env0 answered 401)",
            ExitKind::Permission => {
                "permission or plan (env0 answered 403 or 402 to a request the run needs)"
            }
            ExitKind::Unavailable => "env0 unavailable after retries (429, 5xx, network)",
            ExitKind::File => {
                "file error (cannot write --file or --summary-json, read the inspected file, or use a temporary file in $TMPDIR)"
            }
        }
    }
}

impl From<ExitKind> for ExitCode {
    fn from(kind: ExitKind) -> Self {
        ExitCode::from(kind.code())
    }
}

/// The exit-code list shown after `--help`. Kept in step with [`ExitKind::meaning`] by a test.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  anything else (unexpected response, interrupted, bug)
  2  usage or configuration error (found before any request)
  3  authentication failed (env0 answered 401)
  4  permission or plan (env0 answered 403 or 402 to a request the run needs)
  5  env0 unavailable after retries (429, 5xx, network)
  6  file error (cannot write --file or --summary-json, read the inspected file, or use a temporary file in $TMPDIR)";

/// The exit codes as a Markdown table (docs/cli.md and the README).
pub fn exit_codes_markdown() -> String {
    let mut out = String::from("| Code | Meaning |\n|---:|---|\n");
    for kind in ALL_EXIT_KINDS {
        let _ = writeln!(out, "| {} | {} |", kind.code(), kind.meaning());
    }
    out
}

/// A failure as the operator sees it: one line, an optional hint, and the exit code.
///
/// Messages are built from settings and error values that never include the API key secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// Which exit code.
    pub kind: ExitKind,
    /// One line, lowercase start, no trailing period.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure without a hint.
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: one_line(&message.into()),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// Shorthand for a usage/configuration failure (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(ExitKind::Usage, message)
    }

    /// Shorthand for a file failure (exit 6).
    pub fn file(message: impl Into<String>) -> Self {
        Failure::new(ExitKind::File, message)
    }

    /// Shorthand for anything else (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Failure::new(ExitKind::Other, message)
    }

    /// The text printed on stderr: `error: ...` and, when present, `hint: ...` on the next line.
    pub fn render(&self) -> String {
        match &self.hint {
            Some(hint) => format!("error: {}\nhint: {hint}\n", self.message),
            None => format!("error: {}\n", self.message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Collapses line breaks so a message stays on one line.
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.split(['\n', '\r'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_text_lists_every_code_with_its_meaning() {
        let expected: Vec<String> = ALL_EXIT_KINDS
            .iter()
            .map(|k| format!("  {}  {}", k.code(), k.meaning()))
            .collect();
        let actual: Vec<&str> = EXIT_CODES_HELP.lines().skip(1).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn codes_are_distinct_and_ordered() {
        let codes: Vec<u8> = ALL_EXIT_KINDS.iter().map(|k| k.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn render_is_one_line_plus_hint() {
        let failure = Failure::usage("bad\nthing").hint("do this");
        assert_eq!(failure.render(), "error: bad; thing\nhint: do this\n");
        assert_eq!(Failure::other("x").render(), "error: x\n");
    }

    #[test]
    fn readme_lists_the_exit_codes() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&exit_codes_markdown()),
            "README.md must contain:\n{}",
            exit_codes_markdown()
        );
    }
}
