//! The API key secret: where it comes from, and reading it from a file. It is a
//! [`SecretString`] from the moment it is read.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::file::loose_mode;
use super::layers::Layers;
use super::{ENV0_API_SECRET, Setting, Source};
use crate::exit::Failure;

/// Where the API key secret comes from, before any secret file is read.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretSpec {
    /// Not configured anywhere.
    Missing,
    /// Given directly (flag, environment, config file).
    Value(Setting<SecretString>),
    /// To be read from a file.
    File {
        /// The secret file.
        path: PathBuf,
        /// Where the path came from.
        via: Source,
    },
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSpec::Missing => f.write_str("Missing"),
            SecretSpec::Value(setting) => f
                .debug_struct("Value")
                .field("value", &"****")
                .field("source", &setting.source)
                .finish(),
            SecretSpec::File { path, via } => f
                .debug_struct("File")
                .field("path", path)
                .field("via", via)
                .finish(),
        }
    }
}

impl SecretSpec {
    /// Where the secret comes from, if configured.
    pub fn source(&self) -> Option<Source> {
        match self {
            SecretSpec::Missing => None,
            SecretSpec::Value(setting) => Some(setting.source.clone()),
            SecretSpec::File { path, via } => Some(Source::SecretFile {
                path: path.clone(),
                via: Box::new(via.clone()),
            }),
        }
    }
}

/// Where the secret comes from: flag, then `BATON_*` variable (a layer may not hold both a value
/// and a file), then `ENV0_API_SECRET`, then the config file (a value there wins over a file).
pub(crate) fn resolve_secret(
    layers: &Layers<'_>,
    warnings: &mut Vec<String>,
) -> Result<SecretSpec, Failure> {
    let matches = layers.matches;
    let value = layers.clap_source("api-key-secret").and_then(|source| {
        matches
            .get_one::<SecretString>("api_key_secret")
            .filter(|s| !s.expose_secret().is_empty())
            .map(|s| Setting::new(s.clone(), source))
    });
    let path = layers
        .clap_source("api-key-secret-file")
        .and_then(|source| {
            matches
                .get_one::<PathBuf>("api_key_secret_file")
                .map(|p| (p.clone(), source))
        });
    // Flags first, then BATON_* variables: a layer may not hold both a value and a file.
    let is_flag = |s: &Source| matches!(s, Source::Flag(_));
    for flags_layer in [true, false] {
        let v = value.as_ref().filter(|s| is_flag(&s.source) == flags_layer);
        let p = path.as_ref().filter(|(_, s)| is_flag(s) == flags_layer);
        match (v, p) {
            (Some(v), Some((_, ps))) => {
                return Err(Failure::usage(format!(
                    "the API key secret is given twice: by {} and by {ps}",
                    v.source
                ))
                .hint("use either --api-key-secret or --api-key-secret-file"));
            }
            (Some(v), None) => return Ok(SecretSpec::Value(v.clone())),
            (None, Some((p, s))) => {
                return Ok(SecretSpec::File {
                    path: p.clone(),
                    via: s.clone(),
                });
            }
            (None, None) => {}
        }
    }
    if let Some(secret) = layers.env.var(ENV0_API_SECRET) {
        return Ok(SecretSpec::Value(Setting::new(
            SecretString::from(secret),
            Source::Env(ENV0_API_SECRET.to_owned()),
        )));
    }
    let Some(file) = layers.file else {
        return Ok(SecretSpec::Missing);
    };
    let via = Source::ConfigFile(file.path.clone());
    let secret_file = file.get::<PathBuf>("api-key-secret-file")?;
    if let Some(secret) = file.secret("api-key-secret")? {
        if secret_file.is_some() {
            warnings.push(format!(
                "config file {}: api-key-secret-file is ignored because api-key-secret is set",
                file.path.display()
            ));
        }
        if let Some(mode) = file.loose_mode() {
            warnings.push(format!(
                "config file {} holds api-key-secret and is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
                file.path.display(),
                file.path.display()
            ));
        }
        return Ok(SecretSpec::Value(Setting::new(secret, via)));
    }
    // Like every path setting, a relative path is relative to the working directory.
    Ok(secret_file.map_or(SecretSpec::Missing, |path| SecretSpec::File { path, via }))
}

/// Reads a secret file: one trailing newline (`\n` or `\r\n`) is dropped; the content becomes a
/// [`SecretString`] right away. Warns when group or others may read the file.
pub(crate) fn read_secret_file(
    path: &Path,
    via: &Source,
) -> Result<(SecretString, Option<String>), Failure> {
    let mut raw = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read the API key secret file {} (from {via}): {e}",
            path.display()
        ))
        .hint("the file must exist, be readable and hold only the secret")
    })?;
    if raw.ends_with("\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with('\n') {
        raw.truncate(raw.len() - 1);
    }
    let secret = SecretString::from(raw);
    if secret.expose_secret().is_empty() {
        return Err(Failure::usage(format!(
            "the API key secret file {} (from {via}) is empty",
            path.display()
        )));
    }
    let warning = loose_mode(path).map(|mode| {
        format!(
            "the API key secret file {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    });
    Ok((secret, warning))
}
