//! calsync's create intents (`calsync_create_intent`, migration "create intents"): one row per selection whose
//! event calsync creates, written in the same transaction as the row's attempt time and
//! committed before the create is sent. It holds the `transactionId` sent and an attempt
//! counter, so that a run that died after its POST is recognised (the intent is still
//! `creating`) and each re-creation's `transactionId` differs from the last one's.

use chrono::{DateTime, Utc};

use super::migration::{Migration, column_types};
use super::sql::{Builder, Dialect, Sql, SqlEngine, SqlRow, Value};
use super::{Store, StoreError};
use crate::domain::ledger::CreateIntent;

pub const INTENTS: &str = "calsync_create_intent";

/// This step's place in `store::migrate::MIGRATIONS`.
pub const VERSION: u32 = 4;

pub const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "create intents",
    enables: "durable create intents (the transactionId of each re-creation)",
    up: intent_up,
    down: intent_down,
};

const CREATING: &str = "creating";
const CREATED: &str = "created";
const FAILED: &str = "failed";

fn intent_up(engine: SqlEngine) -> Vec<String> {
    let (_, ts) = column_types(engine);
    // No foreign key: like the ledger, it must not stop the LMS from deleting a selection.
    vec![format!(
        "CREATE TABLE {INTENTS} (selection_id bigint NOT NULL PRIMARY KEY, \
         mailbox varchar(254) NOT NULL, transaction_id varchar(255) NOT NULL, \
         attempt bigint NOT NULL, state varchar(20) NOT NULL, started_at {ts} NOT NULL, \
         settled_at {ts} NULL, event_id varchar(255) NULL)"
    )]
}

fn intent_down() -> Vec<String> {
    vec![format!("DROP TABLE {INTENTS}")]
}

/// Records a create about to be sent (replacing the selection's previous intent).
pub(super) fn intent_begin(dialect: Dialect, intent: &CreateIntent) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "INSERT INTO {INTENTS} (selection_id, mailbox, transaction_id, attempt, state, \
             started_at, settled_at, event_id) VALUES ("
        ),
    );
    b.bind(Value::Int(intent.selection_id))
        .push(", ")
        .bind(Value::Text(intent.mailbox.clone()))
        .push(", ")
        .bind(Value::Text(intent.transaction_id.clone()))
        .push(", ")
        .bind(Value::Int(i64::from(intent.attempt)))
        .push(&format!(", '{CREATING}', "))
        .bind(Value::Time(intent.at))
        .push(
            ", NULL, NULL) ON CONFLICT (selection_id) DO UPDATE SET \
             mailbox = excluded.mailbox, transaction_id = excluded.transaction_id, \
             attempt = excluded.attempt, state = excluded.state, \
             started_at = excluded.started_at, settled_at = NULL, event_id = NULL",
        );
    b.finish()
}

/// Settles the selection's create in flight, if there is one, with the row's result.
pub(super) fn intent_settle(
    dialect: Dialect,
    selection_id: i64,
    event_id: Option<&str>,
    at: DateTime<Utc>,
) -> Sql {
    let mut b = Builder::new(dialect, &format!("UPDATE {INTENTS} SET state = "));
    match event_id {
        Some(id) => {
            b.push(&format!("'{CREATED}', event_id = "))
                .bind(Value::Text(id.to_string()));
        }
        None => {
            b.push(&format!("'{FAILED}'"));
        }
    }
    b.push(", settled_at = ")
        .bind(Value::Time(at))
        .push(" WHERE selection_id = ")
        .bind(Value::Int(selection_id))
        .push(&format!(" AND state = '{CREATING}'"));
    b.finish()
}

fn intent_of(dialect: Dialect, selection_id: i64) -> Sql {
    let mut b = Builder::new(
        dialect,
        &format!(
            "SELECT selection_id, mailbox, transaction_id, attempt, state, started_at \
             FROM {INTENTS} WHERE selection_id = "
        ),
    );
    b.bind(Value::Int(selection_id));
    b.finish()
}

fn map_intent(row: &dyn SqlRow) -> Result<(CreateIntent, bool), StoreError> {
    let state = row.text(4)?;
    let intent = CreateIntent {
        selection_id: row.int(0)?,
        mailbox: row.text(1)?,
        transaction_id: row.text(2)?,
        attempt: u32::try_from(row.int(3)?).unwrap_or(u32::MAX),
        in_flight: state == CREATING,
        at: row.timestamp(5)?,
    };
    Ok((intent, state == CREATED))
}

impl Store {
    /// Whether create intents are recorded (the migration "create intents").
    pub fn has_intents(&self) -> bool {
        self.own_version() >= VERSION
    }

    /// The selection's last create intent and whether it made an event (`created`); `None`
    /// before `calsync migrate` or when calsync never created an event for it.
    pub async fn create_intent(
        &self,
        selection_id: i64,
    ) -> Result<Option<(CreateIntent, bool)>, StoreError> {
        if !self.has_intents() {
            return Ok(None);
        }
        Ok(self
            .query(intent_of(self.dialect(), selection_id), map_intent)
            .await?
            .into_iter()
            .next())
    }
}
