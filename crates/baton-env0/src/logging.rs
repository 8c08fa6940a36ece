//! The tracing subscriber: logs go to stderr, as console lines or JSON objects.
//!
//! Only this workspace's crates log at the requested level; every other crate (reqwest, hyper,
//! h2, rustls, ...) is capped at `warn`, so no third-party trace log can print request headers.
//! `RUST_LOG` is deliberately not read, for the same reason. env0-api additionally marks the
//! `Authorization` header sensitive and never logs it.
//!
//! While a progress bar is drawn, log lines are written "around" it (the bar is suspended for
//! the write) so the two never interleave.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::ProgressBar;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cli::{LogFormat, LogLevel};

/// The crates whose logs follow `--log-level`.
pub const OWN_CRATES: [&str; 5] = [
    "baton_env0",
    "env0_connector",
    "env0_api",
    "c1_sync",
    "c1_model",
];

/// A slot for the progress bar currently drawn on stderr, shared with the log writer.
#[derive(Debug, Clone, Default)]
pub struct ProgressSlot(Arc<Mutex<Option<ProgressBar>>>);

impl ProgressSlot {
    /// Registers the bar being drawn.
    pub fn set(&self, bar: ProgressBar) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar);
    }

    /// Forgets the bar (after it is finished or cleared).
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Runs `f`, with the bar (if any) hidden meanwhile.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let bar = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// Writes to stderr, hiding the progress bar during the write.
#[derive(Debug, Clone)]
struct StderrWriter {
    slot: ProgressSlot,
}

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.slot.suspend(|| io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// The filter: our crates at `level`, everything else at most `warn`.
pub fn targets(level: LogLevel) -> Targets {
    let own = level_filter(level);
    let others = own.min(LevelFilter::WARN);
    OWN_CRATES
        .iter()
        .fold(Targets::new().with_default(others), |t, krate| {
            t.with_target(*krate, own)
        })
}

/// Installs the global subscriber. `ansi` enables colours (console format on a terminal only).
/// Does nothing if a subscriber is already installed.
pub fn init(level: LogLevel, format: LogFormat, ansi: bool, slot: &ProgressSlot) {
    let writer = StderrWriter { slot: slot.clone() };
    let filter = targets(level);
    let result = match format {
        LogFormat::Console => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(ansi)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer)
                    .with_filter(filter),
            )
            .try_init(),
    };
    // Already installed (only possible when embedded in a test harness): keep the existing one.
    drop(result);
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn third_party_crates_never_go_below_warn() {
        let t = targets(LogLevel::Trace);
        assert!(t.would_enable("env0_api::transport", &Level::TRACE));
        assert!(t.would_enable("baton_env0", &Level::TRACE));
        assert!(!t.would_enable("hyper::proto::h1", &Level::DEBUG));
        assert!(!t.would_enable("reqwest::connect", &Level::TRACE));
        assert!(t.would_enable("reqwest::connect", &Level::WARN));
    }

    #[test]
    fn error_level_silences_warnings_everywhere() {
        let t = targets(LogLevel::Error);
        assert!(!t.would_enable("baton_env0", &Level::WARN));
        assert!(!t.would_enable("hyper", &Level::WARN));
        assert!(t.would_enable("hyper", &Level::ERROR));
    }
}
