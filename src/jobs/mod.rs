//! The rules of the console's jobs that are not about drawing: what a run's target means, the
//! exact plan shown before a bulk run, why a person's calendar sync works or not, and the
//! export of a filter's rows. The console's runtime calls these; nothing here knows a terminal.

pub mod audited;
pub mod export;
pub mod person;
pub mod plan;

use crate::domain::{Filter, Scope};
use crate::store::{Store, StoreError};
use crate::sync::verify::verifiable;

pub use person::PersonData;
pub use plan::{BulkPlan, plan};

pub(crate) fn text<T>(result: Result<T, StoreError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
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

pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Failed => "failed",
        Scope::Unsynced => "unsynced",
        Scope::All => "all",
    }
}
/// A console run in the audit log's words: which rows (and the scope), and the filter.
/// The target in the audit log's words; `run` is None for a check (no sync scope).
pub fn describe_target(target: &SyncTarget, run: Option<RunScope>) -> (String, String) {
    let scope = match run {
        Some(run) if run.include_permanent => {
            format!("{}, permanent causes included", scope_name(run.scope))
        }
        Some(run) => scope_name(run.scope).to_string(),
        None => "added".to_string(),
    };
    match target {
        SyncTarget::Ids(ids) if ids.len() == 1 => {
            (format!("selection {} ({scope})", ids[0]), String::new())
        }
        SyncTarget::Ids(ids) => (
            format!("{} marked rows ({scope})", ids.len()),
            String::new(),
        ),
        SyncTarget::Matching { filter, except } if except.is_empty() => (
            format!("all matching the filter ({scope})"),
            crate::domain::query::describe(filter),
        ),
        SyncTarget::Matching { filter, except } => (
            format!(
                "all matching the filter but {} unmarked ({scope})",
                except.len()
            ),
            crate::domain::query::describe(filter),
        ),
    }
}
fn target_filter(target: &SyncTarget) -> (Filter, &[i64]) {
    match target {
        SyncTarget::Ids(ids) => (
            Filter {
                selection_ids: ids.clone(),
                ..Filter::default()
            },
            &[],
        ),
        SyncTarget::Matching { filter, except } => ((**filter).clone(), except),
    }
}
/// The run's filter and its ids, frozen now: the filter as it is at this moment, minus unmarked
/// exceptions.
pub async fn resolve(
    store: &Store,
    target: &SyncTarget,
    run: RunScope,
) -> Result<(Filter, Vec<i64>), String> {
    let (filter, except) = target_filter(target);
    let filter = run.narrow(&filter);
    let mut ids = text(store.selection_ids(&filter).await)?;
    if !except.is_empty() {
        ids.retain(|id| !except.contains(id));
    }
    Ok((filter, ids))
}
/// The target's added selections, the ones with an event to check.
pub async fn resolve_verifiable(store: &Store, target: &SyncTarget) -> Result<Vec<i64>, String> {
    let (filter, except) = target_filter(target);
    let mut ids = text(store.selection_ids(&verifiable(filter)).await)?;
    if !except.is_empty() {
        ids.retain(|id| !except.contains(id));
    }
    Ok(ids)
}
