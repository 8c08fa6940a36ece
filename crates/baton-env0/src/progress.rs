//! The progress bar of a sync, driven by the engine's [`ProgressEvent`]s.
//!
//! It is drawn only on an interactive stderr, with console logs, and without `--no-progress`.
//! Phase changes are also logged (info), pages at debug, whether or not a bar is drawn.

use std::time::Duration;

use c1_sync::{Phase, ProgressEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::logging::ProgressSlot;

/// Reacts to progress events; cheap to clone (the bar is shared).
#[derive(Debug, Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    slot: ProgressSlot,
}

impl Progress {
    /// A progress reporter; draws a bar on stderr when `draw` is true.
    pub fn new(draw: bool, slot: &ProgressSlot) -> Progress {
        let bar = draw.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            slot.set(bar.clone());
            bar
        });
        Progress {
            bar,
            slot: slot.clone(),
        }
    }

    /// Whether a bar is drawn.
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    fn message(&self, text: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    /// Projects whose assignments have been read, of how many.
    pub fn projects(&self, done: usize, total: usize) {
        if done == 0 || done == total {
            tracing::info!(done, total, "reading the projects' assignments");
        } else {
            tracing::debug!(done, total, "project assignments read");
        }
        self.message(format!(
            "reading project assignments: {done} of {total} projects"
        ));
    }

    /// A request waits `wait` for the rate limit of `path` (`GET /path`).
    pub fn throttled(&self, path: &str, wait: Duration) {
        tracing::debug!(
            path,
            wait_ms = wait.as_millis() as u64,
            "waiting for env0's rate limit"
        );
        self.message(format!(
            "waiting {:.1}s for env0's rate limit on {path}",
            wait.as_secs_f64()
        ));
    }

    /// Handles one engine event.
    pub fn handle(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::PhaseStarted {
                phase,
                resource_type: None,
            } => {
                tracing::info!(phase = %phase, "sync phase started");
                self.message(phase_label(*phase).to_owned());
            }
            ProgressEvent::PhaseStarted {
                phase,
                resource_type: Some(rt),
            } => {
                tracing::debug!(phase = %phase, resource_type = %rt, "listing resource type");
                self.message(format!("{}: {rt}", phase_label(*phase)));
            }
            ProgressEvent::PageDone {
                phase,
                resource_type,
                items,
                skipped,
                totals,
                ..
            } => {
                tracing::debug!(phase = %phase, resource_type = %resource_type, items, skipped, "page written");
                self.message(format!(
                    "{}: {resource_type} — {} resources, {} entitlements, {} grants, {} warnings",
                    phase_label(*phase),
                    totals.resources,
                    totals.entitlements,
                    totals.grants,
                    totals.warnings
                ));
                if let Some(bar) = &self.bar {
                    bar.set_position(totals.resources + totals.entitlements + totals.grants);
                }
            }
            ProgressEvent::Retry {
                phase,
                resource_type,
                attempt,
                wait,
                ..
            } => {
                let rt = resource_type.as_deref().unwrap_or("-");
                self.message(format!(
                    "{}: {rt} — retrying (attempt {attempt} failed, waiting {:.1}s)",
                    phase_label(*phase),
                    wait.as_secs_f64()
                ));
            }
            ProgressEvent::Finished { .. } => self.finish(),
            // Warnings are logged by the engine itself.
            _ => {}
        }
    }

    /// Removes the bar (idempotent).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.slot.clear();
    }
}

fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Validate => "checking credentials",
        Phase::ResourceTypes => "resource types",
        Phase::Resources => "listing resources",
        Phase::Entitlements => "entitlements",
        Phase::Grants => "grants",
        Phase::Save => "saving",
        _ => "syncing",
    }
}

#[cfg(test)]
mod tests {
    use c1_sync::Totals;

    use super::*;

    #[test]
    fn page_events_move_the_bar_and_finish_clears_the_slot() {
        let slot = ProgressSlot::default();
        let progress = Progress::new(true, &slot);
        assert!(progress.is_drawn());
        let mut totals = Totals::default();
        totals.resources = 40;
        totals.entitlements = 2;
        progress.handle(&ProgressEvent::PageDone {
            phase: Phase::Resources,
            resource_type: "user".into(),
            items: 40,
            skipped: 0,
            totals,
        });
        let bar = progress.bar.clone().unwrap();
        assert_eq!(bar.position(), 42);
        assert!(
            bar.message().starts_with("listing resources: user"),
            "{}",
            bar.message()
        );
        progress.finish();
        assert!(bar.is_finished());
        assert_eq!(slot.suspend(|| 7), 7, "no bar left to suspend");
    }

    #[test]
    fn the_bar_says_how_many_projects_are_read_and_which_path_waits() {
        let slot = ProgressSlot::default();
        let progress = Progress::new(true, &slot);
        progress.projects(3, 12);
        let bar = progress.bar.clone().unwrap();
        assert_eq!(
            bar.message(),
            "reading project assignments: 3 of 12 projects"
        );
        progress.throttled("GET /roles/assignments/teams", Duration::from_millis(1500));
        assert_eq!(
            bar.message(),
            "waiting 1.5s for env0's rate limit on GET /roles/assignments/teams"
        );
        progress.finish();
    }

    #[test]
    fn without_a_bar_events_are_only_logged() {
        let progress = Progress::new(false, &ProgressSlot::default());
        assert!(!progress.is_drawn());
        progress.handle(&ProgressEvent::PhaseStarted {
            phase: Phase::Save,
            resource_type: None,
        });
        progress.finish();
    }
}
