//! `c1-sync`: the generic sync engine and the c1z store (writer and reader), reusable by any
//! ConductorOne connector.
//!
//! - [`engine`]: what a connector implements ([`Connector`], [`ResourceSyncer`], [`Page`]) and
//!   the [`SyncEngine`] that runs a full sync into a c1z file; the module docs carry a complete
//!   example connector.
//! - [`store`]: the c1z v1 file itself ([`C1zWriter`], [`C1zReader`]).
//! - [`expand`]: grant expansion, the last phase of a full sync ([`ExpansionReport`]).
//! - [`provision`]: granting and revoking through a connector's [`Provisioner`]s, with objects
//!   looked up in a c1z file.
//!
//! Architecture invariant: this crate never depends on an `env0-*` crate; the only workspace crate
//! it may use is `c1-model`.

pub mod engine;
mod error;
pub mod expand;
pub mod provision;
pub mod store;

pub use async_trait::async_trait;
pub use engine::{
    BoxError, Connector, ConnectorError, ConnectorMetadata, Page, Phase, ProgressEvent,
    ResourceSyncer, SyncEngine, SyncError, SyncOptions, SyncReport, Totals, capabilities_json,
    capabilities_json_pretty,
};

pub use expand::{ExpansionError, ExpansionReport};
pub use provision::{
    GrantOutcome, ProvisionError, Provisioner, Provisioning, ProvisioningError, Retry,
    RevokeOutcome,
};
pub use store::{C1zReader, C1zWriter, FinishedSync, StoreError, SyncRun};
