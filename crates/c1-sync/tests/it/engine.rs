//! The sync engine against the in-memory connector of `support`.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use c1_model::{ResourceBuilder, ResourceTypeBuilder, annotations, pb, resource_id};
use c1_sync::{
    Connector, Page, Phase, ProgressEvent, SyncEngine, SyncError, SyncOptions, capabilities_json,
    capabilities_json_pretty,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

use crate::support::{
    Fault, MemConnector, MemSyncer, Meter, Rows, TestError, engine, env, env_type, fast_options,
    grant, key, project, project_type, team, team_type, user, user_type,
};

/// A small org: 5 users (3 pages), 2 teams with `member`/`admin` entitlements and grants,
/// 2 projects whose environments are child resources (project p2 opts out of entitlements and
/// grants), and environments under each project.
fn org() -> MemConnector {
    let users: Vec<pb::Resource> = ["u1", "u2", "u3", "u4", "u5"].map(user).to_vec();
    let teams = [team("t1"), team("t2")];
    let mut p2 = project("p2");
    annotations::set(&mut p2.annotations, &pb::SkipEntitlementsAndGrants {});
    let projects = [project("p1"), p2];

    let member = |t: &pb::Resource| c1_model::entitlement::assignment(t, "member");
    let admin = |t: &pb::Resource| c1_model::entitlement::permission(t, "admin");
    let viewer = c1_model::entitlement::permission(&projects[0], "viewer");

    let t1_grants = [
        grant(&member(&teams[0]), &users[0]),
        grant(&member(&teams[0]), &users[1]),
        grant(&member(&teams[0]), &users[2]),
        grant(&admin(&teams[0]), &users[0]),
    ];
    let t2_grants = [
        grant(&member(&teams[1]), &users[3]),
        grant(&member(&teams[1]), &users[4]),
    ];

    MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &users, 2),
        MemSyncer::new(team_type())
            .resources(None, &teams, 1)
            .entitlements(
                teams[0].id.as_ref().unwrap(),
                &[member(&teams[0]), admin(&teams[0])],
                1,
            )
            .entitlements(
                teams[1].id.as_ref().unwrap(),
                &[member(&teams[1]), admin(&teams[1])],
                5,
            )
            .grants(teams[0].id.as_ref().unwrap(), &t1_grants, 3)
            .grants(teams[1].id.as_ref().unwrap(), &t2_grants, 5),
        MemSyncer::new(project_type())
            .resources(None, &projects, 5)
            .entitlements(
                projects[0].id.as_ref().unwrap(),
                std::slice::from_ref(&viewer),
                5,
            )
            .grants(
                projects[0].id.as_ref().unwrap(),
                &[grant(&viewer, &users[0])],
                5,
            ),
        MemSyncer::new(env_type())
            .resources(projects[0].id.as_ref(), &[env("e1"), env("e2")], 1)
            .resources(projects[1].id.as_ref(), &[env("e3")], 1),
    ])
}

fn output() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    (dir, path)
}

fn phase_starts(events: &[ProgressEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::PhaseStarted {
                phase,
                resource_type,
            } => Some(format!(
                "{phase}{}",
                resource_type
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default()
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn full_sync_writes_everything_in_order_and_reads_back() {
    let connector = org();
    let (_dir, path) = output();
    let (engine, events) = engine(SyncOptions::default(), None);
    let report = engine.run(&connector, &path).await.unwrap();

    let rows = Rows::read(&path, &report.sync_id);
    let type_ids: Vec<&str> = rows.resource_types.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(type_ids, ["user", "team", "project", "env"]);
    assert_eq!(
        rows.resource_keys(),
        [
            "user:u1",
            "user:u2",
            "user:u3",
            "user:u4",
            "user:u5",
            "team:t1",
            "team:t2",
            "project:p1",
            "project:p2",
            "env:e1",
            "env:e2",
            "env:e3",
        ]
    );
    // Child resources carry the parent they were listed under.
    let parents: Vec<Option<String>> = rows.resources[9..]
        .iter()
        .map(|r| r.parent_resource_id.as_ref().map(key))
        .collect();
    assert_eq!(
        parents,
        [
            Some("project:p1".to_owned()),
            Some("project:p1".to_owned()),
            Some("project:p2".to_owned())
        ]
    );
    assert_eq!(
        rows.entitlement_ids(),
        [
            "team:t1:member",
            "team:t1:admin",
            "team:t2:member",
            "team:t2:admin",
            "project:p1:viewer"
        ]
    );
    assert_eq!(
        rows.grant_ids(),
        [
            "team:t1:member:user:u1",
            "team:t1:member:user:u2",
            "team:t1:member:user:u3",
            "team:t1:admin:user:u1",
            "team:t2:member:user:u4",
            "team:t2:member:user:u5",
            "project:p1:viewer:user:u1",
        ]
    );

    // Skips: users and environments by type, project p2 by its own annotation.
    let project_calls = connector.syncer("project").calls();
    assert!(project_calls.contains(&"entitlements:project:p1:".to_owned()));
    assert!(
        !project_calls.iter().any(|c| c.contains("project:p2")),
        "{project_calls:?}"
    );
    assert!(
        connector
            .syncer("user")
            .calls()
            .iter()
            .all(|c| c.starts_with("list:"))
    );
    let mut env_calls = connector.syncer("env").calls();
    env_calls.sort();
    assert_eq!(
        env_calls,
        [
            "list:-:",
            "list:project:p1:",
            "list:project:p1:page-1",
            "list:project:p2:"
        ]
    );

    assert_eq!(report.connector, "memory");
    assert_eq!(report.output, path);
    assert_eq!(report.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(
        (
            report.resource_types,
            report.resources,
            report.entitlements,
            report.grants
        ),
        (4, 12, 5, 7)
    );
    assert_eq!(
        report
            .resources_by_type
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("env", 3), ("project", 2), ("team", 2), ("user", 5)]
    );
    assert_eq!((report.items, report.warnings, report.retries), (28, 0, 0));
    assert!(report.warning_messages.is_empty());

    let events = events.all();
    assert_eq!(
        phase_starts(&events),
        [
            "validate",
            "resource types",
            "resources",
            "resources user",
            "resources team",
            "resources project",
            "resources env",
            "entitlements",
            "entitlements team",
            "entitlements project",
            "grants",
            "grants team",
            "grants project",
            "grant expansion",
            "save",
        ]
    );
    let user_pages: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::PageDone {
                phase: Phase::Resources,
                resource_type,
                items,
                totals,
                ..
            } if resource_type == "user" => Some((*items, totals.resources)),
            _ => None,
        })
        .collect();
    assert_eq!(user_pages, [(2, 2), (2, 4), (1, 5)]);
    let Some(ProgressEvent::Finished {
        sync_id, totals, ..
    }) = events.last()
    else {
        panic!("last event is not Finished: {:?}", events.last());
    };
    assert_eq!(sync_id, &report.sync_id);
    assert_eq!(
        (
            totals.resources,
            totals.entitlements,
            totals.grants,
            totals.warnings
        ),
        (12, 5, 7, 0)
    );
}

#[tokio::test]
async fn report_serializes_to_json() {
    let (_dir, path) = output();
    let report = SyncEngine::default().run(&org(), &path).await.unwrap();
    insta::assert_json_snapshot!(report, {
        ".sync_id" => "[sync_id]",
        ".output" => "[output]",
        ".bytes" => "[bytes]",
        ".duration_ms" => "[duration_ms]",
    });
}

#[tokio::test(start_paused = true)]
async fn transient_failure_is_retried_with_backoff() {
    let users: Vec<pb::Resource> = ["a", "b", "c"].map(user).to_vec();
    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &users, 2).fail(
            "list:-:page-1",
            2,
            Fault::Transient,
        ),
    ]);
    let (_dir, path) = output();
    let (engine, events) = engine(
        SyncOptions::default().with_retry_base_delay(Duration::from_secs(1)),
        None,
    );
    let report = engine.run(&connector, &path).await.unwrap();

    assert_eq!(report.retries, 2);
    assert_eq!(report.resources, 3);
    assert_eq!(
        connector.syncer("user").calls(),
        ["list:-:", "list:-:page-1", "list:-:page-1", "list:-:page-1"]
    );
    let retries: Vec<ProgressEvent> = events
        .all()
        .into_iter()
        .filter(|e| matches!(e, ProgressEvent::Retry { .. }))
        .collect();
    let retry = |attempt, secs| ProgressEvent::Retry {
        phase: Phase::Resources,
        resource_type: Some("user".to_owned()),
        attempt,
        wait: Duration::from_secs(secs),
        error: "test failure on list:-:page-1".to_owned(),
    };
    assert_eq!(retries, [retry(1, 1), retry(2, 2)]);
    assert_eq!(
        Rows::read(&path, &report.sync_id).resource_keys(),
        ["user:a", "user:b", "user:c"]
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_from_the_connector_raises_the_wait() {
    /// Lists user `a`, an empty page, then asks to wait 7 s once before listing user `b`.
    struct Slow {
        failed: AtomicBool,
    }
    #[c1_sync::async_trait]
    impl c1_sync::ResourceSyncer for Slow {
        fn resource_type(&self) -> pb::ResourceType {
            user_type()
        }
        async fn list(
            &self,
            _: Option<&pb::ResourceId>,
            token: &str,
        ) -> Result<Page<pb::Resource>, c1_sync::ConnectorError> {
            match token {
                "" => Ok(Page::next(vec![user("a")], "again")),
                "again" => Ok(Page::next(vec![], "later")),
                _ if self.failed.swap(true, Ordering::SeqCst) => Ok(Page::last(vec![user("b")])),
                _ => Err(c1_sync::ConnectorError::transient("rate limited")
                    .with_retry_after(Duration::from_secs(7))),
            }
        }
    }
    struct OneSyncer;
    #[c1_sync::async_trait]
    impl Connector for OneSyncer {
        fn metadata(&self) -> c1_sync::ConnectorMetadata {
            c1_sync::ConnectorMetadata::new("slow", "Slow", "0")
        }
        async fn validate(&self) -> Result<(), c1_sync::ConnectorError> {
            Ok(())
        }
        fn resource_syncers(&self) -> Vec<Arc<dyn c1_sync::ResourceSyncer>> {
            vec![Arc::new(Slow {
                failed: AtomicBool::new(false),
            })]
        }
    }
    let (_dir, path) = output();
    let (engine, events) = engine(SyncOptions::default(), None);
    let report = engine.run(&OneSyncer, &path).await.unwrap();
    assert_eq!((report.resources, report.retries), (2, 1));
    let waits: Vec<Duration> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Retry { wait, .. } => Some(*wait),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [Duration::from_secs(7)]);
}

#[tokio::test]
async fn transient_failures_past_max_attempts_fail_the_sync() {
    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &[user("a")], 1),
        MemSyncer::new(team_type())
            .resources(None, &[team("t")], 1)
            .fail("entitlements:team:t:", 99, Fault::Transient),
    ]);
    let (_dir, path) = output();
    let (engine, events) = engine(fast_options().with_max_attempts(3), None);
    let err = engine.run(&connector, &path).await.unwrap_err();

    let SyncError::Connector {
        phase,
        resource_type,
        attempts,
        source,
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(
        (*phase, resource_type.as_str(), *attempts),
        (Phase::Entitlements, "team", 3)
    );
    assert!(source.is_transient());
    assert_eq!(
        err.to_string(),
        "listing entitlements of resource type `team` failed after 3 attempt(s)"
    );
    assert_eq!(
        err.connector_error()
            .and_then(|e| e.downcast_ref::<TestError>()),
        Some(&TestError("entitlements:team:t:".to_owned()))
    );
    let attempts: Vec<u32> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Retry { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2]);
    assert!(!path.exists());
}

#[tokio::test]
async fn permanent_failure_leaves_the_previous_file_byte_identical() {
    let (dir, path) = output();
    SyncEngine::new(fast_options())
        .run(&org(), &path)
        .await
        .unwrap();
    let before = fs::read(&path).unwrap();

    let failing = MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &[user("a")], 1),
        MemSyncer::new(team_type())
            .resources(None, &[team("t")], 1)
            .fail("grants:team:t:", 1, Fault::Permanent),
    ]);
    let (engine, events) = engine(fast_options(), None);
    let err = engine.run(&failing, &path).await.unwrap_err();

    assert!(
        matches!(&err, SyncError::Connector { phase: Phase::Grants, attempts: 1, source, .. } if !source.is_transient()),
        "{err:?}"
    );
    assert_eq!(
        failing
            .syncer("team")
            .calls()
            .iter()
            .filter(|c| c.starts_with("grants:"))
            .count(),
        1
    );
    assert!(
        !events
            .all()
            .iter()
            .any(|e| matches!(e, ProgressEvent::Retry { .. }))
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["sync.c1z", "sync.c1z.lock"],
        "no temporary files left behind (the lock file stays)"
    );
}

#[tokio::test]
async fn validation_failure_stops_before_listing() {
    let connector = org().fail_validate(&[Fault::Permanent]);
    let (_dir, path) = output();
    let err = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Validate { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "connector validation failed after 1 attempt(s)"
    );
    assert!(
        err.connector_error()
            .unwrap()
            .downcast_ref::<TestError>()
            .is_some()
    );
    assert!(connector.syncer("user").calls().is_empty());
    assert!(!path.exists());

    let connector = org().fail_validate(&[Fault::Transient, Fault::Transient]);
    let report = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap();
    assert_eq!((connector.validate_calls(), report.retries), (3, 2));
}

#[tokio::test]
async fn invalid_items_are_skipped_counted_and_reported() {
    let mut wrong_type = user("x");
    wrong_type.id = Some(resource_id("team", "x"));
    let no_trait = ResourceBuilder::new("user", "plain", "Plain").build();
    let mut empty_id = user("e");
    empty_id.id = Some(resource_id("user", ""));
    let too_long = user(&"l".repeat(1025));
    let good = [user("a"), user("b")];
    let mut first_page = Page::next(
        vec![good[0].clone(), wrong_type, no_trait, empty_id],
        "page-1",
    );
    first_page.warnings.push("user 17 has no email".to_owned());
    let second_page = Page::next(vec![good[1].clone(), good[0].clone(), too_long], "page-2");
    // Enough valid items to stay under the warning ratio.
    let filler: Vec<pb::Resource> = (0..150).map(|i| user(&format!("f{i:03}"))).collect();
    let third_page = Page::last(filler);

    let t = team("t");
    let member = c1_model::entitlement::assignment(&t, "member");
    let orphan = c1_model::entitlement::assignment(&team("ghost"), "member");
    let mut nameless = member.clone();
    nameless.id = String::new();
    let ghost_principal = resource_id("user", "ghost");
    let grants = [
        grant(&member, &good[0]),
        c1_model::grant::new(&member, &ghost_principal),
        grant(&orphan, &good[1]),
        pb::Grant {
            principal: None,
            ..grant(&member, &good[1])
        },
    ];

    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resource_pages(None, vec![first_page, second_page, third_page]),
        MemSyncer::new(team_type())
            .resources(None, std::slice::from_ref(&t), 1)
            .entitlements(
                t.id.as_ref().unwrap(),
                &[member.clone(), orphan.clone(), nameless, member.clone()],
                10,
            )
            .grants(t.id.as_ref().unwrap(), &grants, 10),
    ]);
    let (_dir, path) = output();
    let (engine, events) = engine(fast_options(), None);
    let report = engine.run(&connector, &path).await.unwrap();

    let rows = Rows::read(&path, &report.sync_id);
    let keys = rows.resource_keys();
    assert_eq!(keys[..3], ["user:a", "user:b", "user:f000"]);
    assert_eq!(keys[152..], ["team:t"]);
    assert_eq!(keys.len(), 153);
    assert_eq!(rows.entitlement_ids(), ["team:t:member"]);
    assert_eq!(rows.grant_ids(), ["team:t:member:user:a"]);

    let l80 = "l".repeat(80);
    let expected = [
        "resources of `user`: user 17 has no email".to_owned(),
        "resources of `user`: resource `team:x` has resource type `team` but was listed by the syncer of `user`; skipped".to_owned(),
        "resources of `user`: resource `user:plain` lacks the UserTrait annotation that its type's TRAIT_USER requires; skipped".to_owned(),
        "resources of `user`: resource `user:`: resource id's resource is empty; skipped".to_owned(),
        "resources of `user`: resource `user:a` was listed twice; the second copy is skipped".to_owned(),
        format!("resources of `user`: resource `user:{l80}…`: resource id's resource `{l80}…` is longer than 1024 bytes; skipped"),
        "entitlements of `team`: entitlement `team:ghost:member` belongs to resource `team:ghost`, which was not listed in this sync; skipped".to_owned(),
        "entitlements of `team`: entitlement id is empty; skipped".to_owned(),
        "entitlements of `team`: entitlement `team:t:member` was listed twice; the second copy is skipped".to_owned(),
        "grants of `team`: grant `team:t:member:user:ghost`: principal `user:ghost` was not listed in this sync; skipped".to_owned(),
        "grants of `team`: grant `team:ghost:member:user:b`: entitlement `team:ghost:member` was not listed in this sync; skipped".to_owned(),
        "grants of `team`: grant `team:t:member:user:b`: principal id is missing; skipped".to_owned(),
    ];
    assert_eq!(report.warning_messages, expected);
    assert_eq!(report.warnings, 12);
    // 2 types + 157 users + 1 team + 4 entitlements + 4 grants
    assert_eq!(report.items, 168);
    let warning_events: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warning_events, expected);
    let skipped: Vec<u64> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::PageDone { skipped, .. } => Some(*skipped),
            _ => None,
        })
        .collect();
    // user pages, team page, team entitlements, team grants
    assert_eq!(skipped, [3, 2, 0, 0, 3, 3]);
}

/// A connector with one user type: `valid` good users, then `invalid` users without a user trait.
fn users_with_invalid(valid: usize, invalid: usize) -> MemConnector {
    let mut users: Vec<pb::Resource> = (0..valid).map(|i| user(&format!("u{i}"))).collect();
    users.extend(
        (0..invalid).map(|i| ResourceBuilder::new("user", &format!("bad{i}"), "no trait").build()),
    );
    MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, &users, 25),
    ])
}

#[tokio::test]
async fn warning_threshold_is_more_than_ten_and_more_than_ten_percent() {
    let (_dir, path) = output();

    // Ten warnings never fail a sync, even when most items are bad.
    let report = SyncEngine::new(fast_options())
        .run(&users_with_invalid(1, 10), &path)
        .await
        .unwrap();
    assert_eq!(
        (report.warnings, report.items, report.resources),
        (10, 12, 1)
    );

    // Just under: 11 warnings for 110 items (1 type + 109 resources) is exactly 10 %.
    let report = SyncEngine::new(fast_options())
        .run(&users_with_invalid(98, 11), &path)
        .await
        .unwrap();
    assert_eq!(
        (report.warnings, report.items, report.resources),
        (11, 110, 98)
    );
    let written = fs::read(&path).unwrap();

    // Just over: 11 warnings for 109 items.
    let err = SyncEngine::new(fast_options())
        .run(&users_with_invalid(97, 11), &path)
        .await
        .unwrap_err();
    let SyncError::TooManyWarnings {
        warnings,
        items,
        first,
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!((*warnings, *items), (11, 109));
    assert_eq!(
        first,
        "resources of `user`: resource `user:bad0` lacks the UserTrait annotation that its type's TRAIT_USER requires; skipped"
    );
    assert!(
        err.to_string()
            .starts_with("too many warnings: 11 warnings for 109 items"),
        "{err}"
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        written,
        "a failed sync leaves the file alone"
    );
}

/// Expected warnings are reported and counted like warnings, but never fail a sync by
/// themselves: 30 of them on 4 items pass, while 11 plain ones on 4 items fail.
#[tokio::test]
async fn expected_warnings_are_reported_but_never_fail_a_sync() {
    let (_dir, path) = output();
    let users: Vec<pb::Resource> = (0..3).map(|i| user(&format!("u{i}"))).collect();
    let mut page = Page::last(users.clone());
    for i in 0..30 {
        page = page.with_expected_warning(format!("assignment {i} names a member who left"));
    }
    let page = page.with_warning("a plain warning");
    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resource_pages(None, vec![page]),
    ]);
    let report = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap();
    assert_eq!((report.warnings, report.items), (31, 4));
    assert_eq!(
        report.warning_messages[..2],
        [
            "resources of `user`: a plain warning",
            "resources of `user`: assignment 0 names a member who left"
        ]
    );

    let mut page = Page::last(users);
    for i in 0..11 {
        page = page.with_warning(format!("plain {i}"));
    }
    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resource_pages(None, vec![page]),
    ]);
    let err = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::TooManyWarnings { warnings: 11, .. }),
        "{err}"
    );
}

/// A seeded random org large enough for concurrency to reorder call completions.
fn random_org(seed: u64, meter: Option<&Arc<Meter>>) -> MemConnector {
    let mut rng = StdRng::seed_from_u64(seed);
    let users: Vec<pb::Resource> = (0..300).map(|i| user(&format!("u{i:03}"))).collect();
    let teams: Vec<pb::Resource> = (0..40).map(|i| team(&format!("t{i:02}"))).collect();
    let projects: Vec<pb::Resource> = (0..12).map(|i| project(&format!("p{i:02}"))).collect();

    let with_meter = |s: MemSyncer| match meter {
        Some(m) => s.meter(m),
        None => s,
    };
    let page_size = rng.random_range(7..20);
    let users_syncer = with_meter(
        MemSyncer::new(user_type())
            .resources(None, &users, page_size)
            .latency(seed),
    );
    let mut teams_syncer = MemSyncer::new(team_type())
        .resources(None, &teams, 3)
        .latency(seed + 1);
    for t in &teams {
        let entitlements = [
            c1_model::entitlement::assignment(t, "member"),
            c1_model::entitlement::permission(t, "admin"),
        ];
        let mut grants = Vec::new();
        for u in &users {
            if rng.random_bool(0.1) {
                grants.push(grant(&entitlements[rng.random_range(0..2)], u));
            }
        }
        let id = t.id.as_ref().unwrap();
        teams_syncer = teams_syncer.entitlements(id, &entitlements, 1).grants(
            id,
            &grants,
            rng.random_range(1..8),
        );
    }
    let mut projects_syncer = MemSyncer::new(project_type())
        .resources(None, &projects, 5)
        .latency(seed + 2);
    let mut envs_syncer = MemSyncer::new(env_type()).latency(seed + 3);
    for p in &projects {
        let id = p.id.as_ref().unwrap();
        let env_count = rng.random_range(0..6);
        let envs: Vec<pb::Resource> = (0..env_count)
            .map(|i| env(&format!("{}-e{i}", id.resource)))
            .collect();
        envs_syncer = envs_syncer.resources(Some(id), &envs, 2);
        let viewer = c1_model::entitlement::permission(p, "viewer");
        let viewers = rng.random_range(0..30);
        let grants: Vec<pb::Grant> = users
            .iter()
            .take(viewers)
            .map(|u| grant(&viewer, u))
            .collect();
        projects_syncer = projects_syncer
            .entitlements(id, std::slice::from_ref(&viewer), 1)
            .grants(id, &grants, 4);
    }
    MemConnector::new(vec![
        users_syncer,
        with_meter(teams_syncer),
        with_meter(projects_syncer),
        with_meter(envs_syncer),
    ])
}

#[tokio::test(start_paused = true)]
async fn output_is_identical_for_one_and_eight_workers() {
    let mut results = Vec::new();
    for workers in [1, 8] {
        let connector = random_org(42, None);
        let (dir, path) = output();
        let (engine, events) = engine(SyncOptions::default().with_workers(workers), None);
        let report = engine.run(&connector, &path).await.unwrap();
        let rows = Rows::read(&path, &report.sync_id);
        assert_eq!(report.resources, rows.resources.len() as u64);
        assert_eq!(report.grants, rows.grants.len() as u64);
        assert_eq!(report.warnings, 0);
        results.push((
            rows,
            events.deterministic(),
            report.resources_by_type.clone(),
        ));
        drop(dir);
    }
    let (eight, one) = (results.pop().unwrap(), results.pop().unwrap());
    assert!(
        one.0.resources.len() >= 352 && one.0.grants.len() > 100,
        "the org is big enough to matter"
    );
    assert_eq!(one.0, eight.0, "rows differ between 1 and 8 workers");
    assert_eq!(
        one.1, eight.1,
        "progress events differ between 1 and 8 workers"
    );
    assert_eq!(one.2, eight.2);
}

#[tokio::test(start_paused = true)]
async fn concurrency_and_buffered_pages_stay_bounded() {
    let workers = 4;
    let meter = Arc::new(Meter::default());
    let connector = random_org(7, Some(&meter));
    let (_dir, path) = output();
    let (engine, _events) = engine(
        SyncOptions::default().with_workers(workers),
        Some(Arc::clone(&meter)),
    );
    engine.run(&connector, &path).await.unwrap();

    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::SeqCst);
    assert_eq!(
        load(&meter.max_in_flight),
        workers as u64,
        "listing calls in flight reach but never exceed `workers`"
    );
    assert!(load(&meter.pages_returned) > 100);
    let bound = 2 * (workers as u64 + 2);
    let max_unwritten = load(&meter.max_unwritten);
    assert!(
        max_unwritten <= bound,
        "{max_unwritten} pages fetched but not yet written (bound {bound})"
    );
}

#[tokio::test]
async fn the_run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let connector = org();
    let (_dir, path) = output();
    let engine = SyncEngine::default();
    let run = engine.run(&connector, &path);
    assert_send(&run);
    assert_eq!(run.await.unwrap().resources, 12);
}

#[tokio::test]
async fn unknown_child_type_and_duplicate_resource_type_are_warnings() {
    let mut parent = team("t");
    annotations::set(
        &mut parent.annotations,
        &pb::ChildResourceType {
            resource_type_id: "nope".to_owned(),
        },
    );
    let connector = MemConnector::new(vec![
        MemSyncer::new(team_type()).resources(None, &[parent], 1),
        MemSyncer::new(team_type()).resources(None, &[team("other")], 1),
    ]);
    let (_dir, path) = output();
    let report = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap();
    assert_eq!(
        report.warning_messages,
        [
            "resource types of `team`: resource type `team` is declared twice; the second syncer is skipped",
            "resources of `team`: resource `team:t` names child resource type `nope`, which no syncer lists",
        ]
    );
    assert_eq!((report.resource_types, report.resources), (1, 1));
}

#[test]
fn capabilities_follow_batons_format() {
    let mut with_link = project_type();
    annotations::set(
        &mut with_link.annotations,
        &pb::ExternalLink {
            url: "https://example.com/p".to_owned(),
        },
    );
    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()),
        MemSyncer::new(team_type()),
        MemSyncer::new(with_link),
        MemSyncer::new(env_type()),
    ]);
    let pretty = capabilities_json_pretty(&connector);
    insta::assert_snapshot!(pretty);
    let value: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(value, capabilities_json(&connector));
}

/// `c1.connector.v2` ids hold 1 to 1024 bytes: a resource type, resource, entitlement or grant
/// whose id is empty or longer is skipped with a warning; 1024 bytes exactly is fine.
#[tokio::test]
async fn ids_outside_one_to_1024_bytes_skip_their_item() {
    let max = "m".repeat(1024);
    let over = "o".repeat(1025);
    let o80 = "o".repeat(80);
    let t = team("t");
    let mut no_type = team("x");
    no_type.id = Some(resource_id("", "x"));
    let member = c1_model::entitlement::assignment(&t, "member");
    let with_id = |id: &str| pb::Entitlement {
        id: id.to_owned(),
        ..member.clone()
    };
    let granted = |id: &str| pb::Grant {
        id: id.to_owned(),
        ..grant(&member, &t)
    };
    let connector = MemConnector::new(vec![
        MemSyncer::new(ResourceTypeBuilder::new("", "Nameless").build()),
        MemSyncer::new(ResourceTypeBuilder::new(over.clone(), "Too long").build()),
        MemSyncer::new(
            ResourceTypeBuilder::new(max.clone(), "Longest")
                .annotation(&pb::SkipEntitlementsAndGrants {})
                .build(),
        )
        .resources(None, &[ResourceBuilder::new(&max, &max, "L").build()], 5),
        MemSyncer::new(team_type())
            .resources(
                None,
                &[
                    t.clone(),
                    no_type,
                    team(&over),
                    ResourceBuilder::new("team", &max, "M").build_group(),
                ],
                5,
            )
            .entitlements(
                t.id.as_ref().unwrap(),
                &[member.clone(), with_id(""), with_id(&over), with_id(&max)],
                5,
            )
            .grants(
                t.id.as_ref().unwrap(),
                &[granted(""), granted(&over), granted(&max)],
                5,
            ),
    ]);
    let (_dir, path) = output();
    let report = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap();
    let m80 = "m".repeat(80);
    assert_eq!(
        report.warning_messages,
        [
            "resource types: resource type id is empty; its syncer is skipped".to_owned(),
            format!(
                "resource types: resource type id `{o80}…` is longer than 1024 bytes; its syncer is skipped"
            ),
            "resources of `team`: resource `:x`: resource id's resource type is empty; skipped"
                .to_owned(),
            format!(
                "resources of `team`: resource `team:{o80}…`: resource id's resource `{o80}…` is longer than 1024 bytes; skipped"
            ),
            "entitlements of `team`: entitlement id is empty; skipped".to_owned(),
            format!(
                "entitlements of `team`: entitlement id `{o80}…` is longer than 1024 bytes; skipped"
            ),
            "grants of `team`: grant id is empty; skipped".to_owned(),
            format!("grants of `team`: grant id `{o80}…` is longer than 1024 bytes; skipped"),
        ]
    );
    let rows = Rows::read(&path, &report.sync_id);
    let type_ids: Vec<&str> = rows.resource_types.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(type_ids, [max.as_str(), "team"]);
    assert_eq!(
        rows.resource_keys(),
        [
            format!("{max}:{max}"),
            "team:t".to_owned(),
            format!("team:{max}")
        ]
    );
    assert_eq!(rows.entitlement_ids(), ["team:t:member", max.as_str()]);
    assert_eq!(rows.grant_ids(), [max.as_str()]);
    assert!(report.warning_messages.iter().all(|w| !w.contains(&m80)));
}

/// Text over its `c1.connector.v2` limit is cut at a character boundary and the item kept, with
/// one warning per item naming each field: display names and status details (the resource's
/// and its user trait's) 1024 bytes, descriptions 2048 (a resource type's 4096), in embedded
/// resources and entitlements too.
#[tokio::test]
async fn text_over_its_limit_is_cut_at_a_character_boundary_with_a_warning() {
    // Two and three bytes a character: each limit falls inside one.
    let name = "é".repeat(513); // 1026 bytes
    let description = "€".repeat(683); // 2049 bytes
    let type_description = "€".repeat(1366); // 4098 bytes
    let details = "é".repeat(600); // 1200 bytes

    let mut long_type = team_type();
    long_type.display_name.clone_from(&name);
    long_type.description.clone_from(&type_description);
    let t = ResourceBuilder::new("team", "t", name.clone())
        .description(description.clone())
        .status(c1_model::UserStatus::Disabled, Some(details.clone()))
        .build_group();
    let u = c1_model::UserBuilder::new("user", "u", "U")
        .status(c1_model::UserStatus::Disabled, Some(details.clone()))
        .build();
    let short = team("s");
    let mut member = c1_model::entitlement::assignment(&short, "member");
    member.display_name.clone_from(&name);
    member.description.clone_from(&description);
    let mut granted = grant(&member, &u);
    if let Some(principal) = granted.principal.as_mut() {
        principal.display_name.clone_from(&name);
    }
    if let Some(resource) = granted
        .entitlement
        .as_mut()
        .and_then(|e| e.resource.as_mut())
    {
        resource.description.clone_from(&description);
    }

    let connector = MemConnector::new(vec![
        MemSyncer::new(user_type()).resources(None, std::slice::from_ref(&u), 5),
        MemSyncer::new(long_type)
            .resources(None, &[t.clone(), short.clone()], 5)
            .entitlements(short.id.as_ref().unwrap(), std::slice::from_ref(&member), 5)
            .grants(
                short.id.as_ref().unwrap(),
                std::slice::from_ref(&granted),
                5,
            ),
    ]);
    let (_dir, path) = output();
    let report = SyncEngine::new(fast_options())
        .run(&connector, &path)
        .await
        .unwrap();
    let cut = |field: &str, from: usize, to: usize, limit: usize| {
        format!("{field} cut from {from} to {to} bytes (the limit is {limit})")
    };
    let name_cut = |whose: &str| cut(&format!("{whose}display name"), 1026, 1024, 1024);
    let description_cut = |whose: &str| cut(&format!("{whose}description"), 2049, 2046, 2048);
    assert_eq!(
        report.warning_messages,
        [
            format!(
                "resource types of `team`: resource type `team`: {}, {}",
                name_cut(""),
                cut("description", 4098, 4095, 4096)
            ),
            format!(
                "resources of `user`: resource `user:u`: {}, {}",
                cut("status details", 1200, 1024, 1024),
                cut("user trait's status details", 1200, 1024, 1024)
            ),
            format!(
                "resources of `team`: resource `team:t`: {}, {}, {}",
                name_cut(""),
                description_cut(""),
                cut("status details", 1200, 1024, 1024)
            ),
            format!(
                "entitlements of `team`: entitlement `team:s:member`: {}, {}",
                name_cut(""),
                description_cut("")
            ),
            format!(
                "grants of `team`: grant `team:s:member:user:u`: {}, {}",
                description_cut("entitlement's resource's "),
                name_cut("principal's ")
            ),
        ]
    );
    assert_eq!(report.warnings, 5);

    // What is stored is the longest prefix that fits.
    let rows = Rows::read(&path, &report.sync_id);
    let prefix = |text: &str, bytes: usize| text[..bytes].to_owned();
    let team_type = &rows.resource_types[1];
    assert_eq!(team_type.display_name, prefix(&name, 1024));
    assert_eq!(team_type.description, prefix(&type_description, 4095));
    let stored_t = &rows.resources[1];
    assert_eq!(stored_t.display_name, prefix(&name, 1024));
    assert_eq!(stored_t.description, prefix(&description, 2046));
    assert_eq!(
        stored_t.status.as_ref().unwrap().details,
        prefix(&details, 1024)
    );
    let user_trait: pb::UserTrait = annotations::find(&rows.resources[0].annotations).unwrap();
    assert_eq!(user_trait.status.unwrap().details, prefix(&details, 1024));
    let stored_member = &rows.entitlements[0];
    assert_eq!(stored_member.display_name, prefix(&name, 1024));
    assert_eq!(stored_member.description, prefix(&description, 2046));
    let stored_grant = &rows.grants[0];
    assert_eq!(
        stored_grant.principal.as_ref().unwrap().display_name,
        prefix(&name, 1024)
    );
    let embedded = stored_grant.entitlement.as_ref().unwrap();
    assert_eq!(
        embedded.resource.as_ref().unwrap().description,
        prefix(&description, 2046)
    );
}
