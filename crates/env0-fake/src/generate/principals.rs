//! Generated custom roles, members and API keys.

use std::collections::HashSet;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::model::{ApiKey, CustomRole, Maybe, Member, User};

use super::words::{DOMAINS, FAMILY, GIVEN, KEY_NAMES, SPECIAL_NAMES, TEAM_NAMES};
use super::{Gen, GenerateOptions, ascii_slug};

pub(super) fn generate_roles(g: &mut Gen, org_id: &str) -> Vec<CustomRole> {
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

pub(super) fn generate_members(
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

pub(super) fn generate_api_keys(
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
