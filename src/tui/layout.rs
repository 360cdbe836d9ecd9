//! Where each part of the screen goes. The draw and the paging both ask here, so the rows the
//! state pages and re-reads by are the rows the draw has at the terminal's size: no copy of the
//! layout's sizes lives in the state.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

/// The jobs panel: its border, the gauge and the counters.
const JOBS_PANEL_ROWS: u16 = 4;

/// The frame every screen sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chrome {
    pub header: Rect,
    /// The bordered frame titled with the breadcrumbs.
    pub main: Rect,
    /// Inside the border: what the screen on top draws into.
    pub body: Rect,
    pub jobs: Rect,
    pub footer: Rect,
}

impl Chrome {
    pub fn of(area: Rect, job_shown: bool) -> Chrome {
        let jobs = if job_shown { JOBS_PANEL_ROWS } else { 0 };
        let [header, main, jobs, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(jobs),
            Constraint::Length(1),
        ])
        .areas(area);
        Chrome {
            header,
            main,
            body: Block::bordered().inner(main),
            jobs,
            footer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_screen_minus_header_border_footer_and_the_jobs_panel_when_shown() {
        let area = Rect::new(0, 0, 80, 24);
        assert_eq!(Chrome::of(area, false).body.height, 20);
        assert_eq!(Chrome::of(area, true).body.height, 16);
    }
}
