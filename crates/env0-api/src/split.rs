//! Decoding a large JSON list on several threads.
//!
//! A JSON array's elements are independent, so once their byte ranges are known each one can be
//! decoded on its own. [`array_elements`] finds those ranges with a single pass that only tracks
//! strings and nesting (no values are built), and [`decode_elements`] hands contiguous runs of
//! elements to scoped threads, keeping response order.
//!
//! The split is an optimisation only: whenever the body is not a plain array, or any element
//! fails to decode, the caller decodes the whole body the ordinary way, which accepts and rejects
//! exactly what it always did and reports errors with their real line and column.

use std::num::NonZeroUsize;
use std::ops::Range;

use serde::de::DeserializeOwned;

/// Bodies smaller than this are decoded on the calling thread: threads cost more than they save.
pub(crate) const PARALLEL_MIN_BYTES: usize = 4 * 1024 * 1024;
/// Most threads one body is decoded on.
const MAX_THREADS: usize = 4;

/// The byte ranges of the top-level elements of the JSON array in `body`, whitespace trimmed.
///
/// `None` when `body` is not an array (`null`, an object, text) or its outline is broken
/// (unbalanced, unterminated, an empty element, trailing text). The elements themselves are not
/// validated: decoding them does that.
pub(crate) fn array_elements(body: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut at = skip_whitespace(body, 0);
    if body.get(at) != Some(&b'[') {
        return None;
    }
    at = skip_whitespace(body, at + 1);
    let mut elements = Vec::new();
    if body.get(at) == Some(&b']') {
        return (skip_whitespace(body, at + 1) == body.len()).then_some(elements);
    }
    loop {
        let start = at;
        let (end, closer) = element_end(body, start)?;
        let trimmed = trim_end(body, start, end);
        if trimmed == start {
            return None;
        }
        elements.push(start..trimmed);
        match closer {
            b',' => at = skip_whitespace(body, end + 1),
            _ => return (skip_whitespace(body, end + 1) == body.len()).then_some(elements),
        }
    }
}

/// From `start`, the position of the `,` or `]` that ends the element, and which it is.
fn element_end(body: &[u8], start: usize) -> Option<(usize, u8)> {
    let mut depth = 0usize;
    let mut at = start;
    while let Some(&byte) = body.get(at) {
        match byte {
            b'"' => at = string_end(body, at + 1)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b']' => return Some((at, b']')),
            b'}' => return None,
            b',' if depth == 0 => return Some((at, b',')),
            _ => {}
        }
        at += 1;
    }
    None
}

/// From just inside a string, the position of its closing quote.
fn string_end(body: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let rest = body.get(at..)?;
        let found = at + memchr::memchr2(b'"', b'\\', rest)?;
        match body.get(found) {
            Some(b'"') => return Some(found),
            // A backslash escapes the next byte (a quote, a backslash, or the start of `uXXXX`).
            _ => at = found + 2,
        }
    }
}

fn skip_whitespace(body: &[u8], mut at: usize) -> usize {
    while body
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

fn trim_end(body: &[u8], start: usize, mut end: usize) -> usize {
    while end > start
        && body
            .get(end - 1)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        end -= 1;
    }
    end
}

/// How many threads to decode `elements` elements of a `bytes`-byte body on.
pub(crate) fn threads_for(bytes: usize, elements: usize) -> usize {
    if bytes < PARALLEL_MIN_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
        .min(elements)
        .max(1)
}

/// The elements of the JSON array in `body`, decoded and converted on several threads, in
/// element order; `None` when `body` is small, not a plain array, or has an element that does not
/// decode, so the caller should decode it serially.
pub(crate) fn decode_large_list<E, T, F>(body: &[u8], convert: &F) -> Option<Vec<T>>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    if body.len() < PARALLEL_MIN_BYTES {
        return None;
    }
    let elements = array_elements(body)?;
    let threads = threads_for(body.len(), elements.len());
    if threads < 2 {
        return None;
    }
    decode_elements(body, &elements, threads, convert)
}

/// Decodes each element as an `E` and converts it with `convert`, on `threads` scoped threads
/// (the calling thread takes the first run), and returns the results in element order.
/// `None` when any element fails to decode: the caller then decodes serially for the error.
pub(crate) fn decode_elements<E, T, F>(
    body: &[u8],
    elements: &[Range<usize>],
    threads: usize,
    convert: &F,
) -> Option<Vec<T>>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    let run = |part: &[Range<usize>]| -> Option<Vec<T>> {
        let mut out = Vec::with_capacity(part.len());
        for range in part {
            let element: E = serde_json::from_slice(body.get(range.clone())?).ok()?;
            out.push(convert(element));
        }
        Some(out)
    };
    let per_thread = elements.len().div_ceil(threads.max(1)).max(1);
    let mut parts = elements.chunks(per_thread);
    let first = parts.next().unwrap_or_default();
    let results: Vec<Option<Vec<T>>> = std::thread::scope(|scope| {
        let others: Vec<_> = parts.map(|part| scope.spawn(move || run(part))).collect();
        let mut results = vec![run(first)];
        // A panicking `convert` is re-raised on the calling thread, as it would be serially.
        results.extend(others.into_iter().map(|handle| match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        results
    });
    let mut all = Vec::with_capacity(elements.len());
    for part in results {
        all.extend(part?);
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Option<Vec<&str>> {
        array_elements(body.as_bytes()).map(|ranges| {
            ranges
                .into_iter()
                .map(|r| body.get(r).unwrap_or("?"))
                .collect()
        })
    }

    #[test]
    fn finds_elements_through_strings_escapes_and_nesting() {
        let body = r#" [ {"a":"x,]}"} , "q\"],[" ,[1,[2,{"b":[]}]], 3 ,null,"\\",{} ] "#;
        assert_eq!(
            texts(body),
            Some(vec![
                r#"{"a":"x,]}"}"#,
                r#""q\"],[""#,
                r#"[1,[2,{"b":[]}]]"#,
                "3",
                "null",
                r#""\\""#,
                "{}",
            ])
        );
        assert_eq!(texts("[]"), Some(vec![]));
        assert_eq!(texts(" [ \n ] \n"), Some(vec![]));
    }

    #[test]
    fn anything_but_a_plain_array_is_left_to_the_serial_decoder() {
        for body in [
            "",
            "null",
            "{}",
            r#"{"items":[1]}"#,
            "[",
            "[1",
            "[1,",
            "[1,]",
            "[,1]",
            "[1,,2]",
            "[1] x",
            "[1]]",
            r#"["open]"#,
            "[{]",
            "[}]",
            r#"["\"]"#,
        ] {
            assert_eq!(texts(body), None, "{body:?}");
        }
    }

    #[derive(serde::Deserialize)]
    struct Item {
        n: u32,
    }

    #[test]
    fn parallel_decoding_keeps_order_and_fails_on_any_bad_element() {
        let items: Vec<String> = (0..1000).map(|i| format!("{{\"n\":{i}}}")).collect();
        let body = format!("[{}]", items.join(","));
        let elements = array_elements(body.as_bytes()).unwrap_or_default();
        assert_eq!(elements.len(), 1000);
        for threads in [1, 2, 3, 4, 7] {
            let got = decode_elements(body.as_bytes(), &elements, threads, &|i: Item| i.n * 2);
            let want: Vec<u32> = (0..1000).map(|n| n * 2).collect();
            assert_eq!(got, Some(want), "threads = {threads}");
        }
        let bad = body.replacen("{\"n\":700}", "{\"n\":\"x\"}", 1);
        let elements = array_elements(bad.as_bytes()).unwrap_or_default();
        assert_eq!(
            decode_elements(bad.as_bytes(), &elements, 2, &|i: Item| i.n),
            None
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        // Strings full of the characters the outline scan must not be fooled by.
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
        /// Whatever serde_json writes, compact or pretty, splits into exactly its elements.
        #[test]
        fn elements_match_what_serde_json_reads(
            items in proptest::collection::vec(json_value(), 0..12),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let array = serde_json::Value::Array(items.clone());
            let body = if pretty {
                serde_json::to_vec_pretty(&array)
            } else {
                serde_json::to_vec(&array)
            }
            .unwrap_or_default();
            let ranges = array_elements(&body);
            proptest::prop_assert!(ranges.is_some());
            let decoded: Vec<serde_json::Value> = ranges
                .unwrap_or_default()
                .into_iter()
                .map(|r| serde_json::from_slice(body.get(r).unwrap_or_default()))
                .collect::<Result<_, _>>()
                .unwrap_or_default();
            proptest::prop_assert_eq!(decoded, items);
        }
    }

    #[test]
    fn small_bodies_stay_on_one_thread() {
        assert_eq!(threads_for(PARALLEL_MIN_BYTES - 1, 100_000), 1);
        assert!(threads_for(PARALLEL_MIN_BYTES, 100_000) >= 1);
        assert_eq!(threads_for(PARALLEL_MIN_BYTES, 1), 1);
    }
}
