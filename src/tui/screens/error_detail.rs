//! One selection in full: its state, slot, event, and the diagnosis of its error (cause,
//! Graph codes, whether a retry is worthwhile, what to do).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use crate::domain::diagnosis::diagnose;
use crate::domain::{Selection, SyncState};
use crate::text::clean_line;
use crate::tui::opens::Opens;
use crate::tui::theme::Theme;
use crate::tui::widgets::{ago, badge};

/// Enter opens the selection's person.
pub fn enter(selection: Option<&Selection>) -> Opens {
    selection.map_or(Opens::Nothing, |s| Opens::Person(s.user_id))
}

pub fn draw(
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
    if let Some(url) = &s.recorded.web_link {
        lines.push(Line::raw(format!(
            "In Outlook on the web (w): {}",
            clean_line(url)
        )));
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
