//! The holders of entitlements that later destinations will read again, kept in memory within
//! a fixed budget.
//!
//! A destination's grants are read back as soon as one of its own outgoing edges runs; in a
//! hierarchy (project → sub-project) that is every grant expansion just wrote. Keeping the holder
//! list of an entitlement from the moment it is complete until its last reader has run saves
//! reading those rows (and decoding their blobs) from the store again. What does not fit the
//! budget is read from the store as before, so the budget bounds memory, not correctness: the
//! list holds exactly what the store would return, in the same order.

use std::collections::HashMap;

use super::graph::Step;

/// Bytes of holder lists kept at most.
pub(crate) const BUDGET: usize = 48 * 1024 * 1024;

/// One holder: principal type and id, the encoded principal, and whether its grant is direct
/// for the entitlement (no sources, or the entitlement itself among them).
#[derive(Debug, Clone, Copy)]
struct Held {
    principal_type: (u32, u32),
    principal_id: (u32, u32),
    principal: (u32, u32),
    direct: bool,
}

/// Every grant of one entitlement, in store order.
#[derive(Debug, Default)]
pub(crate) struct Holders {
    text: String,
    principals: Vec<u8>,
    rows: Vec<Held>,
}

impl Holders {
    pub(crate) fn push(
        &mut self,
        principal_type: &str,
        principal_id: &str,
        principal: &[u8],
        direct: bool,
    ) {
        let mut span = |s: &str| {
            let start = self.text.len() as u32;
            self.text.push_str(s);
            (start, self.text.len() as u32)
        };
        let principal_type = span(principal_type);
        let principal_id = span(principal_id);
        let start = self.principals.len() as u32;
        self.principals.extend_from_slice(principal);
        self.rows.push(Held {
            principal_type,
            principal_id,
            principal: (start, self.principals.len() as u32),
            direct,
        });
    }

    fn bytes(&self) -> usize {
        self.text.len() + self.principals.len() + self.rows.len() * std::mem::size_of::<Held>()
    }

    /// `(principal type, principal id, encoded principal, direct)` of every holder, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &[u8], bool)> {
        self.rows.iter().map(|h| {
            let text = |(a, b): (u32, u32)| &self.text[a as usize..b as usize];
            (
                text(h.principal_type),
                text(h.principal_id),
                &self.principals[h.principal.0 as usize..h.principal.1 as usize],
                h.direct,
            )
        })
    }
}

/// Holder lists by entitlement id, each kept while steps still read it.
#[derive(Debug, Default)]
pub(crate) struct HolderCache {
    /// Reads still to come, per source entitlement.
    pending: HashMap<String, u32>,
    lists: HashMap<String, Holders>,
    used: usize,
    budget: usize,
}

impl HolderCache {
    pub(crate) fn new(steps: &[Step], budget: usize) -> Self {
        let mut pending: HashMap<String, u32> = HashMap::new();
        for step in steps {
            for (source, _) in &step.inputs {
                *pending.entry(source.clone()).or_default() += 1;
            }
        }
        Self {
            pending,
            lists: HashMap::new(),
            used: 0,
            budget,
        }
    }

    /// Reads of `entitlement` still to come.
    pub(crate) fn pending(&self, entitlement: &str) -> u32 {
        self.pending.get(entitlement).copied().unwrap_or(0)
    }

    pub(crate) fn get(&self, entitlement: &str) -> Option<&Holders> {
        self.lists.get(entitlement)
    }

    /// Keeps `holders` of `entitlement` if they fit the budget; says whether they did.
    pub(crate) fn insert(&mut self, entitlement: &str, holders: Holders) -> bool {
        let size = holders.bytes();
        let fits = self.used + size <= self.budget;
        if fits {
            self.used += size;
            self.lists.insert(entitlement.to_owned(), holders);
        }
        fits
    }

    /// Counts one read of `entitlement`; its list goes after the last one.
    pub(crate) fn consume(&mut self, entitlement: &str) {
        let Some(left) = self.pending.get_mut(entitlement) else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.pending.remove(entitlement);
            if let Some(gone) = self.lists.remove(entitlement) {
                self.used -= gone.bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::graph::EdgeSpec;

    fn step(destination: &str, sources: &[&str]) -> Step {
        Step {
            destination: destination.to_owned(),
            inputs: sources
                .iter()
                .map(|s| ((*s).to_owned(), EdgeSpec::new(false, &[])))
                .collect(),
        }
    }

    #[test]
    fn a_list_lives_until_its_last_reader_and_within_the_budget() {
        let steps = [step("b", &["a"]), step("c", &["a", "b"])];
        let mut holders = Holders::default();
        holders.push("user", "u1", b"\x0a\x00", true);
        let size = holders.bytes();
        let mut cache = HolderCache::new(&steps, size);
        assert_eq!((cache.pending("a"), cache.pending("b")), (2, 1));
        cache.insert("a", holders);
        let listed: Vec<_> = cache.get("a").unwrap().iter().collect();
        assert_eq!(listed, [("user", "u1", &b"\x0a\x00"[..], true)]);
        let mut other = Holders::default();
        other.push("user", "u2", b"", false);
        cache.insert("b", other);
        assert!(cache.get("b").is_none(), "over the budget: not kept");
        cache.consume("a");
        assert!(cache.get("a").is_some());
        cache.consume("a");
        assert!(cache.get("a").is_none(), "gone after its last read");
        assert_eq!(cache.used, 0);
    }
}
