//! The layers a setting's value can come from, looked up by the setting's name.

use std::path::Path;

use clap::ArgMatches;
use clap::ValueEnum;
use clap::parser::ValueSource;
use serde::de::DeserializeOwned;

use super::file::ConfigFile;
use super::table::{Field, check_range, field};
use super::{Environment, Setting, Source};
use crate::exit::Failure;

/// Every layer of one invocation: clap's matches (flags and `BATON_*` variables), env0's own
/// variables, the config file, and clap's defaults.
pub(crate) struct Layers<'a> {
    /// The flag definitions, for each flag's `BATON_*` variable.
    pub(crate) command: clap::Command,
    pub(crate) matches: &'a ArgMatches,
    pub(crate) env: &'a dyn Environment,
    pub(crate) file: Option<&'a ConfigFile>,
}

/// clap's argument id for a setting name (`api-key-id` → `api_key_id`).
fn clap_id(name: &str) -> String {
    name.replace('-', "_")
}

impl Layers<'_> {
    /// Where clap found `name`: its flag or its `BATON_*` variable; `None` for a default or
    /// nothing.
    pub(crate) fn clap_source(&self, name: &str) -> Option<Source> {
        let id = clap_id(name);
        match self.matches.value_source(&id) {
            Some(ValueSource::CommandLine) => Some(Source::Flag(format!("--{name}"))),
            Some(ValueSource::EnvVariable) => Some(Source::Env(self.env_var(name))),
            _ => None,
        }
    }

    /// The `BATON_*` variable clap reads for `name`.
    fn env_var(&self, name: &str) -> String {
        self.command
            .get_arguments()
            .find(|a| a.get_long() == Some(name))
            .and_then(|a| a.get_env())
            .map_or_else(
                || format!("BATON_{}", clap_id(name).to_uppercase()),
                |e| e.to_string_lossy().into_owned(),
            )
    }

    /// clap's value of `name` when a flag or `BATON_*` variable set it.
    fn clap_value<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Option<Setting<T>> {
        let source = self.clap_source(name)?;
        let value = self.matches.get_one::<T>(&clap_id(name))?.clone();
        Some(Setting::new(value, source))
    }

    /// clap's default of `name`, if it has one.
    fn clap_default<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Option<Setting<T>> {
        let id = clap_id(name);
        if self.matches.value_source(&id) != Some(ValueSource::DefaultValue) {
            return None;
        }
        let value = self.matches.get_one::<T>(&id)?.clone();
        Some(Setting::new(value, Source::Default))
    }

    /// The config file's value of `name`, if the table lets the file set it.
    fn file_value<T: DeserializeOwned>(
        &self,
        field: &Field,
    ) -> Result<Option<Setting<T>>, Failure> {
        let Some(file) = self.file.filter(|_| field.in_file) else {
            return Ok(None);
        };
        Ok(file
            .get::<T>(field.name)?
            .map(|v| Setting::new(v, Source::ConfigFile(file.path.clone()))))
    }

    /// Text: flag or `BATON_*` → env0's variable → config file → clap's default. When the table
    /// says so, an empty value at any layer counts as not set.
    pub(crate) fn text(&self, name: &str) -> Result<Option<Setting<String>>, Failure> {
        let field = field(name);
        let keep = |s: &Setting<String>| !(field.empty_is_unset && s.value.is_empty());
        if let Some(s) = self.clap_value::<String>(name).filter(keep) {
            return Ok(Some(s));
        }
        if let Some(var) = field.env0
            && let Some(value) = self.env.var(var)
        {
            return Ok(Some(Setting::new(value, Source::Env(var.to_owned()))));
        }
        if let Some(s) = self.file_value::<String>(field)?.filter(keep) {
            return Ok(Some(s));
        }
        Ok(self.clap_default(name))
    }

    /// Any other value clap parses and the file holds as YAML: flag or `BATON_*` → config file
    /// → clap's default.
    pub(crate) fn value<T>(&self, name: &str) -> Result<Option<Setting<T>>, Failure>
    where
        T: Clone + Send + Sync + DeserializeOwned + 'static,
    {
        if let Some(s) = self.clap_value(name) {
            return Ok(Some(s));
        }
        if let Some(s) = self.file_value(field(name))? {
            return Ok(Some(s));
        }
        Ok(self.clap_default(name))
    }

    /// A number, checked against the table's range.
    pub(crate) fn number<T>(&self, name: &str) -> Result<Option<Setting<T>>, Failure>
    where
        T: Copy + Send + Sync + DeserializeOwned + TryInto<u64> + std::fmt::Display + 'static,
    {
        let setting = self.value::<T>(name)?;
        if let Some(s) = &setting {
            check_range(s, field(name))?;
        }
        Ok(setting)
    }

    /// One of clap's value enums; the file's text is matched like the flag's (any case).
    pub(crate) fn choice<E>(&self, name: &str) -> Result<Option<Setting<E>>, Failure>
    where
        E: ValueEnum + Clone + Send + Sync + 'static,
    {
        if let Some(s) = self.clap_value(name) {
            return Ok(Some(s));
        }
        if let Some(raw) = self.file_value::<String>(field(name))? {
            let path = match &raw.source {
                Source::ConfigFile(path) => path.as_path(),
                _ => Path::new(""),
            };
            return Ok(Some(Setting::new(
                parse_enum::<E>(&raw.value, name, path)?,
                raw.source,
            )));
        }
        Ok(self.clap_default(name))
    }
}

fn parse_enum<E: ValueEnum>(raw: &str, key: &str, path: &Path) -> Result<E, Failure> {
    E::from_str(raw, true).map_err(|_| {
        let allowed: Vec<String> = E::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .map(|p| p.get_name().to_owned())
            .collect();
        Failure::usage(format!(
            "config file {}: `{key}` must be one of {}, got `{raw}`",
            path.display(),
            allowed.join(", ")
        ))
    })
}
