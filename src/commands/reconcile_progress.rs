//! `calsync reconcile`'s two stacked bars: the mailboxes scanned while planning, then the
//! chosen events deleted. Driven by the reconciler's own events, in the task that awaits it,
//! so nothing draws while the command asks its question.

use std::future::Future;

use tokio::sync::mpsc::UnboundedReceiver;

use super::progress::{Bars, CountingBar};
use crate::sync::reconcile::{ReconcileEvent, Resolution};

pub struct ReconcileBars {
    bars: Bars,
    scanning: Option<CountingBar>,
    deleting: Option<CountingBar>,
}

impl ReconcileBars {
    pub fn new(enabled: bool) -> ReconcileBars {
        ReconcileBars {
            bars: Bars::new(enabled),
            scanning: None,
            deleting: None,
        }
    }

    /// Awaits `work`, drawing its events as they come, then the ones it left queued.
    pub async fn follow<T>(
        &mut self,
        events: &mut UnboundedReceiver<ReconcileEvent>,
        work: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(work);
        let done = loop {
            tokio::select! {
                done = &mut work => break done,
                Some(event) = events.recv() => self.show(event),
            }
        };
        while let Ok(event) = events.try_recv() {
            self.show(event);
        }
        done
    }

    /// Takes the bars off the screen (before a question, and at the end).
    pub fn clear(&self) {
        self.bars.clear();
    }

    fn show(&mut self, event: ReconcileEvent) {
        match event {
            ReconcileEvent::PlanStarted { users } => {
                self.scanning = Some(self.bars.add(users, "mailboxes scanned", false));
            }
            ReconcileEvent::MailboxScanned { .. } => {
                if let Some(bar) = self.scanning.as_mut() {
                    bar.done(true);
                }
            }
            ReconcileEvent::MailboxFailed(_) => {
                if let Some(bar) = self.scanning.as_mut() {
                    bar.done(false);
                }
            }
            ReconcileEvent::ApplyStarted { total } => {
                if let Some(bar) = &self.scanning {
                    bar.finish();
                }
                self.deleting = Some(self.bars.add(total, "deleted", false));
            }
            ReconcileEvent::Resolved(resolved) => {
                if let Some(bar) = self.deleting.as_mut() {
                    bar.done(matches!(
                        resolved.result,
                        Resolution::Deleted | Resolution::AlreadyGone
                    ));
                }
            }
        }
    }
}
