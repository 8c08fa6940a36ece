//! The buffer a response body is read into.
//!
//! A large body (a 100k-member list is about 43 MB) is written once, front to back, into memory
//! the process has never touched. A body whose declared length is large is read into an
//! anonymous memory map of its own, sized once from the declared length and unmapped (returned to
//! the system at once) as soon as the body is decoded, instead of growing a `Vec` through the
//! allocator. The map is plain memory: as a library, this crate gives the kernel no advice on how
//! to back it (huge pages, for one, depend on the host's settings and can stall on compaction).

use std::fmt;

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
            return BodyBuffer {
                inner: Inner::Mapped { map, len: 0 },
            };
        }
        BodyBuffer {
            inner: Inner::Heap(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `bytes`. A body longer than its map continues in a `Vec`.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), Inconsistent> {
        let moved = match &mut self.inner {
            Inner::Heap(vec) => {
                vec.extend_from_slice(bytes);
                return Ok(());
            }
            Inner::Mapped { map, len } => {
                let end = len.saturating_add(bytes.len());
                if let Some(free) = map.get_mut(*len..end) {
                    free.copy_from_slice(bytes);
                    *len = end;
                    return Ok(());
                }
                let mut vec = Vec::with_capacity(end);
                vec.extend_from_slice(written(map, *len)?);
                vec.extend_from_slice(bytes);
                vec
            }
        };
        self.inner = Inner::Heap(moved);
        Ok(())
    }

    /// How many bytes were appended.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match &self.inner {
            Inner::Heap(vec) => vec.len(),
            Inner::Mapped { len, .. } => *len,
        }
    }

    /// The bytes appended so far.
    pub(crate) fn as_slice(&self) -> Result<&[u8], Inconsistent> {
        match &self.inner {
            Inner::Heap(vec) => Ok(vec),
            Inner::Mapped { map, len } => written(map, *len),
        }
    }

    /// Whether the bytes live in a memory map of their own.
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        matches!(self.inner, Inner::Mapped { .. })
    }
}

/// The first `len` bytes of `map`: the part written so far. `len` never passes the map's end
/// (only [`BodyBuffer::extend_from_slice`] moves it, after a write that fitted); if it ever did,
/// that is a bug, reported as [`Inconsistent`] rather than read as an empty or shorter body.
fn written(map: &MmapMut, len: usize) -> Result<&[u8], Inconsistent> {
    let bytes = map.get(..len);
    debug_assert!(
        bytes.is_some(),
        "body length {len} is past its map of {} bytes",
        map.len()
    );
    bytes.ok_or(Inconsistent {
        len,
        mapped: map.len(),
    })
}

/// The buffer's own bookkeeping went wrong: its length is past the end of its memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inconsistent {
    len: usize,
    mapped: usize,
}

impl fmt::Display for Inconsistent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body buffer counts {} bytes in a map of {}",
            self.len, self.mapped
        )
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
            body.extend_from_slice(&chunk).expect("consistent");
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
        assert_eq!(body.as_slice().unwrap(), expected(1000).as_slice());
        assert_eq!(read(0, 0).as_slice().unwrap(), &[] as &[u8]);
    }

    #[test]
    fn large_bodies_are_mapped_and_read_back_in_order() {
        let total = MAPPED_MIN_BYTES + 12_345;
        let body = read(total, total);
        assert!(body.is_mapped());
        assert_eq!(body.len(), total);
        assert_eq!(body.as_slice().unwrap(), expected(total).as_slice());
    }

    #[test]
    fn a_body_shorter_or_longer_than_declared_keeps_every_byte() {
        let shorter = read(MAPPED_MIN_BYTES * 2, MAPPED_MIN_BYTES + 7);
        assert!(shorter.is_mapped());
        assert_eq!(
            shorter.as_slice().unwrap(),
            expected(MAPPED_MIN_BYTES + 7).as_slice()
        );

        let longer = read(MAPPED_MIN_BYTES, MAPPED_MIN_BYTES * 2 + 3);
        assert!(!longer.is_mapped(), "continued on the heap");
        assert_eq!(
            longer.as_slice().unwrap(),
            expected(MAPPED_MIN_BYTES * 2 + 3).as_slice()
        );
    }

    /// A length past the map's end is a bug: debug builds stop at the assertion, release builds
    /// report it instead of reading an empty or shorter body.
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "is past its map of"))]
    fn a_length_past_the_map_is_reported_not_read_as_empty() {
        let mut body = read(MAPPED_MIN_BYTES, 10);
        let Inner::Mapped { map, len } = &mut body.inner else {
            panic!("mapped");
        };
        *len = map.len() + 1;
        let err = body.as_slice().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the body buffer counts {} bytes in a map of {MAPPED_MIN_BYTES}",
                MAPPED_MIN_BYTES + 1
            )
        );
        assert_eq!(body.extend_from_slice(&[0; 8]), Err(err));
    }
}
