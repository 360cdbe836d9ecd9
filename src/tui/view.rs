//! Drawing: state in, frame out, nothing changed. The chrome (header, breadcrumbs, jobs panel,
//! footer) comes from `layout`, the screen on top draws itself into the body, and an open
//! popup over everything.

use ratatui::Frame;
use ratatui::text::Span;
use ratatui::widgets::Block;

use super::app::App;
use super::layout::Chrome;
use super::popups;
use super::screen::Screen;
use super::screens::{
    audit, conferences, error_detail, overview, parked, person, reconcile, retries, selections,
    slots, workers,
};
use super::theme::Theme;
use super::widgets::chrome;

pub fn render(frame: &mut Frame, app: &App, theme: Theme) {
    let area = frame.area();
    let layout = Chrome::of(area, app.job.is_some());
    chrome::draw_header(frame, layout.header, app, theme);
    let crumbs = super::breadcrumbs::of(&app.stack);
    // The border's corners and the spaces around the title.
    let room = usize::from(area.width.saturating_sub(4));
    let block = Block::bordered().title(Span::styled(
        format!(" {} ", super::breadcrumbs::fit(&crumbs, room)),
        theme.title(),
    ));
    frame.render_widget(block, layout.main);
    draw_screen(frame, layout, app, theme);
    if let Some(job) = &app.job {
        chrome::draw_job(frame, layout.jobs, job, theme);
    }
    chrome::draw_footer(frame, layout.footer, app, theme);
    popups::draw(frame, area, app, theme);
}

fn draw_screen(frame: &mut Frame, layout: Chrome, app: &App, theme: Theme) {
    let body = layout.body;
    match app.screen() {
        Some(Screen::Overview {
            data,
            error,
            cursor,
            pending,
            refresh,
        }) => overview::draw(
            frame,
            body,
            overview::Shown {
                data: data.as_ref(),
                pending: *pending,
                error: error.as_deref(),
                cursor: *cursor,
                refresh,
            },
            app.session.missing_tables.as_deref(),
            app.now,
            theme,
        ),
        Some(Screen::Conferences(table)) => conferences::draw(frame, body, table, theme),
        Some(Screen::Audit(table)) => audit::draw(frame, body, table, theme),
        Some(Screen::Reconcile(view)) => reconcile::draw(frame, body, view, theme),
        Some(Screen::Slots { table, .. }) => slots::draw(frame, body, table, theme),
        Some(Screen::Workers(screen)) => workers::draw(frame, body, screen, app.now, theme),
        Some(Screen::Retries(screen)) => retries::draw(frame, body, screen, app.now, theme),
        Some(Screen::Parked(screen)) => parked::draw(frame, body, screen, theme),
        Some(Screen::Selections { list, .. }) => {
            selections::draw(frame, body, list, &app.columns, app.now, theme)
        }
        Some(Screen::Person { data, list, .. }) => person::draw(
            frame,
            body,
            data.as_ref(),
            list,
            &app.columns,
            app.now,
            theme,
        ),
        Some(Screen::ErrorDetail {
            selection, pending, ..
        }) => error_detail::draw(
            frame,
            body,
            selection.as_deref(),
            pending.is_some(),
            app.now,
            theme,
        ),
        None => {}
    }
}
