//! Drawing: state in, frame out, nothing changed. Tables get rows only for what is visible, and
//! every text from the database is cleaned and cut to its column with an ellipsis.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Table, Wrap};

use super::app::{
    App, BulkSheet, InputKind, Job, JobKind, Popup, Screen, TYPED_CONFIRMATION_ABOVE, scope_name,
};
use super::data::{OverviewData, PersonData};
use super::list::SelectionList;
use super::reconcile::{DeleteSheet, ReconcileView};
use super::theme::Theme;
use crate::domain::audit::{AuditOutcome, AuditRecord};
use crate::domain::diagnosis::diagnose;
use crate::domain::{
    ConferenceSummary, CredentialSource, Selection, SlotSummary, StateCounts, SyncState,
};
use crate::sync::reconcile::Resolution;
use crate::text::{clean_line, truncate};

pub fn render(frame: &mut Frame, app: &App, theme: Theme) {
    let area = frame.area();
    let jobs = if app.job.is_some() { 4 } else { 0 };
    let [header, main, jobs_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(jobs),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, theme);
    let crumbs: Vec<String> = app.stack.iter().map(Screen::crumb).collect();
    let block = Block::bordered().title(Span::styled(
        format!(" {} ", crumbs.join(" › ")),
        theme.title(),
    ));
    let inner = block.inner(main);
    frame.render_widget(block, main);
    match app.screen() {
        Some(Screen::Overview {
            data,
            error,
            cause,
            pending,
            refresh,
        }) => {
            let inner = match &app.session.missing_tables {
                Some(notice) => {
                    let [note, rest] =
                        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
                    frame.render_widget(
                        Paragraph::new(truncate(&format!(" {notice}"), note.width as usize))
                            .style(theme.warning()),
                        note,
                    );
                    rest
                }
                None => inner,
            };
            // A re-read keeps the last counts on screen and says so.
            let note = match (pending, error, refresh.read) {
                (_, Some(e), Some(_)) => Some(format!("recount failed: {}", clean_line(e))),
                (Some(_), None, Some(read)) => {
                    let format = if read.date_naive() == app.now.date_naive() {
                        "%H:%M:%S"
                    } else {
                        "%b %d %H:%M"
                    };
                    Some(format!("recounting ({})", read.format(format)))
                }
                _ => None,
            };
            draw_overview(
                frame,
                inner,
                data.as_ref(),
                error.as_deref(),
                *cause,
                note.as_deref(),
                theme,
            )
        }
        Some(Screen::Conferences(table)) => {
            draw_conferences(
                frame,
                inner,
                &table.rows,
                table.cursor,
                app.page_height(),
                theme,
            );
            draw_table_state(
                frame,
                inner,
                table.pending.is_some(),
                table.error.as_deref(),
                table.rows.is_empty(),
                theme,
            );
        }
        Some(Screen::Audit(table)) => {
            draw_audit(frame, inner, table, app.page_height(), theme);
            draw_table_state(
                frame,
                inner,
                table.pending.is_some(),
                table.error.as_deref(),
                table.rows.is_empty(),
                theme,
            );
        }
        Some(Screen::Reconcile(view)) => {
            draw_reconcile(frame, inner, view, app.page_height(), theme)
        }
        Some(Screen::Slots { table, .. }) => {
            draw_slots(frame, inner, &table.rows, table.cursor, theme);
            draw_table_state(
                frame,
                inner,
                table.pending.is_some(),
                table.error.as_deref(),
                table.rows.is_empty(),
                theme,
            );
        }
        Some(Screen::Selections { list, .. }) => {
            draw_selection_list(frame, inner, list, app, theme)
        }
        Some(Screen::Person { data, list, .. }) => {
            let [info, rest] =
                Layout::vertical([Constraint::Length(5), Constraint::Min(2)]).areas(inner);
            draw_person(frame, info, data.as_ref(), theme);
            draw_selection_list(frame, rest, list, app, theme);
        }
        Some(Screen::ErrorDetail {
            selection, pending, ..
        }) => draw_error_detail(
            frame,
            inner,
            selection.as_deref(),
            pending.is_some(),
            app.now,
            theme,
        ),
        None => {}
    }
    if let Some(job) = &app.job {
        draw_job(frame, jobs_area, job, theme);
    }
    draw_footer(frame, footer, app, theme);
    match &app.popup {
        Some(Popup::Help) => draw_help(frame, area, app, theme),
        Some(Popup::Input { kind, text, error }) => {
            draw_input(frame, area, *kind, text, error.as_deref(), theme)
        }
        Some(Popup::Bulk(sheet)) => draw_bulk(frame, area, sheet, theme),
        Some(Popup::DeleteFindings(sheet)) => draw_delete_sheet(frame, area, sheet, theme),
        None => {}
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..=59 => format!("{seconds}s ago"),
        60..=3599 => format!("{}m ago", seconds / 60),
        3600..=86_399 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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

fn badge(state: SyncState) -> String {
    format!("{} {}", state.symbol(), state.label())
}

/// Column widths for `constraints` inside `width`, so cells can be cut with an ellipsis.
fn widths(width: u16, constraints: &[Constraint]) -> Vec<usize> {
    Layout::horizontal(constraints.to_vec())
        .spacing(1)
        .split(Rect::new(0, 0, width, 1))
        .iter()
        .map(|r| r.width as usize)
        .collect()
}

fn row<'a>(cells: Vec<(String, Style)>, widths: &[usize], style: Style) -> Row<'a> {
    Row::new(
        cells
            .into_iter()
            .zip(widths)
            .map(|((text, cell_style), w)| {
                Cell::from(Span::styled(truncate(&clean_line(&text), *w), cell_style))
            }),
    )
    .style(style)
}

fn header_row<'a>(names: &[&'a str], theme: Theme) -> Row<'a> {
    Row::new(names.iter().map(|n| Cell::from(*n)))
        .style(theme.title().add_modifier(Modifier::UNDERLINED))
}

fn draw_table_state(
    frame: &mut Frame,
    area: Rect,
    loading: bool,
    error: Option<&str>,
    empty: bool,
    theme: Theme,
) {
    let text = match (error, loading, empty) {
        (Some(e), _, _) => Some((format!("Could not load: {}", clean_line(e)), theme.danger())),
        (None, true, true) => Some(("Loading…".to_string(), theme.dim())),
        (None, false, true) => Some(("Nothing here.".to_string(), theme.dim())),
        _ => None,
    };
    if let Some((text, style)) = text
        && area.height > 2
    {
        let line = Rect::new(area.x + 1, area.y + 2, area.width.saturating_sub(2), 1);
        frame.render_widget(
            Paragraph::new(truncate(&text, line.width as usize)).style(style),
            line,
        );
    }
}

fn counts_cells(counts: &StateCounts, theme: Theme) -> Vec<(String, Style)> {
    SyncState::ALL
        .iter()
        .map(|s| (counts.get(*s).to_string(), theme.state(*s)))
        .collect()
}

/// Per-state count columns: symbols, explained in the overview and in the help.
const COUNT_HEADERS: [&str; 5] = ["✓", "✓!", "✗", "…", "·"];

/// Terminals narrower than this get the essential columns only.
const WIDE: u16 = 110;

/// Keeps the items whose column is shown.
fn pick<T>(items: Vec<T>, shown: &[bool]) -> Vec<T> {
    items
        .into_iter()
        .zip(shown)
        .filter(|(_, keep)| **keep)
        .map(|(item, _)| item)
        .collect()
}

fn draw_audit(
    frame: &mut Frame,
    area: Rect,
    table: &crate::tui::app::Table<AuditRecord>,
    height: usize,
    theme: Theme,
) {
    let constraints = vec![
        Constraint::Length(5),
        Constraint::Length(16),
        Constraint::Length(18),
        Constraint::Length(17),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Min(20),
    ];
    let w = widths(area.width, &constraints);
    let top = table.cursor.saturating_sub(height.saturating_sub(1));
    let body: Vec<Row> = table
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
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
            let cells = vec![
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
            ];
            row(cells, &w, theme.row(i == table.cursor))
        })
        .collect();
    let headers = [
        "ID",
        "STARTED (UTC)",
        "WHO",
        "ACTION",
        "ROWS",
        "OUTCOME",
        "SCOPE — DETAIL",
    ];
    frame.render_widget(
        Table::new(body, constraints)
            .header(header_row(&headers, theme))
            .column_spacing(1),
        area,
    );
}

/// The findings table, windowed around the cursor, with the evidence of the one under it.
fn draw_reconcile(
    frame: &mut Frame,
    area: Rect,
    view: &ReconcileView,
    height: usize,
    theme: Theme,
) {
    let [facts, table_area, evidence] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(4),
    ])
    .areas(area);
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
    let wide = table_area.width >= WIDE;
    let shown = [true, true, true, true, true, wide, true];
    let constraints: Vec<Constraint> = [
        Constraint::Length(3),
        Constraint::Length(18),
        Constraint::Length(28),
        Constraint::Length(24),
        Constraint::Length(16),
        Constraint::Length(13),
        Constraint::Min(12),
    ]
    .into_iter()
    .zip(shown)
    .filter_map(|(c, show)| show.then_some(c))
    .collect();
    let w = widths(table_area.width, &constraints);
    let height = height.saturating_sub(6).max(1);
    let top = view.cursor.saturating_sub(height.saturating_sub(1));
    let body: Vec<Row> = view
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
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
            let cells = [
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
            ]
            .into_iter()
            .zip(shown)
            .filter_map(|(c, show)| show.then_some(c))
            .collect();
            row(cells, &w, theme.row(i == view.cursor))
        })
        .collect();
    let headers = [
        "",
        "KIND",
        "MAILBOX",
        "SUBJECT",
        "START (UTC)",
        "EVENT",
        "RESULT",
    ];
    frame.render_widget(
        Table::new(body, constraints)
            .header(header_row(&headers, theme))
            .column_spacing(1),
        table_area,
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

fn draw_delete_sheet(frame: &mut Frame, area: Rect, sheet: &DeleteSheet, theme: Theme) {
    let popup = centered(area, 72, 9);
    frame.render_widget(Clear, popup);
    let count = sheet.findings.len();
    let certain = count - sheet.probable;
    let mut lines = vec![
        Line::styled(
            format!(" {count} events will be deleted from their mailboxes:"),
            theme.title(),
        ),
        Line::raw(format!(
            "   {certain} certain (calsync's ledger or tag), {} probable (by their shape)",
            sheet.probable
        )),
        Line::styled(
            " An event already gone counts as done. This cannot be undone.",
            theme.dim(),
        ),
        Line::raw(""),
    ];
    if sheet.needs_typing() {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" Type {count} and press enter to delete: "),
                theme.warning(),
            ),
            Span::styled(sheet.typed.clone(), theme.key()),
            Span::styled("▏", theme.key()),
        ]));
    } else {
        lines.push(Line::styled(
            " enter deletes · esc cancels",
            theme.warning(),
        ));
    }
    if let Some(e) = &sheet.error {
        lines.push(Line::styled(format!(" {}", clean_line(e)), theme.danger()));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Delete events ")),
        popup,
    );
}

fn draw_conferences(
    frame: &mut Frame,
    area: Rect,
    rows: &[ConferenceSummary],
    cursor: usize,
    height: usize,
    theme: Theme,
) {
    let wide = area.width >= WIDE;
    let shown = [true, true, wide, wide, true, true, true, true, true, true];
    let constraints = pick(
        vec![
            Constraint::Length(5),
            Constraint::Min(20),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
        ],
        &shown,
    );
    let w = widths(area.width, &constraints);
    let top = cursor.saturating_sub(height.saturating_sub(1));
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, c)| {
            let cells = vec![
                (c.id.to_string(), Style::default()),
                (c.title.clone(), Style::default()),
                (c.platform.clone(), Style::default()),
                (c.date.to_string(), Style::default()),
                (c.slot_count.to_string(), Style::default()),
            ];
            let state = RowState {
                current: i == cursor,
                active: c.use_time_slots,
            };
            count_row(cells, &c.counts, &shown, &w, state, theme)
        })
        .collect();
    let headers = ["ID", "CONFERENCE", "PLATFORM", "DATE", "SLOTS"];
    draw_rows(frame, area, &headers, &shown, constraints, body, theme);
}

/// Where a row stands: under the cursor, and whether it is in use (unused rows are dimmed).
struct RowState {
    current: bool,
    active: bool,
}

/// A row of a count table: its own cells, then the per-state counts, the `shown` ones only.
fn count_row<'a>(
    mut cells: Vec<(String, Style)>,
    counts: &StateCounts,
    shown: &[bool],
    widths: &[usize],
    state: RowState,
    theme: Theme,
) -> Row<'a> {
    cells.extend(counts_cells(counts, theme));
    let style = if state.current {
        theme.selected()
    } else if state.active {
        Style::default()
    } else {
        theme.dim()
    };
    row(pick(cells, shown), widths, style)
}

/// A table of `headers` followed by the per-state count columns, showing the `shown` ones.
fn draw_rows(
    frame: &mut Frame,
    area: Rect,
    headers: &[&str],
    shown: &[bool],
    constraints: Vec<Constraint>,
    body: Vec<Row>,
    theme: Theme,
) {
    let mut all = headers.to_vec();
    all.extend(COUNT_HEADERS);
    let headers = pick(all, shown);
    frame.render_widget(
        Table::new(body, constraints)
            .header(header_row(&headers, theme))
            .column_spacing(1),
        area,
    );
}

fn draw_slots(frame: &mut Frame, area: Rect, rows: &[SlotSummary], cursor: usize, theme: Theme) {
    let wide = area.width >= WIDE;
    let shown = [true, true, true, true, wide, true, wide, true, wide, true];
    let constraints = pick(
        vec![
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(18),
            Constraint::Length(8),
            Constraint::Min(12),
            Constraint::Length(5),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(4),
        ],
        &shown,
    );
    let w = widths(area.width, &constraints);
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let capacity = if s.max_participants > 0 {
                format!("{}/{}", s.current_participants, s.max_participants)
            } else {
                format!("{}/∞", s.current_participants)
            };
            let cells = vec![
                (s.date.to_string(), Style::default()),
                (
                    format!(
                        "{}–{}",
                        s.start_time.format("%H:%M"),
                        s.end_time.format("%H:%M")
                    ),
                    Style::default(),
                ),
                (
                    s.timezone.clone(),
                    if s.timezone.parse::<chrono_tz::Tz>().is_ok() {
                        Style::default()
                    } else {
                        theme.danger()
                    },
                ),
                (capacity, Style::default()),
                (
                    s.meeting_link
                        .clone()
                        .filter(|l| !l.trim().is_empty())
                        .unwrap_or_else(|| "(conference link)".to_string()),
                    Style::default(),
                ),
            ];
            let state = RowState {
                current: i == cursor,
                active: s.is_available,
            };
            count_row(cells, &s.counts, &shown, &w, state, theme)
        })
        .collect();
    let headers = ["DATE", "LOCAL TIME", "ZONE", "CAPACITY", "LINK"];
    draw_rows(frame, area, &headers, &shown, constraints, body, theme);
}

fn draw_selection_list(
    frame: &mut Frame,
    area: Rect,
    list: &SelectionList,
    app: &App,
    theme: Theme,
) {
    let [status, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let filter = if list.query.is_empty() {
        "(none: / to filter)".to_string()
    } else {
        list.query.clone()
    };
    let position = match (list.total, list.rows.is_empty()) {
        (Some(0), _) => "no rows".to_string(),
        (Some(total), false) => format!("row {} of {total}", list.cursor + 1),
        (None, false) => format!("row {} of …", list.cursor + 1),
        _ => "loading…".to_string(),
    };
    let mut spans = vec![
        Span::styled(" filter: ", theme.dim()),
        Span::styled(clean_line(&filter), theme.key()),
        Span::raw(format!("  · {position}")),
    ];
    if let Some(counts) = list.counts {
        for state in SyncState::ALL {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(
                format!("{} {}", state.symbol(), counts.get(state)),
                theme.state(state),
            ));
        }
    }
    if !list.marks.is_empty() {
        let marked = match list.marked_count() {
            Some(n) if list.marks.all_matching => format!("  · ALL {n} matching marked"),
            Some(n) => format!("  · {n} marked"),
            None => "  · all matching marked".to_string(),
        };
        spans.push(Span::styled(marked, theme.marked()));
    }
    if list.marks.range_anchor.is_some() {
        spans.push(Span::styled(
            "  · range: press v at the other end",
            theme.marked(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), status);

    let wide = table_area.width >= WIDE;
    let shown = [true, true, true, wide, true, wide, true, wide, true];
    let constraints = pick(
        vec![
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Length(if wide { 20 } else { 16 }),
            Constraint::Length(26),
            Constraint::Length(if wide { 22 } else { 14 }),
            Constraint::Length(11),
            Constraint::Length(if wide { 22 } else { 11 }),
            Constraint::Length(10),
            Constraint::Min(16),
        ],
        &shown,
    );
    let w = widths(table_area.width, &constraints);
    let height = table_area.height.saturating_sub(1) as usize;
    let body: Vec<Row> = list
        .visible(height)
        .map(|(index, s)| {
            let cells = pick(selection_cells(s, list, theme, app.now, wide), &shown);
            row(cells, &w, row_style(s, index == list.cursor, list, theme))
        })
        .collect();
    let headers = pick(
        vec![
            "",
            "ID",
            "PERSON",
            "EMAIL",
            "CONFERENCE",
            "SLOT",
            "STATE",
            "ATTEMPTED",
            "ERROR",
        ],
        &shown,
    );
    frame.render_widget(
        Table::new(body, constraints)
            .header(header_row(&headers, theme))
            .column_spacing(1),
        table_area,
    );
    draw_table_state(
        frame,
        table_area,
        list.loading.is_some(),
        list.error.as_deref(),
        list.rows.is_empty(),
        theme,
    );
}

fn selection_cells(
    s: &Selection,
    list: &SelectionList,
    theme: Theme,
    now: DateTime<Utc>,
    wide: bool,
) -> Vec<(String, Style)> {
    let state = s.state();
    let mark = if list.marks.is_marked(s.id) {
        "●"
    } else if list.changed.contains(&s.id) {
        "*"
    } else {
        " "
    };
    // Narrow terminals get the symbol and the state's short name.
    let mut badge_text = if wide {
        badge(state)
    } else {
        format!("{} {}", state.symbol(), state.as_str().replace('_', " "))
    };
    if s.stale {
        badge_text = format!("{badge_text} · STALE");
    }
    vec![
        (mark.to_string(), theme.marked()),
        (s.id.to_string(), Style::default()),
        (s.person_name(), Style::default()),
        (s.email.clone(), Style::default()),
        (s.conference_title.clone(), Style::default()),
        (
            format!(
                "{} {}",
                s.slot_date.format("%m-%d"),
                s.slot_start.format("%H:%M")
            ),
            Style::default(),
        ),
        (badge_text, theme.state(state)),
        (
            s.sync
                .attempted_at
                .map(|t| ago(now, t))
                .unwrap_or_else(|| "never".to_string()),
            Style::default(),
        ),
        (
            s.sync.error_text().map(short_error).unwrap_or_default(),
            theme.dim(),
        ),
    ]
}

fn row_style(s: &Selection, current: bool, list: &SelectionList, theme: Theme) -> Style {
    if current {
        theme.selected()
    } else if list.changed.contains(&s.id) {
        theme.changed()
    } else {
        Style::default()
    }
}

/// The error without the LMS's boilerplate, for the table's last column.
fn short_error(error: &str) -> String {
    clean_line(error)
        .trim_start_matches("API request failed: ")
        .replace("https://graph.microsoft.com/v1.0", "")
}

fn draw_overview(
    frame: &mut Frame,
    area: Rect,
    data: Option<&OverviewData>,
    error: Option<&str>,
    cause_cursor: usize,
    note: Option<&str>,
    theme: Theme,
) {
    let Some(data) = data else {
        let text = match error {
            Some(e) => format!("Could not load the overview: {}", clean_line(e)),
            None => "Loading…".to_string(),
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(9), Constraint::Min(3)]).areas(area);
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
        " ↑↓ r: retry a cause · R: retry all",
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(lines), states);

    let trend_rows = data.trend.as_deref().unwrap_or_default();
    let max = trend_rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut trend_lines = vec![Line::styled(
        " Failures per day (last attempt, UTC)",
        theme.title(),
    )];
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

    // Narrow terminals stack the causes above the conferences; wide ones put them side by side.
    let [causes_area, bottom] = if bottom.width >= 100 {
        Layout::horizontal([Constraint::Length(50), Constraint::Min(40)]).areas(bottom)
    } else {
        let height = data.causes.as_ref().map_or(1, Vec::len).max(1) as u16 + 2;
        Layout::vertical([Constraint::Length(height), Constraint::Min(2)]).areas(bottom)
    };
    let mut cause_lines = vec![Line::styled(" Failures by cause", theme.title())];
    for (i, (cause, n)) in data.causes.iter().flatten().enumerate() {
        let kind = if cause.is_permanent() {
            "fix, then retry"
        } else {
            "retry"
        };
        let line = Line::from(vec![
            Span::raw(format!(" {:<22}", truncate(cause.label(), 22))),
            Span::styled(format!("{n:>7}"), theme.state(SyncState::Failed)),
            Span::styled(format!("  {kind}"), theme.dim()),
        ]);
        cause_lines.push(if i == cause_cursor {
            line.style(theme.selected())
        } else {
            line
        });
    }
    match &data.causes {
        None => cause_lines.push(counting()),
        Some(causes) if causes.is_empty() => {
            cause_lines.push(Line::styled(" no failures", theme.dim()))
        }
        Some(_) => {}
    }
    frame.render_widget(Paragraph::new(cause_lines), causes_area);

    let constraints = [
        Constraint::Length(6),
        Constraint::Min(20),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let w = widths(bottom.width, &constraints);
    let rows: Vec<Row> = data
        .worst_conferences
        .iter()
        .flatten()
        .map(|(id, title, failed, total)| {
            row(
                vec![
                    (id.to_string(), Style::default()),
                    (title.clone(), Style::default()),
                    (failed.to_string(), theme.state(SyncState::Failed)),
                    (total.to_string(), Style::default()),
                ],
                &w,
                Style::default(),
            )
        })
        .collect();
    frame.render_widget(
        Table::new(rows, constraints)
            .header(header_row(
                &["ID", "CONFERENCES WITH MOST FAILURES", "✗ FAILED", "TOTAL"],
                theme,
            ))
            .column_spacing(1),
        bottom,
    );
}

fn draw_person(frame: &mut Frame, area: Rect, data: Option<&PersonData>, theme: Theme) {
    let Some(data) = data else {
        frame.render_widget(Paragraph::new("Loading…"), area);
        return;
    };
    let p = &data.person;
    let mut lines = vec![Line::from(vec![
        Span::styled(clean_line(&p.display_name()), theme.title()),
        Span::raw(clean_line(&format!(
            "  ({}) · {} · {} · branch {}{}",
            p.username,
            p.role,
            if p.email.is_empty() {
                "no email address: calendar sync is impossible".to_string()
            } else {
                format!("mailbox {}", p.email)
            },
            p.branch_name.clone().unwrap_or_else(|| "none".to_string()),
            if p.is_active { "" } else { " · inactive user" }
        ))),
    ])];
    match (&data.integration, &data.no_integration_reason) {
        (Some((name, tenant, client, why)), _) => {
            let why = match why {
                CredentialSource::OwnerInUsersBranch => {
                    "its owner is in the user's branch (the LMS's first rule)"
                }
                CredentialSource::OwnedByUser => "the user owns it (the LMS's fallback)",
            };
            lines.push(Line::raw(clean_line(&format!(
                "Teams integration: {name} (tenant {tenant}, app {client}), because {why}"
            ))));
        }
        (None, Some(reason)) => lines.push(Line::styled(clean_line(reason), theme.warning())),
        (None, None) => {}
    }
    if p.branch_teams_enabled == Some(false) {
        lines.push(Line::styled(
            "Note: the branch has Teams integration switched off; the LMS's calendar sync ignores that switch.",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn draw_error_detail(
    frame: &mut Frame,
    area: Rect,
    selection: Option<&Selection>,
    loading: bool,
    now: DateTime<Utc>,
    theme: Theme,
) {
    let Some(s) = selection else {
        let text = if loading {
            "Loading…"
        } else {
            "This selection no longer exists."
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let state = s.state();
    let stale = if s.stale {
        " · STALE: the slot or conference changed after the event was written (a sync updates it)"
    } else {
        ""
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(badge(state), theme.state(state)),
            Span::styled(stale, theme.warning()),
            Span::raw(format!(
                "  {}",
                clean_line(&format!(
                    "{} · {} · {} {}–{} {}",
                    s.person_name(),
                    s.email,
                    s.slot_date,
                    s.slot_start.format("%H:%M"),
                    s.slot_end.format("%H:%M"),
                    s.timezone
                ))
            )),
        ]),
        Line::raw(clean_line(&format!(
            "Conference: {} ({})",
            s.conference_title, s.platform
        ))),
        Line::raw(match s.sync.attempted_at {
            Some(t) => format!(
                "Last attempt: {} UTC ({})",
                t.format("%Y-%m-%d %H:%M:%S"),
                ago(now, t)
            ),
            None => "Never attempted.".to_string(),
        }),
        Line::raw(format!(
            "Outlook event: {}",
            s.sync
                .outlook_event_id
                .as_deref()
                .map(clean_line)
                .unwrap_or_else(|| "none".to_string())
        )),
    ];
    if let Some(url) = &s.recorded.teams_join_url {
        lines.push(Line::raw(format!("Teams meeting: {}", clean_line(url))));
    }
    lines.push(Line::raw(""));
    match s.sync.error_text() {
        Some(error) => {
            lines.push(Line::styled("calendar_error:", theme.title()));
            lines.push(Line::raw(clean_line(error)));
            lines.push(Line::raw(""));
            let d = diagnose(error);
            let mut facts = vec![format!("Cause: {}", d.cause.label())];
            if let Some(status) = d.http_status {
                facts.push(format!("HTTP {status}"));
            }
            if let Some(code) = &d.graph_code {
                facts.push(format!("Graph code {code}"));
            }
            if let Some(code) = &d.aadsts {
                facts.push(code.clone());
            }
            if let Some(id) = &d.request_id {
                facts.push(format!("request-id {id}"));
            }
            lines.push(Line::raw(clean_line(&facts.join(" · "))));
            lines.push(if d.retry_worthwhile {
                Line::styled("Worth retrying: yes", theme.state(SyncState::Added))
            } else {
                Line::styled(
                    "Worth retrying: not until the cause is fixed",
                    theme.warning(),
                )
            });
            lines.push(Line::raw(clean_line(&d.hint)));
        }
        None => lines.push(Line::styled("No error recorded.", theme.dim())),
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "enter: the person's calendar status · r: retry · esc: back",
        theme.dim(),
    ));
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }),
        area,
    );
}

fn draw_job(frame: &mut Frame, area: Rect, job: &Job, theme: Theme) {
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

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

fn draw_help(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let bindings = app
        .session
        .keymap
        .help_for(app.context(), app.session.read_only);
    let popup = centered(area, 76, bindings.len() as u16 + 4);
    frame.render_widget(Clear, popup);
    let mut lines: Vec<Line> = bindings
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<14}", b.keys), theme.key()),
                Span::raw(b.description),
            ])
        })
        .collect();
    lines.push(Line::styled(" any key closes this help", theme.dim()));
    let title = if app.session.read_only {
        " Keys (read-only: writing keys hidden) "
    } else {
        " Keys "
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        popup,
    );
}

fn draw_input(
    frame: &mut Frame,
    area: Rect,
    kind: InputKind,
    text: &str,
    error: Option<&str>,
    theme: Theme,
) {
    let popup = Rect::new(
        area.x,
        area.bottom().saturating_sub(4),
        area.width,
        3.min(area.height),
    );
    frame.render_widget(Clear, popup);
    let (prompt, title) = match kind {
        InputKind::Filter => (
            "/",
            " Filter: text, state:failed conf:12 user:ann platform:zoom error:\"…\" since:24h (enter applies, esc cancels) ",
        ),
        InputKind::Command => (
            ":",
            " Command: failed, person ann@x.org, conference 12, sync failed, export csv, quit (tab completes) ",
        ),
    };
    let mut spans = vec![
        Span::styled(prompt, theme.key()),
        Span::raw(clean_line(text)),
        Span::styled("▏", theme.key()),
    ];
    if let Some(e) = error {
        spans.push(Span::styled(
            format!("   {}", clean_line(e)),
            theme.danger(),
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans))
            .block(Block::bordered().title(truncate(title, area.width.saturating_sub(2) as usize))),
        popup,
    );
}

fn draw_bulk(frame: &mut Frame, area: Rect, sheet: &BulkSheet, theme: Theme) {
    let popup = centered(area, 76, 16);
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
                format!(" {} selections will be synced:", plan.count),
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
                        format!(" Type {} and press enter to start: ", plan.count),
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
            .block(Block::bordered().title(" Sync selections matching the filter ")),
        popup,
    );
}
