//! The console's state and the only place it changes. Keys become actions through the keymap;
//! `update` changes state and returns effects; effects run in the background and come back as
//! reports carrying the generation of the request that caused them. Nothing here does I/O, so
//! all of it is tested without a terminal.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, Report};
use super::data::{BulkPlan, OverviewData, PersonData};
use super::keymap::{self, Context};
use super::list::{Fetch, Marks, Placement, SelectionList};
use super::overview_refresh::OverviewRefresh;
use super::reconcile::{DeleteSheet, ReconcileView};
use crate::domain::audit::AuditRecord;
use crate::domain::ledger::LedgerScope;
use crate::domain::{
    ConferenceSummary, Filter, PageRequest, Scope, Selection, SlotSummary, Sort, SyncState,
};
use crate::sync::reconcile::{Finding, ReconcileEvent, Resolution};
use crate::sync::verify::{CheckStatus, VerifyEvent, VerifySummary};
use crate::sync::{Outcome, Summary, SyncEvent};

/// Bulk runs bigger than this need the count typed back before they start.
pub const TYPED_CONFIRMATION_ABOVE: u64 = 500;

/// Background work the app asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Overview(u64),
    Conferences(u64),
    Slots(u64, i64),
    Page(u64, PageRequest),
    Counts(u64, Filter),
    Rows(u64, Vec<i64>, Sort),
    Selection(u64, i64),
    Person(u64, i64),
    Audit(u64),
    BulkPlan(u64, SyncTarget, RunScope),
    Sync(SyncTarget, RunScope),
    /// Checks the events of the target's added selections; `bool`: record what is seen.
    Verify(SyncTarget, bool),
    /// Looks for orphans and duplicates in the scope's mailboxes.
    ReconcilePlan(u64, LedgerScope),
    /// Deletes the findings; the text is the scope, for the audit log.
    ReconcileApply(u64, Vec<Finding>, String),
    CancelSync,
    /// The filter's rows to a file: format (csv/json) and an optional path.
    Export(Filter, String, Option<String>),
    /// Finds a user by username or email (`:person ann@x.org`).
    FindPerson(u64, String),
}

/// What a sync run covers: ids decided now, or a filter resolved to ids when the run starts
/// (minus the rows the operator unmarked).
#[derive(Debug, Clone, PartialEq)]
pub enum SyncTarget {
    Ids(Vec<i64>),
    Matching {
        filter: Box<Filter>,
        except: Vec<i64>,
    },
}

/// Which rows of a target a run takes: the scope, and for "retry failed" whether failures of a
/// permanent cause are retried too (they are left out unless asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunScope {
    pub scope: Scope,
    pub include_permanent: bool,
}

impl RunScope {
    pub fn of(scope: Scope) -> RunScope {
        RunScope {
            scope,
            include_permanent: false,
        }
    }

    /// `filter` narrowed to the rows this run takes.
    pub fn narrow(self, filter: &Filter) -> Filter {
        Filter {
            scope: Some(self.scope),
            ..filter.clone()
        }
        .without_permanent_failures(self.include_permanent)
    }
}

/// Facts about the session: what the header shows, and the keymap in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub database: String,
    pub simulated_graph: bool,
    pub read_only: bool,
    pub read_only_reason: Option<String>,
    /// Which features wait for `calsync migrate`, when some do.
    pub missing_tables: Option<String>,
    pub keymap: keymap::Keymap,
}

#[derive(Debug, Clone)]
pub struct Table<T> {
    pub rows: Vec<T>,
    pub cursor: usize,
    pub pending: Option<u64>,
    pub error: Option<String>,
}

impl<T> Table<T> {
    fn loading(generation: u64) -> Table<T> {
        Table {
            rows: Vec::new(),
            cursor: 0,
            pending: Some(generation),
            error: None,
        }
    }

    fn move_by(&mut self, delta: i64) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as i64 - 1;
        self.cursor = (self.cursor as i64 + delta).clamp(0, last) as usize;
    }

    pub fn current(&self) -> Option<&T> {
        self.rows.get(self.cursor)
    }
}

#[derive(Debug, Clone)]
pub enum Screen {
    Overview {
        data: Option<OverviewData>,
        pending: Option<u64>,
        error: Option<String>,
        /// The row of the causes panel under the cursor.
        cause: usize,
        /// When its counts were read and when they are read again.
        refresh: OverviewRefresh,
    },
    Conferences(Table<ConferenceSummary>),
    /// The audit log, newest first.
    Audit(Table<AuditRecord>),
    /// Orphaned and duplicated events found in the mailboxes.
    Reconcile(Box<ReconcileView>),
    Slots {
        conference: ConferenceSummary,
        table: Table<SlotSummary>,
    },
    Selections {
        title: String,
        list: Box<SelectionList>,
    },
    Person {
        user_id: i64,
        data: Option<PersonData>,
        pending: Option<u64>,
        list: Box<SelectionList>,
    },
    ErrorDetail {
        id: i64,
        selection: Option<Box<Selection>>,
        pending: Option<u64>,
    },
}

impl Screen {
    pub fn context(&self) -> Context {
        match self {
            Screen::Overview { .. } => Context::Overview,
            Screen::Reconcile(_) => Context::Reconcile,
            Screen::Conferences(_) | Screen::Slots { .. } | Screen::Audit(_) => Context::Lists,
            // The detail of one selection offers what its row does (retry, person).
            Screen::Selections { .. } | Screen::Person { .. } | Screen::ErrorDetail { .. } => {
                Context::Selections
            }
        }
    }

    pub fn crumb(&self) -> String {
        match self {
            Screen::Overview { .. } => "Overview".to_string(),
            Screen::Conferences(_) => "Conferences".to_string(),
            Screen::Audit(_) => "Audit log".to_string(),
            Screen::Reconcile(view) => format!("Reconcile ({})", view.scope_text()),
            Screen::Slots { conference, .. } => crate::text::clean_line(&conference.title),
            Screen::Selections { title, .. } => title.clone(),
            Screen::Person { data, user_id, .. } => data
                .as_ref()
                .map(|d| crate::text::clean_line(&d.person.display_name()))
                .unwrap_or_else(|| format!("Person {user_id}")),
            Screen::ErrorDetail { id, .. } => format!("Selection {id}"),
        }
    }

    fn list_mut(&mut self) -> Option<&mut SelectionList> {
        match self {
            Screen::Selections { list, .. } | Screen::Person { list, .. } => Some(list),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&SelectionList> {
        match self {
            Screen::Selections { list, .. } | Screen::Person { list, .. } => Some(list),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

#[derive(Debug, Clone)]
pub struct BulkSheet {
    pub scope: Scope,
    /// With "failed": retry failures of a permanent cause too.
    pub include_permanent: bool,
    pub dry_run: bool,
    /// The filter the run covers (the list's filter, or the marks).
    pub target: SyncTarget,
    pub plan: Option<BulkPlan>,
    pub pending: Option<u64>,
    pub typed: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Popup {
    Help,
    Input {
        kind: InputKind,
        text: String,
        error: Option<String>,
    },
    Bulk(Box<BulkSheet>),
    DeleteFindings(Box<DeleteSheet>),
}

/// What a background job does: the jobs panel words its counters after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Sync,
    /// Counters: `synced` is present, `failed` missing, `skipped` not checked.
    Verify,
    /// Counters: `done` mailboxes, `synced` findings, `failed` mailboxes that failed.
    ReconcileScan,
    /// Counters: `synced` deleted, `failed` failed, `skipped` already gone.
    ReconcileDelete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub kind: JobKind,
    pub label: String,
    pub total: usize,
    pub done: usize,
    pub synced: usize,
    pub failed: usize,
    pub skipped: usize,
    pub throttled: usize,
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub cancelling: bool,
    /// How it ended, in one line (`3 synced, 0 failed, 0 skipped in 1.2s`).
    pub ended: Option<String>,
    pub error: Option<String>,
}

impl Job {
    pub fn rate(&self) -> f64 {
        let seconds = (self.now - self.started).num_milliseconds() as f64 / 1000.0;
        if seconds <= 0.0 {
            0.0
        } else {
            self.done as f64 / seconds
        }
    }

    pub fn eta_seconds(&self) -> Option<f64> {
        let rate = self.rate();
        (rate > 0.0).then(|| (self.total.saturating_sub(self.done)) as f64 / rate)
    }

    pub fn running(&self) -> bool {
        self.ended.is_none() && self.error.is_none()
    }
}

pub struct App {
    pub session: Session,
    pub stack: Vec<Screen>,
    pub popup: Option<Popup>,
    pub job: Option<Job>,
    pub message: Option<String>,
    pub last_refresh: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// Terminal rows, for paging.
    pub height: u16,
    pub should_quit: bool,
    /// A `:person` lookup in progress.
    looking_up: Option<u64>,
    /// The filter of the list a running verify was started from: its missing rows are marked
    /// there, wherever the operator has gone meanwhile.
    verify_origin: Option<Filter>,
    next_generation: u64,
}

/// Rows of the screen that are not table rows (header, crumbs, filter line, table header,
/// borders, bottom bar).
const CHROME: u16 = 7;
const JOBS_PANEL: u16 = 4;

impl App {
    pub fn new(session: Session, now: DateTime<Utc>) -> (App, Vec<Effect>) {
        let mut app = App {
            session,
            stack: Vec::new(),
            popup: None,
            job: None,
            message: None,
            last_refresh: None,
            now,
            height: 24,
            should_quit: false,
            looking_up: None,
            verify_origin: None,
            next_generation: 0,
        };
        let effects = app.open_overview();
        (app, effects)
    }

    fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    pub fn screen(&self) -> Option<&Screen> {
        self.stack.last()
    }

    pub fn context(&self) -> Context {
        self.screen().map_or(Context::Overview, Screen::context)
    }

    pub fn page_height(&self) -> usize {
        let jobs = if self.job.is_some() { JOBS_PANEL } else { 0 };
        self.height.saturating_sub(CHROME + jobs).max(1) as usize
    }

    // ----- opening screens ------------------------------------------------------------------

    fn push(&mut self, screen: Screen) {
        self.stack.push(screen);
    }

    fn open_overview(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.stack.truncate(0);
        self.push(Screen::Overview {
            data: None,
            pending: Some(generation),
            error: None,
            cause: 0,
            refresh: OverviewRefresh::asked_at(self.now),
        });
        vec![Effect::Overview(generation)]
    }

    /// Re-reads the overview's counts in the background (it stays on screen meanwhile),
    /// unless a read is already in flight.
    fn refresh_overview(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        let now = self.now;
        let Some(Screen::Overview {
            pending, refresh, ..
        }) = self
            .stack
            .iter_mut()
            .find(|s| matches!(s, Screen::Overview { .. }))
        else {
            return Vec::new();
        };
        if pending.is_some() {
            return Vec::new();
        }
        *pending = Some(generation);
        refresh.start(now);
        vec![Effect::Overview(generation)]
    }

    fn open_audit(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.push(Screen::Audit(Table::loading(generation)));
        vec![Effect::Audit(generation)]
    }

    fn open_conferences(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.stack.truncate(1);
        self.push(Screen::Conferences(Table::loading(generation)));
        vec![Effect::Conferences(generation)]
    }

    fn open_list(&mut self, title: String, base: Filter) -> Vec<Effect> {
        let mut list = SelectionList::new(base);
        let fetch = list.restart();
        self.push(Screen::Selections {
            title,
            list: Box::new(list),
        });
        self.fetch_for_top(Some(fetch), true)
    }

    fn open_person(&mut self, user_id: i64) -> Vec<Effect> {
        let generation = self.generation();
        let mut list = SelectionList::new(Filter {
            user_id: Some(user_id),
            ..Filter::default()
        });
        let fetch = list.restart();
        self.push(Screen::Person {
            user_id,
            data: None,
            pending: Some(generation),
            list: Box::new(list),
        });
        let mut effects = vec![Effect::Person(generation, user_id)];
        effects.extend(self.fetch_for_top(Some(fetch), true));
        effects
    }

    fn open_error(&mut self, id: i64) -> Vec<Effect> {
        let generation = self.generation();
        self.push(Screen::ErrorDetail {
            id,
            selection: None,
            pending: Some(generation),
        });
        vec![Effect::Selection(generation, id)]
    }

    /// Turns the top list's wish into a request (and a count when `count` is set).
    fn fetch_for_top(&mut self, fetch: Option<Fetch>, count: bool) -> Vec<Effect> {
        let page_gen = fetch.as_ref().map(|_| self.generation());
        let count_gen = count.then(|| self.generation());
        let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        if let (Some(fetch), Some(generation)) = (fetch, page_gen) {
            list.loading = Some((generation, fetch.placement));
            effects.push(Effect::Page(generation, fetch.request));
        }
        if let Some(generation) = count_gen {
            list.counting = Some(generation);
            effects.push(Effect::Counts(generation, list.filter.clone()));
        }
        effects
    }

    // ----- input ----------------------------------------------------------------------------

    pub fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match &mut self.popup {
            Some(Popup::Help) => {
                self.popup = None;
                return Vec::new();
            }
            Some(Popup::Input { .. }) => return self.input_key(key),
            Some(Popup::Bulk(_)) => return self.bulk_key(key),
            Some(Popup::DeleteFindings(_)) => return self.delete_key(key),
            None => {}
        }
        self.message = None;
        let action = self
            .session
            .keymap
            .action_for(key, self.context(), self.session.read_only);
        match action {
            Some(action) => self.update(action),
            None => Vec::new(),
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let height = self.page_height();
        match action {
            Action::Quit => {
                self.should_quit = true;
                Vec::new()
            }
            Action::Back => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                }
                Vec::new()
            }
            Action::Help => {
                self.popup = Some(Popup::Help);
                Vec::new()
            }
            Action::Filter => {
                let text = self.current_query();
                self.popup = Some(Popup::Input {
                    kind: InputKind::Filter,
                    text,
                    error: None,
                });
                Vec::new()
            }
            Action::Command => {
                self.popup = Some(Popup::Input {
                    kind: InputKind::Command,
                    text: String::new(),
                    error: None,
                });
                Vec::new()
            }
            Action::ClearFilter => self.apply_query(String::new()).unwrap_or_default(),
            Action::Up => self.move_by(-1, height),
            Action::Down => self.move_by(1, height),
            Action::PageUp => self.move_by(-(height as i64), height),
            Action::PageDown => self.move_by(height as i64, height),
            Action::Home => self.home(),
            Action::End => self.end(),
            Action::Enter => self.enter(),
            Action::Overview => self.open_overview(),
            Action::Conferences => self.open_conferences(),
            Action::ConferenceSelections => self.conference_selections(),
            Action::ErrorDetail => match self.current_selection() {
                Some(s) => self.open_error(s.id),
                None => Vec::new(),
            },
            Action::Person => match self.current_selection() {
                Some(s) => self.open_person(s.user_id),
                None => Vec::new(),
            },
            Action::ToggleMark => {
                if let Some(Screen::Reconcile(view)) = self.stack.last_mut() {
                    if let Err(why) = view.toggle_mark() {
                        self.message = Some(why.to_string());
                    }
                    return Vec::new();
                }
                self.with_list(|list| list.toggle_mark())
            }
            Action::MarkRange => self.with_list(|list| list.mark_range()),
            Action::ClearMarks => self.with_list(|list| list.marks = Default::default()),
            Action::MarkAllMatching => self.with_list(|list| {
                let all = !list.marks.all_matching;
                list.marks = Default::default();
                list.marks.all_matching = all;
            }),
            Action::ToggleSort => {
                let fetch = self
                    .stack
                    .last_mut()
                    .and_then(Screen::list_mut)
                    .map(|list| {
                        list.toggle_sort();
                        list.restart()
                    });
                self.fetch_for_top(fetch, true)
            }
            Action::Retry => self.retry(),
            Action::BulkSync => self.open_bulk(),
            Action::RetryCause => match self.cause_under_cursor() {
                Some(cause) => self.open_bulk_for(
                    SyncTarget::Matching {
                        filter: Box::new(Filter {
                            causes: vec![cause],
                            ..Filter::default()
                        }),
                        except: Vec::new(),
                    },
                    Scope::Failed,
                ),
                None => {
                    self.message = Some("no failures to retry".to_string());
                    Vec::new()
                }
            },
            Action::RetryAllFailed => self.open_bulk_for(
                SyncTarget::Matching {
                    filter: Box::default(),
                    except: Vec::new(),
                },
                Scope::Failed,
            ),
            Action::Verify => self.verify(),
            Action::DeleteFindings => self.ask_to_delete(),
            Action::CancelJob => {
                if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
                    job.cancelling = true;
                    return vec![Effect::CancelSync];
                }
                Vec::new()
            }
            Action::Refresh => self.reload(),
            Action::Export => match self.screen().and_then(Screen::list) {
                Some(list) => vec![Effect::Export(list.filter.clone(), "csv".to_string(), None)],
                None => Vec::new(),
            },
        }
    }

    fn with_list(&mut self, change: impl FnOnce(&mut SelectionList)) -> Vec<Effect> {
        if let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) {
            change(list);
        }
        Vec::new()
    }

    fn move_by(&mut self, delta: i64, height: usize) -> Vec<Effect> {
        match self.stack.last_mut() {
            Some(Screen::Overview { data, cause, .. }) => {
                let rows = data
                    .as_ref()
                    .and_then(|d| d.causes.as_ref())
                    .map_or(0, Vec::len);
                if rows > 0 {
                    *cause = (*cause as i64 + delta).clamp(0, rows as i64 - 1) as usize;
                }
            }
            Some(Screen::Conferences(table)) => table.move_by(delta),
            Some(Screen::Audit(table)) => table.move_by(delta),
            Some(Screen::Reconcile(view)) => view.move_by(delta),
            Some(Screen::Slots { table, .. }) => table.move_by(delta),
            Some(screen) => {
                let fetch = screen
                    .list_mut()
                    .and_then(|list| list.move_by(delta, height));
                return self.fetch_for_top(fetch, false);
            }
            None => {}
        }
        Vec::new()
    }

    fn home(&mut self) -> Vec<Effect> {
        match self.stack.last_mut() {
            Some(Screen::Conferences(table)) => table.cursor = 0,
            Some(Screen::Slots { table, .. }) => table.cursor = 0,
            Some(Screen::Reconcile(view)) => view.cursor = 0,
            Some(screen) => {
                let fetch = screen.list_mut().and_then(SelectionList::home);
                return self.fetch_for_top(fetch, false);
            }
            None => {}
        }
        Vec::new()
    }

    fn end(&mut self) -> Vec<Effect> {
        let height = self.page_height();
        match self.stack.last_mut() {
            Some(Screen::Conferences(table)) => table.cursor = table.rows.len().saturating_sub(1),
            Some(Screen::Slots { table, .. }) => table.cursor = table.rows.len().saturating_sub(1),
            Some(Screen::Reconcile(view)) => view.cursor = view.rows.len().saturating_sub(1),
            Some(screen) => {
                let fetch = screen.list_mut().and_then(|list| list.jump_to_end(height));
                return self.fetch_for_top(fetch, false);
            }
            None => {}
        }
        Vec::new()
    }

    fn enter(&mut self) -> Vec<Effect> {
        match self.stack.last() {
            Some(Screen::Overview { .. }) => self.open_conferences(),
            Some(Screen::Audit(_)) | Some(Screen::Reconcile(_)) => Vec::new(),
            Some(Screen::Conferences(table)) => {
                let Some(conference) = table.current().cloned() else {
                    return Vec::new();
                };
                let generation = self.generation();
                let id = conference.id;
                self.push(Screen::Slots {
                    conference,
                    table: Table::loading(generation),
                });
                vec![Effect::Slots(generation, id)]
            }
            Some(Screen::Slots { conference, table }) => {
                let Some(slot) = table.current() else {
                    return Vec::new();
                };
                let title = format!("{} {}", slot.date, slot.start_time.format("%H:%M"));
                let base = Filter {
                    conference_id: Some(conference.id),
                    slot_id: Some(slot.id),
                    ..Filter::default()
                };
                self.open_list(title, base)
            }
            Some(Screen::Selections { .. }) | Some(Screen::Person { .. }) => {
                match self.current_selection() {
                    Some(s) => self.open_error(s.id),
                    None => Vec::new(),
                }
            }
            Some(Screen::ErrorDetail {
                selection: Some(s), ..
            }) => {
                let user = s.user_id;
                self.open_person(user)
            }
            Some(Screen::ErrorDetail { .. }) => Vec::new(),
            None => Vec::new(),
        }
    }

    fn conference_selections(&mut self) -> Vec<Effect> {
        let conference = match self.stack.last() {
            Some(Screen::Conferences(table)) => table.current().cloned(),
            Some(Screen::Slots { conference, .. }) => Some(conference.clone()),
            _ => None,
        };
        match conference {
            Some(c) => self.open_list(
                "Selections".to_string(),
                Filter {
                    conference_id: Some(c.id),
                    ..Filter::default()
                },
            ),
            None => Vec::new(),
        }
    }

    pub fn current_selection(&self) -> Option<&Selection> {
        match self.screen()? {
            Screen::ErrorDetail { selection, .. } => selection.as_deref(),
            screen => screen.list()?.current(),
        }
    }

    fn current_query(&self) -> String {
        self.screen()
            .and_then(Screen::list)
            .map(|l| l.query.clone())
            .unwrap_or_default()
    }

    /// Applies a quick filter to the current list (from the overview it opens the selections).
    fn apply_query(&mut self, text: String) -> Result<Vec<Effect>, String> {
        let parsed = super::query::compile(&text, self.now)?;
        if self.screen().and_then(Screen::list).is_none() {
            self.push(Screen::Selections {
                title: "Selections".to_string(),
                list: Box::new(SelectionList::new(Filter::default())),
            });
        }
        self.narrow_top(text, parsed)
    }

    fn narrow_top(&mut self, text: String, parsed: Filter) -> Result<Vec<Effect>, String> {
        let fetch = self
            .stack
            .last_mut()
            .and_then(Screen::list_mut)
            .map(|list| {
                list.query = text;
                list.filter = super::query::combine(&list.base, &parsed);
                list.marks = Default::default();
                list.restart()
            });
        Ok(self.fetch_for_top(fetch, true))
    }

    fn input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::Input { kind, text, error }) = &mut self.popup else {
            return Vec::new();
        };
        let kind = *kind;
        match key.code {
            KeyCode::Esc => self.popup = None,
            KeyCode::Enter => {
                let line = text.trim().to_string();
                let result = match kind {
                    InputKind::Filter => self.apply_query(line),
                    InputKind::Command => self.run_command(&line),
                };
                match result {
                    Ok(effects) => {
                        if matches!(self.popup, Some(Popup::Input { .. })) {
                            self.popup = None;
                        }
                        return effects;
                    }
                    Err(message) => {
                        if let Some(Popup::Input { error, .. }) = &mut self.popup {
                            *error = Some(message);
                        }
                    }
                }
            }
            KeyCode::Backspace => {
                text.pop();
                *error = None;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.popup = None
            }
            KeyCode::Tab if kind == InputKind::Command => {
                let completions = super::command::complete(text);
                match completions.as_slice() {
                    [] => {}
                    [one] => *text = one.clone(),
                    many => *error = Some(many.join("  ")),
                }
            }
            KeyCode::Char(c) => {
                text.push(c);
                *error = None;
            }
            _ => {}
        }
        Vec::new()
    }

    fn run_command(&mut self, line: &str) -> Result<Vec<Effect>, String> {
        use super::command::{Command as C, SyncScope, parse_command};
        match parse_command(line)? {
            C::Quit => {
                self.should_quit = true;
                Ok(Vec::new())
            }
            C::Help => {
                self.popup = Some(Popup::Help);
                Ok(Vec::new())
            }
            C::Overview => Ok(self.open_overview()),
            C::Conferences => Ok(self.open_conferences()),
            C::Failed => {
                self.stack.truncate(1);
                self.apply_query("state:failed".to_string())
            }
            C::Filter(query) => self.apply_query(query),
            C::ClearFilter => self.apply_query(String::new()),
            C::Person(who) => match who.parse::<i64>() {
                Ok(user_id) => Ok(self.open_person(user_id)),
                Err(_) => {
                    let generation = self.generation();
                    self.looking_up = Some(generation);
                    Ok(vec![Effect::FindPerson(generation, who)])
                }
            },
            C::Conference(id) => {
                self.stack.truncate(1);
                Ok(self.open_list(
                    format!("Conference {id}"),
                    Filter {
                        conference_id: Some(id),
                        ..Filter::default()
                    },
                ))
            }
            C::Selection(id) => Ok(self.open_error(id)),
            C::Sync(scope) => {
                if self.session.read_only {
                    return Err("read-only: syncing is disabled".to_string());
                }
                let marked = self
                    .screen()
                    .and_then(Screen::list)
                    .is_some_and(|l| !l.marks.is_empty());
                let scope = match scope {
                    SyncScope::Failed => Scope::Failed,
                    SyncScope::Unsynced => Scope::Unsynced,
                    SyncScope::All => Scope::All,
                    SyncScope::Marked if marked => Scope::All,
                    SyncScope::Marked => {
                        return Err(
                            "mark rows first (space, v … v, or A for all matching)".to_string()
                        );
                    }
                };
                self.popup = None;
                Ok(self.open_bulk_with(scope))
            }
            C::Export { format, path } => match self.screen().and_then(Screen::list) {
                Some(list) => Ok(vec![Effect::Export(
                    list.filter.clone(),
                    format.as_str().to_string(),
                    path,
                )]),
                None => Err("open a list of selections to export it".to_string()),
            },
            C::Refresh => Ok(self.reload()),
            C::Audit => Ok(self.open_audit()),
            C::Verify => Ok(self.verify()),
            C::Reconcile(scope) => Ok(self.open_reconcile(scope)),
            C::ReadOnly => {
                self.session.read_only = true;
                self.session.read_only_reason = Some(":readonly".to_string());
                self.message = Some("read-only for the rest of this session".to_string());
                Ok(Vec::new())
            }
        }
    }

    // ----- syncing --------------------------------------------------------------------------

    fn retry(&mut self) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a sync is already running (x cancels it)".to_string());
            return Vec::new();
        }
        if self
            .screen()
            .and_then(Screen::list)
            .is_some_and(|list| !list.marks.is_empty())
        {
            return self.open_bulk_with(Scope::All);
        }
        match self.current_selection() {
            Some(s) => {
                let id = s.id;
                self.start_job(JobKind::Sync, format!("Retry of selection {id}"), 1);
                vec![Effect::Sync(
                    SyncTarget::Ids(vec![id]),
                    RunScope::of(Scope::All),
                )]
            }
            None => Vec::new(),
        }
    }

    fn open_bulk(&mut self) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a sync is already running (x cancels it)".to_string());
            return Vec::new();
        }
        self.open_bulk_with(Scope::Failed)
    }

    fn cause_under_cursor(&self) -> Option<crate::domain::Cause> {
        match self.screen() {
            Some(Screen::Overview {
                data: Some(data),
                cause,
                ..
            }) => data.causes.as_ref()?.get(*cause).map(|(c, _)| *c),
            _ => None,
        }
    }

    fn open_bulk_with(&mut self, scope: Scope) -> Vec<Effect> {
        let target = self.list_target().or_else(|| {
            // The overview stands for every selection.
            matches!(self.screen(), Some(Screen::Overview { .. })).then(|| SyncTarget::Matching {
                filter: Box::default(),
                except: Vec::new(),
            })
        });
        match target {
            Some(target) => self.open_bulk_for(target, scope),
            None => {
                self.message = Some("open a list of selections first".to_string());
                Vec::new()
            }
        }
    }

    /// What the list on screen asks a job to work on: its marks, else all it matches.
    fn list_target(&self) -> Option<SyncTarget> {
        let list = self.screen().and_then(Screen::list)?;
        Some(if list.marks.all_matching {
            SyncTarget::Matching {
                filter: Box::new(list.filter.clone()),
                except: list.marks.except.iter().copied().collect(),
            }
        } else if !list.marks.ids.is_empty() {
            SyncTarget::Ids(list.marks.ids.iter().copied().collect())
        } else {
            SyncTarget::Matching {
                filter: Box::new(list.filter.clone()),
                except: Vec::new(),
            }
        })
    }

    /// Checks, without a confirmation (nothing in the LMS or Outlook changes), that the events
    /// of the marked or listed added selections still exist. The missing ones come back marked.
    fn verify(&mut self) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a job is already running (x cancels it)".to_string());
            return Vec::new();
        }
        let Some(target) = self.list_target() else {
            self.message = Some("open a list of selections first".to_string());
            return Vec::new();
        };
        self.verify_origin = self
            .screen()
            .and_then(Screen::list)
            .map(|list| list.filter.clone());
        let what = match &target {
            SyncTarget::Ids(ids) => format!("{} marked selections", ids.len()),
            SyncTarget::Matching { .. } => "the listed selections".to_string(),
        };
        self.start_job(JobKind::Verify, format!("Verify of {what}"), 0);
        vec![Effect::Verify(target, !self.session.read_only)]
    }

    /// The bulk sheet for `target`: nothing starts before the operator confirms it.
    fn open_bulk_for(&mut self, target: SyncTarget, scope: Scope) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a sync is already running (x cancels it)".to_string());
            return Vec::new();
        }
        let mut sheet = BulkSheet {
            scope,
            include_permanent: false,
            dry_run: false,
            target,
            plan: None,
            pending: None,
            typed: String::new(),
            error: None,
        };
        let effects = self.plan_bulk(&mut sheet);
        self.popup = Some(Popup::Bulk(Box::new(sheet)));
        effects
    }

    fn plan_bulk(&mut self, sheet: &mut BulkSheet) -> Vec<Effect> {
        let generation = self.generation();
        sheet.pending = Some(generation);
        sheet.plan = None;
        sheet.typed.clear();
        vec![Effect::BulkPlan(
            generation,
            sheet.target.clone(),
            RunScope {
                scope: sheet.scope,
                include_permanent: sheet.include_permanent,
            },
        )]
    }

    fn bulk_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::Bulk(mut sheet)) = self.popup.take() else {
            return Vec::new();
        };
        let needs_typing = sheet
            .plan
            .as_ref()
            .is_some_and(|p| p.count > TYPED_CONFIRMATION_ABOVE && !sheet.dry_run);
        let mut effects = Vec::new();
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Tab => {
                sheet.scope = match sheet.scope {
                    Scope::Failed => Scope::Unsynced,
                    Scope::Unsynced => Scope::All,
                    Scope::All => Scope::Failed,
                };
                effects = self.plan_bulk(&mut sheet);
            }
            KeyCode::Char('p') if sheet.scope == Scope::Failed && sheet.typed.is_empty() => {
                sheet.include_permanent = !sheet.include_permanent;
                effects = self.plan_bulk(&mut sheet);
            }
            KeyCode::Char('d') if !needs_typing || sheet.typed.is_empty() => {
                sheet.dry_run = !sheet.dry_run;
                sheet.typed.clear();
            }
            KeyCode::Backspace => {
                sheet.typed.pop();
            }
            KeyCode::Char(c) if needs_typing && c.is_ascii_digit() => sheet.typed.push(c),
            KeyCode::Enter | KeyCode::Char('y') => {
                let Some(plan) = sheet.plan.clone() else {
                    self.popup = Some(Popup::Bulk(sheet));
                    return Vec::new();
                };
                if needs_typing && sheet.typed != plan.count.to_string() {
                    sheet.error = Some(format!("type {} to confirm", plan.count));
                    self.popup = Some(Popup::Bulk(sheet));
                    return Vec::new();
                }
                if plan.count == 0 {
                    self.message = Some("nothing to sync".to_string());
                    return Vec::new();
                }
                if sheet.dry_run {
                    self.message = Some(format!(
                        "dry run: {} selections would be synced ({} failed, {} not synced, {} added)",
                        plan.count,
                        plan.counts.failed,
                        plan.counts.not_synced + plan.counts.interrupted,
                        plan.counts.added + plan.counts.added_stale_error
                    ));
                    return Vec::new();
                }
                self.start_job(
                    JobKind::Sync,
                    format!(
                        "Sync of {} selections ({})",
                        plan.count,
                        scope_name(plan.run.scope)
                    ),
                    plan.count as usize,
                );
                return vec![Effect::Sync(plan.target.clone(), plan.run)];
            }
            _ => {}
        }
        self.popup = Some(Popup::Bulk(sheet));
        effects
    }

    fn start_job(&mut self, kind: JobKind, label: String, total: usize) {
        self.job = Some(Job {
            kind,
            label,
            total,
            done: 0,
            synced: 0,
            failed: 0,
            skipped: 0,
            throttled: 0,
            started: self.now,
            now: self.now,
            cancelling: false,
            ended: None,
            error: None,
        });
    }

    // ----- reports --------------------------------------------------------------------------

    pub fn report(&mut self, report: Report) -> Vec<Effect> {
        let height = self.page_height();
        match report {
            Report::Tick(now) => {
                self.now = now;
                if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
                    job.now = now;
                }
                // Live refresh, paused while a popup is open.
                if self.popup.is_none() {
                    let overview_due = matches!(
                        self.screen(),
                        Some(Screen::Overview { refresh, .. }) if refresh.due(now)
                    );
                    if overview_due {
                        return self.refresh_overview();
                    }
                    return self.refresh_visible();
                }
            }
            Report::Overview(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::Overview {
                        data,
                        pending,
                        error,
                        refresh,
                        ..
                    } = screen
                        && *pending == Some(generation)
                    {
                        match result {
                            Ok(part) => {
                                if refresh.arrived(&part, self.now) {
                                    *pending = None;
                                    *error = None;
                                }
                                data.get_or_insert_with(OverviewData::default).add(part);
                            }
                            Err(e) => {
                                *pending = None;
                                *error = Some(e);
                            }
                        }
                        self.last_refresh = Some(self.now);
                        break;
                    }
                }
            }
            Report::OverviewCached(generation, cached) => {
                // Only until the first fresh part: it never replaces newer counts.
                if let Some(Screen::Overview {
                    data: data @ None,
                    pending,
                    refresh,
                    ..
                }) = self.stack.first_mut()
                    && *pending == Some(generation)
                {
                    *data = Some(cached.data);
                    refresh.read = Some(cached.read_at);
                }
            }
            Report::Conferences(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::Conferences(table) = screen {
                        fill(table, generation, result);
                        break;
                    }
                }
            }
            Report::Audit(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::Audit(table) = screen {
                        fill(table, generation, result);
                        break;
                    }
                }
            }
            Report::Slots(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::Slots { table, .. } = screen
                        && table.pending == Some(generation)
                    {
                        fill(table, generation, result);
                        break;
                    }
                }
            }
            Report::Page(generation, result) => {
                let mut wanted = None;
                let mut malformed = None;
                for screen in &mut self.stack {
                    if let Some(list) = screen.list_mut()
                        && let Some((pending, placement)) = list.loading
                        && pending == generation
                    {
                        list.loading = None;
                        match result {
                            Ok(page) => {
                                malformed = crate::tui::malformed_note(&page.malformed);
                                list.apply_page(placement, page.rows, height);
                                if placement == Placement::ReplaceAtEnd && list.total.is_none() {
                                    wanted = Some(true);
                                }
                            }
                            Err(e) => list.error = Some(e),
                        }
                        self.last_refresh = Some(self.now);
                        break;
                    }
                }
                if malformed.is_some() {
                    self.message = malformed;
                }
                if wanted.is_some() {
                    return self.fetch_for_top(None, true);
                }
            }
            Report::Counts(generation, result) => {
                for screen in &mut self.stack {
                    if let Some(list) = screen.list_mut()
                        && list.counting == Some(generation)
                    {
                        list.counting = None;
                        match result {
                            Ok((total, counts)) => {
                                list.total = Some(total);
                                list.counts = Some(counts);
                                // Rows read from the end before the count was known.
                                if list.at_end && !list.at_start && list.first_index == 0 {
                                    list.first_index = total.saturating_sub(list.rows.len() as u64);
                                    list.cursor = list.first_index + list.rows.len() as u64 - 1;
                                    list.follow_cursor(height);
                                }
                            }
                            Err(e) => list.error = Some(e),
                        }
                        break;
                    }
                }
            }
            Report::Rows(generation, result) => {
                for screen in &mut self.stack {
                    if let Some(list) = screen.list_mut()
                        && list.refreshing == Some(generation)
                    {
                        list.refreshing = None;
                        if let Ok(rows) = result {
                            list.apply_refresh(rows);
                        }
                        self.last_refresh = Some(self.now);
                        break;
                    }
                }
            }
            Report::Selection(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::ErrorDetail {
                        selection, pending, ..
                    } = screen
                        && *pending == Some(generation)
                    {
                        *pending = None;
                        match result {
                            Ok(s) => *selection = s,
                            Err(e) => self.message = Some(e),
                        }
                        break;
                    }
                }
            }
            Report::Person(generation, result) => {
                for screen in &mut self.stack {
                    if let Screen::Person { data, pending, .. } = screen
                        && *pending == Some(generation)
                    {
                        *pending = None;
                        match result {
                            Ok(d) => *data = d,
                            Err(e) => self.message = Some(e),
                        }
                        break;
                    }
                }
            }
            Report::BulkPlan(generation, result) => {
                if let Some(Popup::Bulk(sheet)) = &mut self.popup
                    && sheet.pending == Some(generation)
                {
                    sheet.pending = None;
                    match result {
                        Ok(plan) => sheet.plan = Some(plan),
                        Err(e) => sheet.error = Some(e),
                    }
                }
            }
            Report::Sync(event) => return self.sync_event(event),
            Report::Verify(event) => return self.verify_event(event),
            Report::Reconcile(generation, event) => self.reconcile_event(generation, event),
            Report::ReconcilePlanned(generation, result) => {
                let Some(view) = self.reconcile_view(generation) else {
                    return Vec::new();
                };
                let ended = match result {
                    Ok(plan) => {
                        let ended = format!(
                            "{} findings in {} mailboxes, {} could not be read",
                            plan.findings.len(),
                            plan.mailboxes_scanned,
                            plan.mailbox_failures.len()
                        );
                        view.planned(plan);
                        Ok(ended)
                    }
                    Err(e) => {
                        view.pending = None;
                        view.error = Some(e.clone());
                        Err(e)
                    }
                };
                self.end_job(ended);
            }
            Report::ReconcileApplied(generation, result) => {
                let Some(view) = self.reconcile_view(generation) else {
                    return Vec::new();
                };
                view.pending = None;
                let ended = match result {
                    Ok(resolved) => Ok(crate::audit::reconcile_detail(&resolved)),
                    Err(e) => {
                        view.error = Some(e.clone());
                        Err(e)
                    }
                };
                self.end_job(ended);
            }
            Report::SyncFailed(error) => {
                if let Some(job) = self.job.as_mut() {
                    job.error = Some(error);
                }
            }
            Report::PersonFound(generation, result) => {
                if self.looking_up == Some(generation) {
                    self.looking_up = None;
                    match result {
                        Ok(Some(user_id)) => return self.open_person(user_id),
                        Ok(None) => {
                            self.message = Some("no user with that username or email".to_string())
                        }
                        Err(e) => self.message = Some(e),
                    }
                }
            }
            Report::Exported(result) => {
                self.message = Some(match result {
                    Ok(path) => format!("exported to {path}"),
                    Err(e) => format!("export failed: {e}"),
                });
            }
        }
        Vec::new()
    }

    fn sync_event(&mut self, event: SyncEvent) -> Vec<Effect> {
        let Some(job) = self.job.as_mut() else {
            return Vec::new();
        };
        match event {
            SyncEvent::Started { total } => job.total = total,
            SyncEvent::Throttled { .. } => job.throttled += 1,
            SyncEvent::Item(item) => {
                job.done += 1;
                // A single retry says what happened to it in words.
                if job.total == 1 {
                    self.message = Some(match &item.outcome {
                        Outcome::Synced { .. } => {
                            format!("selection {}: added to Outlook", item.selection_id)
                        }
                        Outcome::Failed { error, .. } => {
                            format!("selection {} failed: {error}", item.selection_id)
                        }
                        Outcome::Skipped { reason } => {
                            format!("selection {} skipped: {reason}", item.selection_id)
                        }
                        Outcome::ClaimedElsewhere { detail } => {
                            format!("selection {} skipped: {detail}", item.selection_id)
                        }
                        Outcome::Conflict { detail } => {
                            format!("selection {}: {detail}", item.selection_id)
                        }
                    });
                }
                match item.outcome {
                    Outcome::Synced { .. } => job.synced += 1,
                    Outcome::Failed { .. } | Outcome::Conflict { .. } => job.failed += 1,
                    Outcome::Skipped { .. } | Outcome::ClaimedElsewhere { .. } => job.skipped += 1,
                }
                // Rows on screen update as their results arrive (one re-read in flight at most).
                if let Some(list) = self.stack.last_mut().and_then(Screen::list_mut)
                    && list.rows.iter().any(|r| r.id == item.selection_id)
                {
                    list.changed.insert(item.selection_id);
                    return self.refresh_visible();
                }
            }
            SyncEvent::Finished(summary) => {
                job.now = self.now;
                job.ended = Some(sync_ended(&summary));
                let mut effects = self.refresh_visible();
                effects.extend(self.refresh_counts());
                // The run changed the counts the overview shows (it is under the list, or on top).
                effects.extend(self.refresh_overview());
                return effects;
            }
        }
        Vec::new()
    }

    /// The reconcile view waiting for `generation`, if it is still open.
    fn reconcile_view(&mut self, generation: u64) -> Option<&mut ReconcileView> {
        self.stack.iter_mut().find_map(|screen| match screen {
            Screen::Reconcile(view) if view.pending == Some(generation) => Some(view.as_mut()),
            _ => None,
        })
    }

    fn end_job(&mut self, ended: Result<String, String>) {
        if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
            job.now = self.now;
            match ended {
                Ok(line) => job.ended = Some(line),
                Err(e) => job.error = Some(e),
            }
        }
    }

    fn reconcile_event(&mut self, generation: u64, event: ReconcileEvent) {
        if self.reconcile_view(generation).is_none() {
            return;
        }
        match event {
            ReconcileEvent::PlanStarted { users } => {
                if let Some(job) = self.job.as_mut() {
                    job.total = users;
                }
            }
            ReconcileEvent::MailboxScanned { findings, .. } => {
                if let Some(view) = self.reconcile_view(generation) {
                    view.scanned += 1;
                }
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    job.synced += findings;
                }
            }
            ReconcileEvent::MailboxFailed(failure) => {
                if let Some(view) = self.reconcile_view(generation) {
                    view.scanned += 1;
                    view.failures.push(failure);
                }
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    job.failed += 1;
                }
            }
            ReconcileEvent::ApplyStarted { total } => {
                if let Some(job) = self.job.as_mut() {
                    job.total = total;
                }
            }
            ReconcileEvent::Resolved(resolved) => {
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    match &resolved.result {
                        Resolution::Deleted => job.synced += 1,
                        Resolution::AlreadyGone => job.skipped += 1,
                        r if r.is_failure() => job.failed += 1,
                        _ => {}
                    }
                }
                if let Some(view) = self.reconcile_view(generation) {
                    view.resolved(resolved);
                }
            }
        }
    }

    /// `:reconcile`: without a scope, the person or conference of the screen it is typed on.
    fn open_reconcile(&mut self, scope: Option<LedgerScope>) -> Vec<Effect> {
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a job is already running (x cancels it)".to_string());
            return Vec::new();
        }
        let scope = scope.unwrap_or_else(|| self.scope_here());
        let generation = self.generation();
        let view = ReconcileView::scanning(scope, generation);
        self.start_job(
            JobKind::ReconcileScan,
            format!("Reconcile scan ({})", view.scope_text()),
            0,
        );
        self.push(Screen::Reconcile(Box::new(view)));
        vec![Effect::ReconcilePlan(generation, scope)]
    }

    fn scope_here(&self) -> LedgerScope {
        match self.screen() {
            Some(Screen::Person { user_id, .. }) => LedgerScope {
                user_id: Some(*user_id),
                conference_id: None,
            },
            Some(Screen::Slots { conference, .. }) => LedgerScope {
                user_id: None,
                conference_id: Some(conference.id),
            },
            Some(Screen::Selections { list, .. }) => LedgerScope {
                user_id: None,
                conference_id: list.base.conference_id,
            },
            _ => LedgerScope::default(),
        }
    }

    /// `d` on the reconcile view: the confirmation sheet for what is chosen.
    fn ask_to_delete(&mut self) -> Vec<Effect> {
        let Some(Screen::Reconcile(view)) = self.screen() else {
            return Vec::new();
        };
        if view.pending.is_some() {
            self.message = Some("wait for the scan to finish".to_string());
            return Vec::new();
        }
        let sheet = view.chosen();
        if sheet.findings.is_empty() {
            self.message = Some(
                "nothing chosen: certain findings are chosen by themselves; space chooses a probable one"
                    .to_string(),
            );
            return Vec::new();
        }
        if self.job.as_ref().is_some_and(Job::running) {
            self.message = Some("a job is already running (x cancels it)".to_string());
            return Vec::new();
        }
        self.popup = Some(Popup::DeleteFindings(Box::new(sheet)));
        Vec::new()
    }

    fn delete_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(Popup::DeleteFindings(mut sheet)) = self.popup.take() else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Backspace => {
                sheet.typed.pop();
            }
            KeyCode::Char(c) if sheet.needs_typing() && c.is_ascii_digit() => sheet.typed.push(c),
            KeyCode::Enter | KeyCode::Char('y') => {
                let count = sheet.findings.len();
                if sheet.needs_typing() && sheet.typed != count.to_string() {
                    sheet.error = Some(format!(
                        "{} of these are guesses: type {count} to confirm",
                        sheet.probable
                    ));
                    self.popup = Some(Popup::DeleteFindings(sheet));
                    return Vec::new();
                }
                let generation = self.generation();
                let Some(Screen::Reconcile(view)) = self.stack.last_mut() else {
                    return Vec::new();
                };
                view.pending = Some(generation);
                let scope = view.scope_text();
                self.start_job(
                    JobKind::ReconcileDelete,
                    format!("Deleting {count} events ({scope})"),
                    count,
                );
                return vec![Effect::ReconcileApply(generation, sheet.findings, scope)];
            }
            _ => {}
        }
        self.popup = Some(Popup::DeleteFindings(sheet));
        Vec::new()
    }

    fn verify_event(&mut self, event: VerifyEvent) -> Vec<Effect> {
        let Some(job) = self.job.as_mut() else {
            return Vec::new();
        };
        match event {
            VerifyEvent::Started { total } => job.total = total,
            VerifyEvent::Checked(check) => {
                job.done += 1;
                match check.status {
                    CheckStatus::Present => job.synced += 1,
                    CheckStatus::Missing => job.failed += 1,
                    CheckStatus::Unchecked(_) => job.skipped += 1,
                }
            }
            VerifyEvent::Finished(summary) => {
                job.now = self.now;
                let missing = summary.missing_ids.clone();
                job.ended = Some(verify_ended(&summary));
                let origin = self.verify_origin.take();
                let list = self
                    .stack
                    .iter_mut()
                    .rev()
                    .filter_map(Screen::list_mut)
                    .find(|list| Some(&list.filter) == origin.as_ref());
                self.message = Some(if missing.is_empty() {
                    "no event is missing".to_string()
                } else if let Some(list) = list {
                    list.marks = Marks {
                        ids: missing.iter().copied().collect(),
                        ..Marks::default()
                    };
                    format!(
                        "{} events missing from Outlook, now marked in the list checked: r re-creates them",
                        missing.len()
                    )
                } else {
                    format!("{} events missing from Outlook", missing.len())
                });
            }
        }
        Vec::new()
    }

    /// Re-reads the rows on screen by id (cheap at any table size).
    fn refresh_visible(&mut self) -> Vec<Effect> {
        let height = self.page_height();
        let generation = self.generation();
        let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) else {
            return Vec::new();
        };
        if list.refreshing.is_some() || list.rows.is_empty() {
            return Vec::new();
        }
        let ids: Vec<i64> = list.visible(height).map(|(_, s)| s.id).collect();
        list.refreshing = Some(generation);
        vec![Effect::Rows(generation, ids, list.sort)]
    }

    fn refresh_counts(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) else {
            return Vec::new();
        };
        list.counting = Some(generation);
        vec![Effect::Counts(generation, list.filter.clone())]
    }

    /// Reloads the current screen from scratch.
    fn reload(&mut self) -> Vec<Effect> {
        match self.stack.last() {
            Some(Screen::Overview { .. }) => self.open_overview(),
            Some(Screen::Conferences(_)) => self.open_conferences(),
            Some(Screen::Audit(_)) => {
                self.stack.pop();
                self.open_audit()
            }
            Some(Screen::Reconcile(view)) => {
                let scope = view.scope;
                self.stack.pop();
                self.open_reconcile(Some(scope))
            }
            Some(Screen::Slots { conference, .. }) => {
                let conference = conference.clone();
                let generation = self.generation();
                self.stack.pop();
                let id = conference.id;
                self.push(Screen::Slots {
                    conference,
                    table: Table::loading(generation),
                });
                vec![Effect::Slots(generation, id)]
            }
            Some(Screen::ErrorDetail { id, .. }) => {
                let id = *id;
                self.stack.pop();
                self.open_error(id)
            }
            Some(_) => {
                let fetch = self
                    .stack
                    .last_mut()
                    .and_then(Screen::list_mut)
                    .map(SelectionList::restart);
                self.fetch_for_top(fetch, true)
            }
            None => Vec::new(),
        }
    }

    /// The states a list's rows are in, for the header's counters.
    pub fn counts_line(list: &SelectionList) -> Option<String> {
        let counts = list.counts?;
        Some(
            SyncState::ALL
                .iter()
                .map(|s| format!("{} {}", s.symbol(), counts.get(*s)))
                .collect::<Vec<_>>()
                .join("  "),
        )
    }
}

fn fill<T>(table: &mut Table<T>, generation: u64, result: Result<Vec<T>, String>) {
    if table.pending != Some(generation) {
        return;
    }
    table.pending = None;
    match result {
        Ok(rows) => {
            table.cursor = table.cursor.min(rows.len().saturating_sub(1));
            table.rows = rows;
        }
        Err(e) => table.error = Some(e),
    }
}

pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Failed => "failed",
        Scope::Unsynced => "unsynced",
        Scope::All => "all",
    }
}

fn cancelled_part(not_started: usize) -> String {
    if not_started > 0 {
        format!(", {not_started} not started (cancelled)")
    } else {
        String::new()
    }
}

fn sync_ended(summary: &Summary) -> String {
    let ended = format!(
        "{} synced, {} failed, {} skipped{} in {:.1}s",
        summary.synced,
        summary.failed + summary.conflicts,
        summary.skipped,
        cancelled_part(summary.not_started),
        summary.duration.as_secs_f64()
    );
    match &summary.stopped {
        Some(reason) => format!("{ended} — stopped: {reason}"),
        None => ended,
    }
}

fn verify_ended(summary: &VerifySummary) -> String {
    format!(
        "{} present, {} missing, {} not checked{} in {:.1}s",
        summary.present,
        summary.missing,
        summary.unchecked,
        cancelled_part(summary.not_started),
        summary.duration.as_secs_f64()
    )
}
