//! A person's calendar status: who they are, which Teams integration the LMS would use and
//! why (or why none), above the list of their selections.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::selections;
use crate::domain::CredentialSource;
use crate::text::clean_line;
use crate::tui::columns::ColumnChoice;
use crate::tui::data::PersonData;
use crate::tui::list::SelectionList;
use crate::tui::theme::Theme;

/// The person's facts above, their selections below.
fn areas(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Length(5), Constraint::Min(2)]).areas(area)
}

/// The list's rows drawn at once in `body` (the facts pane takes its share first).
pub fn page_rows(body: Rect) -> usize {
    selections::page_rows(areas(body)[1])
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    data: Option<&PersonData>,
    list: &SelectionList,
    columns: &ColumnChoice,
    now: DateTime<Utc>,
    theme: Theme,
) {
    let [info, rest] = areas(area);
    draw_person(frame, info, data, theme);
    selections::draw(frame, rest, list, columns, now, theme);
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
