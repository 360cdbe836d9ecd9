//! The write-probe: before a run sends anything to Graph, one real write proves that its
//! results can be recorded. Privileges are not asked about, because they are not the only
//! reason a write fails: a read-only file or mount, a read-only replica or transaction, or a
//! full disk all pass a privilege check and still refuse the write.

use super::sql::LEDGER;
use super::sql::{Builder, SELECTION, Sql, Value};
use super::{Store, StoreError, intent::INTENTS};

impl Store {
    /// Rewrites `selection_id`'s attempt time with the value it already holds (so the LMS sees
    /// no change), and touches calsync's own tables the same way, in one committed transaction.
    /// Committing matters: SQLite reports a full disk or a read-only file only when it writes
    /// the journal, and PostgreSQL checks the UPDATE privilege and a read-only transaction on
    /// every statement, whether or not rows match.
    pub async fn probe_write(&self, selection_id: Option<i64>) -> Result<(), StoreError> {
        let dialect = self.dialect();
        let mut statements = Vec::new();
        if let Some(id) = selection_id {
            let mut b = Builder::new(
                dialect,
                &format!(
                    "UPDATE {SELECTION} SET calendar_add_attempted_at = calendar_add_attempted_at \
                     WHERE id = "
                ),
            );
            b.bind(Value::Int(id));
            statements.push(b.finish());
        }
        if self.has_ledger() {
            statements.push(Sql::plain(&format!(
                "UPDATE {LEDGER} SET last_action = last_action \
                 WHERE id = (SELECT MIN(id) FROM {LEDGER})"
            )));
        }
        if self.has_intents() {
            statements.push(Sql::plain(&format!(
                "UPDATE {INTENTS} SET state = state \
                 WHERE selection_id = (SELECT MIN(selection_id) FROM {INTENTS})"
            )));
        }
        if statements.is_empty() {
            return Ok(());
        }
        super::retry::retrying(|| self.execute_all(statements.clone())).await?;
        Ok(())
    }
}
