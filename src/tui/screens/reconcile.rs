//! The reconcile screen: what the scan found, the findings table, and the evidence for the
//! finding under the cursor. Its state and rules are in `tui::reconcile`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::domain::SyncState;
use crate::sync::reconcile::Resolution;
use crate::text::{clean_line, truncate};
use crate::tui::reconcile::ReconcileView;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};

const COLUMNS: [Column; 7] = [
    Column::new("", Width::Fixed(3)),
    Column::new("KIND", Width::Fixed(10)),
    Column::new("MAILBOX", Width::Fixed(28)).whole(),
    Column::new("SUBJECT", Width::Fill(24)),
    Column::new("START (UTC)", Width::Fixed(16)),
    Column::new("EVENT", Width::Fixed(13)).wide_only(),
    Column::new("RESULT", Width::Fill(12)),
];

/// The scan's facts above, the findings table, the evidence pane below.
pub struct Areas {
    pub facts: Rect,
    pub table: Rect,
    pub evidence: Rect,
}

impl Areas {
    pub fn of(area: Rect) -> Areas {
        let [facts, table, evidence] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(4),
        ])
        .areas(area);
        Areas {
            facts,
            table,
            evidence,
        }
    }
}

/// The findings drawn at once in `body`.
pub fn page_rows(body: Rect) -> usize {
    table::body_rows(Areas::of(body).table)
}

pub fn draw(frame: &mut Frame, area: Rect, view: &ReconcileView, theme: Theme) {
    let Areas {
        facts,
        table: table_area,
        evidence,
    } = Areas::of(area);
    let (certain, probable) = view.counts();
    let mut first = match &view.plan {
        None => format!(
            " Scanning {}: {} mailboxes looked at, {} could not be read…",
            view.scope_text(),
            view.scanned,
            view.failures.len()
        ),
        Some(plan) => format!(
            " {} findings in {} mailboxes: {certain} certain (d deletes them), {probable} probable \
             (space chooses; deleted only when chosen){}",
            view.rows.len(),
            plan.mailboxes_scanned,
            if plan.not_scanned > 0 {
                format!("; {} mailboxes not scanned (cancelled)", plan.not_scanned)
            } else {
                String::new()
            }
        ),
    };
    if view.rows.is_empty() && view.plan.is_some() {
        first = format!(
            " No orphaned or duplicated events in {}.",
            view.scope_text()
        );
    }
    let mut second = Vec::new();
    if let Some(plan) = &view.plan {
        if !plan.ledger_checked {
            second.push("no event ledger: ledger orphans need `calsync migrate`".to_string());
        }
        if plan.users_without_email > 0 {
            second.push(format!(
                "{} users without email skipped",
                plan.users_without_email
            ));
        }
    }
    if let Some(failure) = view.failures.first() {
        second.push(format!(
            "{} mailboxes could not be read, e.g. {}: {}",
            view.failures.len(),
            failure.mailbox,
            failure.error
        ));
    }
    if let Some(e) = &view.error {
        second.push(format!("could not run: {e}"));
    }
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(
                truncate(&clean_line(&first), facts.width as usize),
                theme.title(),
            ),
            Line::styled(
                truncate(
                    &clean_line(&format!(" {}", second.join(" · "))),
                    facts.width as usize,
                ),
                theme.warning(),
            ),
        ]),
        facts,
    );

    // Narrow terminals leave the event id to the evidence pane below.
    table::draw(
        frame,
        table_area,
        &COLUMNS,
        &view.rows,
        Window::FollowCursor(Some(view.cursor)),
        |i, r, current, _| {
            let f = &r.finding;
            let chosen = if r.result.is_some() {
                "   "
            } else if f.kind.is_certain() {
                "[•]"
            } else if view.marked.contains(&i) {
                "[x]"
            } else {
                "[ ]"
            };
            let kind_style = if f.kind.is_certain() {
                theme.danger()
            } else {
                theme.warning()
            };
            let (result, result_style) = match &r.result {
                None => (String::new(), Style::default()),
                Some(Resolution::Deleted) => ("deleted".to_string(), theme.state(SyncState::Added)),
                Some(Resolution::AlreadyGone) => ("already gone".to_string(), theme.dim()),
                Some(other) if other.is_failure() => (other.as_text(), theme.danger()),
                Some(other) => (other.as_text(), theme.dim()),
            };
            Drawn {
                cells: vec![
                    (chosen.to_string(), Style::default()),
                    (f.kind.as_str().replace('_', " "), kind_style),
                    (f.mailbox.clone(), Style::default()),
                    (f.subject.clone(), Style::default()),
                    (
                        f.start
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default(),
                        Style::default(),
                    ),
                    (crate::sync::reconcile::short_id(&f.event_id), theme.dim()),
                    (result, result_style),
                ],
                style: theme.row(current),
            }
        },
        theme,
    );

    let text = match view.current() {
        Some(r) => {
            let f = &r.finding;
            let mut ids = Vec::new();
            for (name, id) in [
                ("selection", f.selection_id),
                ("user", f.user_id),
                ("conference", f.conference_id),
                ("slot", f.slot_id),
            ] {
                if let Some(id) = id {
                    ids.push(format!("{name} {id}"));
                }
            }
            format!(
                "Evidence: {}\n{} · event {}",
                clean_line(&f.evidence),
                ids.join(" · "),
                clean_line(&f.event_id)
            )
        }
        None => String::new(),
    };
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::new().borders(Borders::TOP)),
        evidence,
    );
}
