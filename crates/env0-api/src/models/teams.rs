//! Teams, and the two shapes of the team list.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::User;
use crate::de::{OptString, opt_id, opt_string, user_list};
use crate::ids::{OrgId, TeamId};

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
    /// Members, when the response carries them (entries without `user_id` are skipped);
    /// `None` when `users` is missing or `null`, as in a team list that leaves members out
    /// (read them with [`Env0Client::team`](crate::Env0Client::team)).
    #[serde(default, deserialize_with = "user_list")]
    pub users: Option<Vec<User>>,
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
