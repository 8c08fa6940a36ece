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
//! The ordering is a fast path (prefix keys, positions instead of moves, a parallel sort, a
//! linear merge); the tests hold it to a plain `BTreeMap` model of the rules above. Its index
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

/// The first bytes of an id, zero-padded. Comparing prefixes first and the ids only when the
/// prefixes are equal orders ids exactly as comparing the ids does (a shorter id that is a prefix
/// of a longer one pads with zeros, which sort first), and it keeps a sort from reading each
/// principal's text, which for a list in response order sits at scattered places in memory:
/// the ids this sorts (Auth0-style user ids, API key ids) almost always differ in 32 bytes (16 are
/// not enough: `google-oauth2|` alone takes 14). The bytes are read as two big-endian integers,
/// which order them the same way and compare without a call to `memcmp`.
type IdPrefix = (u128, u128);

fn id_prefix(id: &str) -> IdPrefix {
    let (mut high, mut low) = ([0; 16], [0; 16]);
    for (slot, byte) in high.iter_mut().chain(low.iter_mut()).zip(id.bytes()) {
        *slot = byte;
    }
    (u128::from_be_bytes(high), u128::from_be_bytes(low))
}

/// Whether `order` holds every position below `len` exactly once.
fn is_permutation(order: &[usize], len: usize) -> bool {
    let mut seen = vec![false; len];
    order.len() == len
        && order.iter().all(|&at| {
            seen.get_mut(at)
                .is_some_and(|seen| !std::mem::replace(seen, true))
        })
}

/// Principals without repeated ids, and their id order.
struct Unique {
    /// In the order given, each id once (its first occurrence).
    principals: Vec<PackedPrincipal>,
    /// Positions in `principals`, in id order.
    order: Vec<usize>,
    /// The [`IdPrefix`] of each, in id order (beside `order`).
    prefixes: Vec<IdPrefix>,
    /// How many repeats were dropped.
    duplicates: usize,
}

/// Works out the id order (stable, so the first of equal ids comes first) and drops repeats with
/// a warning. Nothing is moved: the order is worked out on `(prefix, id, index)` keys, which are
/// small, and kept as positions. (Putting the principals themselves in order took a permutation
/// whose every step waited for a cache miss: about 30 ms of the 100k sync.)
fn ordered_unique(
    mut principals: Vec<PackedPrincipal>,
    source: &'static str,
    warnings: &mut Vec<Warning>,
) -> Result<Unique, Error> {
    let (mut order, prefixes, repeated) = {
        let mut keys: Vec<(IdPrefix, &str, usize)> = principals
            .iter()
            .enumerate()
            .map(|(i, p)| (id_prefix(p.id()), p.id(), i))
            .collect();
        // One thread: sorting the halves on two and merging them saved nothing measurable.
        keys.sort_unstable();
        let mut order = Vec::with_capacity(keys.len());
        let mut prefixes = Vec::with_capacity(keys.len());
        let mut repeated = Vec::new();
        let mut previous: Option<(IdPrefix, &str)> = None;
        let mut last_reported: Option<&str> = None;
        for &(prefix, id, at) in &keys {
            if previous == Some((prefix, id)) {
                // A repeated id is reported once however often it repeats.
                if last_reported != Some(id) {
                    warnings.push(Warning::DuplicateId {
                        id: id.to_owned(),
                        source,
                    });
                    last_reported = Some(id);
                }
                repeated.push(at);
            } else {
                order.push(at);
                prefixes.push(prefix);
            }
            previous = Some((prefix, id));
        }
        (order, prefixes, repeated)
    };
    if !repeated.is_empty() {
        // Drop the repeats and renumber the positions (rare: env0 should never send any).
        let mut keep = vec![true; principals.len()];
        for &at in &repeated {
            *keep
                .get_mut(at)
                .ok_or_else(|| broken("a repeated id's position is past the list"))? = false;
        }
        let mut renumbered = Vec::with_capacity(keep.len());
        let mut next = 0;
        for &kept in &keep {
            renumbered.push(next);
            next += usize::from(kept);
        }
        // `keep` has one flag per principal, visited in order.
        let mut flags = keep.iter();
        principals.retain(|_| flags.next().copied().unwrap_or(true));
        for position in &mut order {
            *position = renumbered
                .get(*position)
                .copied()
                .ok_or_else(|| broken("a position in id order is past the list"))?;
        }
    }
    // No `shrink_to_fit`: the spare capacity is never touched (so costs no memory), and the API
    // keys may still be appended without a reallocation that would copy every member.
    Ok(Unique {
        principals,
        order,
        prefixes,
        duplicates: repeated.len(),
    })
}

/// Where the principal with this id is in `principals`, found through `order` (positions in id
/// order) and `prefixes` (beside `order`).
fn find_id(
    principals: &[PackedPrincipal],
    order: &[usize],
    prefixes: &[IdPrefix],
    prefix: &IdPrefix,
    id: &str,
) -> Result<Option<usize>, Error> {
    let mut at = prefixes.partition_point(|p| p < prefix);
    while prefixes.get(at) == Some(prefix) {
        let position = order
            .get(at)
            .copied()
            .ok_or_else(|| broken("the id order and its prefixes differ in length"))?;
        let principal = principals
            .get(position)
            .ok_or_else(|| broken("a position in id order is past the list"))?;
        match principal.id().cmp(id) {
            std::cmp::Ordering::Equal => return Ok(Some(position)),
            std::cmp::Ordering::Less => at += 1,
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
    Ok(None)
}

/// The id order of two lists of positions into `principals`: `first` in id order with its
/// [`IdPrefix`]es beside it, and `second` as `(prefix, position)` pairs in id order, no id in
/// both. One linear pass; ids are read only when prefixes tie.
fn merged_order(
    principals: &[PackedPrincipal],
    first: &[usize],
    first_prefixes: &[IdPrefix],
    second: &[(IdPrefix, usize)],
) -> Result<Vec<usize>, Error> {
    if first.len() != first_prefixes.len() {
        return Err(broken("the id order and its prefixes differ in length"));
    }
    let id = |at: usize| {
        principals
            .get(at)
            .map(PackedPrincipal::id)
            .ok_or_else(|| broken("a position in id order is past the list"))
    };
    let mut order = Vec::with_capacity(first.len() + second.len());
    let (mut left, mut right) = (0, 0);
    loop {
        let take_right = match (first.get(left), second.get(right)) {
            (Some(&l), Some(&(r_prefix, r))) => match first_prefixes.get(left) {
                Some(l_prefix) if *l_prefix == r_prefix => id(r)? < id(l)?,
                Some(l_prefix) => r_prefix < *l_prefix,
                None => return Err(broken("the id order and its prefixes differ in length")),
            },
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let next = if take_right {
            right += 1;
            second.get(right - 1).map(|&(_, at)| at)
        } else {
            left += 1;
            first.get(left - 1).copied()
        };
        match next {
            Some(at) => order.push(at),
            None => break,
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two lists (each sorted here), merged: the ids in merged order.
    fn merge(first: Vec<PackedPrincipal>, second: Vec<PackedPrincipal>) -> Vec<String> {
        let mut warnings = Vec::new();
        let first = ordered_unique(first, MEMBERS_SOURCE, &mut warnings).unwrap();
        let second = ordered_unique(second, API_KEYS_SOURCE, &mut warnings).unwrap();
        let offset = first.principals.len();
        let mut all = first.principals;
        all.extend(second.principals);
        let second_order: Vec<(IdPrefix, usize)> = second
            .prefixes
            .into_iter()
            .zip(second.order.into_iter().map(|at| at + offset))
            .collect();
        let order = merged_order(&all, &first.order, &first.prefixes, &second_order).unwrap();
        assert_eq!(order.len(), all.len(), "every principal once");
        order
            .into_iter()
            .filter_map(|at| all.get(at))
            .map(|p| p.id().to_owned())
            .collect()
    }

    #[test]
    fn merging_keeps_id_order() {
        let mut warnings = Vec::new();
        let mut key = |id: &str| {
            let wire: ApiKey = serde_json::from_str(&format!(r#"{{"id":"{id}"}}"#)).unwrap();
            admit(
                &Principal::from_api_key(wire, &mut warnings),
                API_KEYS_SOURCE,
                &mut warnings,
            )
            .unwrap()
        };
        let merged = merge(vec![key("d"), key("b")], vec![key("e"), key("a"), key("c")]);
        assert_eq!(merged, ["a", "b", "c", "d", "e"]);
        assert_eq!(merge(vec![], vec![key("a")]), ["a"]);
        assert_eq!(merge(vec![key("a")], vec![]), ["a"]);
        // Ids that share their first 32 bytes (the whole prefix) are ordered by the rest.
        let long = "0123456789abcdef0123456789abcdef";
        let merged = merge(
            vec![key(&format!("{long}b")), key(long)],
            vec![key(&format!("{long}c")), key(&format!("{long}a"))],
        );
        assert_eq!(
            merged,
            [
                long.to_owned(),
                format!("{long}a"),
                format!("{long}b"),
                format!("{long}c")
            ]
        );
    }

    proptest::proptest! {
        /// Prefix first, then the id: the same order as the ids alone, whatever their bytes.
        #[test]
        fn prefix_then_id_orders_like_the_id(
            a in "[a\\x00é|0]{0,20}",
            b in "[a\\x00é|0]{0,20}",
        ) {
            let keyed = (id_prefix(&a), a.as_str()).cmp(&(id_prefix(&b), b.as_str()));
            proptest::prop_assert_eq!(keyed, a.cmp(&b));
        }
    }

    /// The directory against a plain model of its rules: principals in a `BTreeMap` by id, the
    /// first of each id winning, members before API keys, a key listed as a member being that
    /// key (with what it lacks from the member), over-long ids dropped first.
    mod model {
        use c1_model::limits::MAX_ID_BYTES;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::*;

        /// A member or API key as generated: what the wire value carries.
        #[derive(Debug, Clone)]
        struct Entry {
            id: String,
            name: Option<String>,
            role: Option<&'static str>,
            created: Option<u8>,
        }

        fn created(day: Option<u8>) -> Value {
            day.map_or(Value::Null, |day| {
                json!(format!("2024-01-{:02}T00:00:00Z", day % 28 + 1))
            })
        }

        fn member_json(m: &Entry) -> Value {
            json!({
                "role": m.role,
                "status": "Active",
                "user": { "user_id": m.id, "name": m.name, "created_at": created(m.created) }
            })
        }

        fn key_json(k: &Entry) -> Value {
            json!({
                "id": k.id,
                "name": k.name,
                "organizationRole": k.role,
                "createdAt": created(k.created)
            })
        }

        fn wire<T: serde::de::DeserializeOwned>(values: &[Value]) -> Vec<T> {
            values
                .iter()
                .map(|v| serde_json::from_value(v.clone()).unwrap())
                .collect()
        }

        /// What the directory should hold.
        #[derive(Debug)]
        struct Expected {
            principals: Vec<Principal>,
            warnings: Vec<Warning>,
            duplicates: usize,
            keys_listed_as_members: usize,
        }

        /// One list's principals by id: over-long ids dropped (a warning each, in list order),
        /// then the first of each id kept (one warning per repeated id, in id order).
        fn first_wins(
            list: Vec<Principal>,
            source: &'static str,
            warnings: &mut Vec<Warning>,
        ) -> (BTreeMap<String, Principal>, usize) {
            let mut kept = BTreeMap::new();
            let mut repeats: BTreeMap<String, usize> = BTreeMap::new();
            for p in list {
                if p.id.len() > MAX_ID_BYTES {
                    warnings.push(Warning::IdTooLong {
                        id: shorten(&p.id),
                        bytes: p.id.len(),
                        source,
                    });
                } else if kept.contains_key(&p.id) {
                    *repeats.entry(p.id.clone()).or_default() += 1;
                } else {
                    kept.insert(p.id.clone(), p);
                }
            }
            let duplicates = repeats.values().sum();
            warnings.extend(
                repeats
                    .into_keys()
                    .map(|id| Warning::DuplicateId { id, source }),
            );
            (kept, duplicates)
        }

        fn expected(members: &[Value], keys: &[Value]) -> Expected {
            let mut warnings = Vec::new();
            let members: Vec<Principal> = wire(members)
                .into_iter()
                .map(|m| Principal::from_member(m, &mut warnings))
                .collect();
            let (mut all, member_duplicates) = first_wins(members, MEMBERS_SOURCE, &mut warnings);
            let keys: Vec<Principal> = wire(keys)
                .into_iter()
                .map(|k| Principal::from_api_key(k, &mut warnings))
                .collect();
            let (keys, key_duplicates) = first_wins(keys, API_KEYS_SOURCE, &mut warnings);
            let mut keys_listed_as_members = 0;
            for (id, mut key) in keys {
                if let Some(member) = all.remove(&id) {
                    key.absorb_member(member);
                    keys_listed_as_members += 1;
                }
                all.insert(id, key);
            }
            Expected {
                principals: all.into_values().collect(),
                warnings,
                duplicates: member_duplicates + key_duplicates,
                keys_listed_as_members,
            }
        }

        /// Builds the directory and holds it to the model, its listing paged `page` at a time.
        fn check(members: &[Value], keys: &[Value], page: usize) -> Result<(), TestCaseError> {
            let want = expected(members, keys);
            let dir = Directory::from_wire(wire(members), wire(keys)).unwrap();
            prop_assert_eq!(&dir.principals(), &want.principals);
            prop_assert_eq!(dir.warnings(), want.warnings.as_slice());
            let summary = dir.summary();
            prop_assert_eq!(summary.duplicates_skipped, want.duplicates);
            prop_assert_eq!(
                summary.api_keys_listed_as_members,
                want.keys_listed_as_members
            );
            prop_assert_eq!(summary.humans + summary.api_keys, want.principals.len());
            let listing = dir.into_listing();
            prop_assert_eq!(listing.len(), want.principals.len());
            let mut paged = Vec::new();
            for start in (0..listing.len()).step_by(page.max(1)) {
                let end = (start + page.max(1)).min(listing.len());
                paged.extend(listing.range(start, end).map(PackedPrincipal::to_principal));
            }
            prop_assert_eq!(paged, want.principals);
            Ok(())
        }

        /// 32 bytes: ids that start with it tie on the whole sort prefix.
        const SHARED: &str = "google-oauth2|0123456789abcdefgh";

        fn id() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => "[ab]{1,2}",
                3 => "[ab\\x00é]{0,2}".prop_map(|tail| format!("{SHARED}{tail}")),
                1 => "[ab]{1,2}\\x00?",
                1 => Just("y".repeat(MAX_ID_BYTES)),
                1 => Just("z".repeat(MAX_ID_BYTES + 1)),
            ]
        }

        fn entry() -> impl Strategy<Value = Entry> {
            (
                id(),
                proptest::option::of("[A-C]{0,2}"),
                proptest::option::of(prop_oneof![Just("Admin"), Just("User"), Just("r1")]),
                proptest::option::of(any::<u8>()),
            )
                .prop_map(|(id, name, role, created)| Entry {
                    id,
                    name,
                    role,
                    created,
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x0d1e_c700),
                ..ProptestConfig::default()
            })]

            #[test]
            fn small_directories_follow_the_model(
                members in prop::collection::vec(entry(), 0..40),
                keys in prop::collection::vec(entry(), 0..12),
                page in 1_usize..7,
            ) {
                let members: Vec<Value> = members.iter().map(member_json).collect();
                let keys: Vec<Value> = keys.iter().map(key_json).collect();
                check(&members, &keys, page)?;
            }
        }

        /// `splitmix64`: spreads a seed and an index over 64 bits.
        fn mix(seed: u64, i: u64) -> u64 {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 4,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x0d1e_c701),
                ..ProptestConfig::default()
            })]

            /// Large lists, with repeats, shared 32-byte prefixes and keys listed as members.
            #[test]
            fn large_directories_follow_the_model(
                seed in any::<u64>(),
                extra in 0_usize..2000,
            ) {
                let count = 16 * 1024 + extra;
                let pool = (count as u64) * 9 / 10;
                let member_id = |i: u64| {
                    let n = mix(seed, i) % pool;
                    if n.is_multiple_of(5) { format!("{SHARED}{n}") } else { format!("auth0|{n}") }
                };
                let members: Vec<Value> = (0..count as u64)
                    .map(|i| member_json(&Entry {
                        id: member_id(i),
                        name: Some(format!("m{i}")),
                        role: Some("User"),
                        created: None,
                    }))
                    .collect();
                let keys: Vec<Value> = (0..60_u64)
                    .map(|i| key_json(&Entry {
                        id: if i.is_multiple_of(2) { member_id(mix(seed, i)) } else { format!("key-{}", mix(seed, i) % 40) },
                        name: Some(format!("k{i}")),
                        role: None,
                        created: Some(i as u8),
                    }))
                    .collect();
                check(&members, &keys, 256)?;
            }
        }
    }

    fn members(json: &str) -> Vec<OrganizationUser> {
        serde_json::from_str(json).unwrap()
    }

    fn keys(json: &str) -> Vec<ApiKey> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn duplicates_keep_the_first_and_warn_once_per_id() {
        let dir = Directory::from_wire(
            members(
                r#"[{"user":{"user_id":"b","name":"first b"}},{"user":{"user_id":"a"}},
                    {"user":{"user_id":"b","name":"second b"}},{"user":{"user_id":"b","name":"third b"}}]"#,
            ),
            vec![],
        ).unwrap();
        let principals = dir.principals();
        let names: Vec<&str> = principals.iter().map(|p| p.display_name.as_str()).collect();
        assert_eq!(names, ["a", "first b"]);
        assert_eq!(
            dir.warning_messages(),
            ["principal `b` appears twice in the organization's user list; kept the first"]
        );
        assert_eq!(dir.summary().duplicates_skipped, 2);
    }

    /// Ids that agree in their first 32 bytes: duplicates are still told apart from neighbours,
    /// and a key finds the member it repeats.
    #[test]
    fn long_ids_with_a_common_start_sort_dedupe_and_match_keys() {
        let long = "google-oauth2|012345678901234567";
        let dir = Directory::from_wire(
            members(&format!(
                r#"[{{"user":{{"user_id":"{long}b","name":"b1"}}}},{{"user":{{"user_id":"{long}","name":"short"}}}},
                    {{"user":{{"user_id":"{long}a","name":"a"}}}},{{"user":{{"user_id":"{long}b","name":"b2"}}}}]"#
            )),
            keys(&format!(
                r#"[{{"id":"{long}a","name":"key a"}},{{"id":"{long}c","name":"key c"}}]"#
            )),
        ).unwrap();
        let principals = dir.principals();
        let ids: Vec<&str> = principals.iter().map(|p| p.id.as_str()).collect();
        let want_ids = [
            long.to_owned(),
            format!("{long}a"),
            format!("{long}b"),
            format!("{long}c"),
        ];
        assert_eq!(ids, want_ids);
        let names: Vec<&str> = principals.iter().map(|p| p.display_name.as_str()).collect();
        assert_eq!(names[0], "short");
        assert_eq!(names[2], "b1", "the first of a repeated id is kept");
        assert_eq!(
            principals[1].kind,
            PrincipalKind::ApiKey,
            "the key listed as member is one key"
        );
        let summary = dir.summary();
        assert_eq!(
            (
                summary.duplicates_skipped,
                summary.api_keys_listed_as_members
            ),
            (1, 1)
        );
    }

    #[test]
    fn a_key_listed_as_member_is_one_api_key() {
        let dir = Directory::from_wire(
            members(
                r#"[{"role":"Admin","status":"Active","user":{"user_id":"k1","email":"k@x"}},{"user":{"user_id":"u1"}}]"#,
            ),
            keys(r#"[{"id":"k1","name":"CI"},{"id":"k2"}]"#),
        ).unwrap();
        let principals = dir.principals();
        let kinds: Vec<(&str, PrincipalKind)> =
            principals.iter().map(|p| (p.id.as_str(), p.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("k1", PrincipalKind::ApiKey),
                ("k2", PrincipalKind::ApiKey),
                ("u1", PrincipalKind::Human)
            ]
        );
        assert_eq!(dir.principals()[0].role, Some(OrgRole::Admin));
        let s = dir.summary();
        assert_eq!(
            (s.humans, s.api_keys, s.api_keys_listed_as_members),
            (1, 2, 1)
        );
    }

    #[test]
    fn repeats_keys_and_members_in_any_order_count_once() {
        // Members out of order with repeats (holding a custom role), a key listed as a member,
        // keys out of order with a repeat.
        let dir = Directory::from_wire(
            members(
                r#"[{"role":"r1","user":{"user_id":"b","name":"first b"}},{"user":{"user_id":"k3"}},
                    {"role":"r1","user":{"user_id":"b","name":"second b"}},{"user":{"user_id":"a"}},
                    {"role":"r1","user":{"user_id":"c"}},{"role":"r1","user":{"user_id":"b"}}]"#,
            ),
            keys(r#"[{"id":"k2"},{"id":"k3","name":"CI"},{"id":"k1"},{"id":"k2","name":"again"}]"#),
        )
        .unwrap();
        let principals = dir.principals();
        let listed: Vec<(&str, &str, PrincipalKind)> = principals
            .iter()
            .map(|p| (p.id.as_str(), p.display_name.as_str(), p.kind))
            .collect();
        assert_eq!(
            listed,
            [
                ("a", "a", PrincipalKind::Human),
                ("b", "first b", PrincipalKind::Human),
                ("c", "c", PrincipalKind::Human),
                ("k1", "k1", PrincipalKind::ApiKey),
                ("k2", "k2", PrincipalKind::ApiKey),
                ("k3", "CI", PrincipalKind::ApiKey),
            ]
        );
        // The dropped repeats hold nothing and count for nothing.
        assert_eq!(
            dir.custom_role_holders().into_iter().collect::<Vec<_>>(),
            [("r1", 2)]
        );
        let s = dir.summary();
        assert_eq!(
            (
                s.humans,
                s.api_keys,
                s.api_keys_listed_as_members,
                s.duplicates_skipped
            ),
            (3, 3, 1, 3)
        );
        let listing = dir.into_listing();
        assert_eq!(listing.len(), 6);
        let page: Vec<&str> = listing.range(2, 5).map(PackedPrincipal::id).collect();
        assert_eq!(page, ["c", "k1", "k2"]);
        assert_eq!(
            listing.range(6, 9).count(),
            0,
            "a range past the end is empty"
        );
    }

    #[test]
    fn custom_roles_resolve_or_warn() {
        let mut dir = Directory::from_wire(
            members(
                r#"[{"role":"r1","user":{"user_id":"a"}},{"role":"r2","user":{"user_id":"b"}},{"role":"r3","user":{"user_id":"c"}},{"role":"r3","user":{"user_id":"d"}}]"#,
            ),
            vec![],
        ).unwrap();
        let roles: Vec<CustomRole> =
            serde_json::from_str(r#"[{"id":"r1","name":"Auditor"},{"id":"r2"}]"#).unwrap();
        dir.resolve_custom_roles(roles);
        let principals = dir.principals();
        let names: Vec<Option<&str>> = principals
            .iter()
            .map(|p| p.role.as_ref().and_then(OrgRole::name))
            .collect();
        assert_eq!(names, [Some("Auditor"), None, None, None]);
        assert_eq!(
            dir.warning_messages(),
            [
                "custom role `r3` (held by 2 principals) is not listed by GET /roles; its name is unknown"
            ]
        );
        let s = dir.summary();
        assert_eq!((s.custom_roles_resolved, s.custom_roles_unresolved), (1, 2));
    }

    #[test]
    fn many_bad_timestamps_fold_into_one_message() {
        let json: Vec<String> = (0..7)
            .map(|i| format!(r#"{{"user":{{"user_id":"u{i}","last_login":"never"}}}}"#))
            .collect();
        let dir = Directory::from_wire(members(&format!("[{}]", json.join(","))), vec![]).unwrap();
        assert_eq!(dir.warnings().len(), 7);
        assert_eq!(
            dir.warning_messages(),
            [
                "7 timestamps could not be read and were left empty: `u0` last_login `never`, `u1` last_login `never`, `u2` last_login `never`, `u3` last_login `never`, `u4` last_login `never` and 2 more"
            ]
        );
    }
}
