//! Checks made before any request: complete credentials, a UUID organization id, a safe base URL.

use std::fmt;

use secrecy::SecretString;

use super::secret::{SecretSpec, read_secret_file};
use super::{Setting, Settings};
use crate::cli::DEFAULT_BASE_URL;
use crate::exit::Failure;

/// Validated credentials and connection settings: everything a request needs.
#[non_exhaustive]
pub struct Credentials {
    /// The API key id.
    pub api_key_id: String,
    /// The API key secret.
    pub api_key_secret: SecretString,
    /// The organization id, a lowercase hyphenated UUID.
    pub organization_id: String,
    /// The validated base URL.
    pub base_url: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key_id", &self.api_key_id)
            .field("api_key_secret", &"****")
            .field("organization_id", &self.organization_id)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Validates the organization id: a UUID, returned lowercase and hyphenated.
pub fn parse_org_id(org: &Setting<String>) -> Result<String, Failure> {
    uuid::Uuid::try_parse(org.value.trim()).map(|u| u.hyphenated().to_string()).map_err(|_| {
        Failure::usage(format!(
            "organization id `{}` (from {}) is not a UUID",
            org.value.trim(),
            org.source
        ))
        .hint("copy the organization id from env0 (Organization Settings); it looks like 2f1e8a2c-0b4e-4c1f-9a57-6d2b8f3c1a90")
    })
}

/// Validates the base URL: `https://`, or `http://` for loopback hosts only; no credentials,
/// query or fragment. Returns it without a trailing slash.
pub fn validate_base_url(setting: &Setting<String>) -> Result<String, Failure> {
    let raw = setting.value.trim();
    let bad = |why: &str| {
        Failure::usage(format!(
            "--base-url `{raw}` (from {}) {why}",
            setting.source
        ))
        .hint(format!(
            "use an https:// URL such as {DEFAULT_BASE_URL}; http:// is accepted only for localhost"
        ))
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(bad("uses http:// with a host that is not loopback"));
            }
        }
        other => return Err(bad(&format!("has unsupported scheme `{other}`"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Settings {
    /// Checks, before any request, that the credentials are complete, the organization id is a
    /// UUID and the base URL is acceptable; reads the secret file when one is configured.
    pub fn credentials(&mut self) -> Result<Credentials, Failure> {
        let secret = self.read_secret()?;
        let mut missing = Vec::new();
        if self.api_key_id.is_none() {
            missing.push("api key id (--api-key-id, $BATON_API_KEY_ID or $ENV0_API_KEY)");
        }
        if secret.is_none() {
            missing.push(
                "api key secret (--api-key-secret, --api-key-secret-file, $BATON_API_KEY_SECRET, $BATON_API_KEY_SECRET_FILE or $ENV0_API_SECRET)",
            );
        }
        if self.organization_id.is_none() {
            missing.push("organization id (--organization-id, $BATON_ORGANIZATION_ID or $ENV0_ORGANIZATION_ID)");
        }
        let (Some(key_id), Some(secret), Some(org)) =
            (&self.api_key_id, secret, &self.organization_id)
        else {
            return Err(Failure::usage(format!("missing {}", missing.join("; "))).hint(
                "set them as flags, environment variables or keys of the YAML config file (--config, $BATON_CONFIG_PATH or ./.baton.yaml); `baton-env0 config` lists every setting",
            ));
        };
        let organization_id = parse_org_id(org)?;
        let base_url = validate_base_url(&self.base_url)?;
        Ok(Credentials {
            api_key_id: key_id.value.clone(),
            api_key_secret: secret,
            organization_id,
            base_url,
        })
    }

    /// The secret, reading its file if that is where it comes from.
    fn read_secret(&mut self) -> Result<Option<SecretString>, Failure> {
        match &self.api_key_secret {
            SecretSpec::Missing => Ok(None),
            SecretSpec::Value(setting) => Ok(Some(setting.value.clone())),
            SecretSpec::File { path, via } => {
                let (secret, warning) = read_secret_file(path, via)?;
                self.warnings.extend(warning);
                Ok(Some(secret))
            }
        }
    }
}
