//! The columns of a list of selections (issue 13, item 6): which show (the chooser, `C`,
//! remembered as `[console] columns` in the config file), which sort key each stands for (`o`
//! picks the next, `O` reverses), and how the list's sort is written in its header.

use crate::domain::{Sort, SortKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListColumn {
    Id,
    Person,
    Email,
    Conference,
    Slot,
    State,
    Attempted,
    Cause,
    Error,
}

impl ListColumn {
    /// Every column, in the table's order.
    pub const ALL: [ListColumn; 9] = [
        ListColumn::Id,
        ListColumn::Person,
        ListColumn::Email,
        ListColumn::Conference,
        ListColumn::Slot,
        ListColumn::State,
        ListColumn::Attempted,
        ListColumn::Cause,
        ListColumn::Error,
    ];

    pub fn header(self) -> &'static str {
        match self {
            ListColumn::Id => "ID",
            ListColumn::Person => "PERSON",
            ListColumn::Email => "EMAIL",
            ListColumn::Conference => "CONFERENCE",
            ListColumn::Slot => "SLOT",
            ListColumn::State => "STATE",
            ListColumn::Attempted => "ATTEMPTED",
            ListColumn::Cause => "CAUSE",
            ListColumn::Error => "ERROR",
        }
    }

    /// The column's name in the config file's `[console] columns`.
    pub fn name(self) -> &'static str {
        match self {
            ListColumn::Id => "id",
            ListColumn::Person => "person",
            ListColumn::Email => "email",
            ListColumn::Conference => "conference",
            ListColumn::Slot => "slot",
            ListColumn::State => "state",
            ListColumn::Attempted => "attempted",
            ListColumn::Cause => "cause",
            ListColumn::Error => "error",
        }
    }

    /// What sorting by the column sorts by. SLOT, STATE and CAUSE have none: a state and a
    /// cause are worked out from several columns per row, and `/state:` or `/cause:` narrows
    /// to one instead.
    pub fn sort_key(self) -> Option<SortKey> {
        match self {
            ListColumn::Id => Some(SortKey::Id),
            ListColumn::Person => Some(SortKey::Person),
            ListColumn::Email => Some(SortKey::Email),
            ListColumn::Conference => Some(SortKey::Conference),
            ListColumn::Attempted => Some(SortKey::AttemptedAt),
            ListColumn::Error => Some(SortKey::Error),
            ListColumn::Slot | ListColumn::State | ListColumn::Cause => None,
        }
    }

    fn named(name: &str) -> Option<ListColumn> {
        ListColumn::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Which columns show. The row's mark column always does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChoice {
    shown: [bool; ListColumn::ALL.len()],
}

impl Default for ColumnChoice {
    fn default() -> Self {
        ColumnChoice {
            shown: [true; ListColumn::ALL.len()],
        }
    }
}

impl ColumnChoice {
    /// The config file's list of names; an unknown name is refused with the known ones.
    pub fn from_names(names: &[String]) -> Result<ColumnChoice, String> {
        let mut shown = [false; ListColumn::ALL.len()];
        for name in names {
            let column = ListColumn::named(&name.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "[console] columns: unknown column {name:?} (known: {})",
                    ListColumn::ALL.map(ListColumn::name).join(", ")
                )
            })?;
            shown[index(column)] = true;
        }
        if !shown.contains(&true) {
            return Err("[console] columns: name at least one column".to_string());
        }
        Ok(ColumnChoice { shown })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.shown().map(ListColumn::name).collect()
    }

    pub fn is_shown(&self, column: ListColumn) -> bool {
        self.shown[index(column)]
    }

    /// The shown columns, in the table's order.
    pub fn shown(&self) -> impl Iterator<Item = ListColumn> + '_ {
        ListColumn::ALL.into_iter().filter(|c| self.is_shown(*c))
    }

    /// Shows or hides `column`; the last shown column stays.
    pub fn toggle(&mut self, column: ListColumn) -> Result<(), &'static str> {
        let i = index(column);
        if self.shown[i] && self.shown().count() == 1 {
            return Err("one column at least stays shown");
        }
        self.shown[i] = !self.shown[i];
        Ok(())
    }

    /// The sort `o` moves to from `sort`: the next shown column that sorts, after the last
    /// one back to the LMS's own order (newest selection first).
    pub fn next_sort(&self, sort: Sort) -> Sort {
        let keys: Vec<SortKey> = std::iter::once(SortKey::SelectedAt)
            .chain(self.shown().filter_map(ListColumn::sort_key))
            .collect();
        let at = keys.iter().position(|k| *k == sort.key);
        let next = at.map_or(SortKey::SelectedAt, |i| keys[(i + 1) % keys.len()]);
        Sort::by(next, first_direction_descending(next))
    }
}

fn index(column: ListColumn) -> usize {
    ListColumn::ALL
        .iter()
        .position(|c| *c == column)
        .unwrap_or_default()
}

/// Times and ids start newest first; text starts at A.
fn first_direction_descending(key: SortKey) -> bool {
    !key.is_text()
}

/// ▲ ascending, ▼ descending.
pub fn arrow(sort: Sort) -> &'static str {
    if sort.descending { "▼" } else { "▲" }
}

/// The column's header, with the sort's arrow when the list is sorted by it.
pub fn header(column: ListColumn, sort: Sort) -> String {
    if column.sort_key() == Some(sort.key) {
        format!("{} {}", column.header(), arrow(sort))
    } else {
        column.header().to_string()
    }
}

/// The sort in words, for the list's status line: `sort: email ▲`.
pub fn sort_words(sort: Sort) -> String {
    let what = match sort.key {
        SortKey::SelectedAt => "selected",
        SortKey::Id => "id",
        SortKey::AttemptedAt => "attempted",
        SortKey::Email => "email",
        SortKey::Person => "person",
        SortKey::Conference => "conference",
        SortKey::Error => "error",
    };
    format!("sort: {what} {}", arrow(sort))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_walks_the_shown_columns_that_sort_and_comes_back_to_the_lms_order() {
        let choice = ColumnChoice::default();
        let mut sort = Sort::default();
        let mut seen = Vec::new();
        for _ in 0..7 {
            sort = choice.next_sort(sort);
            seen.push((sort.key, sort.descending));
        }
        assert_eq!(
            seen,
            [
                (SortKey::Id, true),
                (SortKey::Person, false),
                (SortKey::Email, false),
                (SortKey::Conference, false),
                (SortKey::AttemptedAt, true),
                (SortKey::Error, false),
                (SortKey::SelectedAt, true),
            ]
        );
    }

    #[test]
    fn a_hidden_column_is_not_sorted_by() {
        let choice = ColumnChoice::from_names(&["email".into(), "state".into()]).unwrap();
        let sort = choice.next_sort(Sort::default());
        assert_eq!(sort.key, SortKey::Email);
        assert_eq!(choice.next_sort(sort).key, SortKey::SelectedAt);
    }

    #[test]
    fn the_header_of_the_sort_column_carries_the_arrow() {
        let sort = Sort::by(SortKey::Email, false);
        assert_eq!(header(ListColumn::Email, sort), "EMAIL ▲");
        assert_eq!(header(ListColumn::Person, sort), "PERSON");
        assert_eq!(header(ListColumn::Email, sort.reversed()), "EMAIL ▼");
        assert_eq!(sort_words(Sort::default()), "sort: selected ▼");
    }

    #[test]
    fn the_choice_round_trips_through_its_names_and_keeps_one_column() {
        let mut choice = ColumnChoice::from_names(&["ERROR".into(), "id".into()]).unwrap();
        assert_eq!(choice.names(), ["id", "error"]);
        choice.toggle(ListColumn::Id).unwrap();
        assert!(choice.toggle(ListColumn::Error).is_err());
        assert_eq!(choice.names(), ["error"]);
        let unknown = ColumnChoice::from_names(&["mail".into()]).unwrap_err();
        assert!(unknown.contains("unknown column \"mail\""), "{unknown}");
        assert!(ColumnChoice::from_names(&[]).is_err());
    }
}
