//! Errors of the sync engine: [`ConnectorError`] (what a connector returns) and [`SyncError`]
//! (why a sync failed). The store's own error, [`StoreError`], lives in `store/error.rs`.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::engine::Phase;
use crate::expand::ExpansionError;
use crate::store::StoreError;

/// A boxed error a connector wraps in a [`ConnectorError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error returned by a [`Connector`](crate::Connector) or
/// [`ResourceSyncer`](crate::ResourceSyncer): the connector's own error plus whether it is worth
/// retrying.
///
/// - [`ConnectorError::transient`]: the engine retries the call with exponential backoff (rate
///   limits, 5xx, timeouts, dropped connections).
/// - [`ConnectorError::permanent`]: the engine aborts the sync at once (bad credentials, missing
///   permissions, malformed responses).
///
/// `Display` is the wrapped error's message and [`source`](StdError::source) is the wrapped
/// error's source, so an error report shows the connector's chain exactly once. The original
/// error is reachable with [`downcast_ref`](Self::downcast_ref), which lets a CLI map, say, an
/// HTTP 401 to its own exit code.
///
/// ```
/// use c1_sync::ConnectorError;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the API answered 503")]
/// struct Unavailable;
///
/// let err = ConnectorError::transient(Unavailable);
/// assert!(err.is_transient());
/// assert_eq!(err.to_string(), "the API answered 503");
/// assert!(err.downcast_ref::<Unavailable>().is_some());
///
/// let err = ConnectorError::permanent("the API key was revoked");
/// assert!(!err.is_transient());
/// ```
pub struct ConnectorError {
    transient: bool,
    retry_after: Option<Duration>,
    source: BoxError,
}

impl ConnectorError {
    /// An error worth retrying: the same call may succeed later.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        Self {
            transient: true,
            retry_after: None,
            source: error.into(),
        }
    }

    /// An error not worth retrying: the sync stops.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self {
            transient: false,
            retry_after: None,
            source: error.into(),
        }
    }

    /// Asks the engine to wait at least `wait` before the next attempt (for example a rate
    /// limit's `Retry-After`). The engine never waits longer than
    /// [`SyncOptions::retry_max_delay`](crate::SyncOptions::retry_max_delay). Only meaningful on
    /// a transient error.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Whether the engine retries this error.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The minimum wait requested with [`with_retry_after`](Self::with_retry_after).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The wrapped error, if it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.source.downcast_ref::<T>()
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// Consumes the error, returning the wrapped one.
    pub fn into_inner(self) -> BoxError {
        self.source
    }
}

impl fmt::Debug for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorError")
            .field("transient", &self.transient)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl StdError for ConnectorError {
    // Transparent: `Display` already is the wrapped error's message, so the chain continues with
    // the wrapped error's own source.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.source()
    }
}

/// Why [`SyncEngine::run`](crate::SyncEngine::run) failed.
///
/// Whatever the variant, the output file is untouched: the engine only replaces it once every
/// phase succeeded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// [`Connector::validate`](crate::Connector::validate) failed (after retries if transient).
    #[error("connector validation failed after {attempts} attempt(s)")]
    Validate {
        /// How many times `validate` was called.
        attempts: u32,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },

    /// [`Connector::begin_sync`](crate::Connector::begin_sync) failed (after retries if
    /// transient).
    #[error("the connector could not prepare the sync after {attempts} attempt(s)")]
    BeginSync {
        /// How many times `begin_sync` was called.
        attempts: u32,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },

    /// A listing call failed permanently, or transiently more than the allowed attempts.
    #[error(
        "listing {phase} of resource type `{resource_type}` failed after {attempts} attempt(s)"
    )]
    Connector {
        /// The phase that failed.
        phase: Phase,
        /// The resource type whose syncer failed.
        resource_type: String,
        /// How many times the failing call was made.
        attempts: u32,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },

    /// A syncer returned the page token it was just called with, which would loop forever.
    #[error(
        "listing {phase} of resource type `{resource_type}` returned page token `{token}` twice in a row"
    )]
    PageTokenRepeated {
        /// The phase.
        phase: Phase,
        /// The resource type whose syncer misbehaved.
        resource_type: String,
        /// The repeated token.
        token: String,
    },

    /// More than 10 warnings and more than 10 % of the items were skipped or warned about.
    #[error(
        "too many warnings: {warnings} warnings for {items} items (at most 10 warnings or 10% of items are allowed, whichever is more); first: {first}"
    )]
    TooManyWarnings {
        /// Warnings counted.
        warnings: u64,
        /// Items the connector returned (valid or not).
        items: u64,
        /// The first warning's message.
        first: String,
    },

    /// Grant expansion found the connector's expandable grants inconsistent (or a stored grant
    /// corrupt); the error names the grant and entitlements involved.
    #[error("grant expansion failed")]
    Expansion {
        /// What is wrong.
        #[source]
        source: ExpansionError,
    },

    /// The c1z store failed (the message names the file).
    #[error(transparent)]
    Store {
        /// The store's error.
        #[from]
        source: StoreError,
    },

    /// The temporary file that holds resources between phases failed.
    #[error("temporary resource spool failed")]
    Spool {
        /// The I/O or decoding error.
        #[source]
        source: BoxError,
    },
}

impl SyncError {
    /// The connector's error behind this failure, if the connector caused it.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self {
            Self::Validate { source, .. }
            | Self::BeginSync { source, .. }
            | Self::Connector { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn connector_error_is_transparent_and_downcastable() {
        let err = ConnectorError::permanent(Outer(std::io::Error::other("inner")));
        assert_eq!(err.to_string(), "outer");
        assert_eq!(
            StdError::source(&err).map(ToString::to_string).as_deref(),
            Some("inner")
        );
        assert!(err.downcast_ref::<Outer>().is_some());
        assert!(err.downcast_ref::<std::io::Error>().is_none());
        assert!(!err.is_transient());
        assert!(err.into_inner().downcast::<Outer>().is_ok());
    }

    #[test]
    fn transient_error_carries_retry_after() {
        let err = ConnectorError::transient("slow down").with_retry_after(Duration::from_secs(3));
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            format!("{err:?}"),
            r#"ConnectorError { transient: true, retry_after: Some(3s), source: "slow down" }"#
        );
    }

    #[test]
    fn sync_error_exposes_the_connector_error() {
        let err = SyncError::Connector {
            phase: Phase::Grants,
            resource_type: "team".into(),
            attempts: 5,
            source: ConnectorError::transient("503"),
        };
        assert_eq!(
            err.to_string(),
            "listing grants of resource type `team` failed after 5 attempt(s)"
        );
        assert!(
            err.connector_error()
                .is_some_and(ConnectorError::is_transient)
        );
        let err = SyncError::TooManyWarnings {
            warnings: 11,
            items: 20,
            first: "x".into(),
        };
        assert!(err.connector_error().is_none());
    }
}
