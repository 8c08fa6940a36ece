//! `c1-sync`: the generic sync engine and the c1z store (writer and reader), reusable by any
//! ConductorOne connector.
//!
//! Architecture invariant: this crate never depends on an `env0-*` crate; the only workspace crate
//! it may use is `c1-model`.

pub mod engine;
mod error;
pub mod store;

pub use async_trait::async_trait;
pub use engine::{
    BoxError, Connector, ConnectorError, ConnectorMetadata, Page, Phase, ProgressEvent, ResourceSyncer, SyncEngine,
    SyncError, SyncOptions, SyncReport, Totals, capabilities_json, capabilities_json_pretty,
};

pub use store::{C1zReader, C1zWriter, FinishedSync, StoreError, SyncRun};
