//! Wire models: env0's JSON exactly as sent, with lenient optional fields.
//!
//! Field names follow the wire: snake_case inside the Auth0-style `user` object, camelCase
//! everywhere else. Unknown fields are ignored. Every optional field accepts a missing key,
//! `null` and `""` (all read as `None`). Serializing writes the same wire names back.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::de::{
    OptString, opt_bool, opt_id, opt_project_role, opt_role, opt_string, opt_timestamp, opt_user,
    string_list, user_list,
};
use crate::ids::{ApiKeyId, EnvironmentId, OrgId, ProjectId, RoleId, TeamId, UserId};

// ---------------------------------------------------------------------------------------------
// Scalars: timestamps and roles
// ---------------------------------------------------------------------------------------------

/// A point in time as env0 sent it.
///
/// env0 sends ISO-8601 / RFC 3339 text (usually with milliseconds, `2024-01-02T03:04:05.000Z`).
/// Text that cannot be read as a date-time is kept verbatim as [`Timestamp::Raw`], so one odd
/// value never fails a whole listing; the client logs it once, in the request's span.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// A date-time that parsed.
    Parsed(DateTime<Utc>),
    /// Text that did not parse, kept as sent.
    Raw(String),
}

impl Timestamp {
    /// Parses text the way the wire deserializer does, without logging. Accepts RFC 3339 (any
    /// offset, optional fraction), a zone-less `YYYY-MM-DD[T ]hh:mm:ss[.fff]` (read as UTC),
    /// RFC 2822 and a bare `YYYY-MM-DD` (midnight UTC). Anything else is [`Timestamp::Raw`].
    pub fn parse(text: &str) -> Timestamp {
        let t = text.trim();
        if let Some(dt) = utc_millis(t) {
            return Timestamp::Parsed(dt);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Timestamp::Parsed(dt.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
                return Timestamp::Parsed(naive.and_utc());
            }
        }
        if let Ok(dt) = DateTime::parse_from_rfc2822(t) {
            return Timestamp::Parsed(dt.with_timezone(&Utc));
        }
        if let Some(midnight) = NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
        {
            return Timestamp::Parsed(midnight.and_utc());
        }
        Timestamp::Raw(text.to_owned())
    }

    /// The parsed date-time, or `None` for raw text.
    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            Timestamp::Parsed(dt) => Some(*dt),
            Timestamp::Raw(_) => None,
        }
    }

    /// Wire text: empty means no value; unparseable text is kept and noticed (the client logs
    /// it once per response, see `notice.rs`).
    pub(crate) fn from_wire(text: &str) -> Option<Timestamp> {
        if !crate::de::has_text(text) {
            return None;
        }
        let ts = Timestamp::parse(text);
        if let Timestamp::Raw(raw) = &ts {
            crate::notice::unparseable_timestamp(raw);
        }
        Some(ts)
    }

    /// Unix epoch number: milliseconds when it is large, seconds otherwise.
    pub(crate) fn from_epoch(value: i64) -> Timestamp {
        let parsed = if value.unsigned_abs() >= 100_000_000_000 {
            DateTime::from_timestamp_millis(value)
        } else {
            DateTime::from_timestamp(value, 0)
        };
        parsed.map_or_else(|| Timestamp::Raw(value.to_string()), Timestamp::Parsed)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timestamp::Parsed(dt) => f.write_str(&dt.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Timestamp::Raw(raw) => f.write_str(raw),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_timestamp(d)?.ok_or_else(|| de::Error::custom("empty timestamp"))
    }
}

/// An organization role: the built-in `Admin` or `User`, or the id of a custom role.
///
/// On the wire it is one string; `"Admin"` and `"User"` (exactly) are the built-ins and any other
/// non-empty text is a custom role id. An empty string means no role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Organization Admin.
    Admin,
    /// Organization User.
    User,
    /// A custom role, by id (see [`CustomRole`]).
    Custom(RoleId),
}

impl Role {
    /// Reads a wire value; `None` for empty text.
    pub fn parse(text: &str) -> Option<Role> {
        crate::de::has_text(text).then(|| Role::from_wire(text.to_owned()))
    }

    pub(crate) fn from_wire(text: String) -> Role {
        match text.as_str() {
            "Admin" => Role::Admin,
            "User" => Role::User,
            _ => Role::Custom(RoleId::new(text)),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "Admin",
            Role::User => "User",
            Role::Custom(id) => id.as_str(),
        }
    }

    /// True for `Admin` and `User`.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, Role::Custom(_))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_role(d)?.ok_or_else(|| de::Error::custom("empty role"))
    }
}

/// A project or environment role: built-in `Admin`, `Deployer`, `Planner`, `Viewer`, or a custom
/// role id (any other non-empty text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectRole {
    /// Project Admin.
    Admin,
    /// Project Deployer.
    Deployer,
    /// Project Planner.
    Planner,
    /// Project Viewer.
    Viewer,
    /// A custom role, by id.
    Custom(RoleId),
}

impl ProjectRole {
    /// Reads a wire value; `None` for empty text.
    pub fn parse(text: &str) -> Option<ProjectRole> {
        crate::de::has_text(text).then(|| ProjectRole::from_wire(text.to_owned()))
    }

    pub(crate) fn from_wire(text: String) -> ProjectRole {
        match text.as_str() {
            "Admin" => ProjectRole::Admin,
            "Deployer" => ProjectRole::Deployer,
            "Planner" => ProjectRole::Planner,
            "Viewer" => ProjectRole::Viewer,
            _ => ProjectRole::Custom(RoleId::new(text)),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ProjectRole::Admin => "Admin",
            ProjectRole::Deployer => "Deployer",
            ProjectRole::Planner => "Planner",
            ProjectRole::Viewer => "Viewer",
            ProjectRole::Custom(id) => id.as_str(),
        }
    }

    /// True for the four built-in project roles.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, ProjectRole::Custom(_))
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProjectRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProjectRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_project_role(d)?.ok_or_else(|| de::Error::custom("empty role"))
    }
}

// ---------------------------------------------------------------------------------------------
// Organizations and users
// ---------------------------------------------------------------------------------------------

/// An item of `GET /organizations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// Organization id.
    pub id: OrgId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Logo URL.
    #[serde(default, deserialize_with = "opt_string")]
    pub photo_url: Option<String>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Last update time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub updated_at: Option<Timestamp>,
    /// The calling key's role in this organization.
    #[serde(default, deserialize_with = "opt_role")]
    pub role: Option<Role>,
}

/// The form env0 and Auth0 send every time, `YYYY-MM-DDThh:mm:ss.fffZ` (or without `.fff`), read
/// directly: `parse_from_rfc3339` took a tenth of decoding a member. `None` for anything else,
/// including an impossible date or time, which the general parsers then handle as before.
fn utc_millis(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let millis = match b.len() {
        20 => 0,
        24 if b.get(19) == Some(&b'.') => number(b, 20..23)?,
        _ => return None,
    };
    let fixed = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.last() != Some(&b'Z') || fixed.iter().any(|&(at, c)| b.get(at) != Some(&c)) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(b, 0..4)?).ok()?,
        number(b, 5..7)?,
        number(b, 8..10)?,
    )?;
    let time = date.and_hms_milli_opt(
        number(b, 11..13)?,
        number(b, 14..16)?,
        number(b, 17..19)?,
        millis,
    )?;
    Some(time.and_utc())
}

/// The decimal number written with ASCII digits only at `range` of `b`.
fn number(b: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    b.get(range)?.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// An item of `GET /organizations/{org}/users`: a membership wrapping an Auth0-style user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationUser {
    /// The member's organization role.
    #[serde(default, deserialize_with = "opt_role")]
    pub role: Option<Role>,
    /// Membership status; `"Active"` is the only value documented.
    #[serde(default, deserialize_with = "opt_string")]
    pub status: Option<String>,
    /// The person (or principal) behind the membership.
    pub user: User,
}

/// The Auth0-style user object env0 embeds (snake_case keys). `user_id` is required; everything
/// else is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UserWire")]
#[non_exhaustive]
pub struct User {
    /// Stable principal id.
    pub user_id: UserId,
    /// Email address (may repeat across users).
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Avatar URL.
    pub picture: Option<String>,
    /// Account creation time.
    pub created_at: Option<Timestamp>,
    /// Last login time; `None` when the user never logged in.
    pub last_login: Option<Timestamp>,
}

impl User {
    /// A user with only an id, for building test data and requests.
    pub fn new(user_id: UserId) -> User {
        User {
            user_id,
            email: None,
            name: None,
            given_name: None,
            family_name: None,
            picture: None,
            created_at: None,
            last_login: None,
        }
    }
}

/// The lenient shape of [`User`] before its id is checked.
#[derive(Deserialize)]
pub(crate) struct UserWire {
    #[serde(default, deserialize_with = "opt_id")]
    user_id: Option<UserId>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    given_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    family_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    picture: Option<String>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    last_login: Option<Timestamp>,
}

impl TryFrom<UserWire> for User {
    type Error = &'static str;

    fn try_from(w: UserWire) -> Result<User, &'static str> {
        let user_id = w
            .user_id
            .ok_or("user object without a user_id (missing, null or empty)")?;
        Ok(User {
            user_id,
            email: w.email,
            name: w.name,
            given_name: w.given_name,
            family_name: w.family_name,
            picture: w.picture,
            created_at: w.created_at,
            last_login: w.last_login,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// API keys and roles
// ---------------------------------------------------------------------------------------------

/// An item of `GET /api-keys?organizationId=`.
///
/// The wire's `apiKeySecret` (only meaningful in a create response) is deliberately not read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiKey {
    /// Entity id; the principal id used in team members and role assignments.
    pub id: ApiKeyId,
    /// Display name (not unique).
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// The Basic-auth user name of the key (not a secret).
    #[serde(default, deserialize_with = "opt_string")]
    pub api_key_id: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// The key's organization role.
    #[serde(default, deserialize_with = "opt_role")]
    pub organization_role: Option<Role>,
    /// Last use; `None` when never used.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub last_used_at: Option<Timestamp>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// The creator, embedded.
    #[serde(default, deserialize_with = "opt_user")]
    pub created_by_user: Option<User>,
}

/// An item of `GET /roles?organizationId=` (custom roles only; built-ins are never listed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomRole {
    /// Role id; the value that appears in `role` fields.
    pub id: RoleId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// Permission names such as `VIEW_PROJECT` (open-ended).
    #[serde(default, deserialize_with = "string_list")]
    pub permissions: Vec<String>,
    /// Whether this is the organization's default role (meaning not documented).
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_default_role: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Teams
// ---------------------------------------------------------------------------------------------

/// A team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Team {
    /// Team id.
    pub id: TeamId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// Members, when the response includes them (entries without `user_id` are skipped).
    #[serde(default, deserialize_with = "user_list")]
    pub users: Vec<User>,
}

/// One page of `GET /teams/organizations/{org}`.
///
/// env0 answers either an envelope `{"teams": [...], "nextPageKey": "..."}` or (older servers, or
/// without `limit`) a bare array; both read into this type, a bare array as a last page.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TeamsPage {
    /// Teams on this page.
    pub teams: Vec<Team>,
    /// Opaque key of the next page (sent back as `offset`); `None` on the last page.
    pub next_page_key: Option<String>,
}

impl<'de> Deserialize<'de> for TeamsPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TeamsPageVisitor)
    }
}

struct TeamsPageVisitor;

impl<'de> Visitor<'de> for TeamsPageVisitor {
    type Value = TeamsPage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of teams or an object with `teams` and `nextPageKey`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TeamsPage, A::Error> {
        let mut teams = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(team) = seq.next_element::<Team>()? {
            teams.push(team);
        }
        Ok(TeamsPage {
            teams,
            next_page_key: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TeamsPage, A::Error> {
        let mut teams: Option<Vec<Team>> = None;
        let mut next_page_key = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "teams" => {
                    if teams.is_some() {
                        return Err(de::Error::duplicate_field("teams"));
                    }
                    teams = Some(map.next_value::<Option<Vec<Team>>>()?.unwrap_or_default());
                }
                "nextPageKey" => next_page_key = map.next_value::<OptString>()?.0,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let teams = teams.ok_or_else(|| de::Error::missing_field("teams"))?;
        Ok(TeamsPage {
            teams,
            next_page_key,
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<TeamsPage, E> {
        Ok(TeamsPage {
            teams: Vec::new(),
            next_page_key: None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Projects and role assignments
// ---------------------------------------------------------------------------------------------

/// An item of `GET /projects?organizationId=` (all projects, sub-projects and archived ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Project {
    /// Project id.
    pub id: ProjectId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// Parent project for sub-projects; `None` at the top level.
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_project_id: Option<ProjectId>,
    /// `rootId|...|parentId|selfId`.
    #[serde(default, deserialize_with = "opt_string")]
    pub hierarchy: Option<String>,
    /// Archived projects are listed too.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_archived: Option<bool>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Last update time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub updated_at: Option<Timestamp>,
    /// The calling key's role in this project.
    #[serde(default, deserialize_with = "opt_project_role")]
    pub role: Option<ProjectRole>,
    /// Tags.
    #[serde(default, deserialize_with = "string_list")]
    pub tags: Vec<String>,
}

/// An item of `GET /permissions/projects/{project}`: a user's direct role on a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProjectUserPermission {
    /// Assignment id.
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The user (or User-role API key) assigned.
    pub user_id: UserId,
    /// The project role.
    #[serde(default, deserialize_with = "opt_project_role")]
    pub role: Option<ProjectRole>,
}

/// An item of `GET /roles/assignments/teams?...`: a team's role at one scope.
///
/// The role is kept as wire text because its meaning depends on the scope: read it with
/// [`TeamRoleAssignment::org_role`] for an organization scope and
/// [`TeamRoleAssignment::project_role`] for a project or environment scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TeamRoleAssignment {
    /// Assignment id.
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The team assigned.
    pub team_id: TeamId,
    /// The role as sent.
    #[serde(default, deserialize_with = "opt_string")]
    pub role: Option<String>,
}

impl TeamRoleAssignment {
    /// The role read as an organization role.
    pub fn org_role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }

    /// The role read as a project or environment role.
    pub fn project_role(&self) -> Option<ProjectRole> {
        self.role.as_deref().and_then(ProjectRole::parse)
    }
}

/// Where a team role assignment applies: exactly one of organization, project or environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssignmentScope {
    /// Organization-wide.
    Organization(OrgId),
    /// One project (and, by inheritance, its sub-projects and environments).
    Project(ProjectId),
    /// One environment.
    Environment(EnvironmentId),
}

impl AssignmentScope {
    /// The query parameter env0 expects for this scope, and its value.
    pub fn query(&self) -> (&'static str, &str) {
        match self {
            AssignmentScope::Organization(id) => ("organizationId", id.as_str()),
            AssignmentScope::Project(id) => ("projectId", id.as_str()),
            AssignmentScope::Environment(id) => ("environmentId", id.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What chrono's RFC 3339 parser makes of `text`, in UTC.
    fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|dt| dt.with_timezone(&Utc))
    }

    proptest::proptest! {
        /// The direct reading agrees with chrono's RFC 3339 parser on the usual form, for any
        /// digits in every field (impossible dates and times included, which both refuse).
        #[test]
        fn the_usual_form_reads_as_rfc3339_does(
            text in r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z"
        ) {
            let general = rfc3339(&text);
            let direct = utc_millis(&text);
            // chrono also reads a leap second (`:60`), which the direct path leaves to it.
            if direct.is_some() || !text.contains(":60") {
                proptest::prop_assert_eq!(direct, general);
            }
        }

        /// The same on mostly possible dates and times (the digits above rarely make one).
        #[test]
        fn possible_times_read_as_rfc3339_does(
            text in r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3})?Z"
        ) {
            proptest::prop_assert_eq!(utc_millis(&text), rfc3339(&text));
        }
    }

    #[test]
    fn the_direct_reading_leaves_every_other_form_to_the_general_parsers() {
        for text in [
            "2024-01-02T03:04:05.6Z",
            "2024-01-02T03:04:05.678+00:00",
            "2024-01-02 03:04:05.678Z",
            "2024-01-02T03:04:05.678z",
            "2024-02-30T03:04:05.678Z",
            "2024-01-02T24:00:00.000Z",
            "+024-01-02T03:04:05.678Z",
            "2024-01-02T03:04:05.6７Z",
        ] {
            assert_eq!(utc_millis(text), None, "{text}");
        }
        assert_eq!(
            Timestamp::parse("2024-01-02T03:04:05.678Z").as_datetime(),
            rfc3339("2024-01-02T03:04:05.678Z")
        );
        assert_eq!(
            Timestamp::parse("2016-12-31T23:59:60.000Z")
                .as_datetime()
                .map(|dt| dt.timestamp()),
            Some(1_483_228_799),
            "a leap second still parses, through chrono"
        );
    }

    #[test]
    fn timestamp_formats() {
        let millis = Timestamp::parse("2024-01-02T03:04:05.000Z");
        assert_eq!(millis.to_string(), "2024-01-02T03:04:05.000Z");
        let offset = Timestamp::parse("2024-01-02T05:04:05+02:00");
        assert_eq!(offset, millis);
        assert_eq!(Timestamp::parse("2024-01-02 03:04:05"), millis);
        assert_eq!(Timestamp::parse("2024-01-02T03:04:05.000"), millis);
        assert_eq!(
            Timestamp::parse("2024-01-02").to_string(),
            "2024-01-02T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse("last tuesday"),
            Timestamp::Raw("last tuesday".into())
        );
        assert_eq!(Timestamp::from_epoch(1_704_164_645_000), millis);
        assert_eq!(Timestamp::from_epoch(1_704_164_645), millis);
    }

    #[test]
    fn roles_read_builtins_exactly() {
        assert_eq!(Role::parse("Admin"), Some(Role::Admin));
        assert_eq!(Role::parse("User"), Some(Role::User));
        assert_eq!(
            Role::parse("admin"),
            Some(Role::Custom(RoleId::new("admin")))
        );
        assert_eq!(Role::parse(""), None);
        assert_eq!(ProjectRole::parse("Deployer"), Some(ProjectRole::Deployer));
        assert_eq!(
            ProjectRole::parse("User"),
            Some(ProjectRole::Custom(RoleId::new("User")))
        );
    }

    #[test]
    fn team_role_assignment_reads_role_per_scope() {
        let a: TeamRoleAssignment =
            serde_json::from_str(r#"{"id":"a1","teamId":"t1","role":"Viewer"}"#).unwrap();
        assert_eq!(a.project_role(), Some(ProjectRole::Viewer));
        assert_eq!(a.org_role(), Some(Role::Custom(RoleId::new("Viewer"))));
    }

    #[test]
    fn teams_page_reads_both_shapes() {
        let bare: TeamsPage = serde_json::from_str(r#"[{"id":"t1"}]"#).unwrap();
        assert_eq!(bare.teams.len(), 1);
        assert_eq!(bare.next_page_key, None);
        let env: TeamsPage =
            serde_json::from_str(r#"{"extra":1,"teams":[{"id":"t1"}],"nextPageKey":"k"}"#).unwrap();
        assert_eq!(env.next_page_key.as_deref(), Some("k"));
        let last: TeamsPage = serde_json::from_str(r#"{"teams":[],"nextPageKey":""}"#).unwrap();
        assert_eq!(last.next_page_key, None);
        let err = serde_json::from_str::<TeamsPage>(r#"{"items":[]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `teams`"), "{err}");
    }

    #[test]
    fn serializing_writes_the_wire_names_back() {
        let wire = r#"{"id":"k1","name":"ci","apiKeyId":"abc","organizationId":"o1",
            "organizationRole":"c0ffee","lastUsedAt":"","createdAt":"2024-01-02T03:04:05Z",
            "createdByUser":{"user_id":"u1","given_name":"Ann","last_login":"soon"}}"#;
        let key: ApiKey = serde_json::from_str(wire).unwrap();
        let json = serde_json::to_value(&key).unwrap();
        assert_eq!(json["apiKeyId"], "abc");
        assert_eq!(json["organizationRole"], "c0ffee");
        assert_eq!(json["lastUsedAt"], serde_json::Value::Null);
        assert_eq!(json["createdAt"], "2024-01-02T03:04:05.000Z");
        assert_eq!(json["createdByUser"]["given_name"], "Ann");
        assert_eq!(json["createdByUser"]["last_login"], "soon");
        let again: ApiKey = serde_json::from_value(json).unwrap();
        assert_eq!(again, key);
    }
}
