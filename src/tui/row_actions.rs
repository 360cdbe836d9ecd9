//! What the operator does with the row under the cursor besides syncing it: copy its email or
//! error to the clipboard (OSC 52), open its event in Outlook on the web, its LMS admin page or
//! its meeting link in the browser, and list the last run's rows that did not sync (issue 13,
//! item 11).

use super::app::{App, Effect};
use super::browser;
use super::clipboard;
use super::popup::Popup;

impl App {
    /// `y` (email) and `Y` (error): the sequence goes to the terminal after the next draw.
    pub(in crate::tui) fn copy_current(&mut self, error: bool) -> Vec<Effect> {
        let Some(row) = self.current_selection() else {
            self.message = Some("y copies a row's email: open a list of selections".to_string());
            return Vec::new();
        };
        let value = if error {
            row.sync.error.clone().unwrap_or_default()
        } else {
            row.email.clone()
        };
        self.message = Some(match clipboard::osc52(&value) {
            Ok((sequence, copied)) => {
                self.to_terminal = Some(sequence);
                format!("copied: {}", crate::text::truncate(&copied, 60))
            }
            Err(why) => why,
        });
        Vec::new()
    }

    /// `w`: the row's event in Outlook on the web (the `webLink` the ledger recorded), else
    /// its page in the LMS admin when `lms_url` is set, else its meeting link.
    pub(in crate::tui) fn open_link(&mut self) -> Vec<Effect> {
        let Some(row) = self.current_selection() else {
            self.message = Some("w opens a row's page: open a list of selections".to_string());
            return Vec::new();
        };
        let url = row
            .recorded
            .web_link
            .clone()
            .or_else(|| {
                self.lms_url
                    .as_ref()
                    .map(|lms| browser::admin_page(lms, row.id))
            })
            .or_else(|| row.meeting_link().map(str::to_string));
        let Some(url) = url else {
            self.message = Some(
                "no link: no Outlook link recorded (a sync or verify records it), no meeting \
                 link, and lms_url is not set in the config"
                    .to_string(),
            );
            return Vec::new();
        };
        vec![Effect::OpenUrl(url)]
    }

    /// `W`: the row's page in the LMS admin, whatever else it has.
    pub(in crate::tui) fn open_admin(&mut self) -> Vec<Effect> {
        let Some(row) = self.current_selection() else {
            self.message =
                Some("W opens a row's admin page: open a list of selections".to_string());
            return Vec::new();
        };
        match &self.lms_url {
            Some(lms) => vec![Effect::OpenUrl(browser::admin_page(lms, row.id))],
            None => {
                self.message = Some(
                    "W needs lms_url = \"https://lms.example.org\" at the top of the config file"
                        .to_string(),
                );
                Vec::new()
            }
        }
    }

    /// `L`: the rows of the running or last run that did not sync.
    pub(in crate::tui) fn show_run_rows(&mut self) -> Vec<Effect> {
        let rows = self.job.as_ref().map_or(&self.last_run_rows, |j| &j.rows);
        if rows.is_empty() {
            self.message = Some("no run has left rows that did not sync".to_string());
        } else {
            self.popup = Some(Popup::RunRows { scroll: 0 });
        }
        Vec::new()
    }
}
