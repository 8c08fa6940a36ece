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

/// How a run of elements ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
    /// The next element starts here, at or past where the run was told to stop.
    Next(usize),
    /// The array closed, with nothing but whitespace after it.
    Closed,
}

/// Decodes the elements from `start` (an element's first byte) until the next element starts at
/// or after `stop`, or, without a `stop`, until the array closes. `None` when an element does not
/// decode or what follows one is not `,` or `]`.
fn decode_run<E, T, F>(
    body: &[u8],
    start: usize,
    stop: Option<usize>,
    convert: &F,
) -> Option<(Vec<T>, RunEnd)>
where
    E: DeserializeOwned,
    F: Fn(E) -> T,
{
    let mut items = Vec::new();
    let mut at = start;
    loop {
        if stop.is_some_and(|stop| at >= stop) {
            return Some((items, RunEnd::Next(at)));
        }
        let mut stream = serde_json::Deserializer::from_slice(body.get(at..)?).into_iter::<E>();
        let element = stream.next()?.ok()?;
        let end = at + stream.byte_offset();
        items.push(convert(element));
        let separator = skip_whitespace(body, end);
        match body.get(separator) {
            Some(b',') => at = skip_whitespace(body, separator + 1),
            Some(b']') if stop.is_none() => {
                return (skip_whitespace(body, separator + 1) == body.len())
                    .then_some((items, RunEnd::Closed));
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
    let runs: Vec<Option<(Vec<T>, RunEnd)>> = std::thread::scope(|scope| {
        let starts = &starts;
        let others: Vec<_> = starts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(run, &start)| {
                let stop = starts.get(run + 1).copied();
                scope.spawn(move || decode_run(body, start, stop, convert))
            })
            .collect();
        let mut runs = vec![decode_run(body, first, starts.get(1).copied(), convert)];
        // A panicking `convert` is re-raised on the calling thread, as it would be serially.
        runs.extend(others.into_iter().map(|handle| match handle.join() {
            Ok(run) => run,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        runs
    });
    let mut all = Vec::new();
    for (run, decoded) in runs.into_iter().enumerate() {
        let (items, end) = decoded?;
        // Each run must end exactly where the next one started, and the last one at the end.
        let expected = starts
            .get(run + 1)
            .map_or(RunEnd::Closed, |&next| RunEnd::Next(next));
        if end != expected {
            return None;
        }
        if all.is_empty() {
            all = items;
        } else {
            all.extend(items);
        }
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
