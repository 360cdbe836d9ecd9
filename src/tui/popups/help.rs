//! The help popup: the keys of the screen it is opened on, from the keymap (writing keys
//! hidden when read-only). Any key closes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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
