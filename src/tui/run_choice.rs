//! The one rule for what a run key acts on, and which rows of it run (issue 13, item 2).
//!
//! What you point at is what runs. Rows you marked (space, `v` … `v`, `A`) and a cause you name
//! (`r` on the overview's cause, `cause:` in the filter) are taken whole: failures of a permanent
//! cause included. A key that points at nothing in particular (`R` on an unmarked list, `R` on
//! the overview) takes the failed scope and leaves the permanent causes out, since retrying them
//! cannot succeed until someone fixes them; `p` in the sheet adds them. `r` retries (scope all),
//! `R` retries failures (scope failed), whatever is marked.

use crate::domain::query::describe;
use crate::domain::{Cause, Filter, Scope};

/// The rule in one paragraph, for `?` help (the README says the same).
pub const RULE: &str = "What you point at is what runs: marked rows (space, v…v, A) and a named \
                        cause (r on a cause, cause: in the filter) are taken whole, permanent \
                        failures included. R on an unmarked list or on the overview leaves the \
                        permanent causes out (p in the sheet adds them). r takes every state, \
                        R only failures.";

/// The key that asked for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKey {
    /// `r`: run again whatever is chosen (scope all).
    Retry,
    /// `R`: retry the failures of what is chosen (scope failed).
    RetryFailed,
}

/// What the key was pressed on.
#[derive(Debug, Clone, PartialEq)]
pub enum Chosen {
    /// Rows marked one by one (space, `v` … `v`).
    Marked(usize),
    /// Every row the list's filter matches (`A`), but `unmarked` rows taken out again.
    AllMatching {
        filter: Box<Filter>,
        unmarked: usize,
    },
    /// The failures of one cause (the overview's cause under the cursor).
    Cause(Cause),
    /// What an unmarked list shows: its filter.
    List(Box<Filter>),
    /// Every selection (the overview, nothing under the cursor named).
    Everything,
}

/// What a run takes of the chosen rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub scope: Scope,
    pub include_permanent: bool,
}

/// The rule: the scope comes from the key, permanent failures from what was pointed at.
pub fn choose(key: RunKey, chosen: &Chosen) -> Choice {
    let scope = match (key, chosen) {
        // A cause's rows are failures: "all" of them is the failed scope.
        (_, Chosen::Cause(_)) | (RunKey::RetryFailed, _) => Scope::Failed,
        (RunKey::Retry, _) => Scope::All,
    };
    let include_permanent = match chosen {
        Chosen::Marked(_) | Chosen::AllMatching { .. } | Chosen::Cause(_) => true,
        // A filter that names causes asked for exactly those.
        Chosen::List(filter) => !filter.causes.is_empty(),
        Chosen::Everything => false,
    };
    Choice {
        scope,
        include_permanent,
    }
}

/// The bulk sheet's title: what the run acts on, in the operator's words.
pub fn sheet_title(chosen: &Chosen) -> String {
    match chosen {
        Chosen::Marked(1) => "1 marked row".to_string(),
        Chosen::Marked(n) => format!("{n} marked rows"),
        Chosen::AllMatching { filter, unmarked } => {
            let what = matching(filter);
            match unmarked {
                0 => format!("all marked (A): {what}"),
                n => format!("all marked (A): {what}, {n} unmarked again"),
            }
        }
        Chosen::Cause(cause) => format!("the failures of cause {}", cause.label()),
        Chosen::List(filter) => matching(filter),
        Chosen::Everything => "every selection".to_string(),
    }
}

fn matching(filter: &Filter) -> String {
    let described = describe(filter);
    if described.is_empty() {
        "every row of the list".to_string()
    } else {
        format!("the rows matching {described}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(text: &str) -> Box<Filter> {
        Box::new(crate::domain::query::parse_query(text, chrono::Utc::now()).unwrap())
    }

    #[test]
    fn marked_rows_are_taken_whole_by_both_keys() {
        for chosen in [
            Chosen::Marked(3),
            Chosen::AllMatching {
                filter: filtered("user:ann"),
                unmarked: 0,
            },
        ] {
            assert_eq!(
                choose(RunKey::Retry, &chosen),
                Choice {
                    scope: Scope::All,
                    include_permanent: true
                }
            );
            assert_eq!(
                choose(RunKey::RetryFailed, &chosen),
                Choice {
                    scope: Scope::Failed,
                    include_permanent: true
                },
                "R on marks must not leave permanent failures out ({chosen:?})"
            );
        }
    }

    #[test]
    fn a_named_cause_is_taken_whole_whichever_key_names_it() {
        for key in [RunKey::Retry, RunKey::RetryFailed] {
            assert_eq!(
                choose(key, &Chosen::Cause(Cause::NoMailbox)),
                Choice {
                    scope: Scope::Failed,
                    include_permanent: true
                }
            );
        }
        let named = Chosen::List(filtered("cause:credentials"));
        assert!(choose(RunKey::RetryFailed, &named).include_permanent);
    }

    #[test]
    fn pointing_at_nothing_in_particular_leaves_permanent_causes_out() {
        for chosen in [Chosen::List(filtered("user:ann")), Chosen::Everything] {
            assert_eq!(
                choose(RunKey::RetryFailed, &chosen),
                Choice {
                    scope: Scope::Failed,
                    include_permanent: false
                }
            );
        }
    }

    #[test]
    fn r_on_an_unmarked_list_takes_every_state() {
        assert_eq!(
            choose(RunKey::Retry, &Chosen::List(filtered("conf:12"))).scope,
            Scope::All
        );
    }

    #[test]
    fn the_sheet_title_says_what_the_run_acts_on() {
        assert_eq!(sheet_title(&Chosen::Marked(1)), "1 marked row");
        assert_eq!(sheet_title(&Chosen::Marked(12)), "12 marked rows");
        assert_eq!(
            sheet_title(&Chosen::Cause(Cause::NoMailbox)),
            "the failures of cause No Exchange Online mailbox"
        );
        assert_eq!(
            sheet_title(&Chosen::List(filtered("user:ann"))),
            "the rows matching user:ann"
        );
        assert_eq!(
            sheet_title(&Chosen::AllMatching {
                filter: filtered("user:ann"),
                unmarked: 2
            }),
            "all marked (A): the rows matching user:ann, 2 unmarked again"
        );
        assert_eq!(sheet_title(&Chosen::Everything), "every selection");
    }
}
