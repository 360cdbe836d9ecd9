//! `calsync status`: the selections matching a filter, as a table, JSON Lines, or counts.
//! Rows are streamed in batches, so a million rows never sit in memory at once.

use serde::Serialize;

use super::{CliError, Output, open_store};
use crate::cli::{EXIT_OK, GlobalArgs, StatusArgs};
use crate::domain::{Listed, MalformedSelection, Selection, Sort, StateCounts, SyncState};
use crate::export;
use crate::store::Listing;
use crate::text::{clean_line, fit, truncate};

/// Rows read per batch.
const BATCH: u32 = 500;
const DEFAULT_TABLE_LIMIT: u64 = 50;

pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<i32, CliError> {
    let (store, _) = open_store(global).await?;
    let filter = args.filter.to_filter();
    let mut out = Output::default();
    if args.summary {
        let counts = store.summary(&filter).await?;
        if args.json {
            out.line(&summary_json(&counts))?;
        } else {
            for line in summary_table(&counts) {
                out.line(&line)?;
            }
        }
        out.flush()?;
        return Ok(EXIT_OK);
    }

    let limit = args
        .limit
        .or((!args.json).then_some(DEFAULT_TABLE_LIMIT))
        .unwrap_or(u64::MAX);
    if !args.json {
        out.line(&table_header())?;
    }
    let listing = Listing {
        filter: filter.clone(),
        // Oldest first puts never-attempted rows first, as it always has.
        sort: Sort {
            key: args.sort.into(),
            descending: !args.ascending,
            nulls_first: args.ascending,
        },
        limit,
    };
    let mut shown = 0u64;
    if limit > 0 {
        // Read on a task of its own: the database and the formatting run side by side.
        let mut batches = store.stream_listing(listing, BATCH);
        while let Some(rows) = batches.recv().await {
            for row in &rows? {
                out.line(&match (row, args.json) {
                    (Listed::Readable(row), true) => export::json_line(row),
                    (Listed::Readable(row), false) => table_row(row),
                    (Listed::Malformed(row), true) => export::malformed_json_line(row),
                    (Listed::Malformed(row), false) => malformed_table_row(row),
                })?;
                shown += 1;
            }
        }
    }
    let more = shown > 0 && shown >= limit;
    if !args.json {
        if shown == 0 {
            out.line("No selections match.")?;
        } else if more {
            let total = store.count(&filter).await?;
            if total > shown {
                out.line(&format!(
                    "{shown} of {total} selections shown; use --limit N for more, or --json for all."
                ))?;
            }
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn summary_json(counts: &StateCounts) -> String {
    #[derive(Serialize)]
    struct Summary {
        added: u64,
        added_stale_error: u64,
        failed: u64,
        interrupted: u64,
        not_synced: u64,
        total: u64,
    }
    let summary = Summary {
        added: counts.added,
        added_stale_error: counts.added_stale_error,
        failed: counts.failed,
        interrupted: counts.interrupted,
        not_synced: counts.not_synced,
        total: counts.total(),
    };
    serde_json::to_string(&summary).unwrap_or_default()
}

fn summary_table(counts: &StateCounts) -> Vec<String> {
    let mut lines: Vec<String> = SyncState::ALL
        .iter()
        .map(|state| {
            format!(
                "{} {:<22} {:>10}",
                state.symbol(),
                state.label(),
                counts.get(*state)
            )
        })
        .collect();
    lines.push(format!("  {:<22} {:>10}", "Total", counts.total()));
    lines
}

const COLUMNS: [(&str, usize); 7] = [
    ("ID", 8),
    ("PERSON", 22),
    ("EMAIL", 28),
    ("CONFERENCE", 26),
    ("SLOT (LOCAL TIME)", 36),
    ("STATE", 24),
    ("ATTEMPTED (UTC)", 17),
];
const ERROR_WIDTH: usize = 70;

fn table_header() -> String {
    let mut line: String = COLUMNS
        .iter()
        .map(|(name, w)| fit(name, *w) + " ")
        .collect();
    line.push_str("ERROR");
    line
}

fn table_row(row: &Selection) -> String {
    let state = row.state();
    let slot = format!(
        "{} {}–{} {}",
        row.slot_date,
        row.slot_start.format("%H:%M"),
        row.slot_end.format("%H:%M"),
        row.timezone
    );
    let attempted = row
        .sync
        .attempted_at
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "never".to_string());
    let cells = [
        row.id.to_string(),
        row.person_name(),
        row.email.clone(),
        row.conference_title.clone(),
        slot,
        format!("{} {}", state.symbol(), state.label()),
        attempted,
    ];
    cells_line(&cells, row.sync.error_text())
}

/// A row that cannot be read whole: its columns as stored, "malformed" as its state and the
/// reasons where the error goes.
fn malformed_table_row(row: &MalformedSelection) -> String {
    let stored = |value: &Option<String>| value.clone().unwrap_or_else(|| "NULL".to_string());
    let slot = format!(
        "{} {}–{} {}",
        stored(&row.slot_date),
        stored(&row.slot_start),
        stored(&row.slot_end),
        row.timezone
    );
    let cells = [
        row.id.to_string(),
        row.person_name(),
        row.email.clone(),
        row.conference_title.clone(),
        slot,
        "⚠ Malformed row".to_string(),
        row.attempted_at_text
            .clone()
            .unwrap_or_else(|| "never".to_string()),
    ];
    cells_line(&cells, Some(&format!("malformed: {}", row.reason())))
}

fn cells_line(cells: &[String; 7], error: Option<&str>) -> String {
    let mut line: String = cells
        .iter()
        .zip(COLUMNS)
        .map(|(cell, (_, w))| fit(&clean_line(cell), w) + " ")
        .collect();
    if let Some(error) = error {
        line.push_str(&truncate(&clean_line(error), ERROR_WIDTH));
    }
    line.trim_end().to_string()
}
