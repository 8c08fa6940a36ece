//! A full sync through `c1-sync`: the c1z file holds the `user` resource type and exactly the
//! resources the listing returns, and the connector's warnings reach the report.

use c1_model::pb;
use c1_sync::{C1zReader, Connector, SyncEngine, SyncOptions};

use crate::support::{FakeEnv0, Fixture, list_all};

#[tokio::test]
async fn a_sync_writes_every_principal_to_the_c1z() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("env0.c1z");

    let fake = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
    let connector = fake.connector(10);
    assert_eq!(connector.metadata().name, "env0");
    assert_eq!(connector.metadata().display_name, "env0");
    let report = SyncEngine::new(SyncOptions::default())
        .run(&connector, &output)
        .await
        .expect("sync succeeds");
    fake.assert_calls();
    assert_eq!(report.resources_by_type.get("user"), Some(&24));
    assert_eq!((report.entitlements, report.grants), (0, 0));
    let summary = connector.summary();
    assert_eq!(report.warnings, summary.warnings as u64);
    assert!(
        report
            .warning_messages
            .iter()
            .any(|w| w.contains("appears twice")),
        "{:?}",
        report.warning_messages
    );

    // The same organization listed directly gives exactly what the file holds.
    let again = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
    let (expected, _, _) = list_all(&again.connector(1000)).await;

    let reader = C1zReader::open(&output).expect("c1z opens");
    let run = reader
        .latest_finished_sync()
        .expect("sync runs")
        .expect("a finished sync");
    let types = reader.resource_types(&run.sync_id).expect("resource types");
    assert_eq!(types.len(), 1);
    assert_eq!(
        (types[0].id.as_str(), types[0].display_name.as_str()),
        ("user", "User")
    );
    assert_eq!(types[0].traits, vec![pb::resource_type::Trait::User as i32]);
    assert!(c1_model::annotations::has::<pb::SkipEntitlementsAndGrants>(
        &types[0].annotations
    ));
    let stored = reader
        .resources(&run.sync_id, Some("user"))
        .expect("resources");
    assert_eq!(stored, expected);
}
