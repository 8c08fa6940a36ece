//! First match wins: flags, then `BATON_*`, then `ENV0_*`, then the YAML file, then defaults.

use mockito::{Matcher, Server};

use crate::support::{Endpoint, Env0, KEY_ID, ORG, Outcome, SECRET, Sandbox};

fn config_doc(out: &Outcome) -> serde_json::Value {
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn field<'a>(
    doc: &'a serde_json::Value,
    name: &str,
) -> (&'a serde_json::Value, &'a serde_json::Value) {
    let f = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap();
    (&f["value"], &f["source"])
}

#[test]
fn each_layer_overrides_the_ones_below() {
    let sb = Sandbox::new();
    sb.write(
        ".baton.yaml",
        "api-key-id: from-file\norganization-id: from-file\nbase-url: https://file.example\nworkers: 2\nlog-level: debug\nmax-retries: 3\n",
    );
    let out = Outcome::of(
        sb.cmd()
            .args(["config", "--workers", "5"])
            .env("ENV0_API_KEY", "from-env0")
            .env("ENV0_ORGANIZATION_ID", "from-env0")
            .env("BATON_ORGANIZATION_ID", "from-baton-env")
            .env("BATON_BASE_URL", "https://env.example")
            .env("BATON_WORKERS", "9"),
    );
    let doc = config_doc(&out);
    let (v, s) = field(&doc, "api-key-id");
    assert_eq!(
        (v.as_str(), s.as_str()),
        (Some("from-env0"), Some("$ENV0_API_KEY")),
        "ENV0_* beats the file"
    );
    let (v, s) = field(&doc, "organization-id");
    assert_eq!(
        (v.as_str(), s.as_str()),
        (Some("from-baton-env"), Some("$BATON_ORGANIZATION_ID")),
        "BATON_* beats ENV0_*"
    );
    let (v, s) = field(&doc, "base-url");
    assert_eq!(
        (v.as_str(), s.as_str()),
        (Some("https://env.example"), Some("$BATON_BASE_URL")),
        "env beats the file"
    );
    let (v, s) = field(&doc, "workers");
    assert_eq!(
        (v.as_u64(), s.as_str()),
        (Some(5), Some("--workers")),
        "flag beats env and file"
    );
    let (v, s) = field(&doc, "log-level");
    let file_source = format!("config file {}", sb.join(".baton.yaml").display());
    assert_eq!(
        (v.as_str(), s.as_str()),
        (Some("debug"), Some(file_source.as_str())),
        "file beats the default"
    );
    let (v, _) = field(&doc, "max-retries");
    assert_eq!(v.as_u64(), Some(3));
    let (v, s) = field(&doc, "http-timeout-seconds");
    assert_eq!((v.as_u64(), s.as_str()), (Some(60), Some("default")));
}

#[test]
fn explicit_config_path_replaces_the_default_file() {
    let sb = Sandbox::new();
    sb.write(".baton.yaml", "workers: 2\n");
    sb.write("other.yaml", "workers: 7\n");
    let doc = config_doc(&Outcome::of(
        sb.cmd()
            .arg("config")
            .env("BATON_CONFIG_PATH", "other.yaml"),
    ));
    assert_eq!(field(&doc, "workers").0.as_u64(), Some(7));
    let (v, s) = field(&doc, "config");
    assert_eq!(
        (v.as_str(), s.as_str()),
        (Some("other.yaml"), Some("$BATON_CONFIG_PATH"))
    );
    let doc = config_doc(&Outcome::of(
        sb.cmd()
            .args(["config", "--config", ".baton.yaml"])
            .env("BATON_CONFIG_PATH", "other.yaml"),
    ));
    assert_eq!(
        field(&doc, "workers").0.as_u64(),
        Some(2),
        "--config beats $BATON_CONFIG_PATH"
    );
}

#[test]
fn secret_sources_follow_the_same_order() {
    let sb = Sandbox::new();
    let secret_file = sb.write("secret.txt", "from-file\n");
    sb.write(".baton.yaml", "api-key-secret: from-yaml\n");
    let source = |cmd: &mut assert_cmd::Command| {
        let doc = config_doc(&Outcome::of(cmd.arg("config")));
        let (v, s) = field(&doc, "api-key-secret");
        assert!(v.is_null(), "secret values are never printed");
        s.as_str().unwrap().to_owned()
    };
    assert!(source(&mut sb.cmd()).starts_with("config file "));
    assert_eq!(
        source(sb.cmd().env("ENV0_API_SECRET", "x")),
        "$ENV0_API_SECRET"
    );
    assert_eq!(
        source(
            sb.cmd()
                .env("ENV0_API_SECRET", "x")
                .env("BATON_API_KEY_SECRET", "y")
        ),
        "$BATON_API_KEY_SECRET"
    );
    assert_eq!(
        source(
            sb.cmd()
                .env("BATON_API_KEY_SECRET", "y")
                .arg("--api-key-secret-file")
                .arg(&secret_file)
        ),
        format!(
            "file {} (from --api-key-secret-file)",
            secret_file.display()
        )
    );
}

/// The layer that wins is the server that gets the requests.
#[test]
fn requests_go_to_the_base_url_of_the_winning_layer() {
    let sb = Sandbox::new();
    let env0 = Env0::healthy();
    let mut by_env = Server::new();
    let mut by_file = Server::new();
    let env_untouched = by_env.mock("GET", Matcher::Any).expect(0).create();
    let file_untouched = by_file.mock("GET", Matcher::Any).expect(0).create();
    sb.write(
        ".baton.yaml",
        &format!(
            "base-url: {}\napi-key-id: {KEY_ID}\norganization_id: {ORG}\n",
            by_file.url()
        ),
    );
    let out = Outcome::of(
        sb.cmd()
            .args([
                "validate",
                "--base-url",
                &env0.server.url(),
                "--retry-base-delay-ms",
                "1",
            ])
            .env("BATON_BASE_URL", by_env.url())
            .env("ENV0_API_SECRET", SECRET),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    env0.assert_hit();
    env_untouched.assert();
    file_untouched.assert();
}

#[test]
fn environment_base_url_beats_the_file() {
    let sb = Sandbox::new();
    let mut env0 = Env0::empty();
    env0.ok(Endpoint::Organizations)
        .ok(Endpoint::Users)
        .ok(Endpoint::ApiKeys)
        .ok(Endpoint::Roles)
        .no_access();
    let mut by_file = Server::new();
    let file_untouched = by_file.mock("GET", Matcher::Any).expect(0).create();
    sb.write(".baton.yaml", &format!("base-url: {}\n", by_file.url()));
    let out = Outcome::of(
        sb.cmd()
            .args(["validate", "--retry-base-delay-ms", "1"])
            .env("BATON_BASE_URL", env0.server.url())
            .env("ENV0_API_KEY", KEY_ID)
            .env("ENV0_API_SECRET", SECRET)
            .env("ENV0_ORGANIZATION_ID", ORG),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    env0.assert_hit();
    file_untouched.assert();
}
