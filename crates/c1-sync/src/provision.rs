//! Provisioning: granting and revoking entitlements through a connector, the way ConductorOne's
//! SDK does it in its one-shot mode.
//!
//! A connector provisions per resource type: the [`ResourceSyncer`] of the type that owns an
//! entitlement returns a [`Provisioner`] from [`ResourceSyncer::provisioner`], and
//! [`capabilities_json`](crate::capabilities_json) then lists `CAPABILITY_PROVISION` on exactly
//! those types (and for the connector).
//!
//! The driver works from a c1z file a sync wrote (see `docs/grant-expansion.md`):
//!
//! 1. [`Provisioning::open`] opens the file read-only (its database is decompressed into a
//!    private temporary copy; the file itself is never rewritten) and picks the sync the SDK
//!    looks ids up in: its latest finished sync of any type, else its latest unfinished one.
//! 2. [`Provisioning::grant_request`] looks the entitlement and the principal up by exact id;
//!    [`Provisioning::revoke_request`] looks the grant up by exact id (ids are never parsed),
//!    and refuses a grant that expansion made (`GrantImmutable`), naming the grant it came from.
//!    Both hand the connector the stored objects, the entitlement's resource filled in.
//! 3. [`GrantRequest::send`] / [`RevokeRequest::send`] call the provisioner of the
//!    entitlement's resource type exactly once: no sync runs before or after, and nothing is
//!    retried. An error says whether retrying is safe ([`Retry`]).
//!
//! [`grant`] and [`revoke`] do all three.
//!
//! ```
//! use c1_model::pb;
//! use c1_sync::provision::{
//!     GrantOutcome, ProvisionError, Provisioner, RevokeOutcome,
//! };
//! use c1_sync::async_trait;
//!
//! /// Team membership in some directory.
//! struct Teams;
//!
//! #[async_trait]
//! impl Provisioner for Teams {
//!     async fn grant(
//!         &self,
//!         principal: &pb::Resource,
//!         entitlement: &pb::Entitlement,
//!     ) -> Result<GrantOutcome, ProvisionError> {
//!         // Call the system here; a member already in the team is success, not an error.
//!         let _ = (principal, entitlement);
//!         Ok(GrantOutcome::AlreadyExists)
//!     }
//!
//!     async fn revoke(&self, grant: &pb::Grant) -> Result<RevokeOutcome, ProvisionError> {
//!         let _ = grant;
//!         Err(ProvisionError::retryable("the directory answered 503"))
//!     }
//! }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use c1_model::{annotations, pb};
use prost_types::Any;
use serde::Serialize;

use crate::engine::{Connector, ResourceSyncer};
use crate::error::BoxError;
use crate::store::{C1zReader, StoreError};

/// What a grant request achieved. Both outcomes are success.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GrantOutcome {
    /// The principal now holds the entitlement; `grants` are the grants the system reports
    /// having made (may be empty).
    Granted {
        /// The grants made, as the connector describes them.
        grants: Vec<pb::Grant>,
        /// Grants the system took away to make room (a system that allows one role per
        /// principal per scope replaces the one held); empty when nothing was replaced.
        replaced: Vec<pb::Grant>,
    },
    /// The principal already held the entitlement; nothing changed (`GrantAlreadyExists`).
    AlreadyExists,
}

impl GrantOutcome {
    /// The principal now holds the entitlement, nothing else changed.
    pub fn granted() -> Self {
        Self::Granted {
            grants: Vec::new(),
            replaced: Vec::new(),
        }
    }

    /// Whether the request changed anything.
    pub fn changed(&self) -> bool {
        matches!(self, Self::Granted { .. })
    }

    /// The response annotations ConductorOne expects: `GrantAlreadyExists` when nothing changed.
    pub fn annotations(&self) -> Vec<Any> {
        match self {
            Self::Granted { .. } => Vec::new(),
            Self::AlreadyExists => vec![annotations::pack(&pb::GrantAlreadyExists {})],
        }
    }
}

/// What a revoke request achieved. Both outcomes are success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeOutcome {
    /// The principal no longer holds the entitlement.
    Revoked,
    /// The principal did not hold it any more; nothing changed (`GrantAlreadyRevoked`).
    AlreadyRevoked,
}

impl RevokeOutcome {
    /// Whether the request changed anything.
    pub fn changed(self) -> bool {
        self == Self::Revoked
    }

    /// The response annotations ConductorOne expects: `GrantAlreadyRevoked` when nothing
    /// changed.
    pub fn annotations(self) -> Vec<Any> {
        match self {
            Self::Revoked => Vec::new(),
            Self::AlreadyRevoked => vec![annotations::pack(&pb::GrantAlreadyRevoked {})],
        }
    }
}

/// Whether a failed provisioning call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Retry {
    /// Nothing changed and a later attempt may succeed (rate limit, unavailable, timeout before
    /// the request was sent).
    Safe,
    /// Nothing changed, and trying again fails the same way (denied, invalid request).
    Pointless,
    /// The change may have been applied, fully or partly (a timeout after the request was sent,
    /// a multi-step change that stopped half way): look at the system before trying again.
    Unsafe,
}

/// Why a [`Provisioner`] call failed, and whether it may be tried again.
///
/// `Display` is the wrapped error's message and `source` its source, as for
/// [`ConnectorError`](crate::ConnectorError).
pub struct ProvisionError {
    retry: Retry,
    source: BoxError,
}

impl ProvisionError {
    /// Nothing changed; trying again later may succeed ([`Retry::Safe`]).
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::new(Retry::Safe, error)
    }

    /// Nothing changed; trying again will fail the same way ([`Retry::Pointless`]).
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self::new(Retry::Pointless, error)
    }

    /// The change may have been applied; check before trying again ([`Retry::Unsafe`]).
    pub fn uncertain(error: impl Into<BoxError>) -> Self {
        Self::new(Retry::Unsafe, error)
    }

    /// An error with this retry advice.
    pub fn new(retry: Retry, error: impl Into<BoxError>) -> Self {
        Self {
            retry,
            source: error.into(),
        }
    }

    /// Whether, and how safely, the call may be tried again.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// Whether trying again cannot do harm (nothing was changed).
    pub fn is_retry_safe(&self) -> bool {
        self.retry != Retry::Unsafe
    }

    /// The wrapped error, if it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.source.downcast_ref::<T>()
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Debug for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvisionError")
            .field("retry", &self.retry)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl StdError for ProvisionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.source()
    }
}

/// Grants and revokes the entitlements of one resource type.
///
/// Both calls must be idempotent in effect: granting what the principal already holds returns
/// [`GrantOutcome::AlreadyExists`], revoking what it no longer holds
/// [`RevokeOutcome::AlreadyRevoked`]; neither is an error.
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Gives `principal` the entitlement. `entitlement.resource` is the full stored resource.
    async fn grant(
        &self,
        principal: &pb::Resource,
        entitlement: &pb::Entitlement,
    ) -> Result<GrantOutcome, ProvisionError>;

    /// Takes away the grant: `grant.entitlement` (with its full resource), `grant.principal`
    /// (the full stored resource), `grant.id` and the stored annotations.
    async fn revoke(&self, grant: &pb::Grant) -> Result<RevokeOutcome, ProvisionError>;
}

/// Why the provisioning driver failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// The c1z file could not be read (the message names it).
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The file holds no sync, finished or not, to look objects up in.
    #[error("{}: holds no sync; run a sync into it first", path.display())]
    NoSync {
        /// The c1z file.
        path: PathBuf,
    },

    /// An object asked for is not in the sync.
    #[error("{}: {kind} {id} is not in sync {sync_id}", path.display())]
    NotFound {
        /// The c1z file.
        path: PathBuf,
        /// The sync looked in.
        sync_id: String,
        /// `entitlement`, `grant`, `principal` or `resource`.
        kind: &'static str,
        /// The id asked for (`<type>:<id>` for a resource).
        id: String,
    },

    /// The grant was made by grant expansion (it carries `GrantImmutable`): it exists because of
    /// other grants and goes when they go.
    #[error(
        "grant {grant} cannot be revoked: {reason}; revoke {} instead",
        if from.len() > 1 { format!("each of {}", from.join(" and ")) } else { from.join("") }
    )]
    Immutable {
        /// The grant asked for.
        grant: String,
        /// Why it is immutable, in words.
        reason: String,
        /// The grants it comes from (all of them must go for it to go).
        from: Vec<String>,
    },

    /// No syncer of the connector provisions the entitlement's resource type.
    #[error("resource type {resource_type} does not have a provisioner")]
    NotProvisionable {
        /// The entitlement's resource type.
        resource_type: String,
    },

    /// The connector's grant call failed.
    #[error("granting {entitlement} to {principal} failed")]
    Grant {
        /// The entitlement id.
        entitlement: String,
        /// `<type>:<id>` of the principal.
        principal: String,
        /// The connector's error, with its retry advice.
        #[source]
        source: ProvisionError,
    },

    /// The connector's revoke call failed.
    #[error("revoking {grant} failed")]
    Revoke {
        /// The grant id.
        grant: String,
        /// The connector's error, with its retry advice.
        #[source]
        source: ProvisionError,
    },
}

impl ProvisioningError {
    /// The connector's error, if the connector's call failed.
    pub fn provision_error(&self) -> Option<&ProvisionError> {
        match self {
            Self::Grant { source, .. } | Self::Revoke { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A c1z file opened for provisioning lookups.
#[derive(Debug)]
pub struct Provisioning {
    reader: C1zReader,
    sync_id: String,
}

/// A grant request ready to send: the stored entitlement (its resource filled in) and the
/// stored principal.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GrantRequest {
    /// The entitlement, as stored, with `resource` the full stored resource.
    pub entitlement: pb::Entitlement,
    /// The principal, as stored.
    pub principal: pb::Resource,
}

/// A revoke request ready to send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RevokeRequest {
    /// The grant: its id, the stored entitlement (resource filled in), the stored principal and
    /// the stored annotations (without `GrantExpandable`).
    pub grant: pb::Grant,
}

fn show(id: &pb::ResourceId) -> String {
    format!("{}:{}", id.resource_type, id.resource)
}

impl Provisioning {
    /// Opens `c1z` read-only and picks the sync ConductorOne's one-shot provisioning looks ids
    /// up in: the latest finished sync of any type, else the latest unfinished one.
    pub fn open(c1z: &Path) -> Result<Self, ProvisioningError> {
        let reader = C1zReader::open(c1z)?;
        let sync = reader
            .latest_sync_of_any_type()?
            .ok_or_else(|| ProvisioningError::NoSync {
                path: c1z.to_path_buf(),
            })?;
        Ok(Self {
            reader,
            sync_id: sync.sync_id,
        })
    }

    /// The sync objects are looked up in.
    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }

    fn not_found(&self, kind: &'static str, id: String) -> ProvisioningError {
        ProvisioningError::NotFound {
            path: self.reader.path().to_path_buf(),
            sync_id: self.sync_id.clone(),
            kind,
            id,
        }
    }

    fn resource(
        &self,
        kind: &'static str,
        id: &pb::ResourceId,
    ) -> Result<pb::Resource, ProvisioningError> {
        self.reader
            .resource(&self.sync_id, id)?
            .ok_or_else(|| self.not_found(kind, show(id)))
    }

    /// The stored entitlement `entitlement_id` with its full stored resource.
    fn entitlement(&self, entitlement_id: &str) -> Result<pb::Entitlement, ProvisioningError> {
        let mut entitlement = self
            .reader
            .entitlement(&self.sync_id, entitlement_id)?
            .ok_or_else(|| self.not_found("entitlement", entitlement_id.to_owned()))?;
        let resource_id = entitlement
            .resource
            .as_ref()
            .and_then(|r| r.id.clone())
            .unwrap_or_default();
        entitlement.resource = Some(self.resource("resource", &resource_id)?);
        Ok(entitlement)
    }

    /// Looks up what granting `entitlement_id` to `principal` needs.
    pub fn grant_request(
        &self,
        entitlement_id: &str,
        principal: &pb::ResourceId,
    ) -> Result<GrantRequest, ProvisioningError> {
        Ok(GrantRequest {
            entitlement: self.entitlement(entitlement_id)?,
            principal: self.resource("principal", principal)?,
        })
    }

    /// Looks up what revoking the grant `grant_id` needs; refuses a grant made by expansion.
    pub fn revoke_request(&self, grant_id: &str) -> Result<RevokeRequest, ProvisioningError> {
        let stored = self
            .reader
            .grant(&self.sync_id, grant_id)?
            .ok_or_else(|| self.not_found("grant", grant_id.to_owned()))?;
        let principal_id = stored
            .principal
            .as_ref()
            .and_then(|p| p.id.clone())
            .unwrap_or_default();
        if let Some(immutable) = annotations::find::<pb::GrantImmutable>(&stored.annotations) {
            return Err(immutable_error(&stored, &principal_id, &immutable));
        }
        let entitlement_id = stored
            .entitlement
            .as_ref()
            .map(|e| e.id.clone())
            .unwrap_or_default();
        let mut annotations = stored.annotations;
        annotations::remove::<pb::GrantExpandable>(&mut annotations);
        Ok(RevokeRequest {
            grant: pb::Grant {
                id: stored.id,
                entitlement: Some(self.entitlement(&entitlement_id)?),
                principal: Some(self.resource("principal", &principal_id)?),
                annotations,
                sources: None,
            },
        })
    }
}

/// The refusal of an immutable grant, naming the grants it comes from: the principal's grants
/// of its `sources` entitlements, or the annotation's `source_id`.
fn immutable_error(
    grant: &pb::Grant,
    principal: &pb::ResourceId,
    immutable: &pb::GrantImmutable,
) -> ProvisioningError {
    let mut from: Vec<String> = grant
        .sources
        .iter()
        .flat_map(|s| s.sources.keys())
        .filter(|key| {
            grant
                .entitlement
                .as_ref()
                .is_none_or(|e| e.id.as_str() != key.as_str())
        })
        .map(|key| c1_model::grant::id(key, principal))
        .collect();
    let reason = if from.is_empty() {
        if !immutable.source_id.is_empty() {
            from.push(immutable.source_id.clone());
        }
        "the connector marked it immutable".to_owned()
    } else {
        "grant expansion made it".to_owned()
    };
    if from.is_empty() {
        from.push("the grant it comes from".to_owned());
    }
    ProvisioningError::Immutable {
        grant: grant.id.clone(),
        reason,
        from,
    }
}

/// The provisioner of `resource_type`'s syncer; the syncer is kept alive with it.
fn provisioner_for(
    connector: &dyn Connector,
    resource_type: &str,
) -> Result<Arc<dyn ResourceSyncer>, ProvisioningError> {
    connector
        .resource_syncers()
        .into_iter()
        .find(|s| s.resource_type().id == resource_type && s.provisioner().is_some())
        .ok_or_else(|| ProvisioningError::NotProvisionable {
            resource_type: resource_type.to_owned(),
        })
}

fn resource_type_of(entitlement: Option<&pb::Entitlement>) -> String {
    entitlement
        .and_then(|e| e.resource.as_ref())
        .and_then(|r| r.id.as_ref())
        .map(|id| id.resource_type.clone())
        .unwrap_or_default()
}

impl GrantRequest {
    /// Calls the provisioner of the entitlement's resource type, once.
    pub async fn send(&self, connector: &dyn Connector) -> Result<GrantOutcome, ProvisioningError> {
        let syncer = provisioner_for(connector, &resource_type_of(Some(&self.entitlement)))?;
        let Some(provisioner) = syncer.provisioner() else {
            return Err(ProvisioningError::NotProvisionable {
                resource_type: resource_type_of(Some(&self.entitlement)),
            });
        };
        provisioner
            .grant(&self.principal, &self.entitlement)
            .await
            .map_err(|source| ProvisioningError::Grant {
                entitlement: self.entitlement.id.clone(),
                principal: self.principal.id.as_ref().map(show).unwrap_or_default(),
                source,
            })
    }
}

impl RevokeRequest {
    /// Calls the provisioner of the grant's entitlement's resource type, once.
    pub async fn send(
        &self,
        connector: &dyn Connector,
    ) -> Result<RevokeOutcome, ProvisioningError> {
        let resource_type = resource_type_of(self.grant.entitlement.as_ref());
        let syncer = provisioner_for(connector, &resource_type)?;
        let Some(provisioner) = syncer.provisioner() else {
            return Err(ProvisioningError::NotProvisionable { resource_type });
        };
        provisioner
            .revoke(&self.grant)
            .await
            .map_err(|source| ProvisioningError::Revoke {
                grant: self.grant.id.clone(),
                source,
            })
    }
}

/// Grants `entitlement_id` to `principal` through `connector`, looking both up in the latest
/// finished sync of `c1z` (see the module docs). The file is not changed.
pub async fn grant(
    connector: &dyn Connector,
    c1z: &Path,
    entitlement_id: &str,
    principal: &pb::ResourceId,
) -> Result<GrantOutcome, ProvisioningError> {
    let request = Provisioning::open(c1z)?.grant_request(entitlement_id, principal)?;
    request.send(connector).await
}

/// Revokes the grant `grant_id` through `connector`, looking it up in the sync
/// [`Provisioning::open`] picks in `c1z` (see the module docs). The file is not changed.
pub async fn revoke(
    connector: &dyn Connector,
    c1z: &Path,
    grant_id: &str,
) -> Result<RevokeOutcome, ProvisioningError> {
    let request = Provisioning::open(c1z)?.revoke_request(grant_id)?;
    request.send(connector).await
}
