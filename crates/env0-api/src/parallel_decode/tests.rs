//! The parallel decoder against serde_json: proptests on mutated and cut bodies, the split itself, refused threads.

use super::*;

/// [`decode_in_runs`]'s elements, if the split worked.
fn split<E, T, F>(body: &[u8], threads: usize, convert: &F) -> Option<Vec<T>>
where
    E: DeserializeOwned,
    T: Send,
    F: Fn(E) -> T + Sync,
{
    decode_in_runs(body, threads, convert).map(|decoded| decoded.value)
}

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
        let got = split(body.as_bytes(), threads, &|i: Item| i.n * 2);
        assert_eq!(got, Some(want.clone()), "threads = {threads}");
    }
    for bad in ["{\"n\":3}", "{\"n\":700}", "{\"n\":999}"] {
        let body = body.replacen(bad, "{\"n\":\"x\"}", 1);
        assert_eq!(split(body.as_bytes(), 2, &|i: Item| i.n), None, "{bad}");
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

/// Sizing from a declared length near `usize::MAX` once overflowed (`usize::MAX` and a
/// quarter more); it saturates instead, and stays within the bytes declared.
#[test]
fn room_for_a_huge_length_saturates() {
    assert_eq!(room_for::<u8>(usize::MAX, 0), usize::MAX);
    assert_eq!(room_for::<u8>(usize::MAX, 1), usize::MAX);
    assert_eq!(room_for::<()>(usize::MAX, 0), usize::MAX);
    assert_eq!(room_for::<u64>(usize::MAX, 0), usize::MAX / 8 + 1);
    assert_eq!(room_for::<u64>(usize::MAX, usize::MAX), 2);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0f0e_5a1e),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// Any lengths: no overflow, and never room for more bytes of items than were declared
    /// (plus one item).
    #[test]
    fn room_for_any_length_never_panics(bytes in proptest::prelude::any::<usize>(), first in proptest::prelude::any::<usize>()) {
        let room = room_for::<[u8; 24]>(bytes, first);
        proptest::prop_assert!(room <= bytes / 24 + 1);
        proptest::prop_assert!(room >= 1);
        proptest::prop_assert!(threads_for(bytes) >= 1);
    }

    /// Arbitrary bytes, mostly JSON's own and often shaped like a list of objects (where the
    /// guesses look): the split never panics, and the answer is serde_json's.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(
            proptest::prop_oneof![
                8 => proptest::sample::select(b"[]{},:\"\\ \n0123456789-.eEtruefalsnl\xff\xc3\xa9".to_vec()),
                1 => proptest::prelude::any::<u8>(),
            ],
            0..96,
        ),
        listed in proptest::prelude::any::<bool>(),
        threads in 2usize..6,
    ) {
        let body = if listed {
            [&b"[{}"[..], &body, b"},{}]"].concat()
        } else {
            body
        };
        agrees_with_serde_json::<serde_json::Value>(&body, threads)?;
        agrees_with_serde_json::<crate::OrganizationUser>(&body, threads)?;
    }
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
        let got = split(body.as_bytes(), threads, &|n: Named| n);
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
                split(&bytes, threads, &|n: Named| n),
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
        assert_eq!(split(body.as_bytes(), 3, &|i: Item| i.n), None, "{body}");
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
    let (mut splits, mut left) = (0, 0);
    for threads in 2..=9 {
        match split(body.as_bytes(), threads, &|v: serde_json::Value| v) {
            Some(got) => {
                splits += 1;
                assert_eq!(got, want, "threads = {threads}");
            }
            None => left += 1,
        }
    }
    assert!(
        splits > 0 && left > 0,
        "split {splits} times, left {left} times"
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
        let got = split(body.as_bytes(), threads, &|v: serde_json::Value| v);
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
        if let Some(got) = split(&body, threads, &|v: serde_json::Value| v) {
            proptest::prop_assert_eq!(got, items);
        }
    }
}

#[test]
fn small_bodies_stay_on_one_thread() {
    assert_eq!(threads_for(PARALLEL_MIN_BYTES - 1), 1);
    let body = items_body(1000);
    let decoded = decode_list(body.as_bytes(), true, &|i: Item| i.n).unwrap();
    assert_eq!(decoded.runs, 1);
    assert_eq!(decoded.value.len(), 1000);
}

/// A member-like list of `count` objects, each about 200 bytes.
fn members_body(count: usize) -> String {
    let items: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"role":"User","status":"Active","user":{{"user_id":"auth0|{i:08}","email":"user{i}@example.com","name":"User Number {i}","created_at":"2024-01-02T03:04:05.000Z","last_login":"2024-05-06T07:08:09.000Z"}}}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Member {
    user: MemberUser,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct MemberUser {
    user_id: String,
}

/// What a test's `convert` saw: the element, and the name of the thread it ran on.
fn on_thread(member: Member) -> (String, Option<String>) {
    (
        member.user.user_id,
        std::thread::current().name().map(str::to_owned),
    )
}

#[test]
fn large_object_arrays_really_are_split_one_run_per_thread() {
    let body = members_body(30_000);
    assert!(body.len() >= PARALLEL_MIN_BYTES, "{} bytes", body.len());
    let threads = threads_for(body.len());
    assert!(
        (2..=MAX_THREADS).contains(&threads),
        "{threads} threads for a large body"
    );
    let decoded = decode_list(body.as_bytes(), true, &on_thread).unwrap();
    assert_eq!(decoded.runs, threads, "one run per thread");
    let ids: Vec<&str> = decoded.value.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..30_000).map(|i| format!("auth0|{i:08}")).collect();
    assert_eq!(ids, want, "every element, in response order");
    let on_decode_threads = decoded
        .value
        .iter()
        .filter(|(_, name)| name.as_deref() == Some("env0-decode"))
        .count();
    // The calling thread takes the first run; the others ran on decode threads.
    assert!(
        on_decode_threads >= 30_000 / threads / 2 && on_decode_threads < 30_000,
        "{on_decode_threads} elements on decode threads"
    );

    let serial = decode_list(body.as_bytes(), false, &on_thread).unwrap();
    assert_eq!(
        serial.runs, 1,
        "parallel decoding off is the serial decoder"
    );
    assert_eq!(serial.value.len(), 30_000);
    assert!(
        serial
            .value
            .iter()
            .all(|(_, name)| name.as_deref() != Some("env0-decode")),
        "nothing ran on a decode thread"
    );
    for threads in 2..=6 {
        assert_eq!(
            decode_list_on(body.as_bytes(), threads, &on_thread)
                .unwrap()
                .runs,
            threads
        );
    }
}

#[test]
fn a_refused_thread_decodes_its_run_on_the_calling_thread() {
    let body = members_body(2_000);
    let here = std::thread::current().id();
    REFUSE_THREADS.with(|refuse| refuse.set(true));
    let decoded = decode_in_runs(body.as_bytes(), 4, &|m: Member| {
        (m.user.user_id, std::thread::current().id())
    });
    REFUSE_THREADS.with(|refuse| refuse.set(false));
    let Some(decoded) = decoded else {
        panic!("the split works without threads");
    };
    assert_eq!(decoded.runs, 4);
    assert_eq!(decoded.value.len(), 2_000);
    assert!(decoded.value.iter().all(|(_, thread)| *thread == here));
    let ids: Vec<&str> = decoded.value.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..2_000).map(|i| format!("auth0|{i:08}")).collect();
    assert_eq!(ids, want);
}

#[derive(serde::Deserialize)]
struct Stamped {
    #[serde(default, deserialize_with = "crate::de::opt_timestamp")]
    at: Option<crate::Timestamp>,
}

#[test]
fn an_element_decoded_twice_is_noticed_once() {
    // Every element holds an unparseable timestamp and the text `},{`, so some thread counts
    // split the list and others fall back to the serial decoder after decoding part of it.
    let items: Vec<String> = (0..400)
        .map(|i| format!("{{\"s\":\"a}},{{\\\"b\\\"}},{{\",\"at\":\"soon {i}\"}}"))
        .collect();
    let body = format!("[{}]", items.join(","));
    let (mut split_runs, mut fell_back) = (0, 0);
    for threads in 1..=9 {
        let (decoded, noticed) =
            notice::collect(|| decode_list_on(body.as_bytes(), threads, &|s: Stamped| s.at));
        let Ok(decoded) = decoded else {
            panic!("the body decodes");
        };
        assert_eq!(decoded.value.len(), 400);
        if decoded.runs > 1 {
            split_runs += 1;
        } else if threads > 1 && split(body.as_bytes(), threads, &|s: Stamped| s.at).is_none() {
            fell_back += 1;
        }
        assert_eq!(noticed.unparseable_timestamps(), 400, "threads = {threads}");
        assert_eq!(
            noticed.timestamps().first().map(String::as_str),
            Some("soon 0"),
            "threads = {threads}: noticed in response order"
        );
        assert_eq!(
            noticed.timestamps().get(31).map(String::as_str),
            Some("soon 31"),
            "threads = {threads}"
        );
    }
    assert!(
        split_runs > 0 && fell_back > 0,
        "split {split_runs} times, fell back {fell_back} times"
    );
}

/// One change to a body: cut it at a point, or delete, replace or insert a byte there;
/// or the same near its end, where the last run must find the array's close.
#[derive(Clone, Debug)]
enum Mutation {
    Cut(proptest::sample::Index),
    Delete(proptest::sample::Index),
    Replace(proptest::sample::Index, u8),
    Insert(proptest::sample::Index, u8),
    CutTail(usize),
    InsertFromEnd(usize, u8),
}

fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    use proptest::sample::Index;
    // The bytes that matter to JSON and to the guesses, and any byte at all.
    let byte = || {
        prop_oneof![
            3 => proptest::sample::select(b"{}[],:\"\\ 0a-".to_vec()),
            1 => any::<u8>(),
        ]
    };
    prop_oneof![
        any::<Index>().prop_map(Mutation::Cut),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), byte()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<Index>(), byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (1usize..8).prop_map(Mutation::CutTail),
        (0usize..8, byte()).prop_map(|(back, b)| Mutation::InsertFromEnd(back, b)),
    ]
}

fn mutate(mut body: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Cut(at) if !body.is_empty() => body.truncate(at.index(body.len())),
            Mutation::Delete(at) if !body.is_empty() => {
                body.remove(at.index(body.len()));
            }
            Mutation::Replace(at, b) if !body.is_empty() => {
                let at = at.index(body.len());
                if let Some(byte) = body.get_mut(at) {
                    *byte = *b;
                }
            }
            Mutation::Insert(at, b) => body.insert(at.index(body.len() + 1), *b),
            Mutation::CutTail(n) => body.truncate(body.len().saturating_sub(*n)),
            Mutation::InsertFromEnd(back, b) => {
                body.insert(body.len().saturating_sub(*back), *b);
            }
            Mutation::Cut(_) | Mutation::Delete(_) | Mutation::Replace(..) => {}
        }
    }
    body
}

/// The reference: plain serde_json, where `null` is an empty list.
fn reference<E: DeserializeOwned>(body: &[u8]) -> Result<Vec<E>, serde_json::Error> {
    serde_json::from_slice::<Option<Vec<E>>>(body).map(Option::unwrap_or_default)
}

/// `decode_list_on` and the split alone agree with the reference on `body`: same success
/// or failure, same value, same error category and place.
fn agrees_with_serde_json<E>(
    body: &[u8],
    threads: usize,
) -> Result<(), proptest::test_runner::TestCaseError>
where
    E: DeserializeOwned + PartialEq + std::fmt::Debug + Send,
{
    use proptest::test_runner::TestCaseError;

    let want = reference::<E>(body);
    if let Some(got) = split(body, threads, &|e: E| e) {
        match &want {
            Ok(want) => proptest::prop_assert_eq!(&got, want),
            Err(e) => {
                let refused = format!("the split accepted what serde_json refuses: {e}");
                return Err(TestCaseError::fail(refused));
            }
        }
    }
    match (decode_list_on(body, threads, &|e: E| e), want) {
        (Ok(got), Ok(want)) => proptest::prop_assert_eq!(got.value, want),
        (Err(got), Err(want)) => {
            let place = |e: &serde_json::Error| (e.classify(), e.line(), e.column());
            proptest::prop_assert_eq!(place(&got), place(&want), "{} / {}", got, want);
        }
        (got, want) => {
            let got = got.map(|d| d.value);
            let differ = format!("decoded {got:?}, serde_json {want:?}");
            return Err(TestCaseError::fail(differ));
        }
    }
    Ok(())
}

/// A wire member whose fields have the types the client expects, or (when `odd` can be
/// true and is) not.
fn typed_member(may_be_odd: bool) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    (0u32..1000, any::<bool>(), prop_oneof![Just("soon"), Just("2024-01-02T03:04:05.000Z")])
        .prop_map(move |(i, odd, at)| {
            let odd = odd && may_be_odd;
            let role = if odd { serde_json::json!([1]) } else { serde_json::json!("Admin") };
            serde_json::json!({
                "role": role,
                "status": "Active",
                "user": {"user_id": format!("auth0|{i}"), "name": format!("N}},{{{i}"), "last_login": at},
            })
        })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(512))]

    /// Byte-mutated and truncated lists of any JSON values (objects, which guesses can
    /// find, or anything): the split never accepts what serde_json refuses and never
    /// decodes something else, and the decoder as a whole answers exactly as serde_json
    /// does, down to the error's category and place.
    #[test]
    fn mutated_bodies_decode_as_serde_json_does(
        items in proptest::collection::vec(json_value(), 0..60),
        objects in proptest::sample::select(vec![true, true, true, false]),
        pretty in proptest::prelude::any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..3),
        threads in 2usize..6,
    ) {
        let items: Vec<serde_json::Value> = if objects {
            items.into_iter().map(|v| serde_json::json!({"v": v})).collect()
        } else {
            items
        };
        let array = serde_json::Value::Array(items);
        let body = if pretty {
            serde_json::to_vec_pretty(&array)
        } else {
            serde_json::to_vec(&array)
        }
        .unwrap_or_default();
        agrees_with_serde_json::<serde_json::Value>(&mutate(body, &mutations), threads)?;
    }

    /// The same with the client's own member type, whose wrong types (a list for a role)
    /// are data errors rather than syntax errors.
    #[test]
    fn mutated_member_lists_decode_as_serde_json_does(
        members in proptest::collection::vec(typed_member(true), 0..30),
        mutations in proptest::collection::vec(mutation(), 0..3),
        threads in 2usize..6,
    ) {
        let body = serde_json::to_vec(&members).unwrap_or_default();
        agrees_with_serde_json::<crate::OrganizationUser>(&mutate(body, &mutations), threads)?;
    }

    /// Every cut of a well-typed list (every prefix shorter than the whole) fails with end
    /// of input, split or not: the category that makes the client retry. (A cut after an
    /// element of the wrong type fails on that element, as it should: the body is wrong
    /// whether or not it is whole.)
    #[test]
    fn every_cut_of_a_list_is_end_of_input(
        members in proptest::collection::vec(typed_member(false), 1..10),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
        threads in 1usize..5,
    ) {
        let body = serde_json::to_vec(&members).unwrap_or_default();
        let cut = body.get(..cut.index(body.len())).unwrap_or_default();
        let err = decode_list_on(cut, threads, &|m: crate::OrganizationUser| m)
            .err()
            .map(|e| e.classify());
        proptest::prop_assert_eq!(err, Some(serde_json::error::Category::Eof));
    }
}
