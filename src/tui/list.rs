//! A list of selections over a filter of any size. Only a window of rows around the cursor is
//! held (never the million rows), fetched by key in either direction, with the cursor kept as an
//! absolute position so the view can say "row 402,311 of 1,000,000".

use std::cell::Cell;
use std::collections::{BTreeSet, HashSet};

use crate::domain::{Cursor, Filter, PageRequest, Selection, Sort, StateCounts};
use crate::tui::widgets::table::Sideways;

/// Rows fetched per request.
pub const PAGE: u32 = 100;
/// Rows held at most; the far end is dropped beyond it.
const WINDOW: usize = 400;
/// Fetch more when the cursor comes this close to the window's edge.
const MARGIN: u64 = 30;

/// Where a requested page goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A new start (filter changed, home, reload).
    Replace,
    /// The last rows of the result, fetched in reverse order (end key).
    ReplaceAtEnd,
    Append,
    Prepend,
}

/// What the list wants loaded next; the app turns it into a background request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub request: PageRequest,
    pub placement: Placement,
}

/// Marks are ids, or "everything matching the filter" minus exceptions — never a million ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    pub ids: BTreeSet<i64>,
    pub all_matching: bool,
    pub except: BTreeSet<i64>,
    pub range_anchor: Option<u64>,
}

impl Marks {
    pub fn is_marked(&self, id: i64) -> bool {
        if self.all_matching {
            !self.except.contains(&id)
        } else {
            self.ids.contains(&id)
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.all_matching && self.ids.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct SelectionList {
    /// The view's own narrowing (a slot, a conference, a person), always applied.
    pub base: Filter,
    /// What the operator typed after `/`.
    pub query: String,
    /// `base` and `query` together: what the store is asked for.
    pub filter: Filter,
    pub sort: Sort,
    pub rows: Vec<Selection>,
    /// Absolute position of `rows[0]` in the whole result.
    pub first_index: u64,
    pub cursor: u64,
    pub top: u64,
    pub total: Option<u64>,
    pub counts: Option<StateCounts>,
    pub at_start: bool,
    pub at_end: bool,
    pub loading: Option<(u64, Placement)>,
    pub counting: Option<u64>,
    pub refreshing: Option<u64>,
    pub marks: Marks,
    /// Rows whose sync columns changed since they were first shown.
    pub changed: HashSet<i64>,
    pub error: Option<String>,
    /// The first of the columns that scroll sideways (`<` `>`), when not all fit.
    pub scroll_x: usize,
    /// What the last draw hid on either side: where `<` and `>` move from.
    pub sideways: Cell<Sideways>,
    /// `M`: the list shows only its marked rows; this is the filter it had before.
    pub only_marked: Option<Filter>,
}

impl SelectionList {
    pub fn new(base: Filter) -> SelectionList {
        SelectionList {
            filter: base.clone(),
            base,
            query: String::new(),
            sort: Sort::default(),
            rows: Vec::new(),
            first_index: 0,
            cursor: 0,
            top: 0,
            total: None,
            counts: None,
            at_start: true,
            at_end: false,
            loading: None,
            counting: None,
            refreshing: None,
            marks: Marks::default(),
            changed: HashSet::new(),
            error: None,
            scroll_x: 0,
            sideways: Cell::new(Sideways::default()),
            only_marked: None,
        }
    }

    pub fn current(&self) -> Option<&Selection> {
        let i = self.cursor.checked_sub(self.first_index)?;
        self.rows.get(usize::try_from(i).ok()?)
    }

    pub fn last_index(&self) -> Option<u64> {
        (!self.rows.is_empty()).then(|| self.first_index + self.rows.len() as u64 - 1)
    }

    /// The rows to draw for a viewport of `height` rows, with their absolute positions.
    pub fn visible(&self, height: usize) -> impl Iterator<Item = (u64, &Selection)> {
        let skip = self.top.saturating_sub(self.first_index) as usize;
        self.rows
            .iter()
            .enumerate()
            .skip(skip)
            .take(height)
            .map(move |(i, row)| (self.first_index + i as u64, row))
    }

    /// Starts over from the first row (new filter, sort, or a reload).
    pub fn restart(&mut self) -> Fetch {
        self.rows.clear();
        self.first_index = 0;
        self.cursor = 0;
        self.top = 0;
        self.at_start = true;
        self.at_end = false;
        self.total = None;
        self.counts = None;
        self.error = None;
        Fetch {
            request: PageRequest {
                filter: self.filter.clone(),
                sort: self.sort,
                after: None,
                limit: PAGE,
            },
            placement: Placement::Replace,
        }
    }

    /// Goes to the last row: at once when it is loaded, else by reading the last rows
    /// backwards from the end of the result.
    pub fn jump_to_end(&mut self, height: usize) -> Option<Fetch> {
        if self.at_end && !self.rows.is_empty() {
            self.cursor = self.last_index().unwrap_or(0);
            self.follow_cursor(height);
            return None;
        }
        Some(Fetch {
            request: PageRequest {
                filter: self.filter.clone(),
                sort: self.sort.reversed(),
                after: None,
                limit: PAGE,
            },
            placement: Placement::ReplaceAtEnd,
        })
    }

    /// Moves the cursor by `delta` rows within what is loaded, and says what to fetch when the
    /// cursor nears an edge of the window.
    pub fn move_by(&mut self, delta: i64, height: usize) -> Option<Fetch> {
        let last = self.last_index()?;
        let target = (self.cursor as i64 + delta).clamp(self.first_index as i64, last as i64);
        self.cursor = target as u64;
        self.follow_cursor(height);
        self.fetch_needed()
    }

    /// Goes to the first row: at once when it is loaded, else by reading the first rows again.
    /// The filter is the same, so the total and the counts stay.
    pub fn home(&mut self) -> Option<Fetch> {
        if self.at_start && !self.rows.is_empty() {
            self.cursor = self.first_index;
            self.top = self.first_index;
            None
        } else {
            let (total, counts) = (self.total, self.counts);
            let fetch = self.restart();
            self.total = total;
            self.counts = counts;
            Some(fetch)
        }
    }

    /// Whether this list waits for the answer to `generation` (a page, its count, a re-read).
    pub fn waits_for(&self, generation: u64) -> bool {
        self.loading
            .is_some_and(|(pending, _)| pending == generation)
            || self.counting == Some(generation)
            || self.refreshing == Some(generation)
    }

    pub fn follow_cursor(&mut self, height: usize) {
        let height = height.max(1) as u64;
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + height {
            self.top = self.cursor + 1 - height;
        }
        self.top = self.top.max(self.first_index);
    }

    fn fetch_needed(&self) -> Option<Fetch> {
        if self.loading.is_some() || self.rows.is_empty() {
            return None;
        }
        let last = self.last_index()?;
        if !self.at_end && self.cursor + MARGIN >= last {
            let after = self.rows.last().map(|r| Cursor::after(r, self.sort.key));
            return Some(Fetch {
                request: PageRequest {
                    filter: self.filter.clone(),
                    sort: self.sort,
                    after,
                    limit: PAGE,
                },
                placement: Placement::Append,
            });
        }
        if !self.at_start && self.cursor < self.first_index + MARGIN {
            let before = self.rows.first().map(|r| Cursor::after(r, self.sort.key));
            return Some(Fetch {
                request: PageRequest {
                    filter: self.filter.clone(),
                    sort: self.sort.reversed(),
                    after: before,
                    limit: PAGE,
                },
                placement: Placement::Prepend,
            });
        }
        None
    }

    /// Takes a fetched page in. `rows` are in the list's order except for `ReplaceAtEnd` and
    /// `Prepend`, which arrive reversed (they were read backwards).
    pub fn apply_page(&mut self, placement: Placement, mut rows: Vec<Selection>, height: usize) {
        let full = rows.len() >= PAGE as usize;
        match placement {
            Placement::Replace => {
                self.rows = rows;
                self.first_index = 0;
                self.cursor = 0;
                self.top = 0;
                self.at_start = true;
                self.at_end = !full;
            }
            Placement::ReplaceAtEnd => {
                rows.reverse();
                let total = self.total.unwrap_or(rows.len() as u64);
                self.first_index = total.saturating_sub(rows.len() as u64);
                self.rows = rows;
                self.at_end = true;
                self.at_start = self.first_index == 0;
                self.cursor = self.last_index().unwrap_or(0);
            }
            Placement::Append => {
                self.rows.extend(rows);
                self.at_end = !full;
                let excess = self.rows.len().saturating_sub(WINDOW);
                if excess > 0
                    && (self.cursor - self.first_index) as usize > excess + MARGIN as usize
                {
                    self.rows.drain(..excess);
                    self.first_index += excess as u64;
                    self.at_start = false;
                }
            }
            Placement::Prepend => {
                rows.reverse();
                let added = rows.len() as u64;
                rows.append(&mut self.rows);
                self.rows = rows;
                self.first_index = self.first_index.saturating_sub(added);
                self.at_start = !full || self.first_index == 0;
                if self.at_start {
                    self.first_index = 0;
                }
                let excess = self.rows.len().saturating_sub(WINDOW);
                if excess > 0 {
                    self.rows.truncate(self.rows.len() - excess);
                    self.at_end = false;
                }
            }
        }
        self.follow_cursor(height);
    }

    /// Puts re-read rows in place, remembering which changed (the live refresh).
    pub fn apply_refresh(&mut self, fresh: Vec<Selection>) {
        for row in fresh {
            if let Some(old) = self.rows.iter_mut().find(|r| r.id == row.id) {
                if old.sync != row.sync {
                    self.changed.insert(row.id);
                }
                *old = row;
            }
        }
    }

    /// How many rows the marks stand for, when it is known.
    pub fn marked_count(&self) -> Option<u64> {
        if self.marks.all_matching {
            self.total
                .map(|t| t.saturating_sub(self.marks.except.len() as u64))
        } else {
            Some(self.marks.ids.len() as u64)
        }
    }

    pub fn toggle_mark(&mut self) {
        let Some(id) = self.current().map(|s| s.id) else {
            return;
        };
        let marks = &mut self.marks;
        if marks.all_matching {
            if !marks.except.remove(&id) {
                marks.except.insert(id);
            }
        } else if !marks.ids.remove(&id) {
            marks.ids.insert(id);
        }
    }

    /// First press remembers where the range starts; the second marks every loaded row between.
    pub fn mark_range(&mut self) {
        match self.marks.range_anchor.take() {
            None => self.marks.range_anchor = Some(self.cursor),
            Some(anchor) => {
                let (from, to) = (anchor.min(self.cursor), anchor.max(self.cursor));
                let ids: Vec<i64> = self
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (self.first_index + i as u64, r.id))
                    .filter(|(i, _)| (from..=to).contains(i))
                    .map(|(_, id)| id)
                    .collect();
                for id in ids {
                    if self.marks.all_matching {
                        self.marks.except.remove(&id);
                    } else {
                        self.marks.ids.insert(id);
                    }
                }
            }
        }
    }

    /// Sorts by `sort` from the first row again; the marks stay (they are ids, or the filter).
    pub fn sort_by(&mut self, sort: Sort) -> Fetch {
        self.sort = sort;
        self.restart()
    }

    /// `M`: narrows the list to the rows marked one by one (the marks stay), or back to every
    /// row. Marks made with `A` are the filter itself, so the list already shows them.
    pub fn toggle_only_marked(&mut self) -> Result<Fetch, &'static str> {
        if let Some(before) = self.only_marked.take() {
            self.filter = before;
            return Ok(self.restart());
        }
        if self.marks.all_matching {
            return Err("A marked every row the filter matches: the list shows them already");
        }
        if self.marks.ids.is_empty() {
            return Err("nothing is marked: space marks a row, v a range");
        }
        let mut narrowed = self.filter.clone();
        let marked = self.marks.ids.iter().copied();
        narrowed.selection_ids = if self.filter.selection_ids.is_empty() {
            marked.collect()
        } else {
            marked
                .filter(|id| self.filter.selection_ids.contains(id))
                .collect()
        };
        if narrowed.selection_ids.is_empty() {
            // No marked row is among the typed ids: the list shows none, not every row.
            narrowed.selection_ids = vec![-1];
        }
        self.only_marked = Some(std::mem::replace(&mut self.filter, narrowed));
        Ok(self.restart())
    }

    /// One column sideways, from where the last draw was; nothing once that side is in view.
    pub fn scroll_columns(&mut self, right: bool) {
        let seen = self.sideways.get();
        let moved = match (right, seen.right > 0, seen.left > 0) {
            (true, true, _) => Sideways {
                left: seen.left + 1,
                right: seen.right - 1,
            },
            (false, _, true) => Sideways {
                left: seen.left - 1,
                right: seen.right + 1,
            },
            _ => seen,
        };
        // Until the next draw says otherwise, as if it had drawn.
        self.sideways.set(moved);
        self.scroll_x = moved.left;
    }
}
