//! `calsync bench store`: calsync's store against the `sqlite3` shell running the same SQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::shared::{MIN_SAMPLE, demo_database, measure_async, ms};
use crate::cli::{BenchStoreArgs, EXIT_OK};
use crate::commands::{CliError, Output, store_options};
use crate::domain::{Cursor, Filter, PageRequest, Sort, SortKey, SyncState};
use crate::store::sql::{self, Dialect, Sql, Value};
use crate::store::{DatabaseUrl, Store, django_datetime};

const PAGE_SIZE: u32 = 50;

pub async fn store(args: &BenchStoreArgs) -> Result<i32, CliError> {
    let mut out = Output::default();
    let (path, generated) = demo_database(&args.db, args.selections).await?;
    if let Some(took) = generated {
        out.line(&format!(
            "generated the demo database with {} selections in {:.1} s ({})",
            args.selections,
            took.as_secs_f64(),
            path.display()
        ))?;
    }
    let store = Store::open(&DatabaseUrl::Sqlite(path.clone()), &store_options()?).await?;
    let total = store.count(&Filter::default()).await?;
    let shell = which_sqlite3();
    out.line(&format!(
        "calsync bench store: {total} selections, SQLite, {} build; floor = sqlite3 shell{}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if shell.is_none() {
            " (not installed: floor skipped)"
        } else {
            ""
        }
    ))?;
    out.line(&format!(
        "{:<44} {:>14} {:>16} {:>8}",
        "query", "calsync (ms)", "sqlite3 (ms)", "ratio"
    ))?;
    out.flush()?;

    let failed = Filter {
        states: vec![SyncState::Failed],
        ..Filter::default()
    };
    let person = Filter {
        person: Some("singh".to_string()),
        ..Filter::default()
    };
    let far = |filter: &Filter| far_cursor(&store, filter.clone(), 999);
    let cases: Vec<(String, Case)> = vec![
        ("status --summary".into(), Case::Summary(Filter::default())),
        (
            "status --summary --state failed".into(),
            Case::Summary(failed.clone()),
        ),
        (
            "first page".into(),
            Case::Page(page(Filter::default(), None)),
        ),
        (
            "first page, state failed".into(),
            Case::Page(page(failed.clone(), None)),
        ),
        (
            "first page, user 'singh'".into(),
            Case::Page(page(person.clone(), None)),
        ),
        (
            "page 1000".into(),
            Case::Page(page(Filter::default(), far(&Filter::default()).await?)),
        ),
        (
            "page 1000, state failed".into(),
            Case::Page(page(failed.clone(), far(&failed).await?)),
        ),
        // The console's sort by a column no index serves: a sort of every row per page.
        (
            "first page by email (no index)".into(),
            Case::Page(sorted(SortKey::Email, None)),
        ),
        (
            "next page by email".into(),
            Case::Page(sorted(
                SortKey::Email,
                store.page(&sorted(SortKey::Email, None)).await?.next,
            )),
        ),
        (
            "first page by error (no index)".into(),
            Case::Page(sorted(SortKey::Error, None)),
        ),
        ("exact count, state failed".into(), Case::Count(failed)),
    ];
    for (name, case) in cases {
        let ours = measure_async(|| case.run(&store)).await?;
        let sql = case.sql();
        // The shell lacks calsync's Unicode matching function, so it has no floor to offer.
        let floor = match &shell {
            Some(shell) if !sql.text.contains(crate::store::UNICODE_CONTAINS) => {
                Some(measure_shell(shell, &path, &sql)?)
            }
            _ => None,
        };
        let (floor_text, ratio) = match floor {
            Some(f) => (
                format!("{:.2}", ms(f)),
                format!("{:.2}", ours.as_secs_f64() / f.as_secs_f64().max(1e-9)),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        out.line(&format!(
            "{name:<44} {:>14.2} {floor_text:>16} {ratio:>8}",
            ms(ours)
        ))?;
        out.flush()?;
    }
    Ok(EXIT_OK)
}

enum Case {
    Summary(Filter),
    Page(PageRequest),
    Count(Filter),
}

impl Case {
    async fn run(&self, store: &Store) -> Result<(), CliError> {
        match self {
            Case::Summary(f) => drop(store.summary(f).await?),
            Case::Page(p) => drop(store.page(p).await?),
            Case::Count(f) => drop(store.count(f).await?),
        }
        Ok(())
    }

    fn sql(&self) -> Sql {
        match self {
            Case::Summary(f) => sql::state_counts(Dialect::SQLITE, f),
            Case::Page(p) => sql::selection_page(Dialect::SQLITE, p),
            Case::Count(f) => sql::count(Dialect::SQLITE, f),
        }
    }
}

fn page(filter: Filter, after: Option<Cursor>) -> PageRequest {
    PageRequest {
        filter,
        sort: Sort::default(),
        after,
        limit: PAGE_SIZE,
    }
}

/// A page of every selection in the console's order for `key` (text A first).
fn sorted(key: SortKey, after: Option<Cursor>) -> PageRequest {
    PageRequest {
        sort: Sort::by(key, false),
        ..page(Filter::default(), after)
    }
}

/// The cursor after `pages` pages, found the way the console finds it: page by page.
async fn far_cursor(store: &Store, filter: Filter, pages: u32) -> Result<Option<Cursor>, CliError> {
    let mut request = page(filter, None);
    for _ in 0..pages {
        match store.page(&request).await?.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    Ok(request.after)
}

fn which_sqlite3() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("sqlite3"))
            .find(|candidate| candidate.is_file())
    })
}

/// The statement with its values written in, exactly as calsync binds them.
fn literal_sql(statement: &Sql) -> String {
    let mut text = statement.text.clone();
    // Highest placeholder first, so ?1 never eats the front of ?12.
    for (i, value) in statement.params.iter().enumerate().rev() {
        let literal = match value {
            Value::Int(n) => n.to_string(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Time(t) => format!("'{}'", django_datetime(*t)),
        };
        text = text.replace(&format!("?{}", i + 1), &literal);
    }
    text
}

/// Mean time of the query in one `sqlite3` session: a session running it N times, less a
/// session running it not at all (process start, opening, the warm-up run), divided by N.
fn measure_shell(shell: &Path, db: &Path, statement: &Sql) -> Result<Duration, CliError> {
    let query = literal_sql(statement);
    let session = |runs: u32| -> Result<Duration, CliError> {
        let mut script = format!(".output /dev/null\n{query};\n");
        for _ in 0..runs {
            script.push_str(&query);
            script.push_str(";\n");
        }
        let started = Instant::now();
        let mut child = Command::new(shell)
            .arg("-readonly")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::failed(format!("cannot run sqlite3: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| CliError::failed(format!("cannot feed sqlite3: {e}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| CliError::failed(format!("sqlite3 failed: {e}")))?;
        if !output.stderr.is_empty() {
            let text = String::from_utf8_lossy(&output.stderr);
            return Err(CliError::failed(format!(
                "sqlite3 refused the query: {}",
                text.lines().next().unwrap_or_default()
            )));
        }
        Ok(started.elapsed())
    };
    let base = session(0)?;
    let estimate = session(3)?.saturating_sub(base) / 3;
    let runs = (MIN_SAMPLE.as_secs_f64() / estimate.as_secs_f64().max(0.000_05)).ceil() as u32;
    let runs = runs.clamp(3, 5000);
    Ok(session(runs)?.saturating_sub(base) / runs)
}
