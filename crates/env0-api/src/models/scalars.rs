//! Scalars env0 sends inside its objects: timestamps and roles.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::de::{opt_project_role, opt_role, opt_timestamp};

use crate::ids::RoleId;

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

/// The form env0 and Auth0 send every time, `YYYY-MM-DDThh:mm:ss.fffZ` (or without `.fff`), read
/// directly: `parse_from_rfc3339` took a tenth of decoding a member. `None` for anything else,
/// including an impossible date or time, which the general parsers then handle as before.
pub(super) fn utc_millis(text: &str) -> Option<DateTime<Utc>> {
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
