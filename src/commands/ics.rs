//! `calsync ics`: selections as an iCalendar file, for a person whose Outlook sync cannot work
//! or for any other calendar. Selections that cannot be events are named on stderr; the calendar
//! holds all the others.

use std::collections::BTreeSet;
use std::io::Write;

use chrono::Utc;

use super::{CliError, Output, open_store};
use crate::cli::{EXIT_OK, EXIT_SOME_FAILED, GlobalArgs, IcsArgs};
use crate::domain::{Filter, PageRequest, Selection, Sort};
use crate::ics;
use crate::store::Store;
use crate::text::clean_line;

const PAGE_SIZE: u32 = 500;
/// How many reasons the one-line error names when nothing could be exported.
const REASONS_IN_ERROR: usize = 3;

pub async fn run(global: &GlobalArgs, args: &IcsArgs) -> Result<i32, CliError> {
    let requested: BTreeSet<i64> = args.selection_ids.iter().copied().collect();
    if requested.is_empty()
        && args.user_id.is_none()
        && args.user.is_none()
        && args.conference_id.is_none()
    {
        return Err(CliError::unusable(
            "say which selections to export: --selection-id ID (repeatable) or --user-id ID \
             (or --user EMAIL), and --conference-id ID alone or with a user",
        ));
    }
    let (store, _) = open_store(global).await?;
    let user_id = match &args.user {
        Some(login) => Some(user_by_login(&store, login).await?),
        None => args.user_id,
    };
    let filter = Filter {
        user_id,
        conference_id: args.conference_id,
        selection_ids: requested.iter().copied().collect(),
        ..Filter::default()
    };
    let selections = all_matching(&store, filter).await?;
    if requested.is_empty() && selections.is_empty() {
        return Err(CliError::unusable(
            nothing_selected(&store, user_id, args.conference_id).await?,
        ));
    }

    let export = ics::calendar(&selections, Utc::now());
    let found: BTreeSet<i64> = selections.iter().map(|s| s.id).collect();
    let mut left_out: Vec<(i64, String)> = requested
        .difference(&found)
        .map(|id| (*id, "no such selection".to_string()))
        .chain(
            export
                .skipped
                .iter()
                .map(|s| (s.selection_id, clean_line(&s.problem.to_string()))),
        )
        .collect();
    left_out.sort();
    if export.exported.is_empty() {
        return Err(CliError::unusable(nothing_exported(&left_out)));
    }

    let destination = match &args.output {
        Some(path) => {
            std::fs::write(path, &export.text)
                .map_err(|e| CliError::unusable(format!("cannot write {}: {e}", path.display())))?;
            path.display().to_string()
        }
        None => {
            let mut out = Output::default();
            out.text(&export.text)?;
            out.flush()?;
            "standard output".to_string()
        }
    };
    let mut stderr = std::io::stderr().lock();
    for (id, reason) in &left_out {
        let _ = writeln!(stderr, "skipped selection {id}: {reason}");
    }
    let exported = export.exported.len();
    let _ = writeln!(
        stderr,
        "exported {exported} of {} selections to {destination}{}",
        exported + left_out.len(),
        if left_out.is_empty() {
            String::new()
        } else {
            format!(" ({} skipped)", left_out.len())
        }
    );
    Ok(if left_out.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

/// The one user whose email or username is `login`, as the console's `:person` finds them.
async fn user_by_login(store: &Store, login: &str) -> Result<i64, CliError> {
    let shown = clean_line(login);
    match store.users_by_login(login.trim()).await?.as_slice() {
        [] => Err(CliError::unusable(format!(
            "no user with the email or username '{shown}'"
        ))),
        [one] => Ok(*one),
        several => Err(CliError::unusable(format!(
            "'{shown}' is the email or username of several users ({}): use --user-id",
            several
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Why a user or conference gave nothing to export.
async fn nothing_selected(
    store: &Store,
    user_id: Option<i64>,
    conference_id: Option<i64>,
) -> Result<String, CliError> {
    if let Some(user_id) = user_id
        && store.person(user_id).await?.is_none()
    {
        return Ok(format!("no user with id {user_id}"));
    }
    Ok(match (user_id, conference_id) {
        (Some(user), Some(conference)) => {
            format!("user {user} has no selections in conference {conference} to export")
        }
        (Some(user), None) => format!("user {user} has no selections to export"),
        (None, Some(conference)) => format!("conference {conference} has no selections to export"),
        (None, None) => "nothing to export".to_string(),
    })
}

/// Every selection matching `filter`, read page by page.
async fn all_matching(store: &Store, filter: Filter) -> Result<Vec<Selection>, CliError> {
    let mut request = PageRequest {
        filter,
        sort: Sort::default(),
        after: None,
        limit: PAGE_SIZE,
    };
    let mut selections = Vec::new();
    loop {
        let page = store.page(&request).await?;
        selections.extend(page.rows);
        match page.next {
            Some(next) => request.after = Some(next),
            None => return Ok(selections),
        }
    }
}

fn nothing_exported(left_out: &[(i64, String)]) -> String {
    let mut reasons: Vec<String> = left_out
        .iter()
        .take(REASONS_IN_ERROR)
        .map(|(id, reason)| format!("selection {id}: {reason}"))
        .collect();
    if left_out.len() > REASONS_IN_ERROR {
        reasons.push(format!("and {} more", left_out.len() - REASONS_IN_ERROR));
    }
    format!("nothing to export: {}", reasons.join("; "))
}
