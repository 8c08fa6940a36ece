//! The directory's id order: worked out on small `(prefix, id, position)` keys and kept as
//! positions, so principals stay where they were decoded.

use crate::domain::Warning;
use crate::error::{Error, broken};
use crate::packed::PackedPrincipal;

/// The first bytes of an id, zero-padded. Comparing prefixes first and the ids only when the
/// prefixes are equal orders ids exactly as comparing the ids does (a shorter id that is a prefix
/// of a longer one pads with zeros, which sort first), and it keeps a sort from reading each
/// principal's text, which for a list in response order sits at scattered places in memory:
/// the ids this sorts (Auth0-style user ids, API key ids) almost always differ in 32 bytes (16 are
/// not enough: `google-oauth2|` alone takes 14). The bytes are read as two big-endian integers,
/// which order them the same way and compare without a call to `memcmp`.
pub(super) type IdPrefix = (u128, u128);

pub(super) fn id_prefix(id: &str) -> IdPrefix {
    let (mut high, mut low) = ([0; 16], [0; 16]);
    for (slot, byte) in high.iter_mut().chain(low.iter_mut()).zip(id.bytes()) {
        *slot = byte;
    }
    (u128::from_be_bytes(high), u128::from_be_bytes(low))
}

/// Whether `order` holds every position below `len` exactly once.
pub(super) fn is_permutation(order: &[usize], len: usize) -> bool {
    let mut seen = vec![false; len];
    order.len() == len
        && order.iter().all(|&at| {
            seen.get_mut(at)
                .is_some_and(|seen| !std::mem::replace(seen, true))
        })
}

/// Principals without repeated ids, and their id order.
pub(super) struct Unique {
    /// In the order given, each id once (its first occurrence).
    pub(super) principals: Vec<PackedPrincipal>,
    /// Positions in `principals`, in id order.
    pub(super) order: Vec<usize>,
    /// The [`IdPrefix`] of each, in id order (beside `order`).
    pub(super) prefixes: Vec<IdPrefix>,
    /// How many repeats were dropped.
    pub(super) duplicates: usize,
}

/// Works out the id order (stable, so the first of equal ids comes first) and drops repeats with
/// a warning. Nothing is moved: the order is worked out on `(prefix, id, index)` keys, which are
/// small, and kept as positions. (Putting the principals themselves in order took a permutation
/// whose every step waited for a cache miss.)
pub(super) fn ordered_unique(
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
pub(super) fn find_id(
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
pub(super) fn merged_order(
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
