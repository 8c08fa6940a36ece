//! [`KeySet`]: the ids a run has written, for finding repeats and dangling references.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A set of strings kept in a few large buffers, with each entry's hash stored beside it.
///
/// A run adds one key per resource (100 000 and more for a large organization). A
/// `HashSet<String>` allocates each key on its own and, every time the table grows, hashes every
/// key again, reading each from wherever it was allocated. Here a key is appended to the last of
/// `chunks` (which are never reallocated, so nothing is copied as the set grows), the table holds
/// its hash and where it lies, and growing moves the small entries by their stored hashes without
/// reading any key. Keys are compared only when their 64-bit hashes are equal.
///
/// Hashed with foldhash, seeded per process: one lookup and insert per resource, and SipHash cost
/// a few percent of a large sync. The keys come from the one organization being synced.
#[derive(Default)]
pub(crate) struct KeySet {
    hasher: foldhash::fast::RandomState,
    table: HashTable<Entry>,
    chunks: Vec<String>,
}

/// Bytes per text chunk (a longer key gets a chunk of its own).
const CHUNK: usize = 64 * 1024;

/// A key's hash and where its text lies in [`KeySet::chunks`].
struct Entry {
    hash: u64,
    chunk: usize,
    start: usize,
    end: usize,
}

impl KeySet {
    /// Adds `key`; `false` (and no change) when it was already there.
    pub(crate) fn insert(&mut self, key: &str) -> bool {
        let hash = self.hasher.hash_one(key);
        if self.find(hash, key) {
            return false;
        }
        let fits = |c: &String| c.capacity() - c.len() >= key.len();
        if !self.chunks.last().is_some_and(fits) {
            self.chunks
                .push(String::with_capacity(CHUNK.max(key.len())));
        }
        let chunk = self.chunks.len() - 1;
        let Some(text) = self.chunks.last_mut() else {
            return true;
        };
        let start = text.len();
        text.push_str(key);
        let entry = Entry {
            hash,
            chunk,
            start,
            end: text.len(),
        };
        self.table.insert_unique(hash, entry, |e| e.hash);
        true
    }

    /// Whether `key` is in the set.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.find(self.hasher.hash_one(key), key)
    }

    /// How many keys the set holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }

    fn find(&self, hash: u64, key: &str) -> bool {
        let chunks = &self.chunks;
        self.table
            .find(hash, |e| {
                e.hash == hash
                    && chunks.get(e.chunk).and_then(|c| c.get(e.start..e.end)) == Some(key)
            })
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn repeats_are_refused_and_prefixes_are_distinct() {
        let mut set = KeySet::default();
        assert!(set.insert("4:userab"));
        assert!(
            set.insert("4:usera"),
            "a prefix of a stored key is a key of its own"
        );
        assert!(set.insert(""), "the empty key");
        assert!(!set.insert("4:userab"));
        assert!(!set.insert(""));
        assert!(set.contains("4:usera") && set.contains("4:userab") && set.contains(""));
        assert!(!set.contains("4:user"));
        assert!(!set.contains("4:userabc"));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn a_key_longer_than_a_chunk_gets_its_own() {
        let mut set = KeySet::default();
        let long = "x".repeat(CHUNK + 1);
        assert!(set.insert("before"));
        assert!(set.insert(&long));
        assert!(set.insert("after"));
        assert!(!set.insert(&long));
        assert!(set.contains("before") && set.contains("after") && set.contains(&long));
        assert!(!set.contains(&long[1..]));
    }

    #[test]
    fn survives_growth() {
        let mut set = KeySet::default();
        for i in 0..50_000 {
            assert!(set.insert(&format!("4:user{i}")));
        }
        for i in 0..50_000 {
            assert!(set.contains(&format!("4:user{i}")), "{i}");
            assert!(!set.insert(&format!("4:user{i}")), "{i}");
        }
        assert!(!set.contains("4:user50000"));
        assert_eq!(set.len(), 50_000);
    }

    proptest! {
        /// Any sequence of inserts answers, and ends up holding, what a `HashSet` does.
        #[test]
        fn behaves_like_a_hash_set(keys in proptest::collection::vec("[a-c]{0,3}|\\PC{0,8}", 0..200)) {
            let mut ours = KeySet::default();
            let mut std = HashSet::new();
            for key in &keys {
                prop_assert_eq!(ours.insert(key), std.insert(key.clone()), "insert {:?}", key);
            }
            prop_assert_eq!(ours.len(), std.len());
            for key in &keys {
                prop_assert!(ours.contains(key));
                let longer = format!("{key}x");
                prop_assert_eq!(ours.contains(&longer), std.contains(&longer));
            }
        }
    }
}
