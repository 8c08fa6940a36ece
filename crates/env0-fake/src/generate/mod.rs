//! Deterministic generator of realistic and nasty env0 organizations.
//!
//! The same [`GenerateOptions`] always give the same organization (ChaCha8 seeded from `seed`).
//! What "nasty" covers, in roughly these proportions:
//! - Auth0-style ids: `auth0|<24 hex>` (~50%), `google-oauth2|<21 digits>` (~35%),
//!   `samlp|corp|<email>` (~15%);
//! - membership status `Active` (~86%), `Invited` (~5%), `pending` (~3%), `Inactive` (~3%),
//!   `SUSPENDED`, missing and empty (~1% each);
//! - roles `Admin`, `User`, listed custom role ids, and a custom role id `/roles` does not list;
//!   one listed custom role has a `null` name;
//! - names missing, `null` or empty (then only given/family name or only the email is left), names
//!   with é, ü, ø, 日本, Cyrillic and emoji; invited members named after their email;
//! - timestamps with and without milliseconds, `null`, missing and empty; never-logged-in members;
//! - unknown extra fields (`nickname`, `logins_count`, `identities`, `lastActivityAt`, `isReadOnly`);
//! - two members sharing one email (every 250th member);
//! - User-role API keys that are also listed as members (every third User-role key), in addition
//!   to the `users` human members.
//!
//! - teams whose list entry carries members, an empty list, or no `users` at all; nested
//!   projects up to three levels deep, some archived; user and team roles on projects (built-in
//!   and custom) and team roles on the organization;
//! - assignments that name principals the organization no longer lists: three removed members
//!   appear in some team lists and project permissions, and a deleted team in some project's
//!   team roles.
//!
//! `words.rs` holds the name lists, `principals.rs` the roles, members and API keys, and
//! `access.rs` the teams, projects and their assignments.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::model::{
    ApiKey, Maybe, Member, Org, Organization, ProjectPermission, TeamRoleAssignment,
    TeamRoleAssignments, User,
};

mod access;
mod principals;
#[cfg(test)]
mod tests;
mod words;

use access::{generate_projects, generate_teams};
use principals::{generate_api_keys, generate_members, generate_roles};
use words::{COMPANIES, PROJECT_ROLES};

/// Size and seed of a generated organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Human members. User-role API keys that are also listed as members come on top.
    pub users: usize,
    /// API keys.
    pub api_keys: usize,
    /// Teams.
    pub teams: usize,
    /// Projects (some of them sub-projects, some archived).
    pub projects: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
}

impl Default for GenerateOptions {
    /// 50 members, 5 API keys, 5 teams, 3 projects, seed 1.
    fn default() -> Self {
        GenerateOptions {
            users: 50,
            api_keys: 5,
            teams: 5,
            projects: 3,
            seed: 1,
        }
    }
}

struct Gen {
    rng: ChaCha8Rng,
    base: DateTime<Utc>,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items.choose(&mut self.rng).copied().unwrap_or("x")
    }

    fn uuid(&mut self) -> String {
        let mut b: [u8; 16] = self.rng.random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex = b.iter().fold(String::with_capacity(32), |mut acc, x| {
            let _ = write!(acc, "{x:02x}");
            acc
        });
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }

    fn digits(&mut self, len: usize) -> String {
        let first = char::from(b"123456789"[self.below(9)]);
        std::iter::once(first)
            .chain((1..len).map(|_| char::from(b"0123456789"[self.below(10)])))
            .collect()
    }

    fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(CHARS[self.below(CHARS.len())]))
            .collect()
    }

    /// A time between the base and about three years later.
    fn time(&mut self) -> DateTime<Utc> {
        let secs = self.rng.random_range(0..3 * 365 * 24 * 3600_i64);
        let millis = self.rng.random_range(0..1000_i64);
        self.base + Duration::seconds(secs) + Duration::milliseconds(millis)
    }

    /// A time after `t` but not after the end of the generated period.
    fn after(&mut self, t: DateTime<Utc>) -> DateTime<Utc> {
        let end = self.base + Duration::days(3 * 365 + 30);
        let span = (end - t).num_seconds().max(1);
        t + Duration::seconds(self.rng.random_range(1..=span))
            + Duration::milliseconds(self.rng.random_range(0..1000_i64))
    }

    /// Formats like env0 does (milliseconds, `Z`), sometimes without milliseconds.
    fn stamp(&mut self, t: DateTime<Utc>) -> String {
        if self.chance(0.05) {
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        } else {
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        }
    }

    /// A timestamp field that is usually present, sometimes null, missing or empty.
    fn stamp_field(&mut self, t: DateTime<Utc>) -> Maybe<String> {
        let r: f64 = self.rng.random();
        if r < 0.03 {
            Maybe::Null
        } else if r < 0.05 {
            Maybe::Missing
        } else if r < 0.07 {
            Maybe::text("")
        } else {
            Maybe::text(self.stamp(t))
        }
    }
}

/// Lower-case ASCII form of a name for email local parts.
fn ascii_slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'á' | 'à' | 'â' | 'ä' | 'å' | 'ã' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' | 'ễ' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'ø' | 'õ' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' => Some('u'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            'ł' => Some('l'),
            'ş' => Some('s'),
            _ => None,
        };
        if let Some(m) = mapped {
            out.push(m);
        }
    }
    out
}

impl Org {
    /// Generates an organization; the same options always give the same organization.
    pub fn generate(options: GenerateOptions) -> Org {
        let mut g = Gen {
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            base: Utc
                .with_ymd_and_hms(2021, 3, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        };
        let org_id = g.uuid();
        let org_created = g.base - Duration::days(30);
        let organization = Organization {
            id: org_id.clone(),
            name: Maybe::text(g.pick(COMPANIES)),
            description: Maybe::text("Generated by env0-fake"),
            created_at: Maybe::text(org_created.to_rfc3339_opts(SecondsFormat::Millis, true)),
            role: Maybe::text("Admin"),
            extra: json_object(&json!({
                "photoUrl": null,
                "createdBy": "auth0|000000000000000000000001",
                "maxTtl": null,
                "defaultTtl": "inherit",
                "isSelfHostedK8s": false,
                "enableOidc": false,
                "doNotReportSkippedStatusChecks": false
            })),
        };

        let roles = generate_roles(&mut g, &org_id);
        let unlisted_role = g.uuid();
        let listed_role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();

        let mut members = generate_members(&mut g, &options, &listed_role_ids, &unlisted_role);
        let human_ids: Vec<String> = members.iter().map(|m| m.user.user_id.clone()).collect();
        let api_keys = generate_api_keys(&mut g, &options, &org_id, &members, &listed_role_ids);

        // Every third User-role key is also listed as a member, before a seeded human member
        // (merged in one pass: inserting into a 100k-member Vec one by one is quadratic).
        let user_keys: Vec<&ApiKey> = api_keys
            .iter()
            .filter(|k| k.organization_role.value().map(String::as_str) == Some("User"))
            .collect();
        let mut key_members: Vec<(usize, Member)> = Vec::new();
        let mut key_member_ids = Vec::new();
        for key in user_keys.iter().step_by(3) {
            let mut user = User::new(key.id.clone());
            user.name = key.name.clone();
            user.created_at = key.created_at.clone();
            user.app_metadata = Maybe::Value(json!({}));
            let member = Member {
                role: Maybe::text("User"),
                status: Maybe::text("Active"),
                user,
                extra: Map::new(),
            };
            key_members.push((g.below(members.len() + 1), member));
            key_member_ids.push(key.id.clone());
        }
        key_members.sort_by_key(|(at, _)| *at);
        let humans = std::mem::take(&mut members);
        members.reserve(humans.len() + key_members.len());
        let mut pending = key_members.into_iter().peekable();
        for (i, human) in humans.into_iter().enumerate() {
            while let Some((_, m)) = pending.next_if(|(at, _)| *at <= i) {
                members.push(m);
            }
            members.push(human);
        }
        members.extend(pending.map(|(_, m)| m));

        // Principals who have left: assignments and team lists still name a few of them.
        let removed: Vec<String> = (0..3).map(|_| format!("auth0|{}", g.hex(24))).collect();
        let teams = generate_teams(
            &mut g,
            &options,
            &org_id,
            &members,
            &key_member_ids,
            &removed,
        );
        let projects = generate_projects(&mut g, &options, &org_id);

        let mut principals: Vec<String> = human_ids;
        principals.extend(key_member_ids);
        let mut project_permissions = BTreeMap::new();
        let mut team_assignments = TeamRoleAssignments::default();
        for team in &teams {
            if g.chance(0.4) {
                let role = if g.chance(0.5) {
                    "User".to_owned()
                } else if g.chance(0.5) || listed_role_ids.is_empty() {
                    "Admin".to_owned()
                } else {
                    listed_role_ids[g.below(listed_role_ids.len())].clone()
                };
                team_assignments.organization.push(TeamRoleAssignment {
                    id: g.uuid(),
                    team_id: team.id.clone(),
                    role,
                    extra: Map::new(),
                });
            }
        }
        for project in &projects {
            let n = if principals.is_empty() { 0 } else { g.below(6) };
            let mut perms = Vec::new();
            let mut seen = HashSet::new();
            for _ in 0..n {
                let user_id = principals[g.below(principals.len())].clone();
                if !seen.insert(user_id.clone()) {
                    continue;
                }
                let role = if g.chance(0.1) && !listed_role_ids.is_empty() {
                    listed_role_ids[g.below(listed_role_ids.len())].clone()
                } else {
                    g.pick(PROJECT_ROLES).to_owned()
                };
                perms.push(ProjectPermission {
                    id: g.uuid(),
                    user_id,
                    role,
                    extra: Map::new(),
                });
            }
            if g.chance(0.15) {
                perms.push(ProjectPermission {
                    id: g.uuid(),
                    user_id: removed[g.below(removed.len())].clone(),
                    role: g.pick(PROJECT_ROLES).to_owned(),
                    extra: Map::new(),
                });
            }
            project_permissions.insert(project.id.clone(), perms);
            let mut tas = Vec::new();
            let mut seen_teams = HashSet::new();
            if !teams.is_empty() {
                for _ in 0..g.below(3) {
                    let team = &teams[g.below(teams.len())];
                    if !seen_teams.insert(team.id.clone()) {
                        continue;
                    }
                    let role = if g.chance(0.1) && !listed_role_ids.is_empty() {
                        listed_role_ids[g.below(listed_role_ids.len())].clone()
                    } else {
                        g.pick(PROJECT_ROLES).to_owned()
                    };
                    tas.push(TeamRoleAssignment {
                        id: g.uuid(),
                        team_id: team.id.clone(),
                        role,
                        extra: Map::new(),
                    });
                }
            }
            if g.chance(0.05) {
                // A team deleted since it was given the role.
                tas.push(TeamRoleAssignment {
                    id: g.uuid(),
                    team_id: g.uuid(),
                    role: g.pick(PROJECT_ROLES).to_owned(),
                    extra: Map::new(),
                });
            }
            team_assignments.projects.insert(project.id.clone(), tas);
        }

        Org {
            organization,
            members,
            api_keys,
            roles,
            teams,
            projects,
            project_permissions,
            team_role_assignments: team_assignments,
        }
    }
}

fn json_object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
