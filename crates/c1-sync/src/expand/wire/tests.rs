//! The wire readers and writers held to prost's encodings, and to damaged input.

use super::*;
use c1_model::{annotations, pb};
use std::collections::BTreeMap;

fn sources(entries: &[(&str, bool)]) -> pb::GrantSources {
    pb::GrantSources {
        sources: entries
            .iter()
            .map(|(k, d)| {
                (
                    (*k).to_owned(),
                    pb::grant_sources::GrantSource { is_direct: *d },
                )
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

/// `GrantSources` as Go's protobuf marshals it: every map entry with its key and its value,
/// even an empty one (spelled out byte by byte here, apart from `put_sources`; test keys
/// are shorter than 128 bytes).
fn go_sources(entries: &[(&str, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, direct) in entries {
        let value: &[u8] = if *direct { &[0x08, 0x01] } else { &[] };
        let mut entry = vec![0x0a, u8::try_from(key.len()).unwrap()];
        entry.extend_from_slice(key.as_bytes());
        entry.extend_from_slice(&[0x12, u8::try_from(value.len()).unwrap()]);
        entry.extend_from_slice(value);
        out.push(0x0a);
        out.push(u8::try_from(entry.len()).unwrap());
        out.extend(entry);
    }
    out
}

/// The bytes ConductorOne's SDK writes for `grant`: prost's, whose fields are in the same
/// order, with the sources (field 5, the last) laid out as Go lays out a map.
fn sdk_bytes(grant: &pb::Grant) -> Vec<u8> {
    let mut out = c1_model::encode(&pb::Grant {
        sources: None,
        ..grant.clone()
    });
    if let Some(sources) = &grant.sources {
        let entries: Vec<(&str, bool)> = sources
            .sources
            .iter()
            .map(|(k, v)| (k.as_str(), v.is_direct))
            .collect();
        let body = go_sources(&entries);
        out.push(0x2a);
        out.push(u8::try_from(body.len()).unwrap());
        out.extend(body);
    }
    out
}

#[test]
fn a_source_not_direct_has_an_empty_value() {
    let mut out = Vec::new();
    put_sources(&mut out, &[("e", false), ("f", true)]);
    assert_eq!(
        out,
        [
            0x0a, 0x05, 0x0a, 0x01, b'e', 0x12, 0x00, //
            0x0a, 0x07, 0x0a, 0x01, b'f', 0x12, 0x02, 0x08, 0x01,
        ]
    );
}

fn entitlement() -> pb::Entitlement {
    let team = c1_model::ResourceBuilder::new("team", "t1", "Team One").build_group();
    c1_model::entitlement::assignment(&team, "member")
}

#[test]
fn a_new_expanded_grant_has_the_sdks_bytes() {
    let ent = entitlement();
    let principal = pb::Resource {
        id: Some(c1_model::resource_id("user", "u1")),
        display_name: "U One".into(),
        ..Default::default()
    };
    for entries in [
        vec![("a:b:c", true)],
        vec![("a:b:c", false), ("x:y:z", true), ("", false)],
    ] {
        let mut sorted = entries.clone();
        sorted.sort_unstable();
        let expected = pb::Grant {
            entitlement: Some(ent.clone()),
            principal: Some(principal.clone()),
            id: "team:t1:member:user:u1".into(),
            annotations: vec![annotations::pack(&pb::GrantImmutable::default())],
            sources: Some(sources(&sorted)),
        };
        let mut out = Vec::new();
        put_expanded_grant(
            &mut out,
            &mut Vec::new(),
            &c1_model::encode(&ent),
            &c1_model::encode(&principal),
            "team:t1:member:user:u1",
            &sorted,
        );
        assert_eq!(out, sdk_bytes(&expected), "{sorted:?}");
        assert_eq!(
            <pb::Grant as prost::Message>::decode(out.as_slice()).unwrap(),
            expected
        );
    }
}

#[test]
fn replacing_sources_keeps_every_other_byte() {
    let grant = pb::Grant {
        entitlement: Some(entitlement()),
        principal: Some(pb::Resource {
            id: Some(c1_model::resource_id("user", "u1")),
            ..Default::default()
        }),
        id: "g".into(),
        annotations: vec![annotations::pack(&pb::GrantMetadata::default())],
        sources: Some(sources(&[("old", true)])),
    };
    let stored = c1_model::encode(&grant);
    let mut out = Vec::new();
    put_with_sources(
        &mut out,
        &mut Vec::new(),
        &stored,
        &[("a", false), ("team:t1:member", true)],
    )
    .unwrap();
    let expected = pb::Grant {
        sources: Some(sources(&[("a", false), ("team:t1:member", true)])),
        ..grant.clone()
    };
    assert_eq!(out, sdk_bytes(&expected));

    // A grant with no sources at all, and an unknown field 9 after it: the new field goes
    // before field 9, which is kept.
    let mut unknown = c1_model::encode(&pb::Grant {
        sources: None,
        ..grant
    });
    let without = unknown.clone();
    unknown.extend_from_slice(&[0x48, 0x07]);
    let mut out = Vec::new();
    put_with_sources(&mut out, &mut Vec::new(), &unknown, &[("k", true)]).unwrap();
    let mut expected = without;
    put_len_field(&mut expected, 5, &{
        let mut s = Vec::new();
        put_sources(&mut s, &[("k", true)]);
        s
    });
    expected.extend_from_slice(&[0x48, 0x07]);
    assert_eq!(out, expected);
}

#[test]
fn the_view_reads_principal_and_sources() {
    let principal = pb::Resource {
        id: Some(c1_model::resource_id("user", "u1")),
        ..Default::default()
    };
    let grant = pb::Grant {
        entitlement: Some(entitlement()),
        principal: Some(principal.clone()),
        id: "g".into(),
        annotations: vec![],
        sources: Some(sources(&[("s1", false), ("s2", true)])),
    };
    let bytes = c1_model::encode(&grant);
    let view = GrantView::parse(&bytes).unwrap();
    assert_eq!(view.principal, c1_model::encode(&principal));
    let entries: Vec<_> = view.sources().map(Result::unwrap).collect();
    assert_eq!(entries, vec![(&b"s1"[..], false), (&b"s2"[..], true)]);
    assert!(view.is_direct_for("s1").unwrap(), "own key present");
    assert!(!view.is_direct_for("other").unwrap());

    let no_sources = c1_model::encode(&pb::Grant {
        sources: None,
        ..grant.clone()
    });
    assert!(
        GrantView::parse(&no_sources)
            .unwrap()
            .is_direct_for("x")
            .unwrap()
    );
    let empty_sources = c1_model::encode(&pb::Grant {
        sources: Some(pb::GrantSources::default()),
        ..grant
    });
    assert!(
        GrantView::parse(&empty_sources)
            .unwrap()
            .is_direct_for("x")
            .unwrap()
    );
}

#[test]
fn malformed_bytes_are_an_error_not_a_panic() {
    for bad in [
        &[0x12, 0x05, 0x01][..],
        &[0x80][..],
        &[0x00, 0x01][..],
        &[0x0b][..],
        &[0xff; 11][..],
    ] {
        assert!(GrantView::parse(bad).is_err(), "{bad:?}");
        assert!(split_expandable(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn split_expandable_takes_the_annotation_out() {
    let expandable = pb::GrantExpandable {
        entitlement_ids: vec!["team:t1:member".into()],
        shallow: true,
        resource_type_ids: vec!["user".into()],
    };
    let grant = pb::Grant {
        entitlement: Some(entitlement()),
        principal: None,
        id: "g".into(),
        annotations: vec![
            annotations::pack(&pb::GrantMetadata::default()),
            prost_types::Any {
                type_url: "example.com/c1.connector.v2.GrantExpandable".into(),
                value: c1_model::encode(&expandable),
            },
        ],
        sources: None,
    };
    let (stripped, value) = split_expandable(&c1_model::encode(&grant))
        .unwrap()
        .unwrap();
    assert_eq!(value, c1_model::encode(&expandable));
    let mut expected = grant.clone();
    expected.annotations.truncate(1);
    assert_eq!(stripped, c1_model::encode(&expected));
    assert!(split_expandable(&stripped).unwrap().is_none());
}

#[test]
fn varint_lengths() {
    for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        assert_eq!(out.len(), varint_len(v), "{v}");
        assert_eq!(varint(&out).unwrap().0, v);
    }
}

/// What a grant's reader and rewriters make of `grant`, checked where they succeed: a rewritten
/// grant reads back with exactly the new sources and the same principal, and a grant without
/// its `GrantExpandable` reads again.
fn read_and_rewrite(grant: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prop_assert_eq;
    for field in fields(grant) {
        let _ = field;
    }
    let view = GrantView::parse(grant);
    if let Ok(view) = &view {
        for entry in view.sources() {
            let _ = entry;
        }
        let _ = view.is_direct_for("team:t1:member");
        let _ = view.is_direct_for("");
    }
    let entries = [("a", true), ("b:c", false)];
    let mut out = Vec::new();
    if put_with_sources(&mut out, &mut Vec::new(), grant, &entries).is_ok() {
        let view = view.map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let rewritten = GrantView::parse(&out)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let read: Result<Vec<(&[u8], bool)>, Malformed> = rewritten.sources().collect();
        prop_assert_eq!(read, Ok(vec![(&b"a"[..], true), (&b"b:c"[..], false)]));
        prop_assert_eq!(rewritten.principal, view.principal);
    }
    if let Ok(Some((kept, value))) = split_expandable(grant) {
        proptest::prop_assert!(kept.len() + value.len() <= grant.len());
        prop_assert_eq!(split_expandable(&kept).map(|s| s.is_none()), Ok(true));
    }
    Ok(())
}

/// A grant as the SDK stores it, with sources and an expandable annotation or not.
fn grant_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["", "a", "team:t1:member", "x:y:z"]);
    (
        prop::collection::vec((key, any::<bool>()), 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut entries, with_sources, expandable)| {
            entries.sort_unstable();
            entries.dedup_by_key(|(k, _)| *k);
            let mut annotations = vec![annotations::pack(&pb::GrantMetadata::default())];
            if expandable {
                annotations.push(annotations::pack(&pb::GrantExpandable {
                    entitlement_ids: vec!["team:t1:member".into()],
                    shallow: true,
                    resource_type_ids: vec!["user".into()],
                }));
            }
            sdk_bytes(&pb::Grant {
                entitlement: Some(entitlement()),
                principal: Some(pb::Resource {
                    id: Some(c1_model::resource_id("user", "u1")),
                    ..Default::default()
                }),
                id: "team:t1:member:user:u1".into(),
                annotations,
                sources: with_sources.then(|| sources(&entries)),
            })
        })
}

/// A change to a stored grant: cut it, flip bits of a byte, or put a byte in.
#[derive(Debug, Clone)]
enum Damage {
    Cut(proptest::sample::Index),
    Flip(proptest::sample::Index, u8),
    Insert(proptest::sample::Index, u8),
}

fn damage() -> impl proptest::strategy::Strategy<Value = Damage> {
    use proptest::prelude::*;
    use proptest::sample::Index;
    prop_oneof![
        1 => any::<Index>().prop_map(Damage::Cut),
        4 => (any::<Index>(), 1..=u8::MAX).prop_map(|(at, bits)| Damage::Flip(at, bits)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Damage::Insert(at, b)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x9a47_0b1e),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// Arbitrary bytes never make the readers or rewriters panic.
    #[test]
    fn arbitrary_bytes_never_panic(grant in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        read_and_rewrite(&grant)?;
    }

    /// Stored grants with bytes damaged never make them panic either.
    #[test]
    fn damaged_grants_never_panic(
        grant in grant_strategy(),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let mut grant = grant;
        for d in &damages {
            match d {
                Damage::Cut(at) => grant.truncate(at.index(grant.len() + 1)),
                Damage::Flip(at, bits) => {
                    let at = at.index(grant.len().max(1));
                    if let Some(b) = grant.get_mut(at) {
                        *b ^= bits;
                    }
                }
                Damage::Insert(at, b) => grant.insert(at.index(grant.len() + 1), *b),
            }
        }
        read_and_rewrite(&grant)?;
    }
}
