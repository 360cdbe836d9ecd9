//! The console's state and the only place it changes. Keys become actions through the keymap;
//! `update` changes state and returns effects; effects run in the background and come back as
//! reports carrying the generation of the request that caused them. Nothing here does I/O, so
//! all of it is tested without a terminal.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::action::{Action, Report};
use super::columns::ColumnChoice;
use super::complete::KnownPerson;
use super::data::OverviewData;
use super::history::Histories;
use super::keymap::{self, Context};
use super::layout::Chrome;
use super::list::{Fetch, Placement, SelectionList};
use super::overview_refresh::OverviewRefresh;
use super::run_choice::{Chosen, RunKey, choose};
use super::run_rows::RunRows;
use crate::domain::ledger::LedgerScope;
use crate::domain::{Filter, PageRequest, PersonMatch, Selection, Sort};
use crate::sync::reconcile::{Finding, Plan};

pub use super::job::{Job, JobKind};
use super::opens::Opens;
pub use super::popup::{BulkSheet, InputKind, Popup, TYPED_CONFIRMATION_ABOVE};
pub use super::screen::Screen;
pub use super::table::Table;
pub use crate::jobs::{RunScope, SyncTarget, scope_name};

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
    /// Opens a web page in the operator's browser (never through a shell).
    OpenUrl(String),
    /// The filter's rows to a file: format (csv/json) and an optional path.
    Export(Filter, String, Option<String>),
    /// Finds a user by username or email (`:person ann@x.org`).
    FindPerson(u64, String),
    /// Reads a worker screen.
    WorkerData(u64, super::worker_views::WorkerTab),
    /// Retry-now or park of these selections (audited).
    WorkerAct(super::worker_views::WorkerAction, Vec<i64>),
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

pub struct App {
    pub session: Session,
    pub stack: Vec<Screen>,
    pub popup: Option<Popup>,
    pub job: Option<Job>,
    pub message: Option<String>,
    pub last_refresh: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// The terminal's size at the last draw: the layout the paging asks is the draw's.
    pub height: u16,
    pub width: u16,
    pub should_quit: bool,
    /// A `:person` lookup in progress.
    pub(super) looking_up: Option<u64>,
    /// The filter of the list a running verify was started from: its missing rows are marked
    /// there, wherever the operator has gone meanwhile.
    pub(super) verify_origin: Option<Filter>,
    /// What was typed at `/` and `:` (loaded and saved by the event loop).
    pub histories: Histories,
    /// What the `:person` lookup in progress was typed as.
    pub(super) looking_for: String,
    /// The people the last `:person` lookup found, for Tab.
    pub(super) found_people: Vec<KnownPerson>,
    /// The rows of a dismissed job's run that did not sync (L lists them).
    pub(super) last_run_rows: RunRows,
    /// Text for the terminal itself (OSC 52 copies), written by the event loop after a draw.
    pub to_terminal: Option<String>,
    /// Where `w` opens the LMS admin pages (config `lms_url`).
    pub lms_url: Option<String>,
    /// The `/` text changed: the event loop debounces it into a search.
    pub(super) search_typed: bool,
    /// The columns lists of selections show (config `[console] columns`, the chooser `C`).
    pub columns: ColumnChoice,
    /// The chooser changed them: the event loop saves them to the config file.
    pub(super) columns_changed: bool,
    next_generation: u64,
}

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
            width: 80,
            should_quit: false,
            looking_up: None,
            verify_origin: None,
            histories: Histories::default(),
            looking_for: String::new(),
            found_people: Vec::new(),
            search_typed: false,
            last_run_rows: RunRows::default(),
            to_terminal: None,
            lms_url: None,
            columns: ColumnChoice::default(),
            columns_changed: false,
            next_generation: 0,
        };
        let effects = app.open_overview();
        (app, effects)
    }

    pub(super) fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    pub fn screen(&self) -> Option<&Screen> {
        self.stack.last()
    }

    pub fn context(&self) -> Context {
        self.screen().map_or(Context::Overview, Screen::context)
    }

    /// The table rows the screen on top draws at once (what paging moves by and the live refresh
    /// re-reads), from the layout the draw uses at the terminal's size.
    pub fn page_height(&self) -> usize {
        self.screen()
            .map_or(1, |screen| screen.page_rows(self.body()))
            .max(1)
    }

    /// Where the screen on top is drawn.
    fn body(&self) -> Rect {
        Chrome::of(Rect::new(0, 0, self.width, self.height), self.job.is_some()).body
    }

    // ----- opening screens ------------------------------------------------------------------

    pub(super) fn push(&mut self, screen: Screen) {
        self.stack.push(screen);
    }

    pub(super) fn open_overview(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.stack.truncate(0);
        self.push(Screen::Overview {
            data: None,
            pending: Some(generation),
            error: None,
            cursor: Default::default(),
            refresh: OverviewRefresh::asked_at(self.now),
        });
        vec![Effect::Overview(generation)]
    }

    /// Re-reads the overview's counts in the background (it stays on screen meanwhile),
    /// unless a read is already in flight.
    pub(super) fn refresh_overview(&mut self) -> Vec<Effect> {
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

    pub(super) fn open_audit(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.push(Screen::Audit(Table::loading(generation)));
        vec![Effect::Audit(generation)]
    }

    pub(super) fn open_conferences(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        self.stack.truncate(1);
        self.push(Screen::Conferences(Table::loading(generation)));
        vec![Effect::Conferences(generation)]
    }

    pub(super) fn open_list(&mut self, title: String, base: Filter) -> Vec<Effect> {
        let mut list = SelectionList::new(base);
        let fetch = list.restart();
        self.push(Screen::Selections {
            title,
            list: Box::new(list),
        });
        self.fetch_for_top(Some(fetch), true)
    }

    pub(super) fn open_person(&mut self, user_id: i64) -> Vec<Effect> {
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

    pub(super) fn open_error(&mut self, id: i64) -> Vec<Effect> {
        let generation = self.generation();
        self.push(Screen::ErrorDetail {
            id,
            selection: None,
            pending: Some(generation),
        });
        vec![Effect::Selection(generation, id)]
    }

    /// Turns the top list's wish into a request (and a count when `count` is set).
    pub(super) fn fetch_for_top(&mut self, fetch: Option<Fetch>, count: bool) -> Vec<Effect> {
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
        if let Some(effects) = self.popup_key(key) {
            return effects;
        }
        self.message = None;
        let action = self
            .session
            .keymap
            .action_for(key, self.context(), self.session.read_only);
        match action {
            Some(action) => self.update(action),
            None => {
                // A key that means something elsewhere says so, instead of doing nothing.
                self.message =
                    self.session
                        .keymap
                        .why_not(key, self.context(), self.session.read_only);
                Vec::new()
            }
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let height = self.page_height();
        match action {
            Action::Quit => self.quit(),
            Action::Back => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                }
                Vec::new()
            }
            Action::Help => {
                self.popup = Some(Popup::Help { scroll: 0 });
                Vec::new()
            }
            Action::Filter => {
                let text = self.current_query();
                self.popup = Some(Popup::Input {
                    kind: InputKind::Filter,
                    text,
                    error: None,
                    completion: None,
                });
                Vec::new()
            }
            Action::Command => {
                self.popup = Some(Popup::Input {
                    kind: InputKind::Command,
                    text: String::new(),
                    error: None,
                    completion: None,
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
            Action::ToggleSort => self.sort_list(false),
            Action::ReverseSort => self.sort_list(true),
            Action::ScrollLeft => self.scroll_columns(false),
            Action::ScrollRight => self.scroll_columns(true),
            Action::ChooseColumns => self.open_column_chooser(),
            Action::Retry => self.retry(),
            Action::BulkSync => self.open_bulk(),
            Action::RetryCause => match self.cause_under_cursor() {
                Some(cause) => {
                    let chosen = Chosen::Cause(cause);
                    let rule = choose(RunKey::Retry, &chosen);
                    self.open_bulk_for(
                        SyncTarget::Matching {
                            filter: Box::new(Filter {
                                causes: vec![cause],
                                ..Filter::default()
                            }),
                            except: Vec::new(),
                        },
                        chosen,
                        rule.include_permanent,
                        rule.scope,
                    )
                }
                None => {
                    let panel = match self.screen() {
                        Some(Screen::Overview { cursor, .. }) => Some(cursor.panel),
                        _ => None,
                    };
                    self.message = Some(
                        match panel {
                            Some(super::screen::OverviewPanel::Conferences) => {
                                "r retries a cause: tab back to the causes (enter opens this \
                             conference's failures)"
                            }
                            Some(super::screen::OverviewPanel::Failures) => {
                                "r retries a cause: tab to the causes (enter opens the list of \
                             failures)"
                            }
                            _ => "no failures to retry",
                        }
                        .to_string(),
                    );
                    Vec::new()
                }
            },
            Action::RetryAllFailed => {
                let rule = choose(RunKey::RetryFailed, &Chosen::Everything);
                self.open_bulk_for(
                    SyncTarget::Matching {
                        filter: Box::default(),
                        except: Vec::new(),
                    },
                    Chosen::Everything,
                    rule.include_permanent,
                    rule.scope,
                )
            }
            Action::Verify => self.verify(),
            Action::DeleteFindings => self.ask_to_delete(),
            Action::CancelJob => {
                if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
                    job.cancelling = true;
                    return vec![Effect::CancelSync];
                }
                // A finished job's panel is dismissed (L still lists its rows).
                if let Some(job) = self.job.take() {
                    self.last_run_rows = job.rows;
                }
                Vec::new()
            }
            Action::RunRows => self.show_run_rows(),
            Action::Copy => self.copy_current(false),
            Action::CopyError => self.copy_current(true),
            Action::OpenLink => self.open_link(),
            Action::OpenAdmin => self.open_admin(),
            Action::SwitchPanel => {
                if let Some(Screen::Overview { cursor, .. }) = self.stack.last_mut() {
                    cursor.switch_panel();
                }
                Vec::new()
            }
            Action::OnlyMarked => self.only_marked(),
            Action::Refresh => self.reload(),
            Action::RetryNow => self.act_on_schedule(super::worker_views::WorkerAction::RetryNow),
            Action::Park => self.act_on_schedule(super::worker_views::WorkerAction::Park),
            Action::Export => match self.screen().and_then(Screen::list) {
                Some(list) => vec![Effect::Export(list.filter.clone(), "csv".to_string(), None)],
                None => Vec::new(),
            },
        }
    }

    /// `M`: only the marked rows, or every row again; the count follows.
    fn only_marked(&mut self) -> Vec<Effect> {
        let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) else {
            return Vec::new();
        };
        match list.toggle_only_marked() {
            Ok(fetch) => self.fetch_for_top(Some(fetch), true),
            Err(why) => {
                self.message = Some(why.to_string());
                Vec::new()
            }
        }
    }

    fn with_list(&mut self, change: impl FnOnce(&mut SelectionList)) -> Vec<Effect> {
        if let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) {
            change(list);
        }
        Vec::new()
    }

    /// Movement keys go to the screen on top; a list may answer with a page to read.
    fn move_by(&mut self, delta: i64, height: usize) -> Vec<Effect> {
        let fetch = self
            .stack
            .last_mut()
            .and_then(|screen| screen.move_by(delta, height));
        self.fetch_for_top(fetch, false)
    }

    fn home(&mut self) -> Vec<Effect> {
        let fetch = self.stack.last_mut().and_then(Screen::home);
        self.fetch_for_top(fetch, false)
    }

    fn end(&mut self) -> Vec<Effect> {
        let height = self.page_height();
        let fetch = self.stack.last_mut().and_then(|screen| screen.end(height));
        self.fetch_for_top(fetch, false)
    }

    fn enter(&mut self) -> Vec<Effect> {
        match self.screen().map_or(Opens::Nothing, Screen::enter) {
            Opens::Nothing => Vec::new(),
            Opens::Conferences => self.open_conferences(),
            Opens::List { title, filter } => self.open_list(title, filter),
            Opens::Slots(conference) => {
                let generation = self.generation();
                let id = conference.id;
                self.push(Screen::Slots {
                    conference,
                    table: Table::loading(generation),
                });
                vec![Effect::Slots(generation, id)]
            }
            Opens::ErrorDetail(id) => self.open_error(id),
            Opens::Person(user_id) => self.open_person(user_id),
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

    // ----- syncing --------------------------------------------------------------------------

    /// What the list on screen asks a job to work on: its marks, else all it matches.
    pub(super) fn list_target(&self) -> Option<SyncTarget> {
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

    // ----- reports --------------------------------------------------------------------------

    pub fn report(&mut self, report: Report) -> Vec<Effect> {
        match report {
            Report::Tick(now) => return self.tick(now),
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
                self.reconcile_planned(generation, result)
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
                    return self.people_found(result);
                }
            }
            Report::WorkerActed(action, result) => return self.schedule_acted(action, result),
            Report::Opened(result) => {
                self.message = Some(result.unwrap_or_else(|why| format!("not opened: {why}")));
            }
            Report::Exported(result) => {
                self.message = Some(match result {
                    Ok(path) => format!("exported to {path}"),
                    Err(e) => format!("export failed: {e}"),
                });
            }
            answer => return self.answer(answer),
        }
        Vec::new()
    }

    /// `:person rossi`: one match (or an exact username or email) opens; several are offered
    /// to Tab and listed in the footer; none says so.
    fn people_found(&mut self, result: Result<Vec<PersonMatch>, String>) -> Vec<Effect> {
        let found = match result {
            Ok(found) => found,
            Err(e) => {
                self.message = Some(e);
                return Vec::new();
            }
        };
        let typed = std::mem::take(&mut self.looking_for).to_lowercase();
        let exact = found.first().filter(|p| {
            found.len() == 1
                || p.username.to_lowercase() == typed
                || p.email.to_lowercase() == typed
        });
        if let Some(one) = exact {
            return self.open_person(one.id);
        }
        self.found_people = found
            .iter()
            .map(|p| KnownPerson {
                username: p.username.clone(),
                email: p.email.clone(),
                name: p.name.clone(),
            })
            .collect();
        self.message = Some(match found.as_slice() {
            [] => "no user's username, email or name contains that".to_string(),
            many => format!(
                "{} people match: {} — :person then Tab offers them",
                many.len(),
                many.iter()
                    .take(5)
                    .map(|p| format!("{} ({})", p.username, p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        Vec::new()
    }

    fn tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.now = now;
        if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
            job.now = now;
        }
        // Live refresh, paused while a popup is open.
        if self.popup.is_some() {
            return Vec::new();
        }
        let overview_due = matches!(
            self.screen(),
            Some(Screen::Overview { refresh, .. }) if refresh.due(now)
        );
        if overview_due {
            return self.refresh_overview();
        }
        self.refresh_visible()
    }

    /// The one way a screen's answer arrives: it fills the screen of the stack that waits for
    /// its generation, wherever that screen is now; with none waiting, it is stale and dropped.
    fn answer(&mut self, answer: Report) -> Vec<Effect> {
        let Some(generation) = answer.generation() else {
            return Vec::new();
        };
        let body = self.body();
        let now = self.now;
        let Some(screen) = self.stack.iter_mut().find(|s| s.waits_for(generation)) else {
            return Vec::new();
        };
        let rows = screen.page_rows(body).max(1);
        let filled = fill(screen, answer, rows, now);
        if filled.read {
            self.last_refresh = Some(now);
        }
        if filled.message.is_some() {
            self.message = filled.message;
        }
        if filled.count_wanted {
            return self.fetch_for_top(None, true);
        }
        Vec::new()
    }

    fn reconcile_planned(&mut self, generation: u64, result: Result<Plan, String>) {
        let Some(view) = self.reconcile_view(generation) else {
            return;
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

    pub(super) fn scope_here(&self) -> LedgerScope {
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

    /// Re-reads the rows on screen by id (cheap at any table size).
    pub(super) fn refresh_visible(&mut self) -> Vec<Effect> {
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

    pub(super) fn refresh_counts(&mut self) -> Vec<Effect> {
        let generation = self.generation();
        let Some(list) = self.stack.last_mut().and_then(Screen::list_mut) else {
            return Vec::new();
        };
        list.counting = Some(generation);
        vec![Effect::Counts(generation, list.filter.clone())]
    }

    /// Reloads the current screen from scratch.
    pub(super) fn reload(&mut self) -> Vec<Effect> {
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
            Some(Screen::Workers(_) | Screen::Retries(_) | Screen::Parked(_)) => {
                self.reload_worker_tab()
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
}

/// What filling a screen asks of the app.
#[derive(Default)]
struct Filled {
    /// Data was read from the database now (the header's "data read" time).
    read: bool,
    message: Option<String>,
    /// The list was read from its end before its count was known.
    count_wanted: bool,
}

/// Puts `answer` into `screen`, which waits for it; `rows` is how many rows it draws at once.
fn fill(screen: &mut Screen, answer: Report, rows: usize, now: DateTime<Utc>) -> Filled {
    let mut filled = Filled::default();
    match (screen, answer) {
        (
            Screen::Overview {
                data,
                pending,
                error,
                refresh,
                ..
            },
            Report::Overview(_, result),
        ) => {
            match result {
                Ok(part) => {
                    if refresh.arrived(&part, now) {
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
            filled.read = true;
        }
        // Only where no fresh part has arrived: it never replaces newer counts (the newest
        // failures, one page through an index, often arrive before the kept overview is read).
        (Screen::Overview { data, refresh, .. }, Report::OverviewCached(_, cached)) => {
            let filled = data
                .get_or_insert_with(OverviewData::default)
                .fill_missing(cached.data);
            if filled && refresh.read.is_none() {
                refresh.read = Some(cached.read_at);
            }
        }
        // Every screen's answer is data read now: the header's age is the screen's, not the
        // last list's.
        (Screen::Conferences(table), Report::Conferences(_, result)) => {
            filled.read = result.is_ok();
            table.fill(result)
        }
        (Screen::Audit(table), Report::Audit(_, result)) => {
            filled.read = result.is_ok();
            table.fill(result)
        }
        (Screen::Slots { table, .. }, Report::Slots(_, result)) => {
            filled.read = result.is_ok();
            table.fill(result)
        }
        (screen, Report::WorkerData(_, result)) => {
            filled.read = result.is_ok();
            screen.fill_worker(result)
        }
        (
            Screen::ErrorDetail {
                selection, pending, ..
            },
            Report::Selection(_, result),
        ) => {
            *pending = None;
            filled.read = result.is_ok();
            match result {
                Ok(s) => *selection = s,
                Err(e) => filled.message = Some(e),
            }
        }
        (Screen::Person { data, pending, .. }, Report::Person(_, result)) => {
            *pending = None;
            match result {
                Ok(d) => *data = d,
                Err(e) => filled.message = Some(e),
            }
        }
        (screen, answer) => {
            if let Some(list) = screen.list_mut() {
                fill_list(list, answer, rows, &mut filled);
            }
        }
    }
    filled
}

fn fill_list(list: &mut SelectionList, answer: Report, rows: usize, filled: &mut Filled) {
    match answer {
        Report::Page(generation, result) => {
            let Some((pending, placement)) = list.loading else {
                return;
            };
            if pending != generation {
                return;
            }
            list.loading = None;
            match result {
                Ok(page) => {
                    filled.message = crate::tui::malformed_note(&page.malformed);
                    list.apply_page(placement, page.rows, rows);
                    filled.count_wanted =
                        placement == Placement::ReplaceAtEnd && list.total.is_none();
                }
                Err(e) => list.error = Some(e),
            }
            filled.read = true;
        }
        Report::Counts(_, result) => {
            list.counting = None;
            match result {
                Ok((total, counts)) => {
                    list.total = Some(total);
                    list.counts = Some(counts);
                    // Rows read from the end before the count was known.
                    if list.at_end && !list.at_start && list.first_index == 0 {
                        list.first_index = total.saturating_sub(list.rows.len() as u64);
                        list.cursor = list.first_index + list.rows.len() as u64 - 1;
                        list.follow_cursor(rows);
                    }
                }
                Err(e) => list.error = Some(e),
            }
        }
        Report::Rows(_, result) => {
            list.refreshing = None;
            if let Ok(rows) = result {
                list.apply_refresh(rows);
            }
            filled.read = true;
        }
        _ => {}
    }
}
