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

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::model::{
    ApiKey, CustomRole, Maybe, Member, Org, Organization, Project, ProjectPermission, Team,
    TeamRoleAssignment, TeamRoleAssignments, User,
};

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

const COMPANIES: &[&str] = &[
    "Northwind Cloud",
    "Globex Infrastructure",
    "Initech Platform",
    "Umbrella Data GmbH",
    "Société Générale des Nuages",
    "Hooli XYZ",
];

const GIVEN: &[&str] = &[
    "Ann",
    "José",
    "Zoë",
    "Jürgen",
    "Siobhán",
    "Chloé",
    "Mikael",
    "Priya",
    "Wei",
    "Olúwaseun",
    "Björn",
    "Fatima",
    "Noah",
    "Émile",
    "Hana",
    "Łukasz",
    "Søren",
    "Aiko",
    "Mateo",
    "Grace",
    "Dmitri",
    "Amara",
    "Kenji",
    "Inês",
    "Rafael",
    "Leila",
    "Tomás",
    "Ngozi",
    "Yusuf",
    "Ingrid",
    "Sarah",
    "David",
    "Maria",
    "James",
    "Li",
    "Olga",
];

const FAMILY: &[&str] = &[
    "Smith",
    "Müller",
    "García",
    "O'Brien",
    "Nguyễn",
    "Kowalski",
    "Øvergaard",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Okafor",
    "Haddad",
    "Fernández",
    "Schröder",
    "Lindqvist",
    "Patel",
    "Kim",
    "Cohen",
    "Novák",
    "Silva",
    "van der Berg",
    "Çelik",
    "Åberg",
    "Johnson",
];

/// Names that stress encodings and display logic: (given, family, display).
const SPECIAL_NAMES: &[(&str, &str, &str)] = &[
    ("太郎", "日本", "日本 太郎"),
    ("Ольга", "Смирнова", "Ольга Смирнова"),
    ("Ava", "Rocket", "Ava 🚀 Rocket"),
    ("سارة", "حداد", "سارة حداد"),
    ("Zoë", "Ünal-Ørsted", "Dr. Zoë Ünal-Ørsted, PhD"),
    ("민준", "김", "김민준"),
];

const DOMAINS: &[&str] = &["example.com", "example.io", "contractors.example.net"];

const KEY_NAMES: &[&str] = &[
    "terraform-ci",
    "github-actions",
    "backstage",
    "atlantis",
    "drift-detector",
    "cost-report",
    "🚀 deploy bot",
    "Ключ мониторинга",
    "jenkins (legacy)",
    "nightly-cleanup",
];

const TEAM_NAMES: &[&str] = &[
    "platform",
    "sre",
    "data",
    "frontend",
    "payments",
    "security",
    "Équipe Paris",
    "東京チーム",
    "🔥 on-call",
    "mobile",
];

const PROJECT_NAMES: &[&str] = &[
    "production",
    "staging",
    "sandbox",
    "networking",
    "data-lake",
    "Küche & Bad",
    "shared-services",
];

const PROJECT_ROLES: &[&str] = &["Admin", "Deployer", "Planner", "Viewer"];

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

        let teams = generate_teams(&mut g, &options, &org_id, &members, &key_member_ids);
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
            project_permissions.insert(project.id.clone(), perms);
            let mut tas = Vec::new();
            if !teams.is_empty() {
                for _ in 0..g.below(3) {
                    let team = &teams[g.below(teams.len())];
                    tas.push(TeamRoleAssignment {
                        id: g.uuid(),
                        team_id: team.id.clone(),
                        role: g.pick(PROJECT_ROLES).to_owned(),
                        extra: Map::new(),
                    });
                }
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

fn generate_roles(g: &mut Gen, org_id: &str) -> Vec<CustomRole> {
    let specs: [(Maybe<String>, &[&str], bool); 4] = [
        (
            Maybe::text("Auditor"),
            &["VIEW_ORGANIZATION", "VIEW_DASHBOARD", "VIEW_PROJECT"],
            false,
        ),
        (
            Maybe::text("Platform Engineer"),
            &[
                "VIEW_ORGANIZATION",
                "VIEW_PROJECT",
                "EDIT_PROJECT_SETTINGS",
                "VIEW_PROVIDERS",
                "CREATE_AND_EDIT_PROVIDERS",
            ],
            false,
        ),
        (
            Maybe::text("Sécurité – lecture seule"),
            &["VIEW_ORGANIZATION", "VIEW_ENVIRONMENT"],
            true,
        ),
        (Maybe::Null, &["VIEW_DASHBOARD"], false),
    ];
    specs
        .into_iter()
        .map(|(name, perms, default)| CustomRole {
            id: g.uuid(),
            name,
            organization_id: Maybe::text(org_id),
            permissions: Maybe::Value(perms.iter().map(|p| (*p).to_owned()).collect()),
            is_default_role: Maybe::Value(default),
            extra: Map::new(),
        })
        .collect()
}

fn generate_members(
    g: &mut Gen,
    options: &GenerateOptions,
    listed_roles: &[String],
    unlisted_role: &str,
) -> Vec<Member> {
    let mut members: Vec<Member> = Vec::with_capacity(options.users + options.api_keys / 6 + 1);
    let mut ids: HashSet<String> = HashSet::with_capacity(options.users);
    for i in 0..options.users {
        let special = i % 97 == 13;
        let (given, family, display) = if special {
            let (gv, fm, d) = SPECIAL_NAMES[(i / 97) % SPECIAL_NAMES.len()];
            (gv.to_owned(), fm.to_owned(), d.to_owned())
        } else {
            let gv = g.pick(GIVEN).to_owned();
            let fm = g.pick(FAMILY).to_owned();
            let d = format!("{gv} {fm}");
            (gv, fm, d)
        };
        let domain = g.pick(DOMAINS);
        let mut local = format!("{}.{}", ascii_slug(&given), ascii_slug(&family));
        if local == "." {
            "user".clone_into(&mut local);
        }
        let mut email = format!("{}{i}@{domain}", local.trim_matches('.'));
        if g.chance(0.03) {
            // Mixed case, as some IdPs deliver it.
            email = email
                .chars()
                .enumerate()
                .map(|(n, c)| if n == 0 { c.to_ascii_uppercase() } else { c })
                .collect();
        }
        if i > 0
            && i % 250 == 0
            && let Some(prev) = members.last().and_then(|m| m.user.email.value())
        {
            email.clone_from(prev);
        }

        let kind: f64 = g.rng.random();
        let mut user_id = if kind < 0.5 {
            format!("auth0|{}", g.hex(24))
        } else if kind < 0.85 {
            format!("google-oauth2|{}", g.digits(21))
        } else {
            format!("samlp|corp|{email}")
        };
        while !ids.insert(user_id.clone()) {
            user_id = format!("auth0|{}", g.hex(24));
        }

        let status_roll: f64 = g.rng.random();
        let status = if status_roll < 0.86 {
            Maybe::text("Active")
        } else if status_roll < 0.91 {
            Maybe::text("Invited")
        } else if status_roll < 0.94 {
            Maybe::text("pending")
        } else if status_roll < 0.97 {
            Maybe::text("Inactive")
        } else if status_roll < 0.98 {
            Maybe::text("SUSPENDED")
        } else if status_roll < 0.99 {
            Maybe::Missing
        } else {
            Maybe::text("")
        };
        let invited = matches!(
            status.value().map(String::as_str),
            Some("Invited" | "pending")
        );

        let role_roll: f64 = g.rng.random();
        let role = if role_roll < 0.12 {
            Maybe::text("Admin")
        } else if role_roll < 0.84 {
            Maybe::text("User")
        } else if role_roll < 0.98 && !listed_roles.is_empty() {
            Maybe::text(listed_roles[g.below(listed_roles.len())].clone())
        } else if role_roll < 0.99 {
            Maybe::text(unlisted_role)
        } else if role_roll < 0.995 {
            Maybe::Missing
        } else {
            Maybe::Null
        };

        let mut user = User::new(user_id.clone());
        user.email = if g.chance(0.01) {
            Maybe::Missing
        } else {
            Maybe::text(email.clone())
        };
        if invited {
            // Auth0 invites carry the email as the name and nothing else.
            user.name = Maybe::text(email.clone());
        } else {
            let name_roll: f64 = g.rng.random();
            if name_roll < 0.04 {
                user.given_name = Maybe::text(given.clone());
                user.family_name = Maybe::text(family.clone());
            } else if name_roll < 0.06 {
                user.name = Maybe::text("");
            } else if name_roll < 0.07 {
                user.name = Maybe::Null;
                user.given_name = Maybe::Null;
                user.family_name = Maybe::Null;
            } else if name_roll < 0.09 {
                user.name = Maybe::text(display.clone());
                user.given_name = Maybe::text(given.clone());
            } else {
                user.name = Maybe::text(display.clone());
                user.given_name = Maybe::text(given.clone());
                user.family_name = Maybe::text(family.clone());
            }
        }
        if g.chance(0.7) {
            user.picture = Maybe::text(format!(
                "https://s.gravatar.com/avatar/{}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{}.png",
                g.hex(32),
                ascii_slug(&given).chars().take(2).collect::<String>()
            ));
        }
        let created = g.time();
        user.created_at = g.stamp_field(created);
        user.last_login = if invited {
            if g.chance(0.5) {
                Maybe::Missing
            } else {
                Maybe::Null
            }
        } else {
            let login_roll: f64 = g.rng.random();
            if login_roll < 0.08 {
                Maybe::Null
            } else if login_roll < 0.11 {
                Maybe::Missing
            } else {
                let t = g.after(created);
                Maybe::text(g.stamp(t))
            }
        };
        let meta_roll: f64 = g.rng.random();
        user.app_metadata = if meta_roll < 0.6 {
            Maybe::Value(json!({}))
        } else if meta_roll < 0.8 {
            Maybe::Value(json!({ "source": "scim", "department": g.pick(TEAM_NAMES) }))
        } else {
            Maybe::Missing
        };
        if g.chance(0.5) {
            user.extra
                .insert("nickname".into(), Value::String(ascii_slug(&given)));
        }
        if g.chance(0.3) {
            user.extra
                .insert("logins_count".into(), json!(g.below(500)));
        }
        if g.chance(0.2) {
            let (provider, uid) = user_id.split_once('|').unwrap_or(("auth0", &user_id));
            user.extra.insert(
                "identities".into(),
                json!([{ "provider": provider, "user_id": uid, "connection": provider,
                         "isSocial": provider == "google-oauth2" }]),
            );
        }
        let mut extra = Map::new();
        if g.chance(0.1) {
            let t = g.time();
            extra.insert("lastActivityAt".into(), Value::String(g.stamp(t)));
        }
        members.push(Member {
            role,
            status,
            user,
            extra,
        });
    }
    members
}

fn generate_api_keys(
    g: &mut Gen,
    options: &GenerateOptions,
    org_id: &str,
    members: &[Member],
    listed_roles: &[String],
) -> Vec<ApiKey> {
    let mut keys = Vec::with_capacity(options.api_keys);
    for j in 0..options.api_keys {
        let base = g.pick(KEY_NAMES);
        let name_roll: f64 = g.rng.random();
        let name = if name_roll < 0.03 {
            Maybe::text("")
        } else if name_roll < 0.05 {
            Maybe::Null
        } else if name_roll < 0.07 {
            Maybe::Missing
        } else {
            Maybe::text(format!("{base}-{j}"))
        };
        let api_key_id = if g.chance(0.02) {
            Maybe::Missing
        } else {
            Maybe::text(g.alnum(16))
        };
        let role_roll: f64 = g.rng.random();
        let role = if role_roll < 0.4 {
            "Admin".to_owned()
        } else if role_roll < 0.9 || listed_roles.is_empty() {
            "User".to_owned()
        } else {
            listed_roles[g.below(listed_roles.len())].clone()
        };
        let created = g.time();
        let used_roll: f64 = g.rng.random();
        let last_used_at = if used_roll < 0.25 {
            Maybe::Null
        } else if used_roll < 0.4 {
            Maybe::Missing
        } else {
            let t = g.after(created);
            Maybe::text(g.stamp(t))
        };
        let created_at = if g.chance(0.02) {
            Maybe::Missing
        } else {
            Maybe::text(g.stamp(created))
        };
        let (created_by, created_by_user) = if members.is_empty() {
            (Maybe::Missing, Maybe::Missing)
        } else {
            let creator = &members[g.below(members.len())].user;
            let by_user = if g.chance(0.8) {
                Maybe::Value(creator.clone())
            } else {
                Maybe::Missing
            };
            (Maybe::text(creator.user_id.clone()), by_user)
        };
        let mut extra = Map::new();
        if g.chance(0.5) {
            extra.insert("isReadOnly".into(), Value::Bool(g.chance(0.3)));
        }
        keys.push(ApiKey {
            id: g.uuid(),
            name,
            api_key_id,
            organization_id: Maybe::text(org_id),
            organization_role: Maybe::text(role),
            last_used_at,
            created_at,
            created_by,
            created_by_user,
            extra,
        });
    }
    keys
}

fn generate_teams(
    g: &mut Gen,
    options: &GenerateOptions,
    org_id: &str,
    members: &[Member],
    key_member_ids: &[String],
) -> Vec<Team> {
    let mut teams = Vec::with_capacity(options.teams);
    for t in 0..options.teams {
        let base = TEAM_NAMES[t % TEAM_NAMES.len()];
        let name = if t < TEAM_NAMES.len() {
            base.to_owned()
        } else {
            format!("{base}-{}", t / TEAM_NAMES.len())
        };
        let users_roll: f64 = g.rng.random();
        let users = if users_roll < 0.1 || members.is_empty() {
            Maybe::Missing
        } else if users_roll < 0.2 {
            Maybe::Value(Vec::new())
        } else {
            let mut seen = HashSet::new();
            let mut list = Vec::new();
            for _ in 0..=g.below(8) {
                let m = &members[g.below(members.len())].user;
                if seen.insert(m.user_id.clone()) {
                    let mut member = User::new(m.user_id.clone());
                    member.email = m.email.clone();
                    member.name = m.name.clone();
                    list.push(member);
                }
            }
            if let Some(key_id) = key_member_ids.get(t)
                && seen.insert(key_id.clone())
            {
                list.push(User::new(key_id.clone()));
            }
            Maybe::Value(list)
        };
        let mut extra = Map::new();
        if g.chance(0.3) {
            extra.insert("isIdpManaged".into(), Value::Bool(true));
        }
        teams.push(Team {
            id: g.uuid(),
            name: Maybe::text(name),
            description: if g.chance(0.5) {
                Maybe::text(format!("Team {base}"))
            } else {
                Maybe::Null
            },
            organization_id: Maybe::text(org_id),
            users,
            extra,
        });
    }
    teams
}

fn generate_projects(g: &mut Gen, options: &GenerateOptions, org_id: &str) -> Vec<Project> {
    let mut projects: Vec<Project> = Vec::with_capacity(options.projects);
    for p in 0..options.projects {
        let id = g.uuid();
        let base = PROJECT_NAMES[p % PROJECT_NAMES.len()];
        let roots: Vec<(String, String)> = projects
            .iter()
            .filter(|pr| pr.parent_project_id.is_missing())
            .map(|pr| {
                (
                    pr.id.clone(),
                    pr.hierarchy.value().cloned().unwrap_or_default(),
                )
            })
            .collect();
        let (parent, hierarchy) = if !roots.is_empty() && g.chance(0.3) {
            let (pid, ph) = &roots[g.below(roots.len())];
            (Maybe::text(pid.clone()), format!("{ph}|{id}"))
        } else {
            (Maybe::Missing, id.clone())
        };
        let created = g.time();
        let mut extra = Map::new();
        extra.insert("tags".into(), json!([]));
        extra.insert("role".into(), json!("Admin"));
        projects.push(Project {
            id,
            name: Maybe::text(if p < PROJECT_NAMES.len() {
                base.to_owned()
            } else {
                format!("{base}-{}", p / PROJECT_NAMES.len())
            }),
            description: Maybe::text(""),
            organization_id: Maybe::text(org_id),
            parent_project_id: parent,
            hierarchy: Maybe::text(hierarchy),
            is_archived: Maybe::Value(g.chance(0.1)),
            created_at: Maybe::text(g.stamp(created)),
            extra,
        });
    }
    projects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_org_other_seed_other_org() {
        let opts = GenerateOptions {
            users: 200,
            api_keys: 20,
            teams: 12,
            projects: 6,
            seed: 42,
        };
        let a = Org::generate(opts);
        assert_eq!(a, Org::generate(opts));
        let b = Org::generate(GenerateOptions { seed: 43, ..opts });
        assert_ne!(a.organization.id, b.organization.id);
    }

    #[test]
    fn counts_ids_and_nasty_cases() {
        let org = Org::generate(GenerateOptions {
            users: 2000,
            api_keys: 200,
            teams: 30,
            projects: 10,
            seed: 7,
        });
        assert_eq!(org.api_keys.len(), 200);
        assert_eq!(org.teams.len(), 30);
        assert_eq!(org.projects.len(), 10);
        let humans: Vec<&Member> = org
            .members
            .iter()
            .filter(|m| org.api_key(&m.user.user_id).is_none())
            .collect();
        assert_eq!(humans.len(), 2000);
        let key_members = org.members.len() - humans.len();
        assert!(key_members > 0, "a User-role API key is also a member");
        for m in &org.members[..] {
            if org.api_key(&m.user.user_id).is_some() {
                assert_eq!(m.role, Maybe::text("User"));
            }
        }
        let ids: HashSet<&str> = org
            .members
            .iter()
            .map(|m| m.user.user_id.as_str())
            .collect();
        assert_eq!(ids.len(), org.members.len(), "member ids are unique");
        for prefix in ["auth0|", "google-oauth2|", "samlp|corp|"] {
            assert!(
                humans.iter().any(|m| m.user.user_id.starts_with(prefix)),
                "{prefix}"
            );
        }
        for status in ["Active", "Invited", "pending", "Inactive", "SUSPENDED", ""] {
            assert!(
                humans.iter().any(|m| m.status == Maybe::text(status)),
                "status {status:?}"
            );
        }
        assert!(humans.iter().any(|m| m.status.is_missing()));
        assert!(humans.iter().any(|m| m.user.created_at == Maybe::Null));
        assert!(humans.iter().any(|m| m.user.created_at.is_missing()));
        assert!(humans.iter().any(|m| m.user.created_at == Maybe::text("")));
        assert!(humans.iter().any(|m| m.user.last_login == Maybe::Null));
        assert!(
            humans
                .iter()
                .any(|m| m.user.name == Maybe::text("日本 太郎"))
        );
        assert!(humans.iter().any(|m| !m.user.extra.is_empty()));
        let role_ids: HashSet<&str> = org.roles.iter().map(|r| r.id.as_str()).collect();
        let custom = |r: &str| r != "Admin" && r != "User";
        assert!(humans.iter().any(|m| {
            m.role
                .value()
                .is_some_and(|r| custom(r) && role_ids.contains(r.as_str()))
        }));
        assert!(humans.iter().any(|m| {
            m.role
                .value()
                .is_some_and(|r| custom(r) && !role_ids.contains(r.as_str()))
        }));
        assert!(org.roles.iter().any(|r| r.name == Maybe::Null));
        let emails: Vec<&str> = humans
            .iter()
            .filter_map(|m| m.user.email.non_empty())
            .collect();
        let unique: HashSet<&str> = emails.iter().copied().collect();
        assert!(unique.len() < emails.len(), "two members share an email");
        assert!(org.api_keys.iter().any(|k| k.last_used_at == Maybe::Null));
        assert!(org.api_keys.iter().any(|k| k.name == Maybe::text("")));
    }

    #[test]
    fn ascii_slug_folds_accents_and_drops_the_rest() {
        assert_eq!(ascii_slug("Jürgen"), "jurgen");
        assert_eq!(ascii_slug("O'Brien"), "obrien");
        assert_eq!(ascii_slug("日本"), "");
    }
}
