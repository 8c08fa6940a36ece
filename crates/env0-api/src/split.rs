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

use std::num::NonZeroUsize;

use serde::de::DeserializeOwned;

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

/// How many threads to decode a `bytes`-byte body on.
pub(crate) fn threads_for(bytes: usize) -> usize {
    if bytes < PARALLEL_MIN_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
}

/// The elements of the JSON array in `body`, decoded and converted on several threads, in
/// element order; `None` when `body` is small, or the split did not work out (see the module
/// docs), so the caller should decode it serially.
pub(crate) fn decode_large_list<E, T, F>(body: &[u8], convert: &F) -> Option<Vec<T>>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    let threads = threads_for(body.len());
    if threads < 2 {
        return None;
    }
    decode_in_runs(body, threads, convert)
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
            // Room for the run at the first element's size, and a quarter more: growing by
            // doubling instead copied the list several times into fresh memory, each page of it
            // a page fault. Capacity never written to costs no memory.
            // Never more than the run's own length in bytes, however small the first element.
            let size = element_end.saturating_sub(at).max(1);
            let estimate = run.len() / size + run.len() / size / 4 + 1;
            items.reserve(estimate.min(run.len() / size_of::<T>().max(1) + 1));
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

/// [`decode_large_list`] on `threads` threads (the calling thread takes the first run), whatever
/// the body's size.
pub(crate) fn decode_in_runs<E, T, F>(body: &[u8], threads: usize, convert: &F) -> Option<Vec<T>>
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
    let mut starts = vec![first];
    let span = body.len().saturating_sub(first) / threads.max(1);
    for run in 1..threads {
        let last = starts.last().copied().unwrap_or(first);
        match guess_start(body, (first + span * run).max(last + 1)) {
            Some(start) => starts.push(start),
            None => break,
        }
    }
    if starts.len() < 2 {
        return None;
    }
    // Each run ends where the next one starts; the last one at the end of the body.
    let end_of = |run: usize| starts.get(run + 1).copied().unwrap_or(body.len());
    let runs: Vec<Option<Vec<T>>> = std::thread::scope(|scope| {
        let others: Vec<_> = starts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(run, &start)| {
                let end = end_of(run);
                scope.spawn(move || decode_run(body, start, end, convert))
            })
            .collect();
        let mut runs = vec![decode_run(body, first, end_of(0), convert)];
        // A panicking `convert` is re-raised on the calling thread, as it would be serially.
        runs.extend(others.into_iter().map(|handle| match handle.join() {
            Ok(run) => run,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        runs
    });
    // Every run decoded to exactly its end, so every guessed start was an element's start.
    let runs: Vec<Vec<T>> = runs.into_iter().collect::<Option<_>>()?;
    let mut runs = runs.into_iter();
    let mut all = runs.next().unwrap_or_default();
    // One exact reservation: extending run by run grew the list (into fresh memory) each time.
    let rest: usize = runs.as_slice().iter().map(Vec::len).sum();
    all.reserve_exact(rest);
    for items in runs {
        all.extend(items);
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Item {
        n: u32,
    }

    fn items_body(count: u32) -> String {
        let items: Vec<String> = (0..count).map(|i| format!("{{\"n\":{i}}}")).collect();
        format!("[{}]", items.join(","))
    }

    #[test]
    fn runs_keep_order_on_any_number_of_threads_and_fail_on_any_bad_element() {
        let body = items_body(1000);
        let want: Vec<u32> = (0..1000).map(|n| n * 2).collect();
        for threads in [2, 3, 4, 7] {
            let got = decode_in_runs(body.as_bytes(), threads, &|i: Item| i.n * 2);
            assert_eq!(got, Some(want.clone()), "threads = {threads}");
        }
        for bad in ["{\"n\":3}", "{\"n\":700}", "{\"n\":999}"] {
            let body = body.replacen(bad, "{\"n\":\"x\"}", 1);
            assert_eq!(
                decode_in_runs(body.as_bytes(), 2, &|i: Item| i.n),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_tiny_first_element_reserves_no_more_than_the_run_holds() {
        // `{}` and then large elements: sized from the first element alone, the run would ask
        // for room for half a million items.
        let large = format!("{{\"pad\":\"{}\"}}", "x".repeat(10_000));
        let body = format!("[{{}},{}]", vec![large; 100].join(","));
        let item = |_: serde::de::IgnoredAny| [0u64; 32];
        let Some(items) = decode_run(body.as_bytes(), 1, body.len(), &item) else {
            panic!("the run decodes");
        };
        assert_eq!(items.len(), 101);
        assert!(
            items.capacity() * size_of::<[u64; 32]>() <= body.len() + size_of::<[u64; 32]>(),
            "capacity {} for a {}-byte run",
            items.capacity(),
            body.len()
        );
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Named {
        name: String,
    }

    #[test]
    fn text_is_checked_as_utf8_in_every_run() {
        let names: Vec<String> = (0..600)
            .map(|i| format!("Émile Müller 山田 {i} \\u00e9 \\ud83d\\ude00"))
            .collect();
        let items: Vec<String> = names
            .iter()
            .map(|n| format!("{{\"name\":\"{n}\"}}"))
            .collect();
        let body = format!("[{}]", items.join(", "));
        let want: Vec<Named> = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(want.len(), 600);
        assert_eq!(
            want.get(1).map(|n| n.name.as_str()),
            Some("Émile Müller 山田 1 é 😀")
        );
        for threads in [2, 3, 4] {
            let got = decode_in_runs(body.as_bytes(), threads, &|n: Named| n);
            assert_eq!(got.as_ref(), Some(&want), "threads = {threads}");
        }
        // A name that is not UTF-8 (the second byte of its `ü` replaced), in the first, a
        // middle or the last run: the body is left to the serial decoder, which reports it with
        // its place.
        for item in [0, 300, 599] {
            let Some(at) = body.find(&format!("Müller 山田 {item} ")) else {
                panic!("item {item} is in the body")
            };
            let mut bytes = body.clone().into_bytes();
            let Some(byte) = bytes.get_mut(at + 2) else {
                panic!("{at} is inside the body")
            };
            *byte = 0xff;
            for threads in [2, 3, 4] {
                assert_eq!(
                    decode_in_runs(&bytes, threads, &|n: Named| n),
                    None,
                    "item {item}, threads = {threads}"
                );
            }
        }
    }

    #[test]
    fn anything_but_a_plain_array_is_left_to_the_serial_decoder() {
        let items = items_body(50);
        let inner = items.trim_start_matches('[').trim_end_matches(']');
        for body in [
            String::new(),
            "null".to_owned(),
            "[]".to_owned(),
            format!("{{\"items\":{items}}}"),
            format!("[{inner}"),
            format!("[{inner},]"),
            format!("[{inner}] x"),
            format!("[{inner}]]"),
            format!("[{inner}}}]"),
            format!("[{}]", inner.replacen("},{", "},,{", 30)),
        ] {
            assert_eq!(
                decode_in_runs(body.as_bytes(), 3, &|i: Item| i.n),
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn a_guess_inside_a_string_breaks_the_chain_and_nothing_else() {
        // Every element holds the text `},{`, so guesses land inside strings as often as not:
        // the result is then either exactly serde_json's or left to the serial decoder.
        let items: Vec<String> = (0..400)
            .map(|i| format!("{{\"s\":\"a}},{{\\\"b\\\"}},{{\",\"n\":{i}}}"))
            .collect();
        let body = format!("[{}]", items.join(","));
        let want: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(want.len(), 400);
        let (mut split, mut left) = (0, 0);
        for threads in 2..=9 {
            match decode_in_runs(body.as_bytes(), threads, &|v: serde_json::Value| v) {
                Some(got) => {
                    split += 1;
                    assert_eq!(got, want, "threads = {threads}");
                }
                None => left += 1,
            }
        }
        assert!(
            split > 0 && left > 0,
            "split {split} times, left {left} times"
        );
    }

    #[test]
    fn a_guess_inside_a_nested_list_of_objects_never_yields_them() {
        // The middle element's own list of objects fills most of the body, so the guesses land
        // in it, on `{"x":k}` objects that decode and are followed by commas as elements are.
        let inner: Vec<String> = (0..1000).map(|k| format!("{{\"x\":{k}}}")).collect();
        let body = format!(
            "[{{\"n\":0}},{{\"n\":1,\"big\":[{}]}},{{\"n\":2}}]",
            inner.join(",")
        );
        let want: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
        for threads in 2..=5 {
            let got = decode_in_runs(body.as_bytes(), threads, &|v: serde_json::Value| v);
            assert!(
                got.is_none() || got == Some(want.clone()),
                "threads = {threads}"
            );
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        // Strings full of the characters the guesses and the separators could be fooled by.
        let text = || {
            proptest::string::string_regex(r#"[a-zé\[\]{},:"\\ /\n\t\u{1F600}]{0,12}"#)
                .unwrap_or_else(|_| unreachable!("the pattern is valid"))
        };
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever serde_json writes, compact or pretty, objects (which guesses can find) or
        /// any values, decodes on several threads to exactly what serde_json reads, or is left
        /// to the serial decoder.
        #[test]
        fn runs_decode_what_serde_json_reads(
            items in proptest::collection::vec(json_value(), 0..40),
            objects in proptest::prelude::any::<bool>(),
            pretty in proptest::prelude::any::<bool>(),
            threads in 2usize..6,
        ) {
            let items: Vec<serde_json::Value> = if objects {
                items.into_iter().map(|v| serde_json::json!({"v": v})).collect()
            } else {
                items
            };
            let array = serde_json::Value::Array(items.clone());
            let body = if pretty {
                serde_json::to_vec_pretty(&array)
            } else {
                serde_json::to_vec(&array)
            }
            .unwrap_or_default();
            if let Some(got) = decode_in_runs(&body, threads, &|v: serde_json::Value| v) {
                proptest::prop_assert_eq!(got, items);
            }
        }
    }

    #[test]
    fn small_bodies_stay_on_one_thread() {
        assert_eq!(threads_for(PARALLEL_MIN_BYTES - 1), 1);
        assert!(threads_for(PARALLEL_MIN_BYTES) >= 1);
        let body = items_body(10);
        assert_eq!(decode_large_list(body.as_bytes(), &|i: Item| i.n), None);
    }
}
