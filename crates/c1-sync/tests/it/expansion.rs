//! Grant expansion: ConductorOne's own before/after pair, and small hand-checked cases.

use std::collections::BTreeMap;
use std::path::PathBuf;

use c1_model::{annotations, pb};
use c1_sync::C1zReader;

fn compat(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat")
        .join(name)
}

/// A grant's sorted `sources` keys, and whether it carries `GrantImmutable`.
type Shape = (Vec<String>, bool);

/// Grant id → its shape.
fn grant_shapes(grants: &[pb::Grant]) -> BTreeMap<String, Shape> {
    grants
        .iter()
        .map(|g| {
            let keys = g
                .sources
                .as_ref()
                .map(|s| s.sources.keys().cloned().collect())
                .unwrap_or_default();
            let immutable = annotations::has::<pb::GrantImmutable>(&g.annotations);
            (g.id.clone(), (keys, immutable))
        })
        .collect()
}

#[test]
fn the_sdk_before_after_pair_matches_grant_for_grant() {
    let before = C1zReader::open(&compat("baton-sdk-expansion-before.c1z")).unwrap();
    let after = C1zReader::open(&compat("baton-sdk-expansion-after.c1z")).unwrap();
    let run = before.latest_sync().unwrap().expect("the unexpanded sync");
    assert!(!run.is_finished(), "the SDK stopped before expanding");
    assert_eq!(before.grants(&run.sync_id).unwrap().len(), 2_909);

    let report = before.expand_grants(&run.sync_id).unwrap();
    let ours = grant_shapes(&before.grants(&run.sync_id).unwrap());
    let theirs = grant_shapes(&after.grants(&run.sync_id).unwrap());
    assert_eq!(theirs.len(), 14_981);
    assert_eq!(ours.len(), 14_981, "{report:?}");

    let only_ours: Vec<&String> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    let only_theirs: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only ours: {:?}; only theirs: {:?}",
        &only_ours[..only_ours.len().min(5)],
        &only_theirs[..only_theirs.len().min(5)]
    );
    let differing: Vec<(&String, &Shape, &Shape)> = ours
        .iter()
        .filter_map(|(id, shape)| {
            let other = &theirs[id];
            (shape != other).then_some((id, shape, other))
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{} grants differ, e.g. {:?}",
        differing.len(),
        &differing[..differing.len().min(3)]
    );
    assert_eq!(report.grants_created, 14_981 - 2_909);
    eprintln!("{report:?}");
}
