//! Who has access: members of `GET /organizations/{org}/users` plus keys of `GET /api-keys`,
//! merged into one list of [`Principal`]s in id order, with custom role names from `GET /roles`.
//!
//! Rules:
//! - A member whose id is also an API key `id` is that API key: one principal of kind
//!   [`PrincipalKind::ApiKey`] (see [`Principal::absorb_member`] for what the member record adds).
//! - The same id twice from one endpoint gives one principal (the first) and a
//!   [`Warning::DuplicateId`]. Two members sharing an email are two principals.
//! - Custom role ids get their names from `GET /roles`. Ids that endpoint does not list keep no
//!   name ([`Warning::UnknownCustomRole`] once per id); when it answers 402 or 403 every custom
//!   role keeps its id without a name ([`Warning::CustomRolesUnavailable`], once).
//!
//! - A principal whose id is longer than ConductorOne accepts
//!   ([`MAX_ID_BYTES`](c1_model::limits::MAX_ID_BYTES)) is dropped with a
//!   [`Warning::IdTooLong`] before anything else looks at it.
//!
//! Principals are sorted by id (byte order), so listings are deterministic whatever order env0
//! answers in.
//!
//! The ordering (`order.rs`) is a fast path (prefix keys, positions instead of moves, a linear
//! merge); the tests hold it to a plain `BTreeMap` model of the rules above (`tests/model.rs`). Its index
//! bookkeeping is checked: a contradiction stops a debug build and is an
//! [`Error::Internal`](crate::Error::Internal) in a release build, never a silently wrong list.

use std::collections::BTreeMap;

use c1_model::limits;
use env0_api::{ApiKey, CustomRole, OrganizationUser};
use serde::Serialize;

use crate::domain::MembershipTag;
use crate::domain::{MAX_TEXT_BYTES, OrgRole, Principal, PrincipalKind, Warning, shorten};
use crate::error::{Error, broken};
use crate::packed::{PackedPrincipal, admit};

mod order;

use order::{IdPrefix, Unique, find_id, is_permutation, merged_order, ordered_unique};

/// Where members come from (`GET /organizations/{org}/users`), as named in warnings.
pub const MEMBERS_SOURCE: &str = "the organization's user list";
/// Where API keys come from (`GET /api-keys`), as named in warnings.
pub const API_KEYS_SOURCE: &str = "the API key list";

/// Unparseable timestamps named in full in their (single) page warning before the rest are counted.
const TIMESTAMP_EXAMPLES: usize = 5;

/// Members converted to principals, duplicates removed, each kept packed (see [`PackedPrincipal`]) so the
/// whole organization takes about half the memory. They stay where they are (response order);
/// `order` lists them by id.
#[derive(Debug, Default)]
pub(crate) struct Members {
    principals: Vec<PackedPrincipal>,
    /// Positions in `principals`, in id order.
    order: Vec<usize>,
    /// `id_prefix` of each principal, in id order (beside `order`).
    prefixes: Vec<IdPrefix>,
    warnings: Vec<Warning>,
    duplicates: usize,
}

impl Members {
    /// Converts the wire members, dropping each wire value as soon as it is converted.
    pub(crate) fn from_wire(members: Vec<OrganizationUser>) -> Result<Members, Error> {
        let mut warnings = Vec::new();
        let principals: Vec<PackedPrincipal> = members
            .into_iter()
            .filter_map(|m| {
                let principal = Principal::from_member(m, &mut warnings);
                admit(&principal, MEMBERS_SOURCE, &mut warnings)
            })
            .collect();
        Members::from_principals(principals, warnings)
    }

    /// Members already converted and packed (in response order), with the warnings of their
    /// conversion.
    pub(crate) fn from_principals(
        principals: Vec<PackedPrincipal>,
        mut warnings: Vec<Warning>,
    ) -> Result<Members, Error> {
        let Unique {
            principals,
            order,
            prefixes,
            duplicates,
        } = ordered_unique(principals, MEMBERS_SOURCE, &mut warnings)?;
        Ok(Members {
            principals,
            order,
            prefixes,
            warnings,
            duplicates,
        })
    }

    /// How many distinct members there are.
    pub(crate) fn len(&self) -> usize {
        self.principals.len()
    }
}

/// Every principal of one organization, in id order, plus what was odd about the data.
#[derive(Debug, Default)]
pub struct Directory {
    /// Each principal once, in no particular order (members in response order, then the API keys
    /// not listed as members).
    principals: Vec<PackedPrincipal>,
    /// Positions in `principals`, in id order.
    order: Vec<usize>,
    warnings: Vec<Warning>,
    duplicates: usize,
    keys_listed_as_members: usize,
    roles_unavailable: Option<u16>,
}

impl Directory {
    /// Builds the directory from what `GET /organizations/{org}/users` and `GET /api-keys`
    /// answered. Custom roles are not resolved yet (see [`Directory::resolve_custom_roles`]).
    ///
    /// Fails only on a bug (an [`Error::Internal`]).
    pub fn from_wire(
        members: Vec<OrganizationUser>,
        keys: Vec<ApiKey>,
    ) -> Result<Directory, Error> {
        Directory::assemble(Members::from_wire(members)?, keys)
    }

    pub(crate) fn assemble(members: Members, keys: Vec<ApiKey>) -> Result<Directory, Error> {
        let Members {
            principals: mut all,
            order: member_order,
            prefixes,
            mut warnings,
            duplicates: member_duplicates,
        } = members;
        let keys: Vec<PackedPrincipal> = keys
            .into_iter()
            .filter_map(|k| {
                let principal = Principal::from_api_key(k, &mut warnings);
                admit(&principal, API_KEYS_SOURCE, &mut warnings)
            })
            .collect();
        let Unique {
            principals: keys,
            order: key_order,
            prefixes: key_prefixes,
            duplicates: key_duplicates,
        } = ordered_unique(keys, API_KEYS_SOURCE, &mut warnings)?;

        // Keys are few next to members. A key listed as a member takes the member's place (the
        // same id, so the same place in id order); the others are appended.
        let mut replaces: Vec<Option<usize>> = vec![None; keys.len()];
        let mut key_only = Vec::new();
        for (&k, prefix) in key_order.iter().zip(&key_prefixes) {
            let id = keys
                .get(k)
                .ok_or_else(|| broken("an API key's position is past the key list"))?
                .id();
            match find_id(&all, &member_order, &prefixes, prefix, id)? {
                Some(member) => {
                    *replaces
                        .get_mut(k)
                        .ok_or_else(|| broken("an API key's position is past the key list"))? =
                        Some(member);
                }
                None => key_only.push((*prefix, k)),
            }
        }
        all.reserve_exact(key_only.len());
        let mut appended_at = vec![None; keys.len()];
        let mut keys_listed_as_members = 0;
        for ((key, replaced), appended) in keys.into_iter().zip(replaces).zip(&mut appended_at) {
            if let Some(member) = replaced {
                let slot = all
                    .get_mut(member)
                    .ok_or_else(|| broken("a member's position is past the member list"))?;
                let member = slot.to_principal();
                *slot = key;
                slot.update(|key| key.absorb_member(member));
                keys_listed_as_members += 1;
            } else {
                *appended = Some(all.len());
                all.push(key);
            }
        }
        for (_, k) in &mut key_only {
            *k = appended_at
                .get(*k)
                .copied()
                .flatten()
                .ok_or_else(|| broken("an API key listed alone was not appended"))?;
        }
        let order = merged_order(&all, &member_order, &prefixes, &key_only)?;
        if !is_permutation(&order, all.len()) {
            return Err(broken(
                "the id order does not list every principal exactly once",
            ));
        }

        Ok(Directory {
            principals: all,
            order,
            warnings,
            duplicates: member_duplicates + key_duplicates,
            keys_listed_as_members,
            roles_unavailable: None,
        })
    }

    /// Distinct custom role ids in use, with how many principals hold each.
    pub fn custom_role_holders(&self) -> BTreeMap<&str, usize> {
        let mut holders = BTreeMap::new();
        for p in &self.principals {
            if let Some((id, _)) = p.custom_role() {
                *holders.entry(id).or_insert(0) += 1;
            }
        }
        holders
    }

    /// Names custom roles from what `GET /roles` answered. A listed role without a name keeps
    /// `None` silently (that is env0's data); an id the list lacks gets one
    /// [`Warning::UnknownCustomRole`].
    ///
    /// A name longer than [`MAX_TEXT_BYTES`] is cut to it, with one
    /// [`Warning::CustomRoleNameCut`] when a principal holds the role.
    pub fn resolve_custom_roles(&mut self, roles: Vec<CustomRole>) {
        let mut cut: BTreeMap<String, usize> = BTreeMap::new();
        let names: BTreeMap<String, Option<String>> = roles
            .into_iter()
            .map(|r| {
                let id = r.id.into_inner();
                let mut name = r.name;
                if let Some(bytes) = name
                    .as_mut()
                    .and_then(|name| limits::truncate(name, MAX_TEXT_BYTES))
                {
                    cut.insert(id.clone(), bytes);
                }
                (id, name)
            })
            .collect();
        // One pass: name every holder and count the holders of ids the list lacks.
        let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
        for p in &mut self.principals {
            let Some((id, name)) = p.custom_role() else {
                continue;
            };
            if let Some(bytes) = cut.remove(id) {
                self.warnings.push(Warning::CustomRoleNameCut {
                    id: shorten(id),
                    bytes,
                });
            }
            let resolved = names.get(id).unwrap_or_else(|| {
                if let Some(holders) = unknown.get_mut(id) {
                    *holders += 1;
                } else {
                    unknown.insert(id.to_owned(), 1);
                }
                &None
            });
            if name != resolved.as_deref() {
                p.update(|principal| {
                    if let Some(OrgRole::Custom { name, .. }) = &mut principal.role {
                        name.clone_from(resolved);
                    }
                });
            }
        }
        self.warnings.extend(
            unknown
                .into_iter()
                .map(|(id, holders)| Warning::UnknownCustomRole { id, holders }),
        );
    }

    /// Whether any principal holds a custom role (so `GET /roles` is worth asking).
    pub fn has_custom_roles(&self) -> bool {
        self.principals.iter().any(|p| p.custom_role().is_some())
    }

    /// Records that `GET /roles` answered `status` (402 or 403): custom roles keep their ids.
    pub fn custom_roles_unavailable(&mut self, status: u16) {
        let holders = self.custom_role_holders().values().sum();
        self.roles_unavailable = Some(status);
        self.warnings
            .push(Warning::CustomRolesUnavailable { status, holders });
    }

    /// The principals, sorted by id, ids unique (unpacked: a copy).
    pub fn principals(&self) -> Vec<Principal> {
        self.sorted().map(PackedPrincipal::to_principal).collect()
    }

    /// The principals as kept, in id order (`assemble` checked that `order` lists each once, so
    /// nothing is filtered out).
    fn sorted(&self) -> impl Iterator<Item = &PackedPrincipal> {
        self.order.iter().filter_map(|&at| self.principals.get(at))
    }

    /// Everything odd met so far, in the order met.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The warnings as the one-line messages a sync reports. Unparseable timestamps, which can be
    /// many and are harmless, are folded into one message; every other warning is its own line.
    pub fn warning_messages(&self) -> Vec<String> {
        let mut messages = Vec::new();
        let timestamps: Vec<&Warning> = self
            .warnings
            .iter()
            .filter(|w| matches!(w, Warning::UnparseableTimestamp { .. }))
            .collect();
        match timestamps.as_slice() {
            [] => {}
            [one] => messages.push(one.to_string()),
            many => {
                let shown: Vec<String> = many
                    .iter()
                    .take(TIMESTAMP_EXAMPLES)
                    .filter_map(|w| match w {
                        Warning::UnparseableTimestamp {
                            principal,
                            field,
                            raw,
                        } => Some(format!("`{principal}` {field} `{}`", shorten(raw))),
                        _ => None,
                    })
                    .collect();
                let more = many.len().saturating_sub(TIMESTAMP_EXAMPLES);
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                messages.push(format!(
                    "{} timestamps could not be read and were left empty: {}{tail}",
                    many.len(),
                    shown.join(", ")
                ));
            }
        }
        messages.extend(
            self.warnings
                .iter()
                .filter(|w| !matches!(w, Warning::UnparseableTimestamp { .. }))
                .map(ToString::to_string),
        );
        messages
    }

    /// Counts for reports.
    pub fn summary(&self) -> PrincipalSummary {
        let mut s = PrincipalSummary {
            api_keys_listed_as_members: self.keys_listed_as_members,
            duplicates_skipped: self.duplicates,
            custom_roles_unavailable: self.roles_unavailable,
            warnings: self.warning_messages().len(),
            ..PrincipalSummary::default()
        };
        let mut named: BTreeMap<&str, bool> = BTreeMap::new();
        for p in &self.principals {
            match p.standing() {
                (PrincipalKind::ApiKey, _) => s.api_keys += 1,
                (PrincipalKind::Human, membership) => {
                    s.humans += 1;
                    match membership {
                        Some(MembershipTag::Active) => s.active += 1,
                        Some(MembershipTag::InvitePending) => s.pending_invites += 1,
                        Some(MembershipTag::Other) => s.other_status += 1,
                        None => s.unknown_status += 1,
                    }
                }
            }
            if let Some((id, name)) = p.custom_role() {
                named.insert(id, name.is_some());
            }
        }
        s.custom_roles_resolved = named.values().filter(|n| **n).count();
        s.custom_roles_unresolved = named.len() - s.custom_roles_resolved;
        s
    }

    /// The principals (unpacked) and warnings, consuming the directory.
    pub fn into_parts(self) -> (Vec<Principal>, Vec<Warning>) {
        let principals = self.principals();
        (principals, self.warnings)
    }

    /// The principals as kept (packed), for paging through in id order (every position of
    /// `order` is valid: [`Directory::assemble`] checked it).
    pub(crate) fn into_listing(self) -> Listing {
        Listing {
            principals: self.principals,
            order: self.order,
        }
    }
}

/// The principals a listing pages through: as the [`Directory`] kept them, with their id order.
#[derive(Debug)]
pub(crate) struct Listing {
    principals: Vec<PackedPrincipal>,
    order: Vec<usize>,
}

impl Listing {
    /// How many principals there are.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// The principal at `position` in id order.
    pub(crate) fn get(&self, position: usize) -> Option<&PackedPrincipal> {
        self.order
            .get(position)
            .and_then(|&at| self.principals.get(at))
    }

    /// Whether a principal with this id is listed (a binary search of the id order).
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.order
            .binary_search_by(|&at| {
                self.principals
                    .get(at)
                    .map_or(std::cmp::Ordering::Less, |p| p.id().cmp(id))
            })
            .is_ok()
    }

    /// The principals from position `start` to `end` (exclusive) in id order; none past the
    /// end. (`assemble` checked that `order` lists each principal once, so nothing in the range
    /// is filtered out.)
    pub(crate) fn range(
        &self,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = &PackedPrincipal> + Clone {
        self.order
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|&at| self.principals.get(at))
    }
}

/// Counts from one listing of an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PrincipalSummary {
    /// Members that are people.
    pub humans: usize,
    /// API keys (including keys env0 also lists as members).
    pub api_keys: usize,
    /// People whose status is `Active`.
    pub active: usize,
    /// People whose invitation is pending (`Invited` / `Pending`).
    pub pending_invites: usize,
    /// People with another status (synced as disabled).
    pub other_status: usize,
    /// People without a status (synced with an unspecified status).
    pub unknown_status: usize,
    /// API keys that env0 also listed as members (each synced once, as an API key).
    pub api_keys_listed_as_members: usize,
    /// Distinct custom role ids in use whose name is known.
    pub custom_roles_resolved: usize,
    /// Distinct custom role ids in use whose name is unknown.
    pub custom_roles_unresolved: usize,
    /// The status `GET /roles` answered (402 or 403) when custom role names were unavailable.
    pub custom_roles_unavailable: Option<u16>,
    /// Repeated ids skipped.
    pub duplicates_skipped: usize,
    /// Warning messages reported with the listing.
    pub warnings: usize,
}

#[cfg(test)]
mod tests;
