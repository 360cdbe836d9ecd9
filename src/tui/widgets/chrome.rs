//! What surrounds every screen: the header (database, modes, data age), the footer (the key
//! bar or the last message) and the jobs panel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::ago;
use crate::domain::SyncState;
use crate::text::{clean_line, truncate};
use crate::tui::Action;
use crate::tui::app::App;
use crate::tui::fit::{Part, fit_bar, fit_line};
use crate::tui::job::{Job, JobKind};
use crate::tui::theme::Theme;

pub fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let line = header_line(app, area.width as usize);
    frame.render_widget(Paragraph::new(line).style(theme.header()), area);
}

/// The header, fitted by priority: the database URL shortens first, then the data's age and
/// the reasons go; DEMO · SIMULATED GRAPH and READ-ONLY always stay.
pub fn header_line(app: &App, columns: usize) -> String {
    let mut parts = vec![
        Part::fixed(" calsync"),
        Part::stretching(clean_line(&app.session.database), 16),
    ];
    let mut give_way = Vec::new();
    if app.session.simulated_graph {
        give_way.push(parts.len());
        parts.push(Part::forms([
            "DEMO · SIMULATED GRAPH (no real calendar is touched)",
            "DEMO · SIMULATED GRAPH",
            "DEMO·SIM",
        ]));
    }
    if app.session.read_only {
        give_way.insert(0, parts.len());
        let mut forms = vec!["READ-ONLY".to_string()];
        if let Some(reason) = &app.session.read_only_reason {
            forms.insert(0, format!("READ-ONLY ({})", clean_line(reason)));
        }
        parts.push(Part::forms(forms));
    }
    give_way.insert(0, parts.len());
    parts.push(match app.last_refresh {
        Some(t) => Part::forms([
            format!("data read {} ({})", t.format("%H:%M:%S"), ago(app.now, t)),
            ago(app.now, t),
            String::new(),
        ]),
        None => Part::forms(["loading…", ""]),
    });
    give_way.push(1);
    fit_line(&parts, &give_way, " │ ", columns)
}

pub fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    if let Some(message) = &app.message {
        let text = truncate(&clean_line(message), area.width as usize);
        frame.render_widget(Paragraph::new(text).style(theme.warning()), area);
        return;
    }
    let mut spans = Vec::new();
    for (keys, short) in bar(app, area.width as usize) {
        spans.push(Span::styled(format!(" {keys}"), theme.key()));
        spans.push(Span::raw(format!(" {short} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The keys the bottom bar shows at this width, with their actions: `? help` and `q quit`
/// end it at every width.
fn bar_bindings(app: &App, columns: usize) -> Vec<(Action, String, String)> {
    let bindings = app
        .session
        .keymap
        .bar_for(app.context(), app.session.read_only);
    let items: Vec<(String, String)> = bindings
        .iter()
        .map(|b| (b.keys.to_string(), b.short.to_string()))
        .collect();
    let kept: Vec<usize> = bindings
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b.action, Action::Help | Action::Quit))
        .map(|(i, _)| i)
        .collect();
    fit_bar(&items, &kept, columns)
        .into_iter()
        .filter_map(|shown| {
            let i = items.iter().position(|item| std::ptr::eq(item, shown))?;
            Some((bindings[i].action, shown.0.clone(), shown.1.clone()))
        })
        .collect()
}

fn bar(app: &App, columns: usize) -> Vec<(String, String)> {
    bar_bindings(app, columns)
        .into_iter()
        .map(|(_, keys, short)| (keys, short))
        .collect()
}

/// The bar's actions and how many columns each takes, left to right (for mouse clicks).
pub fn bar_items(app: &App, columns: usize) -> Vec<(Action, u16)> {
    bar_bindings(app, columns)
        .into_iter()
        .map(|(action, keys, short)| {
            let width = crate::text::width(&keys) + crate::text::width(&short) + 3;
            (action, width as u16)
        })
        .collect()
}

pub fn draw_job(frame: &mut Frame, area: Rect, job: &Job, theme: Theme) {
    let title = if let Some(ended) = &job.ended {
        // How it ended comes first, so a narrow panel still says "(cancelled)".
        format!(
            " done: {ended} — {} · x closes, L lists rows ",
            clean_line(&job.label)
        )
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
    let eta = if job.running() {
        format!("  {}", crate::tui::rate::eta_text(job.eta_seconds()))
    } else {
        String::new()
    };
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
        "✓ {} {ok}  ✗ {} {bad}{neither}  ⧗ {} throttled  {}{eta}",
        job.synced,
        job.failed,
        job.throttled,
        crate::tui::rate::rate_text(job.rate())
    );
    frame.render_widget(Paragraph::new(truncate(&line, stats.width as usize)), stats);
}
