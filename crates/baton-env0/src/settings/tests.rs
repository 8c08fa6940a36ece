//! Layering, the config file, the secret and the checks, from parsed command lines.

use std::collections::HashMap;

use clap::{CommandFactory, FromArgMatches};

use super::*;
use secrecy::ExposeSecret as _;

use crate::cli::{Cli, DEFAULT_BASE_URL, DEFAULT_WORKERS};

struct FakeEnv(HashMap<&'static str, &'static str>);

impl Environment for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| (*v).to_owned())
    }
    fn stderr_is_terminal(&self) -> bool {
        false
    }
}

fn resolve(
    args: &[&str],
    env: &[(&'static str, &'static str)],
    cwd: &Path,
) -> Result<Settings, Failure> {
    let matches = Cli::command().try_get_matches_from(args).unwrap();
    let cli = Cli::from_arg_matches(&matches).unwrap();
    Settings::resolve(
        &matches,
        &cli.global,
        &FakeEnv(env.iter().copied().collect()),
        cwd,
    )
}

const ORG: &str = "2f1e8a2c-0b4e-4c1f-9a57-6d2b8f3c1a90";

#[test]
fn defaults_apply_without_any_layer() {
    let dir = tempfile::tempdir().unwrap();
    let s = resolve(&["baton-env0"], &[], dir.path()).unwrap();
    assert_eq!(s.file.value, PathBuf::from("sync.c1z"));
    assert_eq!(s.file.source, Source::Default);
    assert_eq!(s.base_url.value, DEFAULT_BASE_URL);
    assert_eq!(s.log_format.value, LogFormat::Json);
    assert_eq!(s.workers.value, DEFAULT_WORKERS);
    assert!(s.api_key_id.is_none());
    assert!(matches!(s.api_key_secret, SecretSpec::Missing));
    assert!(s.config_file.is_none());
}

#[test]
fn env0_variables_fill_in_after_flags() {
    let dir = tempfile::tempdir().unwrap();
    let s = resolve(
        &["baton-env0", "--api-key-id", "from-flag"],
        &[
            (ENV0_API_KEY, "from-env0"),
            (ENV0_ORGANIZATION_ID, ORG),
            (ENV0_API_SECRET, "s3cr3t"),
        ],
        dir.path(),
    )
    .unwrap();
    assert_eq!(s.api_key_id.as_ref().unwrap().value, "from-flag");
    assert_eq!(
        s.api_key_id.as_ref().unwrap().source,
        Source::Flag("--api-key-id".into())
    );
    assert_eq!(
        s.organization_id.as_ref().unwrap().source,
        Source::Env(ENV0_ORGANIZATION_ID.into())
    );
    assert_eq!(
        s.api_key_secret.source(),
        Some(Source::Env(ENV0_API_SECRET.into()))
    );
}

#[test]
fn config_file_is_below_env0_variables_and_accepts_snake_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".baton.yaml"),
        "api_key_id: file-id\norganization-id: 00000000-0000-0000-0000-000000000001\nworkers: 7\nlog-level: debug\nbogus: 1\n",
    )
    .unwrap();
    let mut s = resolve(&["baton-env0"], &[(ENV0_ORGANIZATION_ID, ORG)], dir.path()).unwrap();
    assert_eq!(s.api_key_id.as_ref().unwrap().value, "file-id");
    assert_eq!(s.organization_id.as_ref().unwrap().value, ORG);
    assert_eq!(s.workers.value, 7);
    assert_eq!(s.log_level.value, LogLevel::Debug);
    let warnings = s.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("unknown key `bogus`"), "{warnings:?}");
}

#[test]
fn explicit_missing_config_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let err = resolve(
        &["baton-env0", "--config", missing.to_str().unwrap()],
        &[],
        dir.path(),
    )
    .unwrap_err();
    assert_eq!(err.kind, crate::exit::ExitKind::Usage);
    assert!(err.message.contains("nope.yaml"), "{}", err.message);
}

#[test]
fn secret_value_and_file_in_one_layer_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let err = resolve(
        &[
            "baton-env0",
            "--api-key-secret",
            "x",
            "--api-key-secret-file",
            "/tmp/x",
        ],
        &[],
        dir.path(),
    )
    .err()
    .unwrap();
    assert!(err.message.contains("given twice"), "{}", err.message);
    assert!(!err.render().contains(" x "), "{}", err.render());
}

#[test]
fn secret_file_drops_one_trailing_newline_and_warns_when_loose() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "abc\n\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut s = resolve(
        &[
            "baton-env0",
            "--api-key-secret-file",
            path.to_str().unwrap(),
            "--api-key-id",
            "k",
            "--organization-id",
            ORG,
        ],
        &[],
        dir.path(),
    )
    .unwrap();
    let creds = s.credentials().unwrap();
    assert_eq!(creds.api_key_secret.expose_secret(), "abc\n");
    #[cfg(unix)]
    {
        let warnings = s.take_warnings();
        assert!(
            warnings.iter().any(|w| w.contains("mode 0644")),
            "{warnings:?}"
        );
    }
}

#[test]
fn missing_credentials_are_listed_in_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = resolve(&["baton-env0", "--api-key-id", "k"], &[], dir.path()).unwrap();
    let err = s.credentials().unwrap_err();
    assert_eq!(err.kind, crate::exit::ExitKind::Usage);
    assert!(
        err.message.starts_with("missing api key secret"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("$ENV0_ORGANIZATION_ID"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("api key id ("), "{}", err.message);
}

#[test]
fn organization_id_must_be_a_uuid() {
    let setting = Setting::new(
        "not-a-uuid".to_owned(),
        Source::Flag("--organization-id".into()),
    );
    let err = parse_org_id(&setting).unwrap_err();
    assert_eq!(
        err.message,
        "organization id `not-a-uuid` (from --organization-id) is not a UUID"
    );
    let upper = Setting::new(ORG.to_uppercase(), Source::Default);
    assert_eq!(parse_org_id(&upper).unwrap(), ORG);
}

#[test]
fn base_url_rules() {
    let ok = |u: &str| validate_base_url(&Setting::new(u.to_owned(), Source::Default));
    assert_eq!(ok("https://api.env0.com/").unwrap(), "https://api.env0.com");
    assert_eq!(
        ok("http://127.0.0.1:8080").unwrap(),
        "http://127.0.0.1:8080"
    );
    assert!(ok("http://localhost:1").is_ok());
    assert!(ok("http://[::1]:1").is_ok());
    assert!(ok("http://api.env0.com").is_err());
    assert!(ok("ftp://x").is_err());
    assert!(ok("https://user:pw@x").is_err());
    assert!(ok("nonsense").is_err());
}

#[test]
fn out_of_range_numbers_name_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let err = resolve(&["baton-env0", "--workers", "0"], &[], dir.path()).unwrap_err();
    assert_eq!(
        err.message,
        "--workers must be between 1 and 64, got 0 (from --workers)"
    );
}
