//! Metadata of every setting, read from the clap definitions plus what clap cannot express
//! (env0's own variables, required, secret, config-file key). Drives `config`, `docs/cli.md` and
//! `config_schema.json`.

use clap::{Arg, ArgAction, CommandFactory};
use serde::Serialize;

use crate::cli::Cli;
use crate::settings::FIELDS;

/// How a setting is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FieldKind {
    /// Free text (ids, URLs, paths).
    String,
    /// An integer.
    Int,
    /// A boolean switch.
    Bool,
    /// One of a fixed list.
    Enum,
}

/// One setting, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FieldInfo {
    /// The setting's name: the long flag without dashes, also its config-file key.
    pub name: String,
    /// The flag, e.g. `--api-key-id` (with `-f, ` for short forms).
    pub flag: String,
    /// The placeholder shown in usage, e.g. `ID`.
    #[serde(skip)]
    pub value_name: Option<String>,
    /// Environment variables in precedence order (`BATON_*` first, then env0's own).
    pub env: Vec<String>,
    /// The key in the YAML config file, if the setting may be set there.
    pub config_key: Option<String>,
    /// What the setting does.
    pub description: String,
    /// Whether a sync (and `validate`) needs it.
    pub required: bool,
    /// Whether it is secret (its value is never printed).
    pub secret: bool,
    /// The default, if any, as text.
    pub default: Option<String>,
    /// Allowed values for enumerations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub possible_values: Vec<String>,
    /// Its type.
    pub kind: FieldKind,
}

/// Splits a help text ending in `[default: X]` into the text and `X`.
pub(crate) fn split_default(help: &str) -> (String, Option<String>) {
    let help = help.trim();
    if let Some(start) = help.rfind(" [default: ")
        && help.ends_with(']')
    {
        let default = &help[start + " [default: ".len()..help.len() - 1];
        return (
            help[..start].trim_end().to_owned(),
            Some(default.to_owned()),
        );
    }
    (help.to_owned(), None)
}

/// Describes one clap argument, with what the settings table adds to it.
pub(crate) fn describe(arg: &Arg) -> Option<FieldInfo> {
    if arg.is_hide_set() {
        return None;
    }
    let id = arg.get_id().as_str();
    if matches!(id, "help" | "version") {
        return None;
    }
    let name = arg.get_long().map_or_else(|| id.to_owned(), str::to_owned);
    let flag = match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}, --{l}"),
        (None, Some(l)) => format!("--{l}"),
        (Some(s), None) => format!("-{s}"),
        (None, None) => format!(
            "<{}>",
            arg.get_value_names()
                .and_then(|v| v.first())
                .map_or(id, |s| s.as_str())
        ),
    };
    let mut env: Vec<String> = arg
        .get_env()
        .and_then(|e| e.to_str())
        .map(str::to_owned)
        .into_iter()
        .collect();
    let extra = FIELDS.iter().find(|f| f.name == name);
    env.extend(extra.and_then(|f| f.env0).map(str::to_owned));
    let (description, help_default) =
        split_default(&arg.get_help().map(ToString::to_string).unwrap_or_default());
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let is_flag = matches!(arg.get_action(), ArgAction::SetTrue);
    let default = if is_flag {
        Some("false".to_owned())
    } else if defaults.is_empty() {
        help_default
    } else {
        Some(defaults.join(","))
    };
    let possible_values: Vec<String> = if is_flag {
        Vec::new()
    } else {
        arg.get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_owned())
            .collect()
    };
    let value_name = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(ToString::to_string);
    let kind = if is_flag {
        FieldKind::Bool
    } else if !possible_values.is_empty() {
        FieldKind::Enum
    } else if matches!(value_name.as_deref(), Some("N" | "SECONDS" | "MS")) {
        FieldKind::Int
    } else {
        FieldKind::String
    };
    Some(FieldInfo {
        config_key: extra.filter(|f| f.in_file).map(|_| name.clone()),
        required: extra.is_some_and(|f| f.required),
        secret: extra.is_some_and(|f| f.secret),
        name,
        flag,
        value_name,
        env,
        description,
        default,
        possible_values,
        kind,
    })
}

/// Every documented global setting, in `--help` order.
pub fn fields() -> Vec<FieldInfo> {
    Cli::command()
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(describe)
        .collect()
}

/// The one-shot provisioning flags (`--grant-entitlement`, `--revoke-grant`, ...): top-level,
/// not settings (no config-file key).
pub fn provision_fields() -> Vec<FieldInfo> {
    Cli::command()
        .get_arguments()
        .filter(|a| !a.is_global_set())
        .filter_map(describe)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_default_extracts_the_bracket() {
        assert_eq!(
            split_default("Log format [default: console, else json]"),
            (
                "Log format".to_owned(),
                Some("console, else json".to_owned())
            )
        );
        assert_eq!(split_default("Plain"), ("Plain".to_owned(), None));
    }

    #[test]
    fn credentials_are_required_and_only_the_secret_is_secret() {
        let fields = fields();
        let required: Vec<&str> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            required,
            ["api-key-id", "api-key-secret", "organization-id"]
        );
        let secret: Vec<&str> = fields
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(secret, ["api-key-secret"]);
        let id = fields.iter().find(|f| f.name == "api-key-id").unwrap();
        assert_eq!(id.env, ["BATON_API_KEY_ID", "ENV0_API_KEY"]);
        assert!(
            fields.iter().all(|f| f.name != "retry-base-delay-ms"),
            "hidden flags stay undocumented"
        );
    }

    #[test]
    fn config_file_keys_match_the_settings_parser() {
        let keys: Vec<String> = fields().into_iter().filter_map(|f| f.config_key).collect();
        let table: Vec<&str> = crate::settings::config_file_keys().collect();
        assert_eq!(keys, table);
        // And the file's keys are exactly the global settings but `config` itself.
        assert_eq!(table.len(), 15);
        assert!(!table.contains(&"config"));
    }
}
