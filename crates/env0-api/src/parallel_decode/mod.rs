//! Decoding a large JSON list on several threads.
//!
//! A JSON array's elements are independent, so each run of them can be decoded on its own thread.
//! The body is cut into runs without reading it first: a run starts at a guessed element boundary
//! (the first `}` `,` `{` after an evenly spaced position), and every thread decodes elements one
//! after the other, letting serde_json find where each ends, until it reaches the next run's
//! start. A guess is confirmed by the run before it landing exactly on it; the first run starts at
//! the array's real start, so the whole chain is proven by the decoding itself. A guess that fell
//! inside a string, or a body that is not a plain array of objects, breaks the chain.
//!
//! Each run is checked as UTF-8 as a whole before it is decoded (from a `&str`, so serde_json
//! does not check every string again); runs meet at ASCII bytes, so they are all valid exactly
//! when the body is.
//!
//! The split is an optimisation only: whenever the chain breaks, the body is not a plain array, or
//! any element fails to decode, the caller decodes the whole body the ordinary way, which accepts
//! and rejects exactly what it always did and reports errors with their real line and column.
//! What the runs noticed (see `notice.rs`) counts only when the split worked, so an element
//! decoded twice (once in a run, once serially) is noticed once.
//!
//! Decode threads are started with [`std::thread::Builder`]; when the system refuses one, its run
//! is decoded on the calling thread instead.

use std::num::NonZeroUsize;
use std::thread::{Scope, ScopedJoinHandle};

use serde::de::{DeserializeOwned, DeserializeSeed};

use crate::de::MappedList;
use crate::notice::{self, Notices};
use crate::transport::Decoded;

/// Bodies smaller than this are decoded on the calling thread: threads cost more than they save.
pub(crate) const PARALLEL_MIN_BYTES: usize = 4 * 1024 * 1024;
/// Most threads one body is decoded on.
const MAX_THREADS: usize = 4;

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_whitespace(body: &[u8], mut at: usize) -> usize {
    while body.get(at).copied().is_some_and(is_whitespace) {
        at += 1;
    }
    at
}

/// How many threads to decode a `bytes`-byte body on: one below [`PARALLEL_MIN_BYTES`], else
/// as many as there are processors, at least two and at most [`MAX_THREADS`]. (Two on one
/// processor cost a thread start per large body, and keep what is decoded, and how, the same on
/// every host.)
pub(crate) fn threads_for(bytes: usize) -> usize {
    if bytes < PARALLEL_MIN_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(2, MAX_THREADS)
}

/// The JSON list in `body` (`null` is empty), each element converted by `convert` as it is
/// read. With `parallel` and a large body (see [`threads_for`]) it is decoded in runs on
/// several threads, falling back to the serial decoder; the error, if any, is always the serial
/// decoder's.
pub(crate) fn decode_list<E, T, F>(
    body: &[u8],
    parallel: bool,
    convert: &F,
) -> Result<Decoded<Vec<T>>, serde_json::Error>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    let threads = if parallel { threads_for(body.len()) } else { 1 };
    decode_list_on(body, threads, convert)
}

/// [`decode_list`] on `threads` threads (1: serially), whatever the body's size.
pub(crate) fn decode_list_on<E, T, F>(
    body: &[u8],
    threads: usize,
    convert: &F,
) -> Result<Decoded<Vec<T>>, serde_json::Error>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    if threads >= 2
        && let Some(split) = decode_in_runs(body, threads, convert)
    {
        return Ok(split);
    }
    Ok(Decoded {
        value: decode_serially(body, &mut |element: E| convert(element))?,
        runs: 1,
    })
}

/// The JSON list in `body` (`null` is empty) decoded by serde_json from start to end, each
/// element converted by `convert` as it is read: the decoder every other one is held to.
pub(crate) fn decode_serially<E, T>(
    body: &[u8],
    convert: &mut impl FnMut(E) -> T,
) -> Result<Vec<T>, serde_json::Error>
where
    E: DeserializeOwned,
{
    let seed = MappedList {
        convert,
        item: std::marker::PhantomData,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(items)
}

/// How many `T`s to make room for in a list whose JSON takes `bytes` bytes, from the size of
/// its first element: that many at that size, and a quarter more. Growing by doubling instead
/// copied the list several times into fresh memory, each page of it a page fault; capacity never
/// written to costs no memory. Never room for more bytes of items than the JSON has, however
/// small the first element (the length may come from a server's header).
pub(crate) fn room_for<T>(bytes: usize, first_element_bytes: usize) -> usize {
    let size = first_element_bytes.max(1);
    let elements = bytes / size;
    let estimate = elements.saturating_add(elements / 4).saturating_add(1);
    estimate.min((bytes / size_of::<T>().max(1)).saturating_add(1))
}

/// The first guessed element start at or after `from`: the `{` of a `}` `,` `{` sequence
/// (whitespace allowed around the comma).
fn guess_start(body: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let comma = from + memchr::memchr(b',', body.get(from..)?)?;
        let before = body.get(..comma)?.iter().rposition(|&b| !is_whitespace(b));
        let after = skip_whitespace(body, comma + 1);
        if before.is_some_and(|at| body.get(at) == Some(&b'}')) && body.get(after) == Some(&b'{') {
            return Some(after);
        }
        from = comma + 1;
    }
}

/// Decodes the elements of one run: `body[start..end]`, where `start` is an element's first
/// byte and `end` the guessed start of the next run's first element (or, for the last run, the
/// end of the body, so the array must close inside it). `None` when the run is not valid UTF-8,
/// an element does not decode or ends past `end`, or what follows one is not `,` or `]`.
///
/// The run is checked as UTF-8 once, as a whole, and then decoded from a `&str`: serde_json
/// then takes every string inside as valid, where decoding from bytes checked each one on its
/// own (a fifth of decoding a member list). The run's ends are ASCII bytes (a `{` or the body's
/// end), so the runs are valid exactly when the whole body is.
fn decode_run<E, T, F>(body: &[u8], start: usize, end: usize, convert: &F) -> Option<Vec<T>>
where
    E: DeserializeOwned,
    F: Fn(E) -> T,
{
    let run = std::str::from_utf8(body.get(start..end)?).ok()?;
    let last = end == body.len();
    let mut items = Vec::new();
    let mut at = 0;
    loop {
        if !last && at >= run.len() {
            return Some(items);
        }
        let mut stream = serde_json::Deserializer::from_str(run.get(at..)?).into_iter::<E>();
        let element = stream.next()?.ok()?;
        let element_end = at + stream.byte_offset();
        if items.is_empty() {
            items.reserve(room_for::<T>(run.len(), element_end.saturating_sub(at)));
        }
        items.push(convert(element));
        let separator = skip_whitespace(run.as_bytes(), element_end);
        match run.as_bytes().get(separator) {
            Some(b',') => at = skip_whitespace(run.as_bytes(), separator + 1),
            Some(b']') if last => {
                return (skip_whitespace(run.as_bytes(), separator + 1) == run.len())
                    .then_some(items);
            }
            _ => return None,
        }
    }
}

/// A run's elements (`None`: the run broke the chain) and what decoding them noticed.
type Run<T> = (Option<Vec<T>>, Notices);

/// A run started on a thread of its own, or left to the calling thread.
enum Pending<'scope, T> {
    Thread(ScopedJoinHandle<'scope, Run<T>>),
    Here { start: usize, end: usize },
}

#[cfg(test)]
thread_local! {
    /// Set by tests: [`spawn_run`] on this thread fails as if the system had refused a thread.
    static REFUSE_THREADS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Starts `run` on a scoped thread of its own, or says why the system would not.
fn spawn_run<'scope, R: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    run: impl FnOnce() -> R + Send + 'scope,
) -> std::io::Result<ScopedJoinHandle<'scope, R>> {
    #[cfg(test)]
    if REFUSE_THREADS.with(std::cell::Cell::get) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "thread creation refused by the test",
        ));
    }
    std::thread::Builder::new()
        .name("env0-decode".to_owned())
        .spawn_scoped(scope, run)
}

/// The elements of the JSON array in `body`, decoded and converted in `threads` runs (the
/// calling thread takes the first, and any whose thread the system refused), in element order;
/// `None` when the split did not work out (see the module docs), so the caller should decode the
/// body serially. What the runs noticed is merged into the calling thread's scope only when the
/// whole split worked.
pub(crate) fn decode_in_runs<E, T, F>(
    body: &[u8],
    threads: usize,
    convert: &F,
) -> Option<Decoded<Vec<T>>>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    let open = skip_whitespace(body, 0);
    if body.get(open) != Some(&b'[') {
        return None;
    }
    let first = skip_whitespace(body, open + 1);
    // The guessed starts of the runs after the first.
    let mut guessed = Vec::with_capacity(threads);
    let span = body.len().saturating_sub(first) / threads.max(1);
    let mut last = first;
    for run in 1..threads {
        match guess_start(body, (first + span * run).max(last + 1)) {
            Some(start) => {
                guessed.push(start);
                last = start;
            }
            None => break,
        }
    }
    // Each run ends where the next one starts; the last one at the end of the body.
    let &second = guessed.first()?;
    let ends = guessed.iter().copied().skip(1).chain([body.len()]);
    let later: Vec<(usize, usize)> = guessed.iter().copied().zip(ends).collect();
    let decode = |start: usize, end: usize| -> Run<T> {
        notice::collect(|| decode_run(body, start, end, convert))
    };
    let (head, tail): (Run<T>, Vec<Run<T>>) = std::thread::scope(|scope| {
        let pending: Vec<Pending<'_, T>> = later
            .iter()
            .map(
                |&(start, end)| match spawn_run(scope, move || decode(start, end)) {
                    Ok(handle) => Pending::Thread(handle),
                    Err(error) => {
                        tracing::debug!(%error, "no thread for a decode run; decoding it here");
                        Pending::Here { start, end }
                    }
                },
            )
            .collect();
        let head = decode(first, second);
        // A panicking `convert` is re-raised on the calling thread, as it would be serially.
        let tail = pending
            .into_iter()
            .map(|run| match run {
                Pending::Thread(handle) => match handle.join() {
                    Ok(run) => run,
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Pending::Here { start, end } => decode(start, end),
            })
            .collect();
        (head, tail)
    });
    // Every run decoded to exactly its end, so every guessed start was an element's start.
    let (Some(mut all), mut noticed) = head else {
        return None;
    };
    let mut rest = Vec::with_capacity(tail.len());
    for (items, notices) in tail {
        rest.push(items?);
        noticed.absorb(notices);
    }
    // One exact reservation: extending run by run grew the list (into fresh memory) each time.
    all.reserve_exact(rest.iter().map(Vec::len).sum());
    let runs = 1 + rest.len();
    for items in rest {
        all.extend(items);
    }
    notice::merge(noticed);
    Some(Decoded { value: all, runs })
}

#[cfg(test)]
mod tests;
