//! The audit log, newest first: who ran what, on how many rows, and how it ended.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::domain::SyncState;
use crate::domain::audit::{AuditOutcome, AuditRecord};
use crate::tui::table::Table;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::table_state;

const COLUMNS: [Column; 7] = [
    Column::new("ID", Width::Fixed(5)),
    Column::new("STARTED (UTC)", Width::Fixed(16)),
    Column::new("WHO", Width::Fixed(18)),
    Column::new("ACTION", Width::Fixed(17)),
    Column::new("ROWS", Width::Fixed(7)),
    Column::new("OUTCOME", Width::Fixed(9)),
    Column::new("SCOPE — DETAIL", Width::Fill(20)),
];

pub fn draw(frame: &mut Frame, area: Rect, log: &Table<AuditRecord>, theme: Theme) {
    table::draw(
        frame,
        area,
        &COLUMNS,
        &log.rows,
        Window::FollowCursor(Some(log.cursor)),
        |_, r, current, _| {
            let outcome_style = match r.outcome {
                AuditOutcome::Ok => theme.state(SyncState::Added),
                AuditOutcome::Running => theme.warning(),
                _ => theme.danger(),
            };
            let mut what = r.scope.clone();
            if !r.filter.is_empty() {
                what.push_str(&format!(" [{}]", r.filter));
            }
            if !r.detail.is_empty() {
                what.push_str(&format!(" — {}", r.detail));
            }
            Drawn {
                cells: vec![
                    (r.id.to_string(), Style::default()),
                    (
                        r.started_at.format("%m-%d %H:%M:%S").to_string(),
                        Style::default(),
                    ),
                    (format!("{}@{}", r.os_user, r.host), Style::default()),
                    (r.action.clone(), Style::default()),
                    (r.rows.to_string(), Style::default()),
                    (r.outcome.as_str().to_string(), outcome_style),
                    (what, Style::default()),
                ],
                style: theme.row(current),
            }
        },
        theme,
    );
    table_state(frame, area, log, theme);
}
