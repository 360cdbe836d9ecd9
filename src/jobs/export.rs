//! A filter's rows to a file, batch by batch (never all in memory). The pages are read on the
//! async workers; the file is written on a blocking thread, so a slow disk never stalls them.

use std::io::Write;
use std::path::Path;

use chrono::Utc;
use tokio::sync::mpsc;

use super::text;
use crate::domain::{Filter, Listed, Selection, Sort};
use crate::export;
use crate::store::Listing;

/// Rows read per batch.
const BATCH: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

/// Writes the rows `filter` matches to `path` (or the default place) as `format` (csv or
/// json); says where and how many.
pub async fn export_rows(
    store: &crate::store::Store,
    filter: Filter,
    format: &str,
    path: Option<String>,
) -> Result<String, String> {
    let format = match format {
        "csv" => Format::Csv,
        "json" => Format::JsonLines,
        other => return Err(format!("unknown export format '{other}' (csv or json)")),
    };
    let path = export::destination(path.as_deref(), format == Format::JsonLines, Utc::now())?;
    let (pages, incoming) = mpsc::channel::<Vec<Selection>>(2);
    let file = path.clone();
    let writer = tokio::task::spawn_blocking(move || write_pages(&file, format, incoming));
    let listing = Listing {
        filter,
        sort: Sort::default(),
        limit: u64::MAX,
    };
    let read = async {
        let mut batches = store.stream_listing(listing, BATCH);
        while let Some(rows) = batches.recv().await {
            // Rows that cannot be read whole are not exported (the console lists them).
            let rows = text(rows)?
                .into_iter()
                .filter_map(|row| match row {
                    Listed::Readable(selection) => Some(selection),
                    Listed::Malformed(_) => None,
                })
                .collect();
            // The writer stopped (it failed): its error is the one to report.
            if pages.send(rows).await.is_err() {
                return Ok(());
            }
        }
        Ok::<(), String>(())
    };
    let read = read.await;
    drop(pages);
    let written = writer
        .await
        .map_err(|e| format!("{}: {e}", path.display()))??;
    read?;
    Ok(format!("{} ({written} rows)", path.display()))
}

fn write_pages(
    path: &Path,
    format: Format,
    mut pages: mpsc::Receiver<Vec<Selection>>,
) -> Result<u64, String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| failed(&e))?;
    let out = std::io::BufWriter::new(file);
    let mut written = 0u64;
    match format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(export::CSV_HEADER.split(','))
                .map_err(|e| failed(&e))?;
            let mut scratch = String::new();
            while let Some(rows) = pages.blocking_recv() {
                for row in &rows {
                    export::write_csv_record(&mut csv, row, &mut scratch)
                        .map_err(|e| failed(&e))?;
                    written += 1;
                }
            }
            csv.flush().map_err(|e| failed(&e))?;
        }
        Format::JsonLines => {
            let mut out = out;
            while let Some(rows) = pages.blocking_recv() {
                for row in &rows {
                    writeln!(out, "{}", export::json_line(row)).map_err(|e| failed(&e))?;
                    written += 1;
                }
            }
            out.flush().map_err(|e| failed(&e))?;
        }
    }
    Ok(written)
}
