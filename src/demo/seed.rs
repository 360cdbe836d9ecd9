//! Fills the simulated mailboxes with what the LMS would have left there for the demo database.

use chrono::{NaiveDate, NaiveTime};

use crate::sim::SimHandle;

/// What [`seed_simulator`] put into the simulated mailboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Events of added selections, under the ids the rows hold.
    pub events: usize,
    /// Added selections whose event is left out, as if deleted in Outlook (`verify` finds them).
    pub deleted_in_outlook: usize,
    /// A second event for an added selection's slot (the LMS's re-runs).
    pub duplicates: usize,
    /// An event for another slot of the conference: an orphan of a changed selection, or a
    /// duplicate for instructors, who hold every slot.
    pub other_slot: usize,
}

/// At most this many added selections get events (the demo has 2 000 selections by default).
pub const SEED_LIMIT: u32 = 20_000;

/// What the simulated mailboxes hold besides the event of each added selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// The demo's story: a few events deleted by their owners, the LMS's duplicates and the
    /// events of changed selections.
    AsTheLmsLeftThem,
    /// Nothing invented: a database calsync did not generate says nothing about deletions or
    /// duplicates, so a rehearsal on it must not report any.
    None,
}

/// Fills the simulated mailboxes with what the LMS would have left there: an event for each added
/// selection, a few deleted by their owners, and the LMS's duplicates and orphans, so `verify`
/// and `reconcile` have something to find in the demo. Deterministic, like the database.
pub async fn seed_simulator(
    store: &crate::store::Store,
    sim: &SimHandle,
) -> Result<SeedReport, String> {
    seed_mailboxes(store, sim, Leftovers::AsTheLmsLeftThem).await
}

/// Fills the simulated mailboxes with the events the database implies: one under the id each
/// added selection holds, plus the `leftovers` asked for.
pub async fn seed_mailboxes(
    store: &crate::store::Store,
    sim: &SimHandle,
    leftovers: Leftovers,
) -> Result<SeedReport, String> {
    let leftovers = leftovers == Leftovers::AsTheLmsLeftThem;
    use crate::domain::{Filter, PageRequest, Sort, SortKey, SyncState};
    let page = store
        .page(&PageRequest {
            filter: Filter {
                states: vec![SyncState::Added, SyncState::AddedStaleError],
                ..Filter::default()
            },
            sort: Sort::by(SortKey::Id, false),
            after: None,
            limit: SEED_LIMIT,
        })
        .await
        .map_err(|e| e.to_string())?;
    let slots = store.all_slots().await.map_err(|e| e.to_string())?;
    let state = sim.state();
    let mut report = SeedReport::default();
    for (n, row) in page.rows.iter().enumerate() {
        let Some(event_id) = row.sync.outlook_event_id.as_deref() else {
            continue;
        };
        let mailbox = row.email.trim();
        if mailbox.is_empty() {
            continue;
        }
        let Some(event) = lms_event(
            &row.conference_title,
            &row.platform,
            row.slot_date,
            row.slot_start,
            row.slot_end,
            &row.timezone,
        ) else {
            continue;
        };
        // The row holds the REST id the LMS got back (its calls send no `Prefer: IdType`).
        state.plant_event_with_id(mailbox, Some(event_id), &event)?;
        if leftovers && n % 40 == 7 {
            // Deleted by its owner: now in Deleted Items, its immutable id unchanged.
            state.delete_as_owner(mailbox, event_id);
            report.deleted_in_outlook += 1;
            continue;
        }
        report.events += 1;
        if leftovers && n % 30 == 11 {
            state.plant_event(mailbox, &event)?;
            report.duplicates += 1;
        }
        // Another slot of the same conference: the one the person held before changing.
        let other = slots
            .iter()
            .find(|s| s.conference_id == row.conference_id && s.id != row.time_slot_id);
        if leftovers
            && n % 50 == 23
            && let Some(slot) = other
            && let Some(event) = lms_event(
                &row.conference_title,
                &row.platform,
                slot.date,
                slot.start_time,
                slot.end_time,
                &slot.timezone,
            )
        {
            state.plant_event(mailbox, &event)?;
            report.other_slot += 1;
        }
    }
    Ok(report)
}

/// An event as the LMS sends it: the conference title as subject, wall-clock times in the slot's
/// IANA zone, no calsync tag, and a Teams meeting asked for on Teams conferences (so Exchange adds
/// its meeting block). None when the slot's zone is unusable (the LMS's call failed too).
fn lms_event(
    title: &str,
    platform: &str,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    zone: &str,
) -> Option<serde_json::Value> {
    let window = crate::domain::resolve_slot_window(date, start, end, zone).ok()?;
    let local = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    // A zone Exchange refuses (an alias like America/Buenos_Aires) is kept the way Exchange
    // keeps every event: in a Windows zone.
    let times = if crate::sim::accepts_time_zone(zone) {
        crate::sync::zones::GraphTimes {
            time_zone: zone.to_string(),
            start: local(window.start_local),
            end: local(window.end_local),
        }
    } else {
        crate::sync::zones::graph_times(&window)
    };
    let mut event = serde_json::json!({
        "subject": crate::sync::payload::subject(title),
        "body": {"contentType": "HTML", "content": "<p>Added by the LMS.</p>"},
        "start": {"dateTime": times.start, "timeZone": times.time_zone},
        "end": {"dateTime": times.end, "timeZone": times.time_zone},
    });
    if platform == "teams" {
        event["isOnlineMeeting"] = serde_json::json!(true);
        event["onlineMeetingProvider"] = serde_json::json!("teamsForBusiness");
    }
    Some(event)
}
