//! `calsync audit`: the audit log, newest first, as a table or JSON Lines.

use super::{CliError, Output, open_store};
use crate::cli::{AuditArgs, EXIT_OK, GlobalArgs};
use crate::domain::audit::AuditRecord;
use crate::text::{clean_line, fit, width};

pub async fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<i32, CliError> {
    let (store, _) = open_store(global).await?;
    let rows = store.audit_rows(args.limit, args.action.as_deref()).await?;
    let mut out = Output::default();
    if args.json {
        for row in &rows {
            out.line(&json_line(row))?;
        }
    } else {
        let action_width = action_width(&rows);
        out.line(&format!(
            "{:>5}  {:<19}  {:<24}  {}  {:>7}  {:<9}  {}",
            "ID",
            "STARTED (UTC)",
            "WHO",
            fit("ACTION", action_width),
            "ROWS",
            "OUTCOME",
            "SCOPE — DETAIL"
        ))?;
        for row in &rows {
            out.line(&table_row(row, action_width))?;
        }
        if rows.is_empty() {
            out.line("(no entries)")?;
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

pub fn json_line(row: &AuditRecord) -> String {
    serde_json::json!({
        "id": row.id,
        "started_at": row.started_at.to_rfc3339(),
        "finished_at": row.finished_at.map(|t| t.to_rfc3339()),
        "os_user": row.os_user,
        "host": row.host,
        "action": row.action,
        "scope": row.scope,
        "filter": row.filter,
        "rows": row.rows,
        "outcome": row.outcome.as_str(),
        "detail": row.detail,
    })
    .to_string()
}

/// The ACTION column is as wide as the longest action shown (`console reconcile` is 17), so
/// no action is ever cut.
fn action_width(rows: &[AuditRecord]) -> usize {
    rows.iter()
        .map(|row| width(&clean_line(&row.action)))
        .chain(["ACTION".len()])
        .max()
        .unwrap_or_default()
}

fn table_row(row: &AuditRecord, action_width: usize) -> String {
    let who = format!("{}@{}", clean_line(&row.os_user), clean_line(&row.host));
    let mut what = clean_line(&row.scope);
    if !row.filter.is_empty() {
        what.push_str(&format!(" [{}]", clean_line(&row.filter)));
    }
    if !row.detail.is_empty() {
        what.push_str(&format!(" — {}", clean_line(&row.detail)));
    }
    format!(
        "{:>5}  {:<19}  {}  {}  {:>7}  {:<9}  {what}",
        row.id,
        row.started_at.format("%Y-%m-%d %H:%M:%S"),
        fit(&who, 24),
        fit(&clean_line(&row.action), action_width),
        row.rows,
        row.outcome.as_str(),
    )
}
