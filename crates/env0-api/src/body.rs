//! The buffer a response body is read into.
//!
//! A large body (a 100k-member list is about 43 MB) is written once, front to back, into memory
//! the process has never touched. Taken from the allocator, every 4 KiB page of it costs a page
//! fault on first write (10 000 of them for 43 MB, about a twentieth of the whole sync on the
//! benchmark machine). A body whose declared length is large is therefore read into its own
//! anonymous memory map, advised to use transparent huge pages, where the kernel allows them:
//! one fault per 2 MiB. The advice is only advice; without huge pages the map behaves like any
//! other memory, and unmapping it returns the memory at once.

use memmap2::{MmapMut, MmapOptions};

/// Bodies declared at least this large get a memory map of their own.
pub(crate) const MAPPED_MIN_BYTES: usize = 4 * 1024 * 1024;

/// A growable byte buffer: a `Vec`, or a memory map of the declared length.
pub(crate) struct BodyBuffer {
    inner: Inner,
}

enum Inner {
    Heap(Vec<u8>),
    Mapped { map: MmapMut, len: usize },
}

impl BodyBuffer {
    /// An empty buffer for a body expected to take `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> BodyBuffer {
        if capacity >= MAPPED_MIN_BYTES
            && let Ok(map) = MmapOptions::new().len(capacity).map_anon()
        {
            // Ignored when it fails: the map then works with ordinary pages.
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            return BodyBuffer {
                inner: Inner::Mapped { map, len: 0 },
            };
        }
        BodyBuffer {
            inner: Inner::Heap(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `bytes`. A body longer than its map continues in a `Vec`.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        let moved = match &mut self.inner {
            Inner::Heap(vec) => {
                vec.extend_from_slice(bytes);
                return;
            }
            Inner::Mapped { map, len } => {
                let end = len.saturating_add(bytes.len());
                if let Some(free) = map.get_mut(*len..end) {
                    free.copy_from_slice(bytes);
                    *len = end;
                    return;
                }
                let mut vec = Vec::with_capacity(end);
                vec.extend_from_slice(map.get(..*len).unwrap_or_default());
                vec.extend_from_slice(bytes);
                vec
            }
        };
        self.inner = Inner::Heap(moved);
    }

    /// How many bytes were appended.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The bytes appended so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.inner {
            Inner::Heap(vec) => vec,
            Inner::Mapped { map, len } => map.get(..*len).unwrap_or_default(),
        }
    }

    /// Whether the bytes live in a memory map of their own.
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        matches!(self.inner, Inner::Mapped { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(total: usize) -> Vec<Vec<u8>> {
        // Uneven chunk sizes, as a socket delivers them; the bytes count up so order shows.
        let mut out = Vec::new();
        let mut at = 0usize;
        let mut size = 1;
        while at < total {
            let n = size.min(total - at);
            out.push((at..at + n).map(|i| (i % 251) as u8).collect());
            at += n;
            size = size * 3 % 70_001 + 1;
        }
        out
    }

    fn read(capacity: usize, total: usize) -> BodyBuffer {
        let mut body = BodyBuffer::with_capacity(capacity);
        for chunk in chunks(total) {
            body.extend_from_slice(&chunk);
        }
        body
    }

    fn expected(total: usize) -> Vec<u8> {
        (0..total).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn small_bodies_stay_on_the_heap() {
        let body = read(1000, 1000);
        assert!(!body.is_mapped());
        assert_eq!(body.as_slice(), expected(1000).as_slice());
        assert_eq!(read(0, 0).as_slice(), &[] as &[u8]);
    }

    #[test]
    fn large_bodies_are_mapped_and_read_back_in_order() {
        let total = MAPPED_MIN_BYTES + 12_345;
        let body = read(total, total);
        assert!(body.is_mapped());
        assert_eq!(body.len(), total);
        assert_eq!(body.as_slice(), expected(total).as_slice());
    }

    #[test]
    fn a_body_shorter_or_longer_than_declared_keeps_every_byte() {
        let shorter = read(MAPPED_MIN_BYTES * 2, MAPPED_MIN_BYTES + 7);
        assert!(shorter.is_mapped());
        assert_eq!(
            shorter.as_slice(),
            expected(MAPPED_MIN_BYTES + 7).as_slice()
        );

        let longer = read(MAPPED_MIN_BYTES, MAPPED_MIN_BYTES * 2 + 3);
        assert!(!longer.is_mapped(), "continued on the heap");
        assert_eq!(
            longer.as_slice(),
            expected(MAPPED_MIN_BYTES * 2 + 3).as_slice()
        );
    }
}
