//! The overview: counts by state, the failure trend, failures by cause, the conferences with
//! most failures and the newest failures. Its parts arrive one by one, the newest failures
//! first. Tab moves the cursor between the last three panels; Enter opens the failures of the
//! cause or conference under it, or from the newest failures the whole list of failures.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::SyncState;
use crate::domain::{Cause, Filter};
use crate::text::{clean_line, truncate};
use crate::tui::data::{OverviewData, WorkersLine};
use crate::tui::opens::Opens;
use crate::tui::overview_refresh::OverviewRefresh;
use crate::tui::screens::{overview_causes, overview_failures};
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{self, Column, Drawn, Width, Window};
use crate::tui::widgets::{ago, badge};

/// The conferences panel's columns; the focused one says so in its header.
const fn worst_conferences(title: &'static str) -> [Column; 4] {
    [
        Column::new("ID", Width::Fixed(6)),
        Column::new(title, Width::Fill(20)),
        Column::new("✗ FAILED", Width::Fixed(9)),
        Column::new("TOTAL", Width::Fixed(9)),
    ]
}
const WORST_CONFERENCES: [Column; 4] = worst_conferences("CONFERENCES WITH MOST FAILURES");
const WORST_CONFERENCES_FOCUSED: [Column; 4] =
    worst_conferences("▸ CONFERENCES WITH MOST FAILURES");

/// The conferences panel is never squeezed below this.
const CONFERENCES_MIN: u16 = 40;

/// The conferences with most failures the panel shows.
pub const WORST_CONFERENCES_SHOWN: usize = 8;

/// A panel of newest failures shorter than this (its header and one row) is not drawn.
const FAILURES_MIN: u16 = 2;

/// The panel that has the cursor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Panel {
    #[default]
    Causes,
    Conferences,
    Failures,
}

/// The overview's cursor: which panel has it, and its row in each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub panel: Panel,
    pub cause: usize,
    pub conference: usize,
    pub failure: usize,
}

impl Cursor {
    /// Up and down move in the focused panel.
    pub fn move_by(&mut self, data: Option<&OverviewData>, delta: i64) {
        let (row, rows) = match self.panel {
            Panel::Causes => (
                &mut self.cause,
                data.and_then(|d| d.causes.as_ref()).map_or(0, Vec::len),
            ),
            Panel::Conferences => (
                &mut self.conference,
                data.and_then(|d| d.worst_conferences.as_ref())
                    .map_or(0, Vec::len),
            ),
            Panel::Failures => (
                &mut self.failure,
                data.and_then(|d| d.newest_failures.as_ref())
                    .map_or(0, Vec::len),
            ),
        };
        if rows > 0 {
            *row = (*row as i64 + delta).clamp(0, rows as i64 - 1) as usize;
        }
    }

    /// Tab (and ← →): the next panel, round the three.
    pub fn switch_panel(&mut self) {
        self.panel = match self.panel {
            Panel::Causes => Panel::Conferences,
            Panel::Conferences => Panel::Failures,
            Panel::Failures => Panel::Causes,
        };
    }

    /// The cursor's row in `panel`.
    pub fn row_mut(&mut self, panel: Panel) -> &mut usize {
        match panel {
            Panel::Causes => &mut self.cause,
            Panel::Conferences => &mut self.conference,
            Panel::Failures => &mut self.failure,
        }
    }
}

/// What the overview screen holds, borrowed for drawing.
pub struct Shown<'a> {
    pub data: Option<&'a OverviewData>,
    pub pending: Option<u64>,
    pub error: Option<&'a str>,
    pub cursor: Cursor,
    pub refresh: &'a OverviewRefresh,
}

/// The cause under the cursor, when the causes panel has it and has rows.
pub fn cause_at(data: Option<&OverviewData>, cursor: Cursor) -> Option<Cause> {
    if cursor.panel != Panel::Causes {
        return None;
    }
    data?.causes.as_ref()?.get(cursor.cause).map(|(c, _)| *c)
}

/// The list the newest failures continue: every failure, newest first.
pub fn failures_list() -> Opens {
    Opens::List {
        title: "Failures".to_string(),
        filter: Filter {
            states: vec![SyncState::Failed],
            ..Filter::default()
        },
    }
}

/// Enter on a cause opens its failures, on a conference its failed selections, on one of the
/// newest failures the list of every failure; on an empty causes panel, the conferences.
pub fn enter(data: Option<&OverviewData>, cursor: Cursor) -> Opens {
    if cursor.panel == Panel::Failures {
        let any = data
            .and_then(|d| d.newest_failures.as_ref())
            .is_some_and(|f| !f.is_empty());
        return if any { failures_list() } else { Opens::Nothing };
    }
    if cursor.panel == Panel::Conferences {
        let worst = data.and_then(|d| d.worst_conferences.as_ref());
        return match worst.and_then(|w| w.get(cursor.conference)) {
            Some((id, title, _, _)) => Opens::List {
                title: format!("Failures: {}", clean_line(title)),
                filter: Filter {
                    states: vec![SyncState::Failed],
                    conference_id: Some(*id),
                    ..Filter::default()
                },
            },
            None => Opens::Nothing,
        };
    }
    match cause_at(data, cursor) {
        Some(cause) => Opens::List {
            title: format!("Failures: {}", cause.label()),
            filter: Filter {
                states: vec![SyncState::Failed],
                causes: vec![cause],
                ..Filter::default()
            },
        },
        None => Opens::Conferences,
    }
}

/// The notice of missing tables, and the rest of the body below it.
fn below_notice(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area)
}

/// The counts and the trend on top; below them the causes panel and the conferences panel.
fn areas(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Length(9), Constraint::Min(3)]).areas(area)
}

/// The causes panel, the conferences panel and the newest failures in the overview's lower
/// part. The causes and the conferences side by side when the causes' labels and the
/// conferences both fit (with room for every conference shown, so the failures below them stay
/// put while the parts arrive), otherwise stacked, each as tall as what it holds. The newest
/// failures take the room left below; where that is less than a row, the conferences keep it.
fn panels(bottom: Rect, data: &OverviewData) -> [Rect; 3] {
    let needed = overview_causes::needed_width();
    let causes = overview_causes::height(data.causes.as_deref(), bottom.width);
    let conferences = 1 + data
        .worst_conferences
        .as_ref()
        .map_or(1, |w| w.len().clamp(1, WORST_CONFERENCES_SHOWN)) as u16;
    let side_by_side = bottom.width >= needed + CONFERENCES_MIN;
    let upper = if side_by_side {
        causes.max(1 + WORST_CONFERENCES_SHOWN as u16)
    } else {
        causes + conferences
    }
    .min(bottom.height);
    let mut left = bottom.height - upper;
    if left < FAILURES_MIN {
        left = 0;
    }
    let [upper, failures] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(left)]).areas(bottom);
    let [causes_area, conferences_area] = if side_by_side {
        Layout::horizontal([Constraint::Length(needed), Constraint::Min(CONFERENCES_MIN)])
            .areas(upper)
    } else {
        Layout::vertical([Constraint::Length(causes), Constraint::Min(0)]).areas(upper)
    };
    [causes_area, conferences_area, failures]
}

/// Which panel and row a click at (`column`, `row`) in the overview's `body` lands on.
pub fn row_at(
    body: Rect,
    missing_tables: bool,
    data: Option<&OverviewData>,
    cursor: Cursor,
    column: u16,
    row: u16,
) -> Option<(Panel, usize)> {
    let data = data?;
    let area = if missing_tables {
        below_notice(body)[1]
    } else {
        body
    };
    let causes = data.causes.as_deref();
    let [causes_area, conferences_area, failures_area] = panels(areas(area)[1], data);
    let at = ratatui::layout::Position::new(column, row);
    if causes_area.contains(at) {
        let i = overview_causes::cause_at_row(causes?, causes_area, cursor.cause, row)?;
        return Some((Panel::Causes, i));
    }
    if failures_area.contains(at) {
        let failures = data.newest_failures.as_ref().map_or(0, Vec::len);
        let shown = (cursor.failure, cursor.panel == Panel::Failures);
        let i = overview_failures::failure_at_row(failures, failures_area, shown, row)?;
        return Some((Panel::Failures, i));
    }
    if !conferences_area.contains(at) || row == conferences_area.y {
        return None;
    }
    let rows = table::body_rows(conferences_area);
    let focused = cursor.panel == Panel::Conferences;
    // The panel follows its cursor only while it has the focus (as it is drawn).
    let top = if focused {
        cursor.conference.saturating_sub(rows.saturating_sub(1))
    } else {
        0
    };
    let i = top + (row - conferences_area.y - 1) as usize;
    let worst = data.worst_conferences.as_deref().unwrap_or_default();
    (i < worst.len()).then_some((Panel::Conferences, i))
}

/// `missing_tables`: the session's notice of the features waiting for `calsync migrate`.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    shown: Shown,
    missing_tables: Option<&str>,
    now: DateTime<Utc>,
    theme: Theme,
) {
    let area = match missing_tables {
        Some(notice) => {
            let [note, rest] = below_notice(area);
            frame.render_widget(
                Paragraph::new(truncate(&format!(" {notice}"), note.width as usize))
                    .style(theme.warning()),
                note,
            );
            rest
        }
        None => area,
    };
    // A re-read keeps the last counts on screen and says so.
    let note = match (shown.pending, shown.error, shown.refresh.read) {
        (_, Some(e), Some(_)) => Some(format!("recount failed: {}", clean_line(e))),
        (Some(_), None, Some(read)) => {
            let format = if read.date_naive() == now.date_naive() {
                "%H:%M:%S"
            } else {
                "%b %d %H:%M"
            };
            Some(format!("recounting ({})", read.format(format)))
        }
        _ => None,
    };
    draw_counts(frame, area, &shown, note.as_deref(), now, theme)
}

/// Whether `calsync worker` runs and when the last pass was (`:workers` lists them).
fn workers_line(workers: &WorkersLine, now: DateTime<Utc>, theme: Theme) -> Line<'static> {
    let last = |at: &Option<DateTime<Utc>>| {
        at.map_or_else(
            || "no pass yet".to_string(),
            |at| format!("last pass {}", ago(now, at)),
        )
    };
    match workers {
        WorkersLine::NoTables => Line::styled(" Workers: none (no worker tables)", theme.dim()),
        WorkersLine::Seen {
            running: 0,
            last_pass,
        } => Line::styled(
            format!(" Workers: none running, {}", last(last_pass)),
            theme.warning(),
        ),
        WorkersLine::Seen { running, last_pass } => Line::styled(
            format!(
                " Workers: {running} running, {} · :workers",
                last(last_pass)
            ),
            theme.state(SyncState::Added),
        ),
        WorkersLine::Unreadable(e) => Line::styled(
            format!(" Workers: cannot read ({})", clean_line(e)),
            theme.danger(),
        ),
    }
}

fn draw_counts(
    frame: &mut Frame,
    area: Rect,
    shown: &Shown,
    note: Option<&str>,
    now: DateTime<Utc>,
    theme: Theme,
) {
    let (data, error, cursor) = (shown.data, shown.error, shown.cursor);
    let Some(data) = data else {
        let text = match error {
            Some(e) => format!("Could not load the overview: {}", clean_line(e)),
            None => "Loading…".to_string(),
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let [top, bottom] = areas(area);
    let [states, trend] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(20)]).areas(top);
    let counting = || Line::styled(" counting…", theme.dim());
    let counts = data.counts.unwrap_or_default();
    let total = counts.total().max(1);
    let mut lines = vec![
        Line::styled(
            match (data.counts, note) {
                (Some(c), Some(note)) => format!(" {} selections · {note}", c.total()),
                (Some(c), None) => format!(" {} selections", c.total()),
                (None, _) => " Selections".to_string(),
            },
            theme.title(),
        ),
        Line::raw(""),
    ];
    if data.counts.is_none() {
        lines.push(counting());
    }
    for state in SyncState::ALL
        .iter()
        .copied()
        .filter(|_| data.counts.is_some())
    {
        let n = counts.get(state);
        let bar = "█".repeat(((n * 14) / total) as usize);
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<24}", badge(state)), theme.state(state)),
            Span::raw(format!("{n:>8} ")),
            Span::styled(bar, theme.state(state)),
        ]));
    }
    lines.push(Line::styled(
        " tab: panel · ↑↓ · r: retry cause · R: all",
        theme.dim(),
    ));
    if let Some(workers) = &data.workers {
        lines.push(workers_line(workers, now, theme));
    }
    frame.render_widget(Paragraph::new(lines), states);

    let trend_rows = data.trend.as_deref().unwrap_or_default();
    let max = trend_rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    // The long title where it fits, the short one where it would be cut.
    let trend_title = [
        " Failures per day (last attempt, UTC)",
        " Failures per day (UTC)",
    ]
    .into_iter()
    .find(|t| crate::text::width(t) <= trend.width as usize)
    .unwrap_or(" Failures per day");
    let mut trend_lines = vec![Line::styled(trend_title, theme.title())];
    for (day, n) in trend_rows
        .iter()
        .rev()
        .take(top.height.saturating_sub(2) as usize)
        .rev()
    {
        let width = (trend.width as usize).saturating_sub(20);
        let bar = "▇".repeat(((*n as usize) * width) / max as usize);
        trend_lines.push(Line::from(vec![
            Span::raw(format!(" {} {n:>6} ", day.get(5..).unwrap_or(day))),
            Span::styled(bar, theme.state(SyncState::Failed)),
        ]));
    }
    if data.trend.is_none() {
        trend_lines.push(counting());
    } else if trend_rows.is_empty() {
        trend_lines.push(Line::styled(
            " no failures in the last 14 days",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(trend_lines), trend);

    // The causes panel gets the width its labels need when the conferences keep theirs beside
    // it; otherwise the causes stack above the conferences. The newest failures below.
    let causes = data.causes.as_deref();
    let [causes_area, bottom, failures_area] = panels(bottom, data);
    overview_failures::draw(
        frame,
        failures_area,
        overview_failures::Shown {
            failures: data.newest_failures.as_deref(),
            cursor: cursor.failure,
            focused: cursor.panel == Panel::Failures,
        },
        now,
        theme,
    );
    overview_causes::draw(
        frame,
        causes_area,
        overview_causes::Shown {
            causes,
            cursor: cursor.cause,
            focused: cursor.panel == Panel::Causes,
        },
        theme,
    );

    let worst = data.worst_conferences.as_deref().unwrap_or_default();
    let focused = cursor.panel == Panel::Conferences;
    table::draw(
        frame,
        bottom,
        if focused {
            &WORST_CONFERENCES_FOCUSED
        } else {
            &WORST_CONFERENCES
        },
        worst,
        Window::FollowCursor(focused.then_some(cursor.conference)),
        |_, (id, title, failed, total), current, _| Drawn {
            cells: vec![
                (id.to_string(), Style::default()),
                (title.clone(), Style::default()),
                (failed.to_string(), theme.state(SyncState::Failed)),
                (total.to_string(), Style::default()),
            ],
            style: if current {
                theme.selected()
            } else {
                Style::default()
            },
        },
        theme,
    );
}
