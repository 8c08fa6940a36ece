//! Errors of the fake server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong while configuring or starting the fake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// The organization file could not be read.
    #[error("cannot read organization file {path}")]
    ReadOrg {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The organization file is not valid JSON of the fake's model.
    #[error("invalid organization file {path}")]
    ParseOrg {
        /// The file.
        path: PathBuf,
        /// The JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A `--faults` specification could not be parsed.
    #[error("invalid fault specification `{spec}`: {reason}")]
    InvalidFaults {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--force-status` specification could not be parsed.
    #[error("invalid forced status `{spec}`: {reason}")]
    InvalidForcedStatus {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A response body could not be serialized.
    #[error("cannot serialize the {what} response")]
    Serialize {
        /// Which response.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}
