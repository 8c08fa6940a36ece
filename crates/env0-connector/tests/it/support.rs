//! Test harness: fixture organizations served by mockito, a client pointed at it, and a readable
//! rendering of mapped resources for snapshots.

use std::collections::BTreeMap;
use std::path::PathBuf;

use c1_model::pb;
use c1_sync::{Connector, Page};
use env0_api::{ClientConfig, Env0Client, OrgId, SecretString};
use env0_connector::Env0Connector;
use mockito::{Matcher, Mock, Server, ServerGuard};
use prost_types::value::Kind;
use serde::Serialize;
use serde_json::Value;

/// A fixture organization from `fixtures/env0/<name>.json`.
pub(crate) struct Fixture {
    pub(crate) org: String,
    json: Value,
}

impl Fixture {
    pub(crate) fn load(name: &str) -> Fixture {
        let path = fixtures_dir().join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()));
        let org = json["organization_id"]
            .as_str()
            .expect("fixture needs organization_id")
            .to_owned();
        Fixture { org, json }
    }

    /// A fixture written inline by a test.
    pub(crate) fn inline(json: Value) -> Fixture {
        let org = json["organization_id"]
            .as_str()
            .expect("fixture needs organization_id")
            .to_owned();
        Fixture { org, json }
    }

    /// The same organization with `endpoint` answering `status` and `body` instead.
    pub(crate) fn answering(mut self, endpoint: &str, status: u16, body: Value) -> Fixture {
        self.json[endpoint] = body;
        if !self.json["statuses"].is_object() {
            self.json["statuses"] = serde_json::json!({});
        }
        self.json["statuses"][endpoint] = serde_json::json!(status);
        self
    }

    /// The body and status the fixture gives an endpoint (`None` when absent).
    fn endpoint(&self, key: &str) -> Option<(usize, String)> {
        let body = self.json.get(key)?;
        let status = self.json["statuses"][key]
            .as_u64()
            .map_or(200, |s| s as usize);
        Some((status, body.to_string()))
    }
}

pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/env0")
}

/// A mock env0 serving one fixture organization. Every endpoint the fixture lists must be called
/// exactly once ([`FakeEnv0::assert_calls`]); `/roles` is mocked to fail the test if called
/// when the fixture has no `roles`.
pub(crate) struct FakeEnv0 {
    pub(crate) server: ServerGuard,
    pub(crate) org: String,
    mocks: Vec<(String, Mock)>,
}

impl FakeEnv0 {
    pub(crate) async fn serve(fixture: &Fixture) -> FakeEnv0 {
        FakeEnv0::serve_expecting(fixture, 1).await
    }

    /// Like [`serve`](Self::serve), expecting each fixture endpoint `times` times.
    pub(crate) async fn serve_expecting(fixture: &Fixture, times: usize) -> FakeEnv0 {
        let server = Server::new_async().await;
        let mut fake = FakeEnv0 {
            server,
            org: fixture.org.clone(),
            mocks: Vec::new(),
        };
        let org_query = Matcher::UrlEncoded("organizationId".into(), fixture.org.clone());
        let routes = [
            (
                "organizations",
                "/organizations".to_owned(),
                Matcher::Missing,
            ),
            (
                "users",
                format!("/organizations/{}/users", fixture.org),
                Matcher::Missing,
            ),
            ("api_keys", "/api-keys".to_owned(), org_query.clone()),
            ("roles", "/roles".to_owned(), org_query),
        ];
        for (key, path, query) in routes {
            let mock = match fixture.endpoint(key) {
                Some((status, body)) => fake
                    .server
                    .mock("GET", path.as_str())
                    .match_query(query)
                    .with_status(status)
                    .with_header("content-type", "application/json")
                    .with_body(body)
                    .expect(times),
                None => fake
                    .server
                    .mock("GET", path.as_str())
                    .match_query(Matcher::Any)
                    .with_status(500)
                    .expect(0),
            };
            fake.mocks.push((key.to_owned(), mock.create_async().await));
        }
        // The access endpoints a sync asks (teams, team roles, projects): the fixture's answer
        // when it has one (asked `times` times), else an empty organization, asked or not.
        let access = [
            (
                "teams",
                format!("/teams/organizations/{}", fixture.org),
                r#"{"teams":[]}"#,
            ),
            ("team_roles", "/roles/assignments/teams".to_owned(), "[]"),
            ("projects", "/projects".to_owned(), "[]"),
        ];
        for (key, path, empty) in access {
            let mock = fake
                .server
                .mock("GET", path.as_str())
                .match_query(Matcher::Any)
                .with_header("content-type", "application/json");
            let mock = match fixture.endpoint(key) {
                Some((status, body)) => mock.with_status(status).with_body(body).expect(times),
                None => mock.with_status(200).with_body(empty).expect_at_least(0),
            };
            fake.mocks.push((key.to_owned(), mock.create_async().await));
        }
        fake
    }

    pub(crate) fn client(&self) -> Env0Client {
        client(&self.server.url())
    }

    pub(crate) fn connector(&self, page_size: usize) -> Env0Connector {
        Env0Connector::with_page_size(self.client(), OrgId::new(self.org.clone()), page_size)
    }

    /// Every fixture endpoint was called as often as expected (and `/roles` never, when absent).
    pub(crate) fn assert_calls(&self) {
        for (key, mock) in &self.mocks {
            assert!(
                mock.matched(),
                "endpoint {key} was not called the expected number of times"
            );
        }
    }
}

/// A client for a mock at `url`: no retries, so failures show at once.
pub(crate) fn client(url: &str) -> Env0Client {
    let config = ClientConfig::new(
        "test-key-id".to_owned(),
        SecretString::from("test-key-secret"),
    )
    .base_url(url)
    .expect("mock URL is valid")
    .max_retries(0);
    Env0Client::new(config).expect("client builds")
}

/// Every resource of the user listing, page by page, with the warnings of all pages.
pub(crate) async fn list_all(connector: &Env0Connector) -> (Vec<pb::Resource>, Vec<String>, usize) {
    let syncers = connector.resource_syncers();
    let syncer = &syncers[0];
    assert_eq!(
        syncer.resource_type().id,
        "user",
        "the first syncer lists users"
    );
    let mut token = String::new();
    let mut resources = Vec::new();
    let mut warnings = Vec::new();
    let mut pages = 0;
    loop {
        let page: Page<pb::Resource> = syncer.list(None, &token).await.expect("listing succeeds");
        pages += 1;
        resources.extend(page.items);
        warnings.extend(page.warnings);
        if page.next_token.is_empty() {
            break;
        }
        assert_eq!(
            page.next_token,
            resources.len().to_string(),
            "page token is the offset"
        );
        token = page.next_token;
    }
    (resources, warnings, pages)
}

/// A mapped user resource as a person reads it. Building it asserts that the values mirrored
/// between the `UserTrait` and the `Resource` (status, profile, created at) agree.
#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) emails: Vec<String>,
    pub(crate) account_type: String,
    pub(crate) login: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) structured_name: Option<BTreeMap<&'static str, String>>,
    pub(crate) profile: BTreeMap<String, Value>,
}

pub(crate) fn view(resource: &pb::Resource) -> UserView {
    let id = resource.id.as_ref().expect("resource id");
    assert_eq!(id.resource_type, "user");
    let traits: Vec<_> = resource
        .annotations
        .iter()
        .filter(|a| c1_model::annotations::is::<pb::UserTrait>(a))
        .collect();
    assert_eq!(traits.len(), 1, "exactly one UserTrait on {}", id.resource);
    let t: pb::UserTrait =
        c1_model::annotations::find(&resource.annotations).expect("UserTrait decodes");

    let trait_status = t.status.clone().expect("trait status");
    let resource_status = resource.status.clone().expect("resource status");
    assert_eq!(
        trait_status.status, resource_status.status,
        "status mirrored on {}",
        id.resource
    );
    assert_eq!(
        trait_status.details, resource_status.details,
        "details mirrored on {}",
        id.resource
    );
    assert_eq!(
        t.profile, resource.profile,
        "profile mirrored on {}",
        id.resource
    );
    assert_eq!(
        t.created_at, resource.created_at,
        "created_at mirrored on {}",
        id.resource
    );

    let status_name = match pb::user_trait::status::Status::try_from(trait_status.status) {
        Ok(pb::user_trait::status::Status::Enabled) => "enabled",
        Ok(pb::user_trait::status::Status::Disabled) => "disabled",
        Ok(pb::user_trait::status::Status::Deleted) => "deleted",
        _ => "unspecified",
    };
    let status = if trait_status.details.is_empty() {
        status_name.to_owned()
    } else {
        format!("{status_name} ({})", trait_status.details)
    };
    let emails = t
        .emails
        .iter()
        .map(|e| {
            if e.is_primary {
                format!("{} (primary)", e.address)
            } else {
                e.address.clone()
            }
        })
        .collect();
    let account_type = match pb::user_trait::AccountType::try_from(t.account_type) {
        Ok(pb::user_trait::AccountType::Human) => "human",
        Ok(pb::user_trait::AccountType::Service) => "service",
        Ok(pb::user_trait::AccountType::System) => "system",
        _ => "unspecified",
    }
    .to_owned();
    let profile = resource
        .profile
        .as_ref()
        .expect("profile is always present")
        .fields()
        .iter()
        .map(|(k, v)| (k.clone(), json(v)))
        .collect();
    UserView {
        id: id.resource.clone(),
        display_name: resource.display_name.clone(),
        status,
        emails,
        account_type,
        login: t.login.clone(),
        last_login: t.last_login.map(time),
        created_at: resource.created_at.map(time),
        structured_name: t
            .structured_name
            .map(|n| BTreeMap::from([("given", n.given_name), ("family", n.family_name)])),
        profile,
    }
}

fn time(ts: prost_types::Timestamp) -> String {
    let dt = c1_model::from_timestamp(&ts).expect("timestamp in range");
    dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn json(value: &prost_types::Value) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::StructValue(s)) => {
            Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(json).collect()),
    }
}
