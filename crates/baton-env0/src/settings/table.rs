//! The one table of settings: what clap's flag definitions cannot say about each one.
//!
//! clap (`cli::GlobalArgs`) defines every flag, its `BATON_*` variable, its type and default.
//! This table adds the rest: env0's own variable, whether a sync needs it, whether it is secret,
//! whether the config file may hold it, and its allowed range. Resolution (`Settings::resolve`),
//! the config file's known keys, `config` output, `docs/cli.md` and `config_schema.json` are all
//! read from here and from clap, and a test checks that the two list the same settings.

use std::ops::RangeInclusive;

use crate::exit::Failure;

use super::{ENV0_API_KEY, ENV0_API_SECRET, ENV0_ORGANIZATION_ID, Setting};

/// What clap cannot express about one global setting.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The long flag without dashes, also its config-file key.
    pub(crate) name: &'static str,
    /// env0's own environment variable, read after the `BATON_*` one.
    pub(crate) env0: Option<&'static str>,
    /// Whether a sync (and `validate`) needs it.
    pub(crate) required: bool,
    /// Whether its value is secret (never printed).
    pub(crate) secret: bool,
    /// Whether the YAML config file may set it.
    pub(crate) in_file: bool,
    /// Whether an empty value counts as not set.
    pub(crate) empty_is_unset: bool,
    /// The allowed values of a number.
    pub(crate) range: Option<RangeInclusive<u64>>,
    /// How ConductorOne's configuration form shows it (`config_schema.json`); `None` for
    /// settings only the command line has (paths, logging, the progress bar).
    pub(crate) export: Option<Export>,
}

/// A setting as ConductorOne's configuration form shows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Export {
    /// The form's label.
    pub(crate) display_name: &'static str,
    /// The form's help text (the CLI help talks about flags and variables instead).
    pub(crate) description: &'static str,
    /// Whether it is operational rather than part of the connection (`isOps`).
    pub(crate) is_ops: bool,
}

impl Export {
    const fn new(display_name: &'static str, description: &'static str, is_ops: bool) -> Export {
        Export {
            display_name,
            description,
            is_ops,
        }
    }
}

impl Field {
    const fn plain(name: &'static str) -> Field {
        Field {
            name,
            env0: None,
            required: false,
            secret: false,
            in_file: true,
            empty_is_unset: false,
            range: None,
            export: None,
        }
    }

    const fn exported(self, export: Export) -> Field {
        Field {
            export: Some(export),
            ..self
        }
    }

    const fn credential(name: &'static str, env0: &'static str) -> Field {
        Field {
            env0: Some(env0),
            required: true,
            empty_is_unset: true,
            ..Field::plain(name)
        }
    }

    const fn number(name: &'static str, min: u64, max: u64) -> Field {
        Field {
            range: Some(min..=max),
            ..Field::plain(name)
        }
    }
}

/// Every documented global setting, in `--help` order.
pub(crate) const FIELDS: &[Field] = &[
    Field::credential("api-key-id", ENV0_API_KEY).exported(Export::new(
        "API key ID",
        "The ID of an env0 organization API key",
        false,
    )),
    Field {
        secret: true,
        ..Field::credential("api-key-secret", ENV0_API_SECRET)
    }
    .exported(Export::new(
        "API key secret",
        "The secret of that env0 API key",
        false,
    )),
    Field::plain("api-key-secret-file"),
    Field::credential("organization-id", ENV0_ORGANIZATION_ID).exported(Export::new(
        "Organization ID",
        "The env0 organization to sync (a UUID)",
        false,
    )),
    Field::plain("file"),
    // The config file cannot name itself.
    Field {
        in_file: false,
        ..Field::plain("config")
    },
    Field::plain("base-url").exported(Export::new("Base URL", "The env0 API base URL", false)),
    Field::plain("log-level").exported(Export::new(
        "Log level",
        "The log level: error, warn, info, debug, trace",
        true,
    )),
    Field::plain("log-format"),
    Field::number("http-timeout-seconds", 1, 1800).exported(Export::new(
        "HTTP timeout (seconds)",
        "Timeout of one HTTP request to env0, in seconds",
        true,
    )),
    Field::number("max-retries", 0, 100).exported(Export::new(
        "Maximum retries",
        "Retries of a request that failed with 429, 5xx or a network error",
        true,
    )),
    Field::number("max-requests-per-minute", 1, 100_000).exported(Export::new(
        "Maximum requests per minute",
        "Client-side rate limit: requests a minute to each env0 path (method and path without the query, the way env0 counts)",
        true,
    )),
    Field::number("workers", 1, 64),
    Field::plain("skip-projects").exported(Export::new(
        "Skip projects",
        "Sync users, organization roles and teams only: no projects, project roles or their inheritance",
        false,
    )),
    Field::plain("no-progress"),
    Field::plain("summary-json"),
];

/// The table's entry for `name`.
///
/// # Panics
/// When `name` is not in the table: a programming error that every test run would catch.
pub(crate) fn field(name: &str) -> &'static Field {
    FIELDS
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("`{name}` is not in the settings table"))
}

/// The keys a config file may hold (kebab-case; snake_case is accepted too).
pub fn config_file_keys() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().filter(|f| f.in_file).map(|f| f.name)
}

/// Checks a number against its field's range, naming where the value came from.
pub(crate) fn check_range<T>(setting: &Setting<T>, field: &Field) -> Result<(), Failure>
where
    T: Copy + TryInto<u64> + std::fmt::Display,
{
    let Some(range) = &field.range else {
        return Ok(());
    };
    if !setting
        .value
        .try_into()
        .is_ok_and(|value| range.contains(&value))
    {
        return Err(Failure::usage(format!(
            "--{} must be between {} and {}, got {} (from {})",
            field.name,
            range.start(),
            range.end(),
            setting.value,
            setting.source
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn the_table_lists_exactly_the_documented_global_flags_in_help_order() {
        let cmd = Cli::command();
        let flags: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| a.is_global_set() && !a.is_hide_set())
            .filter_map(clap::Arg::get_long)
            .collect();
        let table: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(flags, table);
    }

    #[test]
    fn help_states_every_range_the_checks_enforce() {
        let cmd = Cli::command();
        for field in FIELDS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(field.name))
                .unwrap();
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            if let Some(range) = &field.range {
                let stated = format!("({}-{})", range.start(), range.end());
                assert!(help.contains(&stated), "--{}: {help}", field.name);
            }
        }
    }
}
