use std::fmt::Write as _;

use proptest::prelude::*;
use serde::Deserialize;

use super::*;

/// Each element converted by a function, into a `Vec`.
struct Mapped<'c, F, T> {
    convert: &'c F,
    items: Vec<T>,
}

impl<'c, F, T> Mapped<'c, F, T> {
    fn new(convert: &'c F) -> Self {
        Mapped {
            convert,
            items: Vec::new(),
        }
    }
}

impl<E, T, F: Fn(E) -> T> Collect<E> for Mapped<'_, F, T> {
    type Output = Vec<T>;

    fn reserve(&mut self, bytes: usize, first_element_bytes: usize) {
        self.items.reserve(crate::parallel_decode::room_for::<T>(
            bytes,
            first_element_bytes,
        ));
    }

    fn push(&mut self, element: E) {
        self.items.push((self.convert)(element));
    }

    fn finish(self) -> Vec<T> {
        self.items
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Item {
    id: String,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

/// What a decoder answered, in the terms the two must agree on (the snippet may differ: the
/// stream only holds part of the body).
#[derive(Debug, PartialEq)]
enum Answer {
    Items(Vec<Item>),
    Error {
        eof: bool,
        reason: String,
        line: usize,
        column: usize,
    },
}

fn serial(body: &[u8]) -> Answer {
    match crate::parallel_decode::decode_list_on(body, 1, &|item: Item| item) {
        Ok(decoded) => Answer::Items(decoded.value),
        Err(e) => Answer::Error {
            eof: e.is_eof(),
            reason: crate::transport::without_position(&e),
            line: e.line(),
            column: e.column(),
        },
    }
}

fn streamed(body: &[u8], cuts: &[usize]) -> Answer {
    let convert = |item: Item| item;
    let mut stream = StreamList::new(Mapped::new(&convert), Some(body.len()));
    let mut from = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(body.len())).collect();
    ends.sort_unstable();
    ends.push(body.len());
    let outcome = ends
        .into_iter()
        .try_for_each(|end| {
            let chunk = body.get(from..end.max(from)).unwrap_or_default();
            from = end.max(from);
            stream.feed(chunk)
        })
        .and_then(|()| stream.finish());
    match outcome {
        Ok(decoded) => Answer::Items(decoded.value),
        Err(e) => Answer::Error {
            eof: e.eof,
            reason: e.reason,
            line: e.line,
            column: e.column,
        },
    }
}

fn check(body: &[u8], cuts: &[usize]) {
    assert_eq!(
        streamed(body, cuts),
        serial(body),
        "body {:?} cut at {cuts:?}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn a_list_in_one_chunk_and_byte_by_byte() {
    let body = br#" [ {"id":"a","n":1}, {"id":"b\u00e9","tags":["x","y"]} ,{"id":"c"}] "#;
    check(body, &[]);
    let every: Vec<usize> = (0..body.len()).collect();
    check(body, &every);
    let Answer::Items(items) = streamed(body, &every) else {
        panic!("no items");
    };
    assert_eq!(items.len(), 3);
}

#[test]
fn bodies_that_are_not_lists_are_decoded_whole() {
    for body in [
        &b"null"[..],
        b"  null ",
        b"",
        b"{}",
        b"\"x\"",
        b"nul",
        b"[",
        b"[]",
        b"[ ] x",
    ] {
        check(body, &[]);
        check(body, &[1, 2]);
    }
}

#[test]
fn structure_errors_match_serde_json() {
    for body in [
        &br#"[{"id":"a"} {"id":"b"}]"#[..],
        br#"[{"id":"a"},]"#,
        br#"[{"id":"a"}]x"#,
        br#"[{"id":"a"},"#,
        br#"[{"id":"a"}"#,
        b"[\n{\"id\":\"a\"},\n\n{\"id\":\"b\"}\n,\n]",
        br#"[{"id":"a","n":"x"}]"#,
        br#"[{"id":"a"},{"n":1}]"#,
        br#"[1, {"id":"a"}]"#,
        br#"[{"id":"a"}, 12]"#,
        br#"[{"id":"a\"]"#,
        b"[{\"id\":\"\xff\"}]",
        b"[{\"id\":\"\xc3\xa9\"}]",
    ] {
        for cut in 0..body.len() {
            check(body, &[cut]);
        }
    }
}

#[test]
fn an_element_longer_than_many_chunks_is_tried_a_logarithmic_number_of_times() {
    let long = "x".repeat(1 << 20);
    let body = format!(r#"[{{"id":"a"}},{{"id":"{long}"}},{{"id":"b"}}]"#);
    let convert = |item: Item| item;
    let mut stream = StreamList::new(Mapped::new(&convert), Some(body.len()));
    for chunk in body.as_bytes().chunks(1024) {
        stream.feed(chunk).unwrap();
    }
    // About 1 000 chunks: once per chunk would be a thousand tries (and a quadratic amount of
    // decoding); doubling makes it about log2(1 000) for the long one, plus one per element.
    let tries = stream.tries;
    assert!(tries <= 20, "{tries} tries");
    let items = stream.finish().unwrap().value;
    let ids: Vec<usize> = items.iter().map(|item| item.id.len()).collect();
    assert_eq!(ids, [1, 1 << 20, 1]);
}

/// serde_json calls a number cut right after its `-` an "invalid number", not the end of input.
/// Where the element's text had stopped early (at bytes that are not UTF-8), the stream took that
/// for the element's real error: a valid body cut there was refused, and a bad one got another
/// message or column than the serial decoder gives.
#[test]
fn a_number_cut_after_its_sign_waits_for_the_next_chunk() {
    // Ignored fields are not checked as UTF-8: serde_json accepts this body.
    let valid = b"[{\"id\":\"a\",\"x\":\"\xba\",\"y\":-1}]";
    let sign = valid.iter().position(|&b| b == b'-').unwrap();
    check(valid, &[sign + 1]);
    assert!(matches!(streamed(valid, &[sign + 1]), Answer::Items(items) if items.len() == 1));
    // Found by fuzzing: the message, and the column, differed from the serial decoder's.
    check(b"[{\"\":\"\xba\",\"\":-1\xff\xff\xff\xff", &[13]);
    check(b"[{\"\":-\xd2", &[]);
    for cut in 0..=valid.len() {
        check(valid, &[cut]);
    }
}

/// A declared length near `usize::MAX` (a server's `Content-Length` under a configured limit
/// that high) once made sizing the list overflow, and reserving room for it abort.
#[test]
fn a_huge_declared_length_is_no_reason_to_fail() {
    let convert = |item: Item, _: &mut Vec<()>| Some(item);
    for declared in [usize::MAX, usize::MAX / 2, 1 << 40, 512 << 20] {
        let mut stream = StreamList::new(Noted::new(&convert), Some(declared));
        stream.feed(br#"[{"id":"a"},{"id":"b"}]"#).unwrap();
        let (items, notes) = stream.finish().unwrap().value;
        assert_eq!(items.len(), 2, "declared {declared}");
        assert!(notes.is_empty());
        // No more room held than for a body read whole, whatever the header claimed.
        let most = usize::try_from(crate::transport::PREALLOCATE_BYTES).unwrap();
        assert!(
            items.capacity() * size_of::<Item>() <= most,
            "declared {declared}: room for {} items",
            items.capacity()
        );
    }
}

/// A random list of items as JSON, with random whitespace (newlines included) between tokens.
fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let space = prop::sample::select(vec!["", "", " ", "\n", " \n  ", "\t"]);
    let text = prop::sample::select(vec!["a", "b\\\"c", "é", "日本", "x\\u00e9", "", "🙂"]);
    let item = (
        text.clone(),
        prop::option::of(0u64..1000),
        prop::collection::vec(text, 0..3),
    );
    (
        prop::collection::vec((item, space.clone(), space.clone()), 0..8),
        space,
    )
        .prop_map(|(items, end)| {
            let mut body = String::from(end);
            body.push('[');
            for (i, ((id, n, tags), before, after)) in items.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(before);
                let _ = write!(body, "{{\"id\":\"{id}\"");
                if let Some(n) = n {
                    let _ = write!(body, ",{after}\"n\": {n}");
                }
                if !tags.is_empty() {
                    let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
                    let _ = write!(body, ",\"tags\":[{}]", tags.join(", "));
                }
                body.push('}');
                body.push_str(after);
            }
            body.push(']');
            body.push_str(end);
            body.into_bytes()
        })
}

/// A change that may break a body: nothing, cut it short, or put a byte in or over one.
#[derive(Debug, Clone)]
enum Damage {
    None,
    Truncate(usize),
    Insert(usize, u8),
    Replace(usize, u8),
}

fn damage_strategy() -> impl Strategy<Value = Damage> {
    let byte = prop::sample::select(b",]}{[\"x1 \n:\\\xff\xc3".to_vec());
    prop_oneof![
        2 => Just(Damage::None),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), byte.clone()).prop_map(|(at, b)| Damage::Insert(at, b)),
        1 => (any::<usize>(), byte).prop_map(|(at, b)| Damage::Replace(at, b)),
    ]
}

fn damaged(mut body: Vec<u8>, damage: &Damage) -> Vec<u8> {
    let len = body.len().max(1);
    match *damage {
        Damage::None => {}
        Damage::Truncate(at) => body.truncate(at % len),
        Damage::Insert(at, b) => body.insert(at % (body.len() + 1), b),
        Damage::Replace(at, b) => {
            if let Some(slot) = body.get_mut(at % len) {
                *slot = b;
            }
        }
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The streaming decoder answers exactly what the serial decoder answers for the whole body,
    /// wherever the chunks end.
    #[test]
    fn streaming_answers_as_the_serial_decoder(
        body in body_strategy(),
        damage in damage_strategy(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let body = damaged(body, &damage);
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        prop_assert_eq!(streamed(&body, &cuts), serial(&body));
    }
}

/// Bytes that are mostly JSON's own, with any byte now and then: arbitrary input that still
/// reaches past the first token.
fn jsonish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(
        b"[]{},:\"\\ \n\t0123456789-+.eE truefalsenullid\"n\"tags\xff\xc3\xa9\x80\xf0\x9f".to_vec(),
    );
    prop::collection::vec(prop_oneof![8 => token, 1 => any::<u8>()], 0..64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5e7d_0b0d),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes, cut anywhere, never make the streaming decoder panic, and it still
    /// answers as the serial decoder does.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in prop_oneof![jsonish_bytes(), prop::collection::vec(any::<u8>(), 0..32)],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        prop_assert_eq!(streamed(&body, &cuts), serial(&body));
    }

    /// Valid bodies with several bytes damaged, cut anywhere: no panic, the serial answer.
    #[test]
    fn mutated_bodies_never_panic(
        body in body_strategy(),
        damages in prop::collection::vec(damage_strategy(), 1..5),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let body = damages.iter().fold(body, damaged);
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        prop_assert_eq!(streamed(&body, &cuts), serial(&body));
    }
}
