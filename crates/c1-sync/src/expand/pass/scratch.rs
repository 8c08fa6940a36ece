//! The holders of one destination while it is expanded, found by principal without a map per
//! destination.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// The holders of one destination, kept without an allocation per holder.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) hasher: foldhash::fast::FixedState,
    /// Holder index by hash of (principal type, principal id).
    pub(super) table: HashTable<u32>,
    pub(super) holders: Vec<Holder>,
    /// Principal types and ids of the holders, back to back.
    pub(super) text: String,
    /// Encoded principals of the holders, back to back.
    pub(super) principals: Vec<u8>,
}

pub(super) struct Holder {
    pub(super) hash: u64,
    /// `text[start..split]` is the principal type, `text[split..end]` its id.
    pub(super) text: (usize, usize, usize),
    /// `principals[start..end]`.
    pub(super) principal: (usize, usize),
    pub(super) sources: Sources,
    /// Whether the destination already has a grant for this principal.
    pub(super) existing: bool,
}

/// The inputs (indexes into the step's sources) a holder came through, with `is_direct`, in
/// increasing order. Nearly every holder has one.
pub(super) enum Sources {
    One(u32, bool),
    Many(Vec<(u32, bool)>),
}

impl Sources {
    pub(super) fn add(&mut self, input: u32, direct: bool) {
        match self {
            Sources::One(i, d) if *i == input => *d |= direct,
            Sources::One(i, d) => *self = Sources::Many(vec![(*i, *d), (input, direct)]),
            Sources::Many(list) => match list.last_mut() {
                Some((i, d)) if *i == input => *d |= direct,
                _ => list.push((input, direct)),
            },
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        let (one, many) = match self {
            Sources::One(i, d) => (Some((*i, *d)), &[][..]),
            Sources::Many(list) => (None, list.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

impl Scratch {
    pub(super) fn clear(&mut self) {
        self.table.clear();
        self.holders.clear();
        self.text.clear();
        self.principals.clear();
    }

    pub(super) fn principal(&self, holder: u32) -> (&str, &str) {
        let (start, split, end) = self.holders[holder as usize].text;
        (&self.text[start..split], &self.text[split..end])
    }

    pub(super) fn hash(&self, principal_type: &str, principal_id: &str) -> u64 {
        self.hasher.hash_one((principal_type, principal_id))
    }

    pub(super) fn find(&self, principal_type: &str, principal_id: &str) -> Option<usize> {
        let hash = self.hash(principal_type, principal_id);
        self.table
            .find(hash, |&h| {
                self.holders[h as usize].hash == hash
                    && self.principal(h) == (principal_type, principal_id)
            })
            .map(|&h| h as usize)
    }

    /// Records that the holder `(principal_type, principal_id)` holds the source `input`.
    pub(super) fn add(
        &mut self,
        principal_type: &str,
        principal_id: &str,
        principal: &[u8],
        input: u32,
        direct: bool,
    ) {
        if let Some(h) = self.find(principal_type, principal_id) {
            self.holders[h].sources.add(input, direct);
            return;
        }
        let hash = self.hash(principal_type, principal_id);
        let start = self.text.len();
        self.text.push_str(principal_type);
        let split = self.text.len();
        self.text.push_str(principal_id);
        let end = self.text.len();
        let p_start = self.principals.len();
        self.principals.extend_from_slice(principal);
        let index = self.holders.len() as u32;
        self.holders.push(Holder {
            hash,
            text: (start, split, end),
            principal: (p_start, self.principals.len()),
            sources: Sources::One(input, direct),
            existing: false,
        });
        let holders = &self.holders;
        self.table
            .insert_unique(hash, index, |&h| holders[h as usize].hash);
    }
}
