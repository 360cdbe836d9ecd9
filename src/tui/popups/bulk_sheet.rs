//! The bulk sheet: the exact scope of a sync run, counted before anything is sent; tab changes
//! the scope, `p` takes in permanent causes, `d` makes it a dry run, and a big run needs its
//! count typed back.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::domain::{Scope, SyncState};
use crate::jobs::{RunScope, SyncTarget, scope_name};
use crate::text::clean_line;
use crate::tui::app::{App, Effect};
use crate::tui::job::JobKind;
use crate::tui::popup::{BulkSheet, Popup, TYPED_CONFIRMATION_ABOVE};
use crate::tui::run_choice::{Chosen, RunKey, choose, sheet_title};
use crate::tui::screen::Screen;
use crate::tui::theme::Theme;
use crate::tui::widgets::{badge, centered};

impl App {
    pub(in crate::tui) fn open_bulk(&mut self) -> Vec<Effect> {
        if self.job_running() {
            return Vec::new();
        }
        self.open_bulk_with(Scope::Failed)
    }

    pub(in crate::tui) fn cause_under_cursor(&self) -> Option<crate::domain::Cause> {
        match self.screen() {
            Some(Screen::Overview { data, cursor, .. }) => {
                crate::tui::screens::overview::cause_at(data.as_ref(), *cursor)
            }
            _ => None,
        }
    }

    pub(in crate::tui) fn open_bulk_with(&mut self, scope: Scope) -> Vec<Effect> {
        let Some((target, chosen)) = self.chosen_here() else {
            self.message = Some("open a list of selections first".to_string());
            return Vec::new();
        };
        let key = match scope {
            Scope::Failed => RunKey::RetryFailed,
            _ => RunKey::Retry,
        };
        let mut sheet_scope = choose(key, &chosen);
        // `:sync unsynced` names its scope itself.
        sheet_scope.scope = scope;
        self.open_bulk_for(target, chosen, sheet_scope.include_permanent, scope)
    }

    /// What a run key on this screen points at: the list's marks, else what it matches; the
    /// overview stands for every selection.
    pub(in crate::tui) fn chosen_here(&self) -> Option<(SyncTarget, Chosen)> {
        if let Some(list) = self.screen().and_then(Screen::list) {
            let target = self.list_target()?;
            let chosen = if list.marks.all_matching {
                Chosen::AllMatching {
                    filter: Box::new(list.filter.clone()),
                    unmarked: list.marks.except.len(),
                }
            } else if !list.marks.ids.is_empty() {
                Chosen::Marked(list.marks.ids.len())
            } else {
                Chosen::List(Box::new(list.filter.clone()))
            };
            return Some((target, chosen));
        }
        matches!(self.screen(), Some(Screen::Overview { .. })).then(|| {
            (
                SyncTarget::Matching {
                    filter: Box::default(),
                    except: Vec::new(),
                },
                Chosen::Everything,
            )
        })
    }

    /// The bulk sheet for `target`: nothing starts before the operator confirms it.
    pub(in crate::tui) fn open_bulk_for(
        &mut self,
        target: SyncTarget,
        chosen: Chosen,
        include_permanent: bool,
        scope: Scope,
    ) -> Vec<Effect> {
        if self.job_running() {
            return Vec::new();
        }
        let mut sheet = BulkSheet {
            scope,
            include_permanent,
            dry_run: false,
            target,
            chosen,
            plan: None,
            pending: None,
            typed: String::new(),
            error: None,
        };
        let effects = self.plan_bulk(&mut sheet);
        self.popup = Some(Popup::Bulk(Box::new(sheet)));
        effects
    }

    pub(in crate::tui) fn plan_bulk(&mut self, sheet: &mut BulkSheet) -> Vec<Effect> {
        let generation = self.generation();
        sheet.pending = Some(generation);
        sheet.plan = None;
        sheet.typed.clear();
        vec![Effect::BulkPlan(
            generation,
            sheet.target.clone(),
            RunScope {
                scope: sheet.scope,
                include_permanent: sheet.include_permanent,
            },
        )]
    }

    pub(in crate::tui) fn bulk_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::Bulk(mut sheet)) = self.popup.take() else {
            return Vec::new();
        };
        let needs_typing = sheet
            .plan
            .as_ref()
            .is_some_and(|p| p.count > TYPED_CONFIRMATION_ABOVE && !sheet.dry_run);
        let mut effects = Vec::new();
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Tab => {
                sheet.scope = match sheet.scope {
                    Scope::Failed => Scope::Unsynced,
                    Scope::Unsynced => Scope::All,
                    Scope::All => Scope::Failed,
                };
                effects = self.plan_bulk(&mut sheet);
            }
            KeyCode::Char('p') if sheet.scope == Scope::Failed && sheet.typed.is_empty() => {
                sheet.include_permanent = !sheet.include_permanent;
                effects = self.plan_bulk(&mut sheet);
            }
            KeyCode::Char('d') if !needs_typing || sheet.typed.is_empty() => {
                sheet.dry_run = !sheet.dry_run;
                sheet.typed.clear();
            }
            KeyCode::Backspace => {
                sheet.typed.pop();
            }
            KeyCode::Char(c) if needs_typing && c.is_ascii_digit() => sheet.typed.push(c),
            KeyCode::Enter | KeyCode::Char('y') => {
                let Some(plan) = sheet.plan.clone() else {
                    self.popup = Some(Popup::Bulk(sheet));
                    return Vec::new();
                };
                // What is typed back is what the sheet says will be synced.
                let will_sync = plan.count.saturating_sub(plan.skipped);
                if needs_typing && sheet.typed != will_sync.to_string() {
                    sheet.error = Some(format!("type {will_sync} to confirm"));
                    self.popup = Some(Popup::Bulk(sheet));
                    return Vec::new();
                }
                if plan.count == 0 {
                    self.message = Some("nothing to sync".to_string());
                    return Vec::new();
                }
                if sheet.dry_run {
                    self.message = Some(format!(
                        "dry run: {} selections would be synced ({} failed, {} not synced, {} added)",
                        plan.count,
                        plan.counts.failed,
                        plan.counts.not_synced + plan.counts.interrupted,
                        plan.counts.added + plan.counts.added_stale_error
                    ));
                    return Vec::new();
                }
                self.start_job(
                    JobKind::Sync,
                    match plan.skipped {
                        0 => format!(
                            "Sync of {} selections ({})",
                            plan.count,
                            scope_name(plan.run.scope)
                        ),
                        skipped => format!(
                            "Sync of {will_sync} selections ({}) and {skipped} to skip",
                            scope_name(plan.run.scope)
                        ),
                    },
                    plan.count as usize,
                );
                return vec![Effect::Sync(plan.target.clone(), plan.run)];
            }
            _ => {}
        }
        self.popup = Some(Popup::Bulk(sheet));
        effects
    }
}

pub fn draw(frame: &mut Frame, area: Rect, sheet: &BulkSheet, theme: Theme) {
    let popup = centered(area, 76, 17);
    frame.render_widget(Clear, popup);
    let mut lines = vec![
        Line::from(vec![
            Span::raw(" Scope: "),
            Span::styled(scope_name(sheet.scope), theme.key()),
            Span::styled("  (tab: failed → unsynced → all)", theme.dim()),
        ]),
        Line::from(vec![
            Span::raw(" Dry run: "),
            Span::styled(
                if sheet.dry_run {
                    "yes — nothing is sent"
                } else {
                    "no"
                },
                theme.key(),
            ),
            Span::styled("  (d toggles)", theme.dim()),
        ]),
        Line::raw(""),
    ];
    match &sheet.plan {
        None => lines.push(Line::styled(" Counting…", theme.dim())),
        Some(plan) => {
            lines.push(Line::styled(
                format!(
                    " {} selections will be synced:",
                    plan.count.saturating_sub(plan.skipped)
                ),
                theme.title(),
            ));
            for state in SyncState::ALL {
                let n = plan.counts.get(state);
                if n > 0 {
                    lines.push(Line::from(vec![
                        Span::raw("   "),
                        Span::styled(format!("{:<24} {n:>8}", badge(state)), theme.state(state)),
                    ]));
                }
            }
            if plan.skipped > 0 {
                lines.push(Line::styled(
                    format!(
                        " {} more will be skipped: their conference no longer uses time slots.",
                        plan.skipped
                    ),
                    theme.warning(),
                ));
            }
            if !plan.causes.is_empty() {
                let causes: Vec<String> = plan
                    .causes
                    .iter()
                    .map(|(c, n)| format!("{} {n}", c.as_str()))
                    .collect();
                lines.push(Line::styled(
                    format!(" failed by cause: {}", causes.join(", ")),
                    theme.dim(),
                ));
            }
            if plan.permanent_left_out > 0 {
                lines.push(Line::styled(
                    format!(
                        " {} failures of a permanent cause are left out (p includes them).",
                        plan.permanent_left_out
                    ),
                    theme.warning(),
                ));
            } else if plan.run.include_permanent {
                lines.push(Line::styled(
                    " Failures of a permanent cause are included (p leaves them out).",
                    theme.dim(),
                ));
            }
            if plan.counts.added + plan.counts.added_stale_error > 0 {
                lines.push(Line::styled(
                    " Added ones are updated in place; no event is duplicated.",
                    theme.dim(),
                ));
            }
            lines.push(Line::raw(""));
            if plan.count == 0 {
                lines.push(Line::styled(" Nothing to do (esc closes).", theme.dim()));
            } else if plan.count > TYPED_CONFIRMATION_ABOVE && !sheet.dry_run {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            " Type {} and press enter to start: ",
                            plan.count.saturating_sub(plan.skipped)
                        ),
                        theme.warning(),
                    ),
                    Span::styled(sheet.typed.clone(), theme.key()),
                    Span::styled("▏", theme.key()),
                ]));
            } else {
                lines.push(Line::styled(" enter starts · esc cancels", theme.warning()));
            }
        }
    }
    if let Some(e) = &sheet.error {
        lines.push(Line::styled(format!(" {}", clean_line(e)), theme.danger()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Left)
            .block(Block::bordered().title(crate::text::truncate(
                &format!(" Sync {} ", sheet_title(&sheet.chosen)),
                popup.width.saturating_sub(2) as usize,
            ))),
        popup,
    );
}
