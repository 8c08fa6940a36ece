//! The generic sync engine: a connector describes how to list its objects, the engine does the
//! rest — ordering, paging, bounded concurrency, retries of transient failures, validation,
//! progress, and writing the c1z file atomically.
//!
//! A connector implements [`Connector`] and one [`ResourceSyncer`] per resource type; each
//! listing call returns a [`Page`]. [`SyncEngine::run`] then performs one full sync (see
//! [`SyncEngine`] for the phases and guarantees) and returns a [`SyncReport`].
//! [`capabilities_json`] gives the document `baton-<name> capabilities` prints.
//!
//! The engine knows nothing about any particular system: everything specific lives in the
//! connector.
//!
//! # Example: a complete connector
//!
//! An in-memory directory with one user type, synced into a c1z file and read back.
//!
//! ```
//! use std::sync::Arc;
//!
//! use c1_model::{pb, ResourceTypeBuilder, UserBuilder, UserStatus};
//! use c1_sync::{
//!     async_trait, C1zReader, Connector, ConnectorError, ConnectorMetadata, Page, ProgressEvent,
//!     ResourceSyncer, SyncEngine, SyncOptions,
//! };
//!
//! /// The system we sync: a list of (id, email) pairs.
//! #[derive(Clone)]
//! struct Directory {
//!     users: Vec<(String, String)>,
//! }
//!
//! /// Lists users two per page; the page token is the index of the next user.
//! struct Users {
//!     directory: Directory,
//! }
//!
//! const PAGE_SIZE: usize = 2;
//!
//! #[async_trait]
//! impl ResourceSyncer for Users {
//!     fn resource_type(&self) -> pb::ResourceType {
//!         // Users are principals only: no entitlements or grants to list.
//!         ResourceTypeBuilder::new("user", "User")
//!             .with_trait(pb::resource_type::Trait::User)
//!             .annotation(&pb::SkipEntitlementsAndGrants {})
//!             .build()
//!     }
//!
//!     async fn list(
//!         &self,
//!         _parent: Option<&pb::ResourceId>,
//!         page_token: &str,
//!     ) -> Result<Page<pb::Resource>, ConnectorError> {
//!         let start: usize = if page_token.is_empty() {
//!             0
//!         } else {
//!             page_token.parse().map_err(ConnectorError::permanent)?
//!         };
//!         let items: Vec<pb::Resource> = self
//!             .directory
//!             .users
//!             .iter()
//!             .skip(start)
//!             .take(PAGE_SIZE)
//!             .map(|(id, email)| {
//!                 UserBuilder::new("user", id, email)
//!                     .email(email, true)
//!                     .status(UserStatus::Enabled, None)
//!                     .build()
//!             })
//!             .collect();
//!         let next = start + items.len();
//!         Ok(if next < self.directory.users.len() {
//!             Page::next(items, next.to_string())
//!         } else {
//!             Page::last(items)
//!         })
//!     }
//!     // `entitlements` and `grants` keep their default (no items).
//! }
//!
//! #[async_trait]
//! impl Connector for Directory {
//!     fn metadata(&self) -> ConnectorMetadata {
//!         ConnectorMetadata::new("directory", "Directory", "0.1.0")
//!     }
//!
//!     async fn validate(&self) -> Result<(), ConnectorError> {
//!         // A real connector makes one cheap authenticated call here.
//!         Ok(())
//!     }
//!
//!     fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>> {
//!         vec![Arc::new(Users { directory: self.clone() })]
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let directory = Directory {
//!         users: ["ada", "brian", "grace"]
//!             .iter()
//!             .map(|name| (format!("u-{name}"), format!("{name}@example.com")))
//!             .collect(),
//!     };
//!     let dir = tempfile::tempdir()?;
//!     let output = dir.path().join("sync.c1z");
//!
//!     let report = SyncEngine::new(SyncOptions::default())
//!         .with_progress(|event| {
//!             if let ProgressEvent::PageDone { resource_type, totals, .. } = event {
//!                 eprintln!("{resource_type}: {} resources so far", totals.resources);
//!             }
//!         })
//!         .run(&directory, &output)
//!         .await?;
//!     assert_eq!(report.resources, 3);
//!     assert_eq!(report.warnings, 0);
//!     println!("{}", serde_json::to_string_pretty(&report)?);
//!
//!     let reader = C1zReader::open(&output)?;
//!     let users = reader.resources(&report.sync_id, Some("user"))?;
//!     let names: Vec<&str> = users.iter().map(|user| user.display_name.as_str()).collect();
//!     assert_eq!(names, ["ada@example.com", "brian@example.com", "grace@example.com"]);
//!     Ok(())
//! }
//! ```
//!
//! # Stability
//!
//! The traits [`Connector`] and [`ResourceSyncer`] are the contract with connectors: new methods
//! only arrive with default implementations. Structs and enums that will grow ([`Page`],
//! [`SyncOptions`], [`SyncReport`], [`ProgressEvent`], [`Phase`], [`Totals`],
//! [`ConnectorMetadata`], [`SyncError`]) are `#[non_exhaustive]`: build them
//! with their constructors and `with_*` setters, and match them with a wildcard arm. The output
//! order of a sync is part of the contract.

mod capabilities;
mod connector;
mod keyset;
mod options;
mod pipeline;
mod progress;
mod report;
mod run;
mod spool;
mod validate;

pub use capabilities::{capabilities_json, capabilities_json_pretty};
pub use connector::{Connector, ConnectorMetadata, Page, ResourceSyncer};
pub use options::SyncOptions;
pub use progress::{Phase, ProgressEvent, Totals};
pub use report::SyncReport;
pub use run::SyncEngine;

pub use crate::error::{BoxError, ConnectorError, SyncError};
