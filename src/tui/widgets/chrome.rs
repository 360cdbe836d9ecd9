//! What surrounds every screen: the header (database, modes, data age), the footer (the key
//! bar or the last message) and the jobs panel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::ago;
use crate::domain::SyncState;
use crate::text::{clean_line, truncate};
use crate::tui::app::App;
use crate::tui::job::{Job, JobKind};
use crate::tui::theme::Theme;

pub fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut parts = vec![format!(" calsync · {}", clean_line(&app.session.database))];
    if app.session.simulated_graph {
        parts.push("DEMO · SIMULATED GRAPH (no real calendar is touched)".to_string());
    }
    if app.session.read_only {
        parts.push(match &app.session.read_only_reason {
            Some(reason) => format!("READ-ONLY ({reason})"),
            None => "READ-ONLY".to_string(),
        });
    }
    parts.push(match app.last_refresh {
        Some(t) => format!("data read {} ({})", t.format("%H:%M:%S"), ago(app.now, t)),
        None => "loading…".to_string(),
    });
    let line = truncate(&parts.join(" │ "), area.width as usize);
    frame.render_widget(Paragraph::new(line).style(theme.header()), area);
}

pub fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    if let Some(message) = &app.message {
        let text = truncate(&clean_line(message), area.width as usize);
        frame.render_widget(Paragraph::new(text).style(theme.warning()), area);
        return;
    }
    let mut spans = Vec::new();
    for binding in app
        .session
        .keymap
        .bar_for(app.context(), app.session.read_only)
    {
        spans.push(Span::styled(format!(" {}", binding.keys), theme.key()));
        spans.push(Span::raw(format!(" {} ", binding.short)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn draw_job(frame: &mut Frame, area: Rect, job: &Job, theme: Theme) {
    let title = if let Some(ended) = &job.ended {
        format!(" {} — done: {ended} ", clean_line(&job.label))
    } else if let Some(error) = &job.error {
        format!(
            " {} — could not run: {} ",
            clean_line(&job.label),
            clean_line(error)
        )
    } else if job.cancelling {
        format!(
            " {} — cancelling: finishing what is in flight… ",
            clean_line(&job.label)
        )
    } else {
        format!(" {} — x cancels ", clean_line(&job.label))
    };
    let block = Block::bordered().title(Span::styled(
        truncate(&title, area.width.saturating_sub(2) as usize),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, stats] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let ratio = if job.total == 0 {
        1.0
    } else {
        (job.done as f64 / job.total as f64).clamp(0.0, 1.0)
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(format!("{}/{}", job.done, job.total))
            .gauge_style(theme.state(SyncState::Added)),
        gauge,
    );
    let eta = job
        .eta_seconds()
        .filter(|_| job.running())
        .map(|s| format!("  ETA {s:.0}s"))
        .unwrap_or_default();
    let (ok, bad, neither) = match job.kind {
        JobKind::Sync => ("synced", "failed", "skipped"),
        JobKind::Verify => ("present", "missing", "not checked"),
        JobKind::ReconcileScan => ("findings", "mailboxes failed", ""),
        JobKind::ReconcileDelete => ("deleted", "failed", "already gone"),
    };
    let neither = if neither.is_empty() {
        String::new()
    } else {
        format!("  · {} {neither}", job.skipped)
    };
    let line = format!(
        "✓ {} {ok}  ✗ {} {bad}{neither}  ⧗ {} throttled  {:.1}/s{eta}",
        job.synced,
        job.failed,
        job.throttled,
        job.rate()
    );
    frame.render_widget(Paragraph::new(truncate(&line, stats.width as usize)), stats);
}
