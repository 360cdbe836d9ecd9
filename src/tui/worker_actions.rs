//! What the operator does on the worker screens: opening and re-reading them, and `r`
//! (retry now) and `P` (park) on the retry schedule and the parked set. The screens' state is
//! in [`super::worker_views`].

use super::app::{App, Effect};
use super::screen::Screen;
use super::worker_views::{ParkedRow, WorkerAction, WorkerScreen, WorkerTab};
use crate::worker::views::ActionReport;

impl App {
    pub(super) fn open_worker_tab(&mut self, tab: WorkerTab) -> Vec<Effect> {
        let generation = self.generation();
        self.push(match tab {
            WorkerTab::Workers => Screen::Workers(WorkerScreen::loading(generation)),
            WorkerTab::Retries => Screen::Retries(WorkerScreen::loading(generation)),
            WorkerTab::Parked => Screen::Parked(WorkerScreen::loading(generation)),
        });
        vec![Effect::WorkerData(generation, tab)]
    }

    /// Reads the worker screen on top again (after an action, or Ctrl-L).
    pub(super) fn reload_worker_tab(&mut self) -> Vec<Effect> {
        let tab = match self.screen() {
            Some(Screen::Workers(_)) => WorkerTab::Workers,
            Some(Screen::Retries(_)) => WorkerTab::Retries,
            Some(Screen::Parked(_)) => WorkerTab::Parked,
            _ => return Vec::new(),
        };
        self.stack.pop();
        self.open_worker_tab(tab)
    }

    /// `r` on the retries or parked screen, `P` on the retries screen: the selections under the
    /// cursor (a cause line: those listed under it) are changed in the background, audited.
    pub(super) fn act_on_schedule(&mut self, action: WorkerAction) -> Vec<Effect> {
        let verb = match action {
            WorkerAction::RetryNow => "retry now",
            WorkerAction::Park => "park",
        };
        if self.session.read_only {
            self.message = Some(format!(
                "read-only: cannot {verb} (it writes the worker's retry schedule)"
            ));
            return Vec::new();
        }
        let ids = match (self.screen(), action) {
            (Some(Screen::Retries(screen)), _) => screen
                .table
                .current()
                .map(|l| vec![l.entry.selection_id])
                .unwrap_or_default(),
            (Some(Screen::Parked(screen)), WorkerAction::RetryNow) => {
                match screen.table.current() {
                    Some(ParkedRow::Cause { listed, .. }) => listed.clone(),
                    Some(ParkedRow::Selection(l)) => vec![l.entry.selection_id],
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        if ids.is_empty() {
            self.message = Some(format!("nothing to {verb} here"));
            return Vec::new();
        }
        self.message = Some(format!("{verb}: {} selections…", ids.len()));
        vec![Effect::WorkerAct(action, ids)]
    }

    /// An action's result: said in the footer, and the screen read again.
    pub(super) fn schedule_acted(
        &mut self,
        action: WorkerAction,
        result: Result<ActionReport, String>,
    ) -> Vec<Effect> {
        match result {
            Ok(report) => {
                let ids = crate::worker::describe_ids(&report.changed);
                self.message = Some(match action {
                    WorkerAction::RetryNow => {
                        format!("due now: {ids} (the next pass of a worker tries them)")
                    }
                    WorkerAction::Park => format!("parked: {ids}"),
                });
                self.reload_worker_tab()
            }
            Err(e) => {
                self.message = Some(format!("not changed: {e}"));
                Vec::new()
            }
        }
    }
}
