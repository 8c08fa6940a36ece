//! The per-run lifecycle hooks: `begin_sync` after validate, `end_sync` exactly once, as soon as
//! the listings are done, and also when the run fails or is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use c1_model::pb;
use c1_sync::{
    Connector, ConnectorError, ConnectorMetadata, Page, ProgressEvent, ResourceSyncer, SyncEngine,
    SyncError, async_trait,
};

use crate::support::{Fault, MemConnector, MemSyncer, TestError, team, team_type, user, user_type};

type Log = Arc<Mutex<Vec<String>>>;

/// Wraps a connector, logging its lifecycle calls (and optionally failing `begin_sync`).
struct Tracked {
    inner: MemConnector,
    extra: Vec<Arc<dyn ResourceSyncer>>,
    log: Log,
    begin_fails: Option<Fault>,
}

#[async_trait]
impl Connector for Tracked {
    fn metadata(&self) -> ConnectorMetadata {
        self.inner.metadata()
    }

    async fn validate(&self) -> Result<(), ConnectorError> {
        self.inner.validate().await
    }

    fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>> {
        let mut syncers = self.inner.resource_syncers();
        syncers.extend(self.extra.iter().cloned());
        syncers
    }

    async fn begin_sync(&self) -> Result<(), ConnectorError> {
        self.log.lock().unwrap().push("begin".into());
        match self.begin_fails {
            Some(Fault::Transient) => Err(ConnectorError::transient(TestError("begin".into()))),
            Some(Fault::Permanent) => Err(ConnectorError::permanent(TestError("begin".into()))),
            None => Ok(()),
        }
    }

    fn end_sync(&self) {
        self.log.lock().unwrap().push("end".into());
    }
}

/// A syncer whose listing never answers.
struct Hangs;

#[async_trait]
impl ResourceSyncer for Hangs {
    fn resource_type(&self) -> pb::ResourceType {
        c1_model::ResourceTypeBuilder::new("slow", "Slow").build()
    }

    async fn list(
        &self,
        _parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        std::future::pending().await
    }
}

fn tracked(fail_listing: bool) -> (Tracked, Log) {
    let users = ["a", "b"].map(user).to_vec();
    let teams = [team("t1")];
    let mut team_syncer = MemSyncer::new(team_type()).resources(None, &teams, 1);
    if fail_listing {
        team_syncer = team_syncer.fail("grants:team:t1:", 1, Fault::Permanent);
    }
    let log = Log::default();
    let connector = Tracked {
        inner: MemConnector::new(vec![
            MemSyncer::new(user_type()).resources(None, &users, 1),
            team_syncer,
        ]),
        extra: Vec::new(),
        log: Arc::clone(&log),
        begin_fails: None,
    };
    (connector, log)
}

fn logging_engine(log: &Log) -> SyncEngine {
    let sink = Arc::clone(log);
    SyncEngine::default().with_progress(move |event| {
        if let ProgressEvent::PhaseStarted {
            phase,
            resource_type: None,
        } = event
        {
            sink.lock().unwrap().push(format!("phase {phase}"));
        }
    })
}

fn output() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    (dir, path)
}

#[tokio::test]
async fn the_run_state_lives_from_after_validate_to_the_end_of_the_listings() {
    let (connector, log) = tracked(false);
    let (_dir, path) = output();
    logging_engine(&log).run(&connector, &path).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "phase validate",
            "begin",
            "phase resource types",
            "phase resources",
            "phase entitlements",
            "phase grants",
            "end",
            "phase grant expansion",
            "phase save",
        ]
    );
}

#[tokio::test]
async fn a_failed_run_ends_its_state_once() {
    let (connector, log) = tracked(true);
    let (_dir, path) = output();
    let err = logging_engine(&log)
        .run(&connector, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Connector { .. }), "{err:?}");
    let log = log.lock().unwrap();
    assert_eq!(log.iter().filter(|l| *l == "begin").count(), 1);
    assert_eq!(log.iter().filter(|l| *l == "end").count(), 1);
    assert_eq!(log.last().map(String::as_str), Some("end"));
}

#[tokio::test]
async fn a_failed_begin_stops_before_any_listing_and_still_ends() {
    let (mut connector, log) = tracked(false);
    connector.begin_fails = Some(Fault::Permanent);
    let (_dir, path) = output();
    let err = logging_engine(&log)
        .run(&connector, &path)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::BeginSync { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.connector_error().is_some());
    assert_eq!(*log.lock().unwrap(), ["phase validate", "begin", "end"]);
    assert!(connector.inner.syncer("user").calls().is_empty());
    assert!(!path.exists());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_run_ends_its_state() {
    let (mut connector, log) = tracked(false);
    connector.extra.push(Arc::new(Hangs));
    let (_dir, path) = output();
    let engine = logging_engine(&log);
    let run = engine.run(&connector, &path);
    assert!(
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .is_err(),
        "the listing hangs"
    );
    let log = log.lock().unwrap();
    assert_eq!(log.iter().filter(|l| *l == "end").count(), 1);
    assert_eq!(log.last().map(String::as_str), Some("end"));
    assert!(!path.exists());
}
