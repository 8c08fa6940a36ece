//! What one run carries through its phases: the options and progress callback (`Ctx`), and the
//! consumer's mutable state (`State`: totals, warnings, the ids written).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use backon::Retryable;

use crate::engine::connector::Page;
use crate::engine::keyset::KeySet;
use crate::engine::options::SyncOptions;
use crate::engine::progress::{Phase, ProgressEvent, Totals};
use crate::engine::validate::show;
use crate::error::{ConnectorError, SyncError};

use super::ProgressFn;

/// Shared, read-only context of a run (the part concurrent listing calls use).
pub(super) struct Ctx<'a> {
    pub(super) options: &'a SyncOptions,
    pub(super) progress: Option<&'a ProgressFn>,
    pub(super) retries: AtomicU64,
}

impl Ctx<'_> {
    pub(super) fn emit(&self, event: &ProgressEvent) {
        if let Some(progress) = self.progress {
            progress(event);
        }
    }

    /// Calls `op` until it succeeds, fails permanently, or runs out of attempts. On failure
    /// returns the number of attempts made and the last error.
    pub(super) async fn call<T, F, Fut>(
        &self,
        phase: Phase,
        resource_type: Option<&str>,
        op: F,
    ) -> Result<T, (u32, ConnectorError)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let attempts = AtomicU32::new(1);
        op.retry(self.options.backoff())
            .when(ConnectorError::is_transient)
            .adjust(|error, backoff| {
                backoff.map(|wait| self.options.wait(wait, error.retry_after()))
            })
            .notify(|error, wait| {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                self.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    %phase,
                    resource_type,
                    attempt,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "transient connector error, retrying: {error}"
                );
                self.emit(&ProgressEvent::Retry {
                    phase,
                    resource_type: resource_type.map(str::to_owned),
                    attempt,
                    wait,
                    error: error.to_string(),
                });
            })
            .await
            .map_err(|error| (attempts.load(Ordering::Relaxed), error))
    }

    /// A listing call for `job`, with retries, as the pipeline's fetch step.
    pub(super) async fn list<T, F, Fut>(
        &self,
        phase: Phase,
        resource_type: &str,
        op: F,
    ) -> Result<Page<T>, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Page<T>, ConnectorError>>,
    {
        self.call(phase, Some(resource_type), op)
            .await
            .map_err(|(attempts, source)| SyncError::Connector {
                phase,
                resource_type: resource_type.to_owned(),
                attempts,
                source,
            })
    }
}

/// Mutable state of a run, touched only by the (sequential) consumer of pages.
pub(super) struct State {
    pub(super) totals: Totals,
    /// Warnings the connector marked expected: counted in `totals`, not toward the limit.
    pub(super) expected_warnings: u64,
    pub(super) items: u64,
    pub(super) warning_messages: Vec<String>,
    pub(super) max_warning_messages: usize,
    pub(super) resources_by_type: BTreeMap<String, u64>,
    /// `resource_key` of every resource written.
    pub(super) resources: KeySet,
    /// Id of every entitlement written.
    pub(super) entitlements: KeySet,
    /// Resource types whose per-type `PhaseStarted` was sent in the current phase.
    pub(super) started: HashSet<String>,
}

impl State {
    pub(super) fn new(max_warning_messages: usize) -> Self {
        Self {
            totals: Totals::default(),
            expected_warnings: 0,
            items: 0,
            warning_messages: Vec::new(),
            max_warning_messages,
            resources_by_type: BTreeMap::new(),
            resources: KeySet::default(),
            entitlements: KeySet::default(),
            started: HashSet::new(),
        }
    }

    pub(super) fn warn(
        &mut self,
        ctx: &Ctx<'_>,
        phase: Phase,
        resource_type: Option<&str>,
        message: &str,
    ) {
        self.totals.warnings += 1;
        let message = match resource_type {
            Some(resource_type) => format!("{phase} of {}: {message}", show(resource_type)),
            None => format!("{phase}: {message}"),
        };
        tracing::warn!(%phase, resource_type, "{message}");
        if self.warning_messages.len() < self.max_warning_messages {
            self.warning_messages.push(message.clone());
        }
        ctx.emit(&ProgressEvent::Warning {
            phase,
            resource_type: resource_type.map(str::to_owned),
            message,
        });
    }

    pub(super) fn begin_phase(&mut self, ctx: &Ctx<'_>, phase: Phase) {
        self.started.clear();
        ctx.emit(&ProgressEvent::PhaseStarted {
            phase,
            resource_type: None,
        });
    }

    /// Sends the per-type `PhaseStarted` the first time a type shows up in a phase, and counts the
    /// page's items and warnings.
    pub(super) fn begin_page<T>(
        &mut self,
        ctx: &Ctx<'_>,
        phase: Phase,
        resource_type: &str,
        page: &mut Page<T>,
    ) {
        if !self.started.contains(resource_type) {
            self.started.insert(resource_type.to_owned());
            ctx.emit(&ProgressEvent::PhaseStarted {
                phase,
                resource_type: Some(resource_type.to_owned()),
            });
        }
        self.items += page.items.len() as u64;
        for warning in std::mem::take(&mut page.warnings) {
            self.warn(ctx, phase, Some(resource_type), &warning);
        }
        for warning in std::mem::take(&mut page.expected_warnings) {
            self.expected_warnings += 1;
            self.warn(ctx, phase, Some(resource_type), &warning);
        }
    }

    pub(super) fn page_done(
        &self,
        ctx: &Ctx<'_>,
        phase: Phase,
        resource_type: &str,
        items: usize,
        skipped: usize,
    ) {
        ctx.emit(&ProgressEvent::PageDone {
            phase,
            resource_type: resource_type.to_owned(),
            items: items as u64,
            skipped: skipped as u64,
            totals: self.totals,
        });
    }
}
