//! `inspect`: what a c1z file holds, as a table, JSON or CSV — the users (`inspect [FILE]`),
//! the grants (`inspect grants`) and one person's effective access (`inspect access USER`).
//!
//! The file's text comes from env0, so it is untrusted: tables show control characters and
//! bidirectional overrides escaped (a terminal would obey them), CSV cells a spreadsheet would run
//! as a formula are neutralised, and JSON stays exact (its encoding already escapes controls).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use c1_sync::{C1zReader, SyncRun};
use unicode_width::UnicodeWidthStr;

use crate::commands::store_read_failure;
use crate::exit::Failure;

pub(crate) mod access;
pub(crate) mod grants;
mod users;

pub(crate) use users::run;

/// Opens `path` and picks the sync to read.
pub(crate) fn open(path: &Path, sync_id: Option<&str>) -> Result<(C1zReader, SyncRun), Failure> {
    let reader = C1zReader::open(path).map_err(|e| store_read_failure(&e))?;
    let run = pick_sync(&reader, path, sync_id)?;
    Ok((reader, run))
}

/// Picks the sync to read: `--sync-id`, else the latest finished full sync, else the latest
/// unfinished one (the sync ConductorOne's readers show).
fn pick_sync(reader: &C1zReader, path: &Path, sync_id: Option<&str>) -> Result<SyncRun, Failure> {
    if let Some(id) = sync_id {
        if let Some(run) = reader.sync_run(id).map_err(|e| store_read_failure(&e))? {
            return Ok(run);
        }
        let known: Vec<String> = reader
            .sync_runs()
            .map_err(|e| store_read_failure(&e))?
            .into_iter()
            .map(|r| r.sync_id)
            .collect();
        let hint = if known.is_empty() {
            "the file holds no sync".to_owned()
        } else {
            format!("the file holds: {}", known.join(", "))
        };
        return Err(
            Failure::usage(format!("{}: no sync with id `{id}`", path.display())).hint(hint),
        );
    }
    reader
        .latest_sync()
        .map_err(|e| store_read_failure(&e))?
        .ok_or_else(|| {
            Failure::file(format!("{}: holds no sync", path.display()))
                .hint("run a sync into this file first")
        })
}

/// Whether a terminal would act on `c` instead of showing it: C0 and C1 controls (escape
/// sequences start with one), DEL, the line and paragraph separators, and the bidirectional
/// marks, embeddings, overrides and isolates (which can make text read in another order).
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `cell` as a table shows it: every character a terminal would act on is written as `\u{XX}`,
/// and a backslash as `\\`, so the escaped form cannot be confused with the text itself.
fn for_terminal(cell: &str) -> Cow<'_, str> {
    if !cell.chars().any(|c| c == '\\' || acts_on_terminal(c)) {
        return Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + 8);
    for c in cell.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if acts_on_terminal(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `cell` as a CSV cell: one that a spreadsheet would run as a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP recommends against CSV
/// injection; the CSV writer then quotes whatever needs quoting.
fn for_spreadsheet(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Renders rows as aligned columns under `headers`, with [`for_terminal`]'s escapes. Widths are
/// terminal columns, so wide characters (CJK, most emoji) count twice and combining marks not at
/// all.
pub(crate) fn table<const N: usize>(headers: [&str; N], rows: &[[&str; N]]) -> String {
    let rows: Vec<[Cow<'_, str>; N]> = rows.iter().map(|r| r.map(for_terminal)).collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            text.push_str(cell);
            if i + 1 < N {
                text.push_str(&" ".repeat(w.saturating_sub(cell.width()) + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers);
    for row in &rows {
        line(row.each_ref().map(|c| &**c));
    }
    out
}

/// Renders rows as CSV under a header row, with [`for_spreadsheet`]'s neutralised cells.
pub(crate) fn csv<const N: usize>(
    headers: [&str; N],
    rows: &[[&str; N]],
) -> Result<String, Failure> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: &dyn std::fmt::Display| Failure::other(format!("cannot format CSV: {e}"));
    writer.write_record(headers).map_err(|e| fail(&e))?;
    for row in rows {
        let cells = row.map(for_spreadsheet);
        writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(|e| fail(&e))?;
    }
    let bytes = writer.into_inner().map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}

/// Pretty JSON with a final newline.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    let mut json =
        serde_json::to_string_pretty(value).map_err(|e| Failure::other(e.to_string()))?;
    json.push('\n');
    Ok(json)
}

/// Writes `text` to stdout.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_terminal_controls_and_bidi_overrides_escaped() {
        let hostile = "A\u{1b}[31mred\u{7}\u{9b}1m\r\nB\u{202e}cba\u{2066}x\\u{1b}";
        let text = table(["ID", "NAME"], &[["u1", hostile]]);
        assert!(
            !text.lines().flat_map(str::chars).any(acts_on_terminal),
            "no control or bidi character reaches the terminal: {text:?}"
        );
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.contains(
                "A\\u{1b}[31mred\\u{7}\\u{9b}1m\\u{d}\\u{a}B\\u{202e}cba\\u{2066}x\\\\u{1b}"
            ),
            "{line}"
        );
        // Plain text, accents and wide characters are shown as they are.
        assert_eq!(for_terminal("Zoë 山田"), "Zoë 山田");
    }

    #[test]
    fn table_aligns_escaped_and_wide_cells() {
        let text = table(
            ["ID", "NAME", "EMAIL"],
            &[
                ["u1", "A\u{1b}[1m", "a@x"],
                ["u2", "山田太郎", "b@x"],
                ["u3", "Ada", "c@x"],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        let email_col = lines[0].find("EMAIL").unwrap();
        for line in &lines[1..] {
            let at = line.find('@').unwrap() - 1;
            assert_eq!(line[..at].width(), email_col, "{line}");
        }
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn csv_neutralises_cells_a_spreadsheet_would_run() {
        let text = csv(
            ["a", "b", "c", "d", "e", "f"],
            &[
                [
                    "=HYPERLINK(\"http://x\")",
                    "@SUM(A1)",
                    "+1",
                    "-2+3",
                    "\tx",
                    "\rx",
                ],
                ["Ada = Lovelace", "Grace, \"Amazing\"", "", "", "", ""],
            ],
        )
        .unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "'=HYPERLINK(\"http://x\")",
                "'@SUM(A1)",
                "'+1",
                "'-2+3",
                "'\tx",
                "'\rx"
            ]
        );
        // A cell that merely contains such a character is left alone, and quoting round-trips.
        assert_eq!(rows[1][0], "Ada = Lovelace");
        assert_eq!(rows[1][1], "Grace, \"Amazing\"");
    }
}
