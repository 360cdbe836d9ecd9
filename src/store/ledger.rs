//! calsync's event ledger (migration step 1): its table, its SQL, and the store's ledger methods.
//! No foreign keys on purpose: a row must outlive the selection, slot or user it names.

use chrono::{DateTime, Utc};

use super::migration::{Migration, column_types};
use super::sql::{self, Builder, Dialect, LEDGER, Sql, SqlEngine, SqlRow, Value};
use super::{Store, StoreError};
use crate::domain::ledger::{
    EventPointer, LedgerAction, LedgerChange, LedgerEntry, LedgerRecord, LedgerScope,
};

pub(super) const MIGRATION: Migration = Migration {
    version: 1,
    name: "event ledger",
    enables: "reconcile, verify, exact stale badges",
    up: ledger_up,
    down: ledger_down,
};

fn ledger_up(engine: SqlEngine) -> Vec<String> {
    let (pk, ts) = column_types(engine);
    vec![
        // No foreign keys on purpose: a row must outlive the selection, slot or user it names.
        format!(
            "CREATE TABLE {LEDGER} (id {pk}, selection_id bigint NULL, user_id bigint NULL, \
             conference_id bigint NULL, slot_id bigint NULL, mailbox varchar(254) NOT NULL, \
             event_id varchar(255) NOT NULL, sent_subject text NOT NULL, sent_start {ts} NOT NULL, \
             sent_end {ts} NOT NULL, sent_fingerprint text NULL, last_action varchar(20) NOT NULL, \
             created_at {ts} NOT NULL, last_seen_at {ts} NOT NULL, deleted_at {ts} NULL, \
             CONSTRAINT {LEDGER}_event UNIQUE (mailbox, event_id))"
        ),
        format!("CREATE INDEX {LEDGER}_selection ON {LEDGER} (selection_id, event_id)"),
        format!("CREATE INDEX {LEDGER}_user ON {LEDGER} (user_id)"),
        format!("CREATE INDEX {LEDGER}_conference ON {LEDGER} (conference_id)"),
    ]
}

fn ledger_down() -> Vec<String> {
    vec![format!("DROP TABLE {LEDGER}")]
}

/// Records an event calsync created, updated, adopted or found: inserted the first time, and
/// refreshed (alive again, last seen now) every time after.
pub(super) fn ledger_upsert(dialect: Dialect, entry: &LedgerEntry) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "INSERT INTO {LEDGER} (selection_id, user_id, conference_id, slot_id, mailbox, \
             event_id, sent_subject, sent_start, sent_end, sent_fingerprint, last_action, \
             created_at, last_seen_at, deleted_at) VALUES ("
        ),
    );
    let values = [
        Value::Int(entry.selection_id),
        Value::Int(entry.user_id),
        Value::Int(entry.conference_id),
        Value::Int(entry.slot_id),
        Value::Text(entry.mailbox.clone()),
        Value::Text(entry.event_id.clone()),
        Value::Text(entry.subject.clone()),
        Value::Time(entry.sent_start),
        Value::Time(entry.sent_end),
        Value::Text(entry.fingerprint.clone()),
        Value::Text(entry.action.as_str().to_string()),
        Value::Time(entry.at),
        Value::Time(entry.at),
    ];
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(value);
    }
    b.push(
        ", NULL) ON CONFLICT (mailbox, event_id) DO UPDATE SET \
         selection_id = excluded.selection_id, user_id = excluded.user_id, \
         conference_id = excluded.conference_id, slot_id = excluded.slot_id, \
         sent_subject = excluded.sent_subject, sent_start = excluded.sent_start, \
         sent_end = excluded.sent_end, sent_fingerprint = excluded.sent_fingerprint, \
         last_action = excluded.last_action, last_seen_at = excluded.last_seen_at, \
         deleted_at = NULL",
    );
    b.finish()
}

/// The statement of one ledger change; `None` when the table it needs is not there yet.
pub(super) fn ledger_change(dialect: Dialect, change: &LedgerChange) -> Option<Sql> {
    match change {
        LedgerChange::Record(entry) => Some(ledger_upsert(dialect, entry)),
        LedgerChange::Mark {
            mailbox,
            event_id,
            action,
            at,
        } => Some(ledger_mark(dialect, mailbox, event_id, *action, *at)),
        LedgerChange::Meeting(record) => super::meetings::record(dialect, record),
        LedgerChange::WebLink {
            mailbox,
            event_id,
            web_link,
        } => super::web_links::record(dialect, mailbox, event_id, web_link),
        // The caller leaves these out before the create intents exist (`Store::has_intents`).
        LedgerChange::Intent(intent) => Some(super::intent::intent_begin(dialect, intent)),
        LedgerChange::Settle {
            selection_id,
            event_id,
            at,
        } => Some(super::intent::intent_settle(
            dialect,
            *selection_id,
            event_id.as_deref(),
            *at,
        )),
    }
}

/// Marks an event seen (`found`) or gone (`deleted`, `missing`) without touching what was sent.
pub(super) fn ledger_mark(
    dialect: Dialect,
    mailbox: &str,
    event_id: &str,
    action: LedgerAction,
    at: DateTime<Utc>,
) -> Sql {
    let mut b = Builder::new(dialect, &format!("UPDATE {LEDGER} SET last_action = "));
    b.bind(Value::Text(action.as_str().to_string()));
    if action.is_gone() {
        b.push(", deleted_at = ").bind(Value::Time(at));
    } else {
        b.push(", deleted_at = NULL, last_seen_at = ")
            .bind(Value::Time(at));
    }
    b.push(" WHERE mailbox = ")
        .bind(Value::Text(mailbox.to_lowercase()))
        .push(" AND event_id = ")
        .bind(Value::Text(event_id.to_string()));
    b.finish()
}

/// Records an event calsync learnt about without having sent it (a probable orphan found by
/// `reconcile`, or an event `verify` saw): what was sent is unknown, so it never makes a
/// selection stale. With `web_link` (when the ledger has its column) it is one statement, where
/// an `UPDATE` after it doubled the statements of a verify's commit.
pub(super) fn ledger_insert_found(
    dialect: Dialect,
    record: &LedgerRecord,
    action: LedgerAction,
    at: DateTime<Utc>,
    web_link: Option<&str>,
) -> Sql {
    let web_link = web_link.filter(|_| dialect.web_links);
    let link_column = if web_link.is_some() { ", web_link" } else { "" };
    let mut b = Builder::new(
        dialect,
        &format!(
            "INSERT INTO {LEDGER} (selection_id, user_id, conference_id, slot_id, mailbox, \
             event_id, sent_subject, sent_start, sent_end, sent_fingerprint, last_action, \
             created_at, last_seen_at, deleted_at{link_column}) VALUES ("
        ),
    );
    for (i, value) in [
        record.selection_id,
        record.user_id,
        record.conference_id,
        record.slot_id,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            b.push(", ");
        }
        match value {
            Some(id) => b.bind(Value::Int(id)),
            None => b.push("NULL"),
        };
    }
    b.push(", ")
        .bind(Value::Text(record.mailbox.to_lowercase()))
        .push(", ")
        .bind(Value::Text(record.event_id.clone()))
        .push(", ")
        .bind(Value::Text(record.subject.clone()))
        .push(", ")
        .bind(Value::Time(record.sent_start))
        .push(", ")
        .bind(Value::Time(record.sent_end))
        .push(", NULL, ")
        .bind(Value::Text(action.as_str().to_string()))
        .push(", ")
        .bind(Value::Time(at))
        .push(", ")
        .bind(Value::Time(at))
        .push(", ");
    if action.is_gone() {
        b.bind(Value::Time(at));
    } else {
        b.push("NULL");
    }
    if let Some(link) = web_link {
        b.push(", ").bind(Value::Text(link.to_string()));
    }
    b.push(
        " ) ON CONFLICT (mailbox, event_id) DO UPDATE SET last_action = excluded.last_action, \
         last_seen_at = excluded.last_seen_at, deleted_at = excluded.deleted_at",
    );
    if web_link.is_some() {
        b.push(", web_link = excluded.web_link");
    }
    b.finish()
}

const LEDGER_COLUMNS: &str = "l.id, l.selection_id, l.user_id, l.conference_id, l.slot_id, \
    l.mailbox, l.event_id, \
    l.sent_subject, l.sent_start, l.sent_end, l.last_action, l.created_at, l.last_seen_at, \
    l.deleted_at";

pub(super) fn map_ledger(row: &dyn SqlRow) -> Result<LedgerRecord, StoreError> {
    let action = row.text(10)?;
    Ok(LedgerRecord {
        id: row.int(0)?,
        selection_id: row.opt_int(1)?,
        user_id: row.opt_int(2)?,
        conference_id: row.opt_int(3)?,
        slot_id: row.opt_int(4)?,
        mailbox: row.text(5)?,
        event_id: row.text(6)?,
        subject: row.text(7)?,
        sent_start: row.timestamp(8)?,
        sent_end: row.timestamp(9)?,
        last_action: LedgerAction::parse(&action)
            .ok_or_else(|| StoreError::Data(format!("unknown ledger action '{action}'")))?,
        created_at: row.timestamp(11)?,
        last_seen_at: row.timestamp(12)?,
        deleted_at: row.opt_timestamp(13)?,
    })
}

fn push_scope(b: &mut Builder, scope: LedgerScope) {
    if let Some(user_id) = scope.user_id {
        b.push(" AND l.user_id = ")
            .bind_same_plan(Value::Int(user_id));
    }
    if let Some(conference_id) = scope.conference_id {
        b.push(" AND l.conference_id = ")
            .bind(Value::Int(conference_id));
    }
}

/// Every ledger row in scope (alive or gone), oldest first.
pub(super) fn ledger_rows(dialect: Dialect, scope: LedgerScope) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {LEDGER_COLUMNS} FROM {LEDGER} l WHERE 1 = 1"),
    );
    push_scope(&mut b, scope);
    b.push(" ORDER BY l.id");
    b.finish()
}

/// The ledger rows of one selection, newest first.
pub(super) fn ledger_of_selection(dialect: Dialect, selection_id: i64) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT {LEDGER_COLUMNS} FROM {LEDGER} l WHERE l.selection_id = "),
    );
    b.bind(Value::Int(selection_id)).push(" ORDER BY l.id DESC");
    b.finish()
}

/// Events calsync made that are still alive but that no selection points to any more: their
/// selection was deleted (cancelled, slot changed) or now points to another event (a
/// duplicate left by a retry that lost the old id). A selection that points to no event at all
/// is not proof: the next sync adopts its event by the tag. The ids are compared as strings, so
/// these are candidates: a row's REST id and the ledger's immutable id of one event differ, and
/// reconcile translates both before it calls anything an orphan.
pub(super) fn ledger_orphans(dialect: Dialect, scope: LedgerScope) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "SELECT {LEDGER_COLUMNS}, CASE WHEN s.id IS NULL THEN 1 ELSE 0 END \
             FROM {LEDGER} l LEFT JOIN {selection} s ON s.id = l.selection_id \
             WHERE l.deleted_at IS NULL AND l.selection_id IS NOT NULL \
             AND (s.id IS NULL OR (s.outlook_event_id <> '' AND s.outlook_event_id <> l.event_id))",
            selection = super::sql::SELECTION
        ),
    );
    push_scope(&mut b, scope);
    b.push(" ORDER BY l.id");
    b.finish()
}

/// The users the ledger knows in scope (alive or gone), for reconcile's list of mailboxes.
pub(super) fn ledger_user_ids(dialect: Dialect, scope: LedgerScope) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!("SELECT DISTINCT l.user_id FROM {LEDGER} l WHERE l.user_id IS NOT NULL"),
    );
    push_scope(&mut b, scope);
    b.push(" ORDER BY l.user_id");
    b.finish()
}

/// A ledger row and whether its selection is gone (else it points elsewhere).
pub(super) fn map_ledger_orphan(row: &dyn SqlRow) -> Result<(LedgerRecord, bool), StoreError> {
    Ok((map_ledger(row)?, row.int(14)? == 1))
}

impl Store {
    fn require_ledger(&self) -> Result<(), StoreError> {
        if self.has_ledger() {
            Ok(())
        } else {
            Err(StoreError::Schema(
                "calsync's event ledger does not exist yet: run `calsync migrate` first".into(),
            ))
        }
    }

    /// Marks an event seen or gone. Returns whether the ledger knew it.
    pub async fn ledger_mark(
        &self,
        mailbox: &str,
        event_id: &str,
        action: LedgerAction,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !self.has_ledger() {
            return Ok(false);
        }
        let changed = self
            .execute(ledger_mark(self.dialect(), mailbox, event_id, action, at))
            .await?;
        Ok(changed > 0)
    }

    /// Records an event calsync found (or deleted) without having sent it.
    pub async fn ledger_record_found(
        &self,
        record: &LedgerRecord,
        action: LedgerAction,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.require_ledger()?;
        self.execute(ledger_insert_found(
            self.dialect(),
            record,
            action,
            at,
            None,
        ))
        .await?;
        Ok(())
    }

    /// Records what one pass learnt about many events, each with the `webLink` Graph answered
    /// for it when it did, in one transaction (nothing before `calsync migrate`).
    pub async fn ledger_record_many(
        &self,
        found: &[(LedgerRecord, LedgerAction, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !self.has_ledger() || found.is_empty() {
            return Ok(());
        }
        let dialect = self.dialect();
        let statements = found
            .iter()
            .map(|(record, action, web_link)| {
                ledger_insert_found(dialect, record, *action, at, web_link.as_deref())
            })
            .collect();
        self.execute_all(statements).await?;
        Ok(())
    }

    /// Events the ledger holds as existing (0 before `calsync migrate`).
    pub async fn ledger_live_count(&self) -> Result<u64, StoreError> {
        if !self.has_ledger() {
            return Ok(0);
        }
        self.query_one(
            Sql::plain(&format!(
                "SELECT COUNT(*) FROM {} WHERE deleted_at IS NULL",
                LEDGER
            )),
            sql::map_count,
        )
        .await
    }

    pub async fn ledger_rows(&self, scope: LedgerScope) -> Result<Vec<LedgerRecord>, StoreError> {
        self.require_ledger()?;
        self.query(ledger_rows(self.dialect(), scope), map_ledger)
            .await
    }

    /// The ledger's rows for one selection, newest first (empty before `calsync migrate`).
    pub async fn ledger_of_selection(
        &self,
        selection_id: i64,
    ) -> Result<Vec<LedgerRecord>, StoreError> {
        if !self.has_ledger() {
            return Ok(Vec::new());
        }
        self.query(
            ledger_of_selection(self.dialect(), selection_id),
            map_ledger,
        )
        .await
    }

    /// Live events no selection points to: `(record, selection_gone)`.
    pub async fn ledger_orphans(
        &self,
        scope: LedgerScope,
    ) -> Result<Vec<(LedgerRecord, bool)>, StoreError> {
        self.require_ledger()?;
        self.query(ledger_orphans(self.dialect(), scope), map_ledger_orphan)
            .await
    }

    /// The users reconcile looks at: those holding selections (of `scope`'s conference, or
    /// all) plus those the ledger knows in `scope` (none before `calsync migrate`).
    pub async fn reconcile_user_ids(&self, scope: LedgerScope) -> Result<Vec<i64>, StoreError> {
        if let Some(user_id) = scope.user_id {
            return Ok(vec![user_id]);
        }
        let mut ids = self
            .query(
                sql::selection_user_ids(self.dialect(), scope.conference_id),
                sql::map_id,
            )
            .await?;
        if self.has_ledger() {
            ids.extend(
                self.query(ledger_user_ids(self.dialect(), scope), sql::map_id)
                    .await?,
            );
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// What each selection of `user_id` points to.
    pub async fn event_pointers_of_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<EventPointer>, StoreError> {
        self.query(
            sql::event_pointers_of_user(self.dialect(), user_id),
            sql::map_event_pointer,
        )
        .await
    }

    /// What the selections among `ids` point to; the ids missing from the answer are gone.
    pub async fn event_pointers(&self, ids: &[i64]) -> Result<Vec<EventPointer>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.query(
            sql::event_pointers(self.dialect(), ids),
            sql::map_event_pointer,
        )
        .await
    }
}
