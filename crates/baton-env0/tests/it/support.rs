//! Shared helpers: an isolated sandbox to run the built binary in, a mockito env0, and insta
//! filters for paths, ids, times and durations.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use mockito::{Matcher, Mock, Server, ServerGuard};

/// The organization of the recorded fixtures.
pub(crate) const ORG: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
/// A key id used by every test.
pub(crate) const KEY_ID: &str = "test-key-id";
/// A secret that must never appear in any output.
pub(crate) const SECRET: &str = "Sup3r-Secret-Value-9f8e7d";

/// `Authorization` header value for `id:secret`.
pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A recorded env0 payload from `fixtures/env0/`.
pub(crate) fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/env0")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A temporary working and home directory; the binary runs with a cleared environment inside it,
/// so no stray `.baton.yaml` or `BATON_*` variable is seen.
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary, isolated: empty environment (plus HOME), working directory = the sandbox.
    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("baton-env0").expect("binary built");
        cmd.env_clear()
            .env("HOME", self.path())
            .current_dir(self.path());
        cmd
    }

    /// The binary with credentials for `server`, fast retries and json logs, all as `BATON_*`
    /// variables so a test's flags override them.
    pub(crate) fn cmd_for(&self, server: &ServerGuard) -> Command {
        let mut cmd = self.cmd();
        cmd.env("BATON_API_KEY_ID", KEY_ID)
            .env("BATON_API_KEY_SECRET", SECRET)
            .env("BATON_ORGANIZATION_ID", ORG)
            .env("BATON_BASE_URL", server.url())
            .env("BATON_RETRY_BASE_DELAY_MS", "1")
            .env("BATON_LOG_FORMAT", "json");
        cmd
    }

    /// Writes a file in the sandbox.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// insta settings that replace the sandbox path (and a server URL) by placeholders.
    pub(crate) fn insta(&self, server: Option<&ServerGuard>) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        let real = self
            .path()
            .canonicalize()
            .unwrap_or_else(|_| self.path().to_path_buf());
        for p in [real, self.path().to_path_buf()] {
            settings.add_filter(&regex_escape(&p.display().to_string()), "[SANDBOX]");
        }
        if let Some(server) = server {
            settings.add_filter(&regex_escape(&server.url()), "[ENV0]");
        }
        // KSUID sync ids.
        settings.add_filter(r"\b[0-9A-Za-z]{27}\b", "[SYNC_ID]");
        // c1z sync-run times (local, space separated).
        settings.add_filter(
            r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?",
            "[LOCAL_TIME]",
        );
        // Durations.
        settings.add_filter(r"\b\d+(\.\d+)?s\b", "[DURATION]");
        settings
    }
}

/// Escapes regex metacharacters.
pub(crate) fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// stderr without the JSON log lines: what the operator reads as the error.
pub(crate) fn plain_lines(stderr: &[u8]) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with('{'))
    {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Standard output and error of a finished command, plus its exit code.
pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    pub(crate) fn of(cmd: &mut Command) -> Outcome {
        let out = cmd.output().expect("run baton-env0");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `exit N` then the non-JSON stderr lines: the snapshot of a failure.
    pub(crate) fn failure_report(&self) -> String {
        format!(
            "exit {}\n{}",
            self.code,
            plain_lines(self.stderr.as_bytes())
        )
    }
}

/// A mockito env0 serving the recorded fixtures for [`ORG`], each endpoint requiring the right
/// Basic credentials.
pub(crate) struct Env0 {
    pub(crate) server: ServerGuard,
    mocks: Vec<Mock>,
}

/// The endpoints a sync calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Organizations,
    Users,
    ApiKeys,
    Roles,
    /// The team list (`limit=100`).
    Teams,
    /// `GET /roles/assignments/teams?organizationId=`.
    TeamRoles,
    Projects,
}

impl Env0 {
    /// A server with no mocks yet.
    pub(crate) fn empty() -> Env0 {
        Env0 {
            server: Server::new(),
            mocks: Vec::new(),
        }
    }

    /// Every endpoint answers its fixture.
    pub(crate) fn healthy() -> Env0 {
        let mut env0 = Env0::empty();
        for endpoint in [
            Endpoint::Organizations,
            Endpoint::Users,
            Endpoint::ApiKeys,
            Endpoint::Roles,
        ] {
            env0.ok(endpoint);
        }
        env0.no_access();
        env0
    }

    /// The organization has no team and no project (what a sync asks beyond the principals).
    pub(crate) fn no_access(&mut self) -> &mut Env0 {
        self.ok(Endpoint::Teams)
            .ok(Endpoint::TeamRoles)
            .ok(Endpoint::Projects)
    }

    fn mock(&mut self, endpoint: Endpoint) -> Mock {
        let mock = match endpoint {
            Endpoint::Organizations => self.server.mock("GET", "/organizations"),
            Endpoint::Users => self
                .server
                .mock("GET", format!("/organizations/{ORG}/users").as_str()),
            Endpoint::ApiKeys => self
                .server
                .mock("GET", "/api-keys")
                .match_query(Matcher::UrlEncoded("organizationId".into(), ORG.into())),
            Endpoint::Roles => self
                .server
                .mock("GET", "/roles")
                .match_query(Matcher::UrlEncoded("organizationId".into(), ORG.into())),
            Endpoint::Teams => self
                .server
                .mock("GET", format!("/teams/organizations/{ORG}").as_str())
                .match_query(Matcher::UrlEncoded("limit".into(), "100".into())),
            Endpoint::TeamRoles => self
                .server
                .mock("GET", "/roles/assignments/teams")
                .match_query(Matcher::UrlEncoded("organizationId".into(), ORG.into())),
            Endpoint::Projects => self
                .server
                .mock("GET", "/projects")
                .match_query(Matcher::UrlEncoded("organizationId".into(), ORG.into())),
        };
        mock.match_header("authorization", basic(KEY_ID, SECRET).as_str())
    }

    /// `endpoint` answers 200 with its fixture (at least once).
    pub(crate) fn ok(&mut self, endpoint: Endpoint) -> &mut Env0 {
        let body = match endpoint {
            Endpoint::Organizations => fixture("organizations-basic.json"),
            Endpoint::Users => fixture("organization-users-basic.json"),
            Endpoint::ApiKeys => fixture("api-keys-basic.json"),
            Endpoint::Roles => fixture("custom-roles-basic.json"),
            Endpoint::Teams => r#"{"teams":[]}"#.to_owned(),
            Endpoint::TeamRoles | Endpoint::Projects => "[]".to_owned(),
        };
        let mock = self
            .mock(endpoint)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(body)
            .expect_at_least(1)
            .create();
        self.mocks.push(mock);
        self
    }

    /// `endpoint` answers 200 with `body` (at least once).
    pub(crate) fn ok_with(&mut self, endpoint: Endpoint, body: &str) -> &mut Env0 {
        let mock = self
            .mock(endpoint)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(body)
            .expect_at_least(1)
            .create();
        self.mocks.push(mock);
        self
    }

    /// `endpoint` answers `status` with a small JSON error body (at least once).
    pub(crate) fn fail(&mut self, endpoint: Endpoint, status: usize) -> &mut Env0 {
        let mock = self
            .mock(endpoint)
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(r#"{"message":"nope"}"#)
            .expect_at_least(1)
            .create();
        self.mocks.push(mock);
        self
    }

    /// Asserts every mock was called as expected.
    pub(crate) fn assert_hit(&self) {
        for mock in &self.mocks {
            mock.assert();
        }
    }
}
