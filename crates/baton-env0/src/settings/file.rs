//! The YAML config file: finding it, reading it, and the values it gives each setting.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::Source;
use super::table::config_file_keys;
use crate::exit::Failure;

/// A config file that was read. Holds the secret when the file does, so there is no `Debug`.
pub(crate) struct ConfigFile {
    config: config::Config,
    pub(crate) path: PathBuf,
}

impl ConfigFile {
    /// Loads the file named by `explicit` (an error when missing) or `cwd_default` (skipped
    /// when absent). Returns the file and the warnings it gives (unknown keys).
    pub(crate) fn load(
        explicit: Option<(PathBuf, Source)>,
        cwd_default: &Path,
    ) -> Result<Option<(ConfigFile, Vec<String>)>, Failure> {
        let path = if let Some((path, source)) = explicit {
            if !path.is_file() {
                return Err(Failure::usage(format!(
                    "config file {} (from {source}) does not exist or is not a file",
                    path.display()
                ))
                .hint("fix the path given to --config / $BATON_CONFIG_PATH"));
            }
            path
        } else {
            if !cwd_default.is_file() {
                return Ok(None);
            }
            cwd_default.to_path_buf()
        };
        let config = config::Config::builder()
            .add_source(
                config::File::from(path.as_path())
                    .format(config::FileFormat::Yaml)
                    .required(true),
            )
            .build()
            .map_err(|e| config_error(&path, &e))?;
        let table = config
            .clone()
            .try_deserialize::<config::Map<String, config::Value>>()
            .map_err(|e| config_error(&path, &e))?;
        let mut unknown: Vec<&String> = table
            .keys()
            .filter(|key| !config_file_keys().any(|k| k == *key || snake(k) == **key))
            .collect();
        unknown.sort();
        let known = config_file_keys().collect::<Vec<_>>().join(", ");
        let warnings = unknown
            .into_iter()
            .map(|key| {
                format!(
                    "config file {}: unknown key `{key}` ignored (known keys: {known})",
                    path.display(),
                )
            })
            .collect();
        Ok(Some((ConfigFile { config, path }, warnings)))
    }

    /// The value of `key` (or its snake_case spelling), if the file sets it.
    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Failure> {
        for spelling in [key.to_owned(), snake(key)] {
            match self.config.get::<T>(&spelling) {
                Ok(value) => return Ok(Some(value)),
                Err(config::ConfigError::NotFound(_)) => {}
                Err(e) => return Err(config_error(&self.path, &e)),
            }
        }
        Ok(None)
    }

    /// The secret, if the file sets it. Any scalar is accepted (numbers and booleans become
    /// text), so a mistyped secret is never quoted in an error; an empty one counts as unset.
    pub(crate) fn secret(&self, key: &str) -> Result<Option<SecretString>, Failure> {
        Ok(self
            .get::<String>(key)?
            .filter(|s| !s.is_empty())
            .map(SecretString::from))
    }

    /// Whether group or others may read the file, as its permission bits.
    pub(crate) fn loose_mode(&self) -> Option<u32> {
        loose_mode(&self.path)
    }
}

fn snake(key: &str) -> String {
    key.replace('-', "_")
}

fn config_error(path: &Path, err: &config::ConfigError) -> Failure {
    // The config crate's messages name the key and the file, and may quote a mistyped value.
    Failure::usage(format!("cannot read config file {}: {err}", path.display())).hint(format!(
        "the file must be YAML whose keys are flag names: {}",
        config_file_keys().collect::<Vec<_>>().join(", ")
    ))
}

/// The permission bits (when group or others may read/write) of `path`, on unix.
#[cfg(unix)]
pub(crate) fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Permission bits are not checked off unix.
#[cfg(not(unix))]
pub(crate) fn loose_mode(_path: &Path) -> Option<u32> {
    None
}
