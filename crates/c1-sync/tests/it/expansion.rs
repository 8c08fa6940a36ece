//! Grant expansion: ConductorOne's own before/after pair, and small hand-checked cases.

use std::collections::BTreeMap;
use std::path::PathBuf;

use c1_model::{annotations, pb, resource_id};
use c1_sync::{C1zReader, SyncEngine, SyncError};

use crate::support::{
    MemConnector, MemSyncer, grant, project_type, team, team_type, user, user_type,
};

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
    the_sdk_pair_matches(false);
}

#[test]
fn the_sdk_pair_matches_when_the_grants_table_is_written_again() {
    the_sdk_pair_matches(true);
}

/// Expands the SDK's unexpanded sync (writing the grants table again in key order when
/// `rewrite`) and compares every grant with the SDK's own expansion.
fn the_sdk_pair_matches(rewrite: bool) {
    let before = C1zReader::open(&compat("baton-sdk-expansion-before.c1z")).unwrap();
    let after = C1zReader::open(&compat("baton-sdk-expansion-after.c1z")).unwrap();
    let run = before.latest_sync().unwrap().expect("the unexpanded sync");
    assert!(!run.is_finished(), "the SDK stopped before expanding");
    assert_eq!(before.grants(&run.sync_id).unwrap().len(), 2_909);

    let expandable = |grants: &[pb::Grant]| {
        grants
            .iter()
            .filter(|g| annotations::has::<pb::GrantExpandable>(&g.annotations))
            .count()
    };
    // The older schema keeps GrantExpandable inside the blobs; expansion moves it to the
    // `expansion` column, and the reader returns it either way.
    assert_eq!(expandable(&before.grants(&run.sync_id).unwrap()), 409);
    let report = if rewrite {
        before.expand_grants_rewriting(&run.sync_id).unwrap()
    } else {
        before.expand_grants(&run.sync_id).unwrap()
    };
    assert_eq!(report.grants_table_rewritten, rewrite);
    assert_eq!(report.expandable_grants, 409);
    assert_eq!(expandable(&before.grants(&run.sync_id).unwrap()), 409);
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
}

// ---------------------------------------------------------------------------------------------
// Through the engine: the access model of a connector with teams, nested projects and an
// organization role, synced and read back.

fn role_type() -> pb::ResourceType {
    c1_model::ResourceTypeBuilder::new("role", "Role")
        .with_trait(pb::resource_type::Trait::Role)
        .build()
}

fn expandable(mut grant: pb::Grant, sources: &[&str], shallow: bool, types: &[&str]) -> pb::Grant {
    grant
        .annotations
        .push(annotations::pack(&pb::GrantExpandable {
            entitlement_ids: sources.iter().map(|s| (*s).to_owned()).collect(),
            shallow,
            resource_type_ids: types.iter().map(|s| (*s).to_owned()).collect(),
        }));
    grant
}

/// Alice (`a`) is in team t1; t1 holds Deployer on project p1; p2 is p1's sub-project, so each
/// role on p1 holds on p2; the organization role Admin is Admin on p1; Bob (`b`) is an Admin;
/// Carol (`c`) is in t1 and also holds Deployer on p2 directly. `extra` grants are added to p1's.
pub(crate) fn access_model(extra: Vec<pb::Grant>) -> MemConnector {
    let users: Vec<pb::Resource> = ["a", "b", "c"].map(user).to_vec();
    let t1 = team("t1");
    let admin_role =
        c1_model::ResourceBuilder::new("role", "Admin", "Organization Admin").build_role();
    let p1 = c1_model::ResourceBuilder::new("project", "p1", "Payments").build();
    let p2 = c1_model::ResourceBuilder::new("project", "p2", "Payments-EU")
        .parent(resource_id("project", "p1"))
        .build();
    let member = c1_model::entitlement::assignment(&t1, "member");
    let admin_member = c1_model::entitlement::assignment(&admin_role, "member");
    let role = |p: &pb::Resource, r: &str| c1_model::entitlement::assignment(p, r);
    let p1_grants: Vec<pb::Grant> = [
        expandable(
            grant(&role(&p1, "Deployer"), &t1),
            &["team:t1:member"],
            false,
            &["user"],
        ),
        expandable(
            grant(&role(&p1, "Admin"), &admin_role),
            &["role:Admin:member"],
            false,
            &["user", "team"],
        ),
    ]
    .into_iter()
    .chain(extra)
    .collect();
    let p2_grants = [
        expandable(
            grant(&role(&p2, "Deployer"), &p1),
            &["project:p1:Deployer"],
            false,
            &["user", "team"],
        ),
        expandable(
            grant(&role(&p2, "Admin"), &p1),
            &["project:p1:Admin"],
            false,
            &["user", "team"],
        ),
        grant(&role(&p2, "Deployer"), &users[2]),
    ];
    MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &users, 2),
        MemSyncer::new(role_type())
            .resources(None, std::slice::from_ref(&admin_role), 1)
            .entitlements(
                admin_role.id.as_ref().unwrap(),
                std::slice::from_ref(&admin_member),
                1,
            )
            .grants(
                admin_role.id.as_ref().unwrap(),
                &[grant(&admin_member, &users[1])],
                1,
            ),
        MemSyncer::new(team_type())
            .resources(None, std::slice::from_ref(&t1), 1)
            .entitlements(t1.id.as_ref().unwrap(), std::slice::from_ref(&member), 1)
            .grants(
                t1.id.as_ref().unwrap(),
                &[grant(&member, &users[0]), grant(&member, &users[2])],
                1,
            ),
        MemSyncer::new(project_type())
            .resources(None, &[p1.clone(), p2.clone()], 2)
            .entitlements(
                p1.id.as_ref().unwrap(),
                &[role(&p1, "Admin"), role(&p1, "Deployer")],
                2,
            )
            .entitlements(
                p2.id.as_ref().unwrap(),
                &[role(&p2, "Admin"), role(&p2, "Deployer")],
                2,
            )
            .grants(p1.id.as_ref().unwrap(), &p1_grants, 2)
            .grants(p2.id.as_ref().unwrap(), &p2_grants, 2),
    ])
}

/// Grant id → `sources` as `(key, is_direct)` pairs, and whether it is `GrantImmutable`.
fn sources_by_grant(grants: &[pb::Grant]) -> BTreeMap<String, (Vec<(String, bool)>, bool)> {
    grants
        .iter()
        .map(|g| {
            let sources = g
                .sources
                .as_ref()
                .map(|s| {
                    s.sources
                        .iter()
                        .map(|(k, v)| (k.clone(), v.is_direct))
                        .collect()
                })
                .unwrap_or_default();
            (
                g.id.clone(),
                (
                    sources,
                    annotations::has::<pb::GrantImmutable>(&g.annotations),
                ),
            )
        })
        .collect()
}

fn src(entries: &[(&str, bool)]) -> Vec<(String, bool)> {
    entries.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
}

#[tokio::test]
async fn a_sync_writes_inherited_grants_with_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let report = SyncEngine::default()
        .run(&access_model(Vec::new()), &path)
        .await
        .unwrap();
    assert_eq!(
        (report.grants, report.grants_expanded, report.warnings),
        (8, 6, 0)
    );

    let reader = C1zReader::open(&path).unwrap();
    let grants = reader.grants(&report.sync_id).unwrap();
    let expected: BTreeMap<String, (Vec<(String, bool)>, bool)> = [
        // Direct grants nobody reaches keep no sources.
        ("role:Admin:member:user:b", src(&[]), false),
        ("team:t1:member:user:a", src(&[]), false),
        ("team:t1:member:user:c", src(&[]), false),
        ("project:p1:Deployer:team:t1", src(&[]), false),
        ("project:p1:Admin:role:Admin", src(&[]), false),
        ("project:p2:Deployer:project:p1", src(&[]), false),
        ("project:p2:Admin:project:p1", src(&[]), false),
        // Carol's direct Deployer on p2 is also inherited: its own key plus the upstream one.
        (
            "project:p2:Deployer:user:c",
            src(&[
                ("project:p1:Deployer", false),
                ("project:p2:Deployer", true),
            ]),
            false,
        ),
        // New grants: immediate upstream keys only, is_direct of the upstream grant.
        (
            "project:p1:Deployer:user:a",
            src(&[("team:t1:member", true)]),
            true,
        ),
        (
            "project:p1:Deployer:user:c",
            src(&[("team:t1:member", true)]),
            true,
        ),
        (
            "project:p2:Deployer:user:a",
            src(&[("project:p1:Deployer", false)]),
            true,
        ),
        (
            "project:p2:Deployer:team:t1",
            src(&[("project:p1:Deployer", true)]),
            true,
        ),
        (
            "project:p1:Admin:user:b",
            src(&[("role:Admin:member", true)]),
            true,
        ),
        (
            "project:p2:Admin:user:b",
            src(&[("project:p1:Admin", false)]),
            true,
        ),
    ]
    .into_iter()
    .map(|(id, sources, immutable)| (id.to_owned(), (sources, immutable)))
    .collect();
    assert_eq!(sources_by_grant(&grants), expected);

    // A new grant embeds the stored entitlement and the principal as the source grant had it.
    let new = reader
        .grant(&report.sync_id, "project:p2:Deployer:user:a")
        .unwrap()
        .unwrap();
    let stored = reader
        .entitlement(&report.sync_id, "project:p2:Deployer")
        .unwrap()
        .unwrap();
    assert_eq!(new.entitlement.as_ref(), Some(&stored));
    assert_eq!(
        new.principal,
        Some(pb::Resource {
            id: Some(resource_id("user", "a")),
            ..Default::default()
        })
    );
    assert_eq!(
        new.annotations,
        vec![annotations::pack(&pb::GrantImmutable::default())]
    );
    // Expandable grants keep their annotation (read back from the `expansion` column).
    let structural = reader
        .grant(&report.sync_id, "project:p2:Deployer:project:p1")
        .unwrap()
        .unwrap();
    assert!(annotations::has::<pb::GrantExpandable>(
        &structural.annotations
    ));
    // What a user holds, in one call.
    let alice: Vec<String> = reader
        .grants_for_principal(&report.sync_id, &resource_id("user", "a"))
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(
        alice,
        [
            "team:t1:member:user:a",
            "project:p1:Deployer:user:a",
            "project:p2:Deployer:user:a"
        ]
    );
    let stats = reader
        .sync_run(&report.sync_id)
        .unwrap()
        .unwrap()
        .stats
        .unwrap();
    assert_eq!(stats.grants, 14);
}

#[tokio::test]
async fn a_missing_source_entitlement_drops_its_edge_with_a_warning() {
    let p1 = c1_model::ResourceBuilder::new("project", "p1", "Payments").build();
    let t1 = team("t1");
    // t1 holds Viewer on p1, expandable from an entitlement nobody listed.
    let dangling = expandable(
        grant(&c1_model::entitlement::assignment(&p1, "Admin"), &t1),
        &["team:t1:owner"],
        false,
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let report = SyncEngine::default()
        .run(&access_model(vec![dangling]), &path)
        .await
        .unwrap();
    assert_eq!(report.warnings, 1);
    assert_eq!(
        report.warning_messages,
        [
            "grant expansion: grant project:p1:Admin:team:t1 is expandable from entitlement \
          team:t1:owner, which is not in the sync; that edge is dropped"
        ]
    );
    // The other edges still expand, and t1's own grant on p1's Admin is inherited by p2.
    assert_eq!(report.grants_expanded, 7);
}

#[tokio::test]
async fn a_source_entitlement_of_another_resource_fails_the_sync_naming_both() {
    let p1 = c1_model::ResourceBuilder::new("project", "p1", "Payments").build();
    let t1 = team("t1");
    // Granted to team t1, but "expandable" from role Admin's members.
    let wrong = expandable(
        grant(&c1_model::entitlement::assignment(&p1, "Admin"), &t1),
        &["role:Admin:member"],
        false,
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let err = SyncEngine::default()
        .run(&access_model(vec![wrong]), &path)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Expansion { .. }), "{err:?}");
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert_eq!(
        chain,
        "grant expansion failed: grant project:p1:Admin:team:t1 is expandable from entitlement \
         role:Admin:member, which belongs to role:Admin, not to the grant's principal team:t1"
    );
    assert!(!path.exists(), "a failed sync writes nothing");
}

#[test]
fn an_expanded_grant_whose_id_is_taken_is_not_written_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.c1z");
    let group = c1_model::ResourceBuilder::new("group", "g1", "G1").build_group();
    let member = c1_model::entitlement::assignment(&group, "member");
    let admin = c1_model::entitlement::assignment(&group, "admin");
    let (a, b) = (user("a"), user("b"));
    let admins = expandable(grant(&admin, &group), &["group:g1:member"], false, &[]);
    // A connector grant of `member` to b that uses the id expansion would give a's admin grant.
    let mut squatter = grant(&member, &b);
    squatter.id = "group:g1:admin:user:a".into();
    let mut w = c1_sync::C1zWriter::open(&path).unwrap();
    w.put_resource_types(&[user_type(), team_type()]).unwrap();
    w.put_resources(&[a.clone(), b, group]).unwrap();
    w.put_entitlements(&[member.clone(), admin]).unwrap();
    w.put_grants(&[grant(&member, &a), squatter.clone(), admins])
        .unwrap();
    let done = w.finish().unwrap();
    assert_eq!(
        done.expansion.warnings,
        [
            "grant id group:g1:admin:user:a is already used by a grant of another entitlement or \
          principal; the expanded grant is not written"
        ]
    );
    // b held member through the squatter: b gets admin; a does not.
    assert_eq!(done.expansion.grants_created, 1);
    let reader = C1zReader::open(&path).unwrap();
    let stored = reader
        .grant(&done.sync_id, "group:g1:admin:user:a")
        .unwrap()
        .unwrap();
    assert_eq!(stored, squatter, "the stored grant is kept as it was");
    assert!(
        reader
            .grant(&done.sync_id, "group:g1:admin:user:b")
            .unwrap()
            .is_some()
    );
    assert_eq!(done.stats.grants, 4);
}
