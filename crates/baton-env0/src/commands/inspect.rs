//! `inspect [FILE]`: the users stored in a c1z file, as a table, JSON or CSV.
//!
//! The file's text comes from env0, so it is untrusted: the table shows control characters and
//! bidirectional overrides escaped (a terminal would obey them), CSV cells a spreadsheet would run
//! as a formula are neutralised, and JSON stays exact (its encoding already escapes controls).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use c1_model::pb;
use c1_sync::{C1zReader, SyncRun};
use prost_types::value::Kind;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::cli::InspectFormat;
use crate::commands::store_read_failure;
use crate::exit::Failure;

/// One row of `inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UserRow {
    id: String,
    display_name: String,
    email: String,
    role: String,
    status: String,
    account_type: String,
    last_login: String,
}

const HEADERS: [&str; 7] = [
    "ID",
    "DISPLAY NAME",
    "EMAIL",
    "ROLE",
    "STATUS",
    "ACCOUNT TYPE",
    "LAST LOGIN",
];
const CSV_HEADERS: [&str; 7] = [
    "id",
    "display_name",
    "email",
    "role",
    "status",
    "account_type",
    "last_login",
];

impl UserRow {
    fn cells(&self) -> [&str; 7] {
        [
            &self.id,
            &self.display_name,
            &self.email,
            &self.role,
            &self.status,
            &self.account_type,
            &self.last_login,
        ]
    }

    fn from_resource(resource: &pb::Resource) -> UserRow {
        let user: Option<pb::UserTrait> = c1_model::annotations::find(&resource.annotations);
        let user = user.unwrap_or_default();
        let email = user
            .emails
            .iter()
            .find(|e| e.is_primary)
            .or_else(|| user.emails.first())
            .map(|e| e.address.clone())
            .unwrap_or_default();
        let profile = resource.profile.as_ref().or(user.profile.as_ref());
        let role = profile_string(profile, "role_name")
            .or_else(|| profile_string(profile, "role"))
            .unwrap_or_default();
        let status = user
            .status
            .as_ref()
            .and_then(|s| pb::user_trait::status::Status::try_from(s.status).ok())
            .map_or("unspecified", status_name)
            .to_owned();
        let account_type = pb::user_trait::AccountType::try_from(user.account_type)
            .map_or("unspecified", account_type_name)
            .to_owned();
        let last_login = user
            .last_login
            .as_ref()
            .and_then(c1_model::from_timestamp)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        UserRow {
            id: resource
                .id
                .as_ref()
                .map(|id| id.resource.clone())
                .unwrap_or_default(),
            display_name: resource.display_name.clone(),
            email,
            role,
            status,
            account_type,
            last_login,
        }
    }
}

fn profile_string(profile: Option<&c1_model::Struct>, key: &str) -> Option<String> {
    match profile?.fields().get(key)?.kind.as_ref()? {
        Kind::StringValue(s) if !s.is_empty() => Some(s.clone()),
        Kind::BoolValue(b) => Some(b.to_string()),
        Kind::NumberValue(n) => Some(n.to_string()),
        _ => None,
    }
}

fn status_name(status: pb::user_trait::status::Status) -> &'static str {
    match status {
        pb::user_trait::status::Status::Unspecified => "unspecified",
        pb::user_trait::status::Status::Enabled => "enabled",
        pb::user_trait::status::Status::Disabled => "disabled",
        pb::user_trait::status::Status::Deleted => "deleted",
    }
}

fn account_type_name(kind: pb::user_trait::AccountType) -> &'static str {
    match kind {
        pb::user_trait::AccountType::Unspecified => "unspecified",
        pb::user_trait::AccountType::Human => "human",
        pb::user_trait::AccountType::Service => "service",
        pb::user_trait::AccountType::System => "system",
    }
}

/// Picks the sync to read: `--sync-id`, else the latest finished full sync.
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
        .latest_finished_sync()
        .map_err(|e| store_read_failure(&e))?
        .ok_or_else(|| {
            Failure::file(format!("{}: holds no finished full sync", path.display()))
                .hint("run a sync into this file first, or pick a sync with --sync-id")
        })
}

/// Reads the users of one sync: every resource whose type has `TRAIT_USER`, in stored order.
pub(crate) fn read_users(
    path: &Path,
    sync_id: Option<&str>,
) -> Result<(SyncRun, Vec<UserRow>), Failure> {
    let reader = C1zReader::open(path).map_err(|e| store_read_failure(&e))?;
    let run = pick_sync(&reader, path, sync_id)?;
    let types = reader
        .resource_types(&run.sync_id)
        .map_err(|e| store_read_failure(&e))?;
    let mut rows = Vec::new();
    for rt in types
        .iter()
        .filter(|rt| rt.traits.contains(&(pb::resource_type::Trait::User as i32)))
    {
        let resources = reader
            .resources(&run.sync_id, Some(&rt.id))
            .map_err(|e| store_read_failure(&e))?;
        rows.extend(resources.iter().map(UserRow::from_resource));
    }
    Ok((run, rows))
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

/// Renders rows as aligned columns, with [`for_terminal`]'s escapes. Widths are terminal
/// columns, so wide characters (CJK, most emoji) count twice and combining marks not at all.
pub(crate) fn table(rows: &[UserRow]) -> String {
    let rows: Vec<[Cow<'_, str>; 7]> = rows.iter().map(|r| r.cells().map(for_terminal)).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 7]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(w.saturating_sub(cell.width()) + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(HEADERS);
    for row in &rows {
        line(row.each_ref().map(|c| &**c));
    }
    out
}

/// Renders rows as CSV with a header row, with [`for_spreadsheet`]'s neutralised cells.
pub(crate) fn csv(rows: &[UserRow]) -> Result<String, Failure> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: &dyn std::fmt::Display| Failure::other(format!("cannot format CSV: {e}"));
    writer.write_record(CSV_HEADERS).map_err(|e| fail(&e))?;
    for row in rows {
        let cells = row.cells().map(for_spreadsheet);
        writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(|e| fail(&e))?;
    }
    let bytes = writer.into_inner().map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}

#[derive(Serialize)]
struct JsonOut<'a> {
    sync_id: &'a str,
    started_at: &'a str,
    ended_at: Option<&'a str>,
    users: &'a [UserRow],
}

/// Runs `inspect`.
pub(crate) fn run(
    path: &Path,
    format: InspectFormat,
    sync_id: Option<&str>,
) -> Result<(), Failure> {
    let (run, rows) = read_users(path, sync_id)?;
    let text = match format {
        InspectFormat::Table => table(&rows),
        InspectFormat::Csv => csv(&rows)?,
        InspectFormat::Json => {
            let out = JsonOut {
                sync_id: &run.sync_id,
                started_at: &run.started_at,
                ended_at: run.ended_at.as_deref(),
                users: &rows,
            };
            let mut json =
                serde_json::to_string_pretty(&out).map_err(|e| Failure::other(e.to_string()))?;
            json.push('\n');
            json
        }
    };
    tracing::info!(sync_id = %run.sync_id, users = rows.len(), file = %path.display(), "read users from c1z");
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str) -> UserRow {
        UserRow {
            id: id.into(),
            display_name: name.into(),
            email: format!("{id}@example.com"),
            role: "Admin".into(),
            status: "enabled".into(),
            account_type: "human".into(),
            last_login: String::new(),
        }
    }

    #[test]
    fn table_aligns_columns_and_trims_trailing_space() {
        let text = table(&[row("u1", "Ada"), row("user-22", "Grace, \"Amazing\"")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
        let email_col = lines[0].find("EMAIL").unwrap();
        assert_eq!(lines[1].find("u1@").unwrap(), email_col);
        assert_eq!(lines[2].find("user-22@").unwrap(), email_col);
    }

    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        let text = table(&[row("u1", "山田太郎"), row("u2", "Zoë"), row("u3", "Ada")]);
        let lines: Vec<&str> = text.lines().collect();
        let email_col = lines[0].find("EMAIL").unwrap();
        for (line, id) in lines[1..].iter().zip(["u1", "u2", "u3"]) {
            let at = line.find(&format!("{id}@")).unwrap();
            // Display columns before the email: each CJK character takes two.
            assert_eq!(line[..at].width(), email_col, "{line}");
        }
    }

    #[test]
    fn csv_quotes_fields_that_need_it() {
        let text = csv(&[row("u1", "Grace, \"Amazing\"")]).unwrap();
        assert_eq!(
            text,
            "id,display_name,email,role,status,account_type,last_login\nu1,\"Grace, \"\"Amazing\"\"\",u1@example.com,Admin,enabled,human,\n"
        );
    }

    #[test]
    fn table_shows_terminal_controls_and_bidi_overrides_escaped() {
        let hostile = "A\u{1b}[31mred\u{7}\u{9b}1m\r\nB\u{202e}cba\u{2066}x\\u{1b}";
        let text = table(&[row("u1", hostile)]);
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
    fn table_aligns_escaped_cells() {
        let text = table(&[row("u1", "A\u{1b}[1m"), row("u2", "Ada")]);
        let lines: Vec<&str> = text.lines().collect();
        let email_col = lines[0].find("EMAIL").unwrap();
        assert_eq!(lines[1].find("u1@").unwrap(), email_col);
        assert_eq!(lines[2].find("u2@").unwrap(), email_col);
    }

    #[test]
    fn csv_neutralises_cells_a_spreadsheet_would_run() {
        let mut r = row("u1", "=HYPERLINK(\"http://x\")");
        r.email = "@SUM(A1)".into();
        r.role = "+1".into();
        r.status = "-2+3".into();
        r.account_type = "\tx".into();
        r.last_login = "\rx".into();
        let text = csv(&[r, row("u2", "Ada = Lovelace")]).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "u1",
                "'=HYPERLINK(\"http://x\")",
                "'@SUM(A1)",
                "'+1",
                "'-2+3",
                "'\tx",
                "'\rx"
            ]
        );
        // A cell that merely contains such a character is left alone.
        assert_eq!(rows[1][1], "Ada = Lovelace");
    }

    #[test]
    fn user_rows_read_the_trait_and_profile() {
        let user = c1_model::UserBuilder::new("user", "u-1", "Ada")
            .email("other@example.com", false)
            .email("ada@example.com", true)
            .status(c1_model::UserStatus::Disabled, None)
            .account_type(c1_model::AccountType::Service)
            .profile("role", "r-1")
            .profile("role_name", "Auditor")
            .last_login(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap())
            .build();
        let row = UserRow::from_resource(&user);
        assert_eq!(row.id, "u-1");
        assert_eq!(row.email, "ada@example.com");
        assert_eq!(row.role, "Auditor");
        assert_eq!(row.status, "disabled");
        assert_eq!(row.account_type, "service");
        assert_eq!(row.last_login, "2023-11-14T22:13:20Z");
    }
}
