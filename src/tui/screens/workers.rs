//! `:workers`: every registered `calsync worker`, whether its heartbeat is recent, its last
//! pass and what it has done since it started. Also the notice the three worker screens show
//! on a database without the worker's tables.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Paragraph;

use crate::text::truncate;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::{ago, table_state};
use crate::tui::worker_views::{NO_WORKER_TABLES, WorkerScreen};
use crate::worker::views::WorkerView;

const COLUMNS: [Column; 9] = [
    Column::new("ID", Width::Fixed(4)),
    Column::new("HOST", Width::Fill(12)),
    Column::new("PID", Width::Fixed(7)),
    Column::new("STATE", Width::Fixed(8)),
    Column::new("LAST PASS", Width::Fixed(10)),
    Column::new("HEARTBEAT", Width::Fixed(10)).wide_only(),
    Column::new("PASSES", Width::Fixed(7)),
    Column::new("SYNCED/FAILED", Width::Fixed(13)),
    Column::new("VERSION", Width::Fixed(9)).wide_only(),
];

/// The table rows a worker screen draws at once.
pub fn page_rows(body: Rect) -> usize {
    table::body_rows(body)
}

/// The notice of a database without the worker's tables; true when it was drawn.
pub fn no_tables_notice<T>(
    frame: &mut Frame,
    area: Rect,
    screen: &WorkerScreen<T>,
    theme: Theme,
) -> bool {
    if screen.no_tables {
        let line = Rect::new(area.x + 1, area.y, area.width.saturating_sub(2), 1);
        frame.render_widget(
            Paragraph::new(truncate(NO_WORKER_TABLES, line.width as usize)).style(theme.warning()),
            line,
        );
    }
    screen.no_tables
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &WorkerScreen<WorkerView>,
    now: chrono::DateTime<chrono::Utc>,
    theme: Theme,
) {
    if no_tables_notice(frame, area, screen, theme) {
        return;
    }
    let workers = &screen.table;
    table::draw(
        frame,
        area,
        &COLUMNS,
        &workers.rows,
        Window::FollowCursor(Some(workers.cursor)),
        |_, w, current, _| {
            let (state, style) = if w.alive {
                ("running", Style::default())
            } else {
                ("expired", theme.dim())
            };
            let e = &w.entry;
            Drawn {
                cells: vec![
                    (e.id.to_string(), Style::default()),
                    (e.host.clone(), Style::default()),
                    (e.pid.to_string(), Style::default()),
                    (state.to_string(), style),
                    (
                        e.last_pass_at
                            .map_or_else(|| "none yet".to_string(), |at| ago(now, at)),
                        Style::default(),
                    ),
                    (ago(now, e.heartbeat_at), Style::default()),
                    (e.counts.passes.to_string(), Style::default()),
                    (
                        format!("{}/{}", e.counts.synced, e.counts.failed),
                        Style::default(),
                    ),
                    (e.version.clone(), Style::default()),
                ],
                style: theme.row(current),
            }
        },
        theme,
    );
    table_state(frame, area, workers, theme);
}
