//! Provisioning: derived capabilities, and the driver that looks objects up in a c1z and calls
//! the connector's provisioner once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use c1_model::{annotations, pb, resource_id};
use c1_sync::provision::{self, GrantOutcome, ProvisionError, Provisioner, Retry, RevokeOutcome};
use c1_sync::{
    C1zReader, Connector, ConnectorError, ConnectorMetadata, Page, ProvisioningError,
    ResourceSyncer, SyncEngine, async_trait, capabilities_json,
};
use serde_json::json;

use crate::expansion::access_model;
use crate::support::{project_type, team_type, user_type};

/// What the test provisioner answers next.
#[derive(Clone, Copy)]
enum Answer {
    Done,
    AlreadySo,
    Fails(Retry),
}

/// A syncer of `resource_type` that provisions, logging every call.
struct Provisioned {
    resource_type: pb::ResourceType,
    answer: Mutex<Answer>,
    grants: Mutex<Vec<(pb::Resource, pb::Entitlement)>>,
    revokes: Mutex<Vec<pb::Grant>>,
}

impl Provisioned {
    fn new(resource_type: pb::ResourceType) -> Self {
        Self {
            resource_type,
            answer: Mutex::new(Answer::Done),
            grants: Mutex::new(Vec::new()),
            revokes: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl ResourceSyncer for Provisioned {
    fn resource_type(&self) -> pb::ResourceType {
        self.resource_type.clone()
    }

    async fn list(
        &self,
        _parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        Ok(Page::last(Vec::new()))
    }

    fn provisioner(&self) -> Option<&dyn Provisioner> {
        Some(self)
    }
}

fn failure(retry: Retry) -> ProvisionError {
    ProvisionError::new(retry, "the system said no")
}

#[async_trait]
impl Provisioner for Provisioned {
    async fn grant(
        &self,
        principal: &pb::Resource,
        entitlement: &pb::Entitlement,
    ) -> Result<GrantOutcome, ProvisionError> {
        self.grants
            .lock()
            .unwrap()
            .push((principal.clone(), entitlement.clone()));
        match *self.answer.lock().unwrap() {
            Answer::Done => Ok(GrantOutcome::granted()),
            Answer::AlreadySo => Ok(GrantOutcome::AlreadyExists),
            Answer::Fails(retry) => Err(failure(retry)),
        }
    }

    async fn revoke(&self, grant: &pb::Grant) -> Result<RevokeOutcome, ProvisionError> {
        self.revokes.lock().unwrap().push(grant.clone());
        match *self.answer.lock().unwrap() {
            Answer::Done => Ok(RevokeOutcome::Revoked),
            Answer::AlreadySo => Ok(RevokeOutcome::AlreadyRevoked),
            Answer::Fails(retry) => Err(failure(retry)),
        }
    }
}

/// A plain (non-provisioning) syncer of a type.
struct Plain(pb::ResourceType);

#[async_trait]
impl ResourceSyncer for Plain {
    fn resource_type(&self) -> pb::ResourceType {
        self.0.clone()
    }

    async fn list(
        &self,
        _parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        Ok(Page::last(Vec::new()))
    }
}

/// Users and teams are synced only; projects provision.
struct Governed {
    projects: Arc<Provisioned>,
}

impl Governed {
    fn new() -> Self {
        Self {
            projects: Arc::new(Provisioned::new(project_type())),
        }
    }
}

#[async_trait]
impl Connector for Governed {
    fn metadata(&self) -> ConnectorMetadata {
        ConnectorMetadata::new("governed", "Governed", "0.0.1")
    }

    async fn validate(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>> {
        vec![
            Arc::new(Plain(user_type())),
            Arc::new(Plain(team_type())),
            Arc::clone(&self.projects) as Arc<dyn ResourceSyncer>,
        ]
    }
}

#[test]
fn provision_appears_on_exactly_the_provisioning_types() {
    let caps = capabilities_json(&Governed::new());
    let per_type: BTreeMap<String, serde_json::Value> = caps["resourceTypeCapabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resourceType"]["id"].as_str().unwrap().to_owned(),
                c["capabilities"].clone(),
            )
        })
        .collect();
    assert_eq!(
        per_type,
        BTreeMap::from([
            (
                "project".to_owned(),
                json!(["CAPABILITY_SYNC", "CAPABILITY_PROVISION"])
            ),
            ("team".to_owned(), json!(["CAPABILITY_SYNC"])),
            ("user".to_owned(), json!(["CAPABILITY_SYNC"])),
        ])
    );
    assert_eq!(
        caps["connectorCapabilities"],
        json!(["CAPABILITY_PROVISION", "CAPABILITY_SYNC"])
    );
}

/// The access model of the expansion tests, synced into a file.
async fn synced() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let report = SyncEngine::default()
        .run(&access_model(Vec::new()), &path)
        .await
        .unwrap();
    (dir, path, report.sync_id)
}

/// The file's bytes and the directory's entries, to show that nothing was written.
fn fingerprint(path: &Path) -> (Vec<u8>, Vec<String>) {
    let mut names: Vec<String> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (fs::read(path).unwrap(), names)
}

#[tokio::test]
async fn granting_hands_the_stored_objects_to_the_provisioner_once() {
    let (_dir, path, sync_id) = synced().await;
    let before = fingerprint(&path);
    let connector = Governed::new();
    let outcome = provision::grant(
        &connector,
        &path,
        "project:p2:Admin",
        &resource_id("user", "a"),
    )
    .await
    .unwrap();
    assert_eq!(outcome, GrantOutcome::granted());
    assert!(outcome.changed() && outcome.annotations().is_empty());

    let reader = C1zReader::open(&path).unwrap();
    let mut entitlement = reader
        .entitlement(&sync_id, "project:p2:Admin")
        .unwrap()
        .unwrap();
    entitlement.resource = reader
        .resource(&sync_id, &resource_id("project", "p2"))
        .unwrap();
    let user = reader
        .resource(&sync_id, &resource_id("user", "a"))
        .unwrap()
        .unwrap();
    assert_eq!(
        *connector.projects.grants.lock().unwrap(),
        [(user, entitlement)]
    );
    assert_eq!(fingerprint(&path), before, "the file is only read");

    *connector.projects.answer.lock().unwrap() = Answer::AlreadySo;
    let outcome = provision::grant(
        &connector,
        &path,
        "project:p2:Admin",
        &resource_id("user", "a"),
    )
    .await
    .unwrap();
    assert_eq!(outcome, GrantOutcome::AlreadyExists);
    assert!(!outcome.changed());
    assert_eq!(
        outcome.annotations(),
        [annotations::pack(&pb::GrantAlreadyExists {})]
    );
    assert_eq!(connector.projects.grants.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn revoking_a_direct_grant_sends_it_hydrated_without_expansion_state() {
    let (_dir, path, sync_id) = synced().await;
    let connector = Governed::new();
    // Carol's direct Deployer on p2 is also inherited, so it has sources; the structural grant
    // is expandable.
    for id in [
        "project:p2:Deployer:user:c",
        "project:p2:Deployer:project:p1",
    ] {
        let outcome = provision::revoke(&connector, &path, id).await.unwrap();
        assert_eq!(outcome, RevokeOutcome::Revoked);
    }
    *connector.projects.answer.lock().unwrap() = Answer::AlreadySo;
    let outcome = provision::revoke(&connector, &path, "project:p2:Deployer:user:c")
        .await
        .unwrap();
    assert_eq!(outcome, RevokeOutcome::AlreadyRevoked);
    assert_eq!(
        outcome.annotations(),
        [annotations::pack(&pb::GrantAlreadyRevoked {})]
    );

    let reader = C1zReader::open(&path).unwrap();
    let mut entitlement = reader
        .entitlement(&sync_id, "project:p2:Deployer")
        .unwrap()
        .unwrap();
    entitlement.resource = reader
        .resource(&sync_id, &resource_id("project", "p2"))
        .unwrap();
    let revokes = connector.projects.revokes.lock().unwrap();
    assert_eq!(revokes.len(), 3);
    assert_eq!(
        revokes[0],
        pb::Grant {
            id: "project:p2:Deployer:user:c".into(),
            entitlement: Some(entitlement.clone()),
            principal: reader
                .resource(&sync_id, &resource_id("user", "c"))
                .unwrap(),
            annotations: vec![],
            sources: None,
        }
    );
    assert_eq!(revokes[1].id, "project:p2:Deployer:project:p1");
    assert_eq!(revokes[1].entitlement.as_ref(), Some(&entitlement));
    assert!(
        revokes[1].annotations.is_empty(),
        "GrantExpandable is not passed on: {:?}",
        revokes[1].annotations
    );
}

#[tokio::test]
async fn an_expanded_grant_is_refused_naming_the_grant_it_comes_from() {
    let (_dir, path, _) = synced().await;
    let connector = Governed::new();
    let err = provision::revoke(&connector, &path, "project:p2:Deployer:user:a")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "grant project:p2:Deployer:user:a cannot be revoked: grant expansion made it; revoke \
         project:p1:Deployer:user:a instead"
    );
    assert!(matches!(err, ProvisioningError::Immutable { .. }));
    assert!(connector.projects.revokes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn missing_objects_and_types_without_a_provisioner_fail_before_any_call() {
    let (_dir, path, sync_id) = synced().await;
    let connector = Governed::new();
    let shown = |e: ProvisioningError| e.to_string().replace(&path.display().to_string(), "<file>");
    let err = provision::grant(
        &connector,
        &path,
        "project:p9:Admin",
        &resource_id("user", "a"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        shown(err),
        format!("<file>: entitlement project:p9:Admin is not in sync {sync_id}")
    );
    let err = provision::grant(
        &connector,
        &path,
        "project:p1:Admin",
        &resource_id("user", "zed"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        shown(err),
        format!("<file>: principal user:zed is not in sync {sync_id}")
    );
    let err = provision::revoke(&connector, &path, "project:p1:Admin:user:zed")
        .await
        .unwrap_err();
    assert_eq!(
        shown(err),
        format!("<file>: grant project:p1:Admin:user:zed is not in sync {sync_id}")
    );
    let err = provision::grant(
        &connector,
        &path,
        "team:t1:member",
        &resource_id("user", "b"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource type team does not have a provisioner"
    );
    assert!(connector.projects.grants.lock().unwrap().is_empty());
    assert!(connector.projects.revokes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_call_is_made_once_and_says_whether_a_retry_is_safe() {
    let (_dir, path, _) = synced().await;
    for (retry, safe) in [
        (Retry::Safe, true),
        (Retry::Pointless, true),
        (Retry::Unsafe, false),
    ] {
        let connector = Governed::new();
        *connector.projects.answer.lock().unwrap() = Answer::Fails(retry);
        let err = provision::grant(
            &connector,
            &path,
            "project:p1:Deployer",
            &resource_id("user", "b"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "granting project:p1:Deployer to user:b failed"
        );
        let cause = err.provision_error().unwrap();
        assert_eq!((cause.retry(), cause.is_retry_safe()), (retry, safe));
        assert_eq!(cause.to_string(), "the system said no");
        assert_eq!(
            connector.projects.grants.lock().unwrap().len(),
            1,
            "no retries"
        );
    }
}

/// Runs `sql` on the database inside the c1z at `path` and writes the file back.
fn edit_c1z(path: &Path, sql: &str) {
    let bytes = fs::read(path).unwrap();
    let db = zstd::decode_all(bytes.strip_prefix(b"C1ZF\0").unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("db");
    fs::write(&db_path, db).unwrap();
    rusqlite::Connection::open(&db_path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    let mut out = b"C1ZF\0".to_vec();
    out.extend(zstd::encode_all(fs::read(&db_path).unwrap().as_slice(), 1).unwrap());
    fs::write(path, out).unwrap();
}

#[tokio::test]
async fn a_file_whose_only_sync_is_unfinished_is_looked_up_in_that_sync() {
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat/baton-sdk-expansion-before.c1z");
    let unfinished = C1zReader::open(&sdk)
        .unwrap()
        .latest_sync_of_any_type()
        .unwrap()
        .unwrap();
    assert!(!unfinished.is_finished());
    let err = provision::revoke(&Governed::new(), &sdk, "anything")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: grant anything is not in sync {}",
            sdk.display(),
            unfinished.sync_id
        )
    );
}

/// As in the SDK, ids are looked up in the latest finished sync whatever its type: here a
/// partial sync newer than the full one, with the same resources and entitlements but one grant
/// only.
#[tokio::test]
async fn the_latest_finished_sync_of_any_type_is_looked_up_in() {
    let (_dir, path, full) = synced().await;
    edit_c1z(
        &path,
        &format!(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) \
             values ('partial1', '2999-01-01 00:00:00', '2999-01-01 00:00:01', '', 'partial');
             insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, \
             parent_resource_id, data, sync_id, discovered_at) select resource_type_id, \
             external_id, parent_resource_type_id, parent_resource_id, data, 'partial1', \
             discovered_at from v1_resources where sync_id = '{full}';
             insert into v1_entitlements (resource_type_id, resource_id, external_id, data, \
             sync_id, discovered_at) select resource_type_id, resource_id, external_id, data, \
             'partial1', discovered_at from v1_entitlements where sync_id = '{full}';
             insert into v1_grants (resource_type_id, resource_id, entitlement_id, \
             principal_resource_type_id, principal_resource_id, external_id, data, sync_id, \
             discovered_at) select resource_type_id, resource_id, entitlement_id, \
             principal_resource_type_id, principal_resource_id, external_id, data, 'partial1', \
             discovered_at from v1_grants where sync_id = '{full}' and \
             external_id = 'project:p1:Deployer:team:t1';"
        ),
    );
    let connector = Governed::new();
    let err = provision::revoke(&connector, &path, "project:p1:Deployer:user:a")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("grant project:p1:Deployer:user:a is not in sync partial1"),
        "{err}"
    );
    // What the partial sync holds is found there.
    provision::revoke(&connector, &path, "project:p1:Deployer:team:t1")
        .await
        .unwrap();
    assert_eq!(connector.projects.revokes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_file_without_any_sync_cannot_be_provisioned_from() {
    let (_dir, path, _) = synced().await;
    edit_c1z(&path, "delete from v1_sync_runs;");
    let err = provision::revoke(&Governed::new(), &path, "anything")
        .await
        .unwrap_err();
    assert!(matches!(err, ProvisioningError::NoSync { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("holds no sync; run a sync into it first")
    );
}

#[test]
fn an_expanded_grant_from_several_grants_names_each_to_revoke() {
    let err = ProvisioningError::Immutable {
        grant: "g".into(),
        reason: "grant expansion made it".into(),
        from: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        err.to_string(),
        "grant g cannot be revoked: grant expansion made it; revoke each of a and b instead"
    );
}

#[tokio::test]
async fn an_entitlement_stored_with_a_bare_resource_is_sent_with_the_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slim.c1z");
    let project = c1_model::ResourceBuilder::new("project", "p1", "Payments")
        .description("card payments")
        .build();
    let user = c1_model::UserBuilder::new("user", "a", "Alice").build();
    let mut admin = c1_model::entitlement::assignment(&project, "Admin");
    admin.resource = Some(pb::Resource {
        id: project.id.clone(),
        ..Default::default()
    });
    let mut w = c1_sync::C1zWriter::open(&path).unwrap();
    w.put_resource_types(&[user_type(), project_type()])
        .unwrap();
    w.put_resources(&[user.clone(), project.clone()]).unwrap();
    w.put_entitlements(std::slice::from_ref(&admin)).unwrap();
    w.finish().unwrap();

    let connector = Governed::new();
    provision::grant(
        &connector,
        &path,
        "project:p1:Admin",
        &resource_id("user", "a"),
    )
    .await
    .unwrap();
    let calls = connector.projects.grants.lock().unwrap();
    let (principal, entitlement) = &calls[0];
    assert_eq!(principal, &user);
    assert_eq!(entitlement.resource.as_ref(), Some(&project));
    assert_eq!(entitlement.display_name, "Admin");
}
