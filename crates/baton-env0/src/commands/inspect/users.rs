//! `inspect [FILE]`: the users stored in a c1z file, as a table, JSON or CSV.

use std::path::Path;

use c1_model::pb;
use c1_sync::SyncRun;
use prost_types::value::Kind;
use serde::Serialize;

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

pub(crate) fn profile_string(profile: Option<&c1_model::Struct>, key: &str) -> Option<String> {
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

/// Reads the users of one sync: every resource whose type has `TRAIT_USER`, in stored order.
pub(crate) fn read_users(
    path: &Path,
    sync_id: Option<&str>,
) -> Result<(SyncRun, Vec<UserRow>), Failure> {
    let (reader, run) = super::open(path, sync_id)?;
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

/// The users as aligned columns.
pub(crate) fn table(rows: &[UserRow]) -> String {
    let cells: Vec<[&str; 7]> = rows.iter().map(UserRow::cells).collect();
    super::table(HEADERS, &cells)
}

/// The users as CSV.
pub(crate) fn csv(rows: &[UserRow]) -> Result<String, Failure> {
    let cells: Vec<[&str; 7]> = rows.iter().map(UserRow::cells).collect();
    super::csv(CSV_HEADERS, &cells)
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
        InspectFormat::Json => super::json(&JsonOut {
            sync_id: &run.sync_id,
            started_at: &run.started_at,
            ended_at: run.ended_at.as_deref(),
            users: &rows,
        })?,
    };
    tracing::info!(sync_id = %run.sync_id, users = rows.len(), file = %path.display(), "read users from c1z");
    super::print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

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
