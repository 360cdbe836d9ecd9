//! Writes the demo database in the order the LMS's history would have: branches, staff and
//! integrations, forty conferences with their slots, the instructors' automatic registrations,
//! then learners and their selections until the asked-for count. Every random choice comes from
//! one seeded generator, in a fixed order, so a seed always gives the same file.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rusqlite::{Connection, params};

use super::catalogue::{
    FIRST_NAMES, LAST_NAMES, PLATFORMS, TITLES, ZONES, ascii, description, meeting_link,
    special_slot, weighted,
};
use super::lms_rows::{
    BranchRow, ConferenceRow, IntegrationRow, SelectionRow, SlotRow, SqliteWriter, UserRow,
};
use super::outcome::sync_outcome;
use super::policy::{BRANCHES, Branch, INTEGRATIONS, PERSONAL_DOMAIN, demo_client_id, demo_secret};
use super::{DEMO_APPLICATION_ID, DemoReport, DemoSpec};
use crate::sim::rng::SplitMix64;
use crate::store::{django_datetime, sqlite_message};

const SCHEMA: &str = include_str!("../../assets/schema/sqlite.sql");
/// Indexes are built after the rows: several times faster than maintaining them per insert.
const INDEX_MARKER: &str = "\n-- Indexes";

fn sql_error(e: rusqlite::Error) -> String {
    format!("demo generation failed: {}", sqlite_message(&e))
}

/// Writes the whole demo database into the (new) file at `path`.
pub(super) fn generate(
    path: &Path,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DemoReport, String> {
    let mut conn = Connection::open(path).map_err(sql_error)?;
    let indexes = create_tables(&conn)?;
    let tx = conn.transaction().map_err(sql_error)?;
    let mut lms = Generator::new(&tx, spec)?;
    lms.branches(&tx)?;
    let instructors = lms.admins_and_instructors()?;
    lms.integrations(&tx)?;
    let conferences = lms.conferences(&tx, &instructors)?;
    lms.instructor_selections(&conferences)?;
    lms.learner_selections(&conferences, progress)?;
    let counts = Counts {
        conferences: conferences.len() as u64,
        slots: lms.slot_counts.len() as u64 - 1,
        users: (lms.next_user - 1) as u64,
        selections: lms.written,
    };
    let slot_counts = std::mem::take(&mut lms.slot_counts);
    drop(lms);
    write_participant_counts(&tx, &slot_counts)?;
    tx.commit().map_err(sql_error)?;
    progress(spec.selections, spec.selections);
    conn.execute_batch(indexes).map_err(sql_error)?;
    conn.execute_batch("ANALYZE;").map_err(sql_error)?;
    Ok(DemoReport {
        path: path.to_path_buf(),
        conferences: counts.conferences,
        slots: counts.slots,
        users: counts.users,
        selections: counts.selections,
    })
}

struct Counts {
    conferences: u64,
    slots: u64,
    users: u64,
    selections: u64,
}

/// Sets up the file and creates the LMS's tables; returns the index statements for later.
fn create_tables(conn: &Connection) -> Result<&'static str, String> {
    // The demo file is ours alone while it is built: no journal, no fsync.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON;",
    )
    .map_err(sql_error)?;
    conn.pragma_update(None, "application_id", DEMO_APPLICATION_ID)
        .map_err(sql_error)?;
    let (tables, indexes) = SCHEMA
        .split_once(INDEX_MARKER)
        .and_then(|(tables, rest)| Some((tables, rest.split_once('\n')?.1)))
        .ok_or("the bundled schema has no index section")?;
    conn.execute_batch(tables).map_err(sql_error)?;
    Ok(indexes)
}

/// The LMS's denormalised counter, drifting on a few slots as it does in production.
fn write_participant_counts(conn: &Connection, slot_counts: &[i64]) -> Result<(), String> {
    let mut update = conn
        .prepare(
            "UPDATE conferences_conferencetimeslot SET current_participants = ?1, \
             max_participants = ?2 WHERE id = ?3",
        )
        .map_err(sql_error)?;
    for (id, count) in slot_counts.iter().enumerate().skip(1) {
        let drift = i64::from(id % 17 == 0);
        let max = if id % 4 == 0 { count + 5 } else { 0 };
        update
            .execute(params![count + drift, max, id as i64])
            .map_err(sql_error)?;
    }
    Ok(())
}

#[derive(Clone)]
struct PlannedSlot {
    id: i64,
    zone: &'static str,
}

struct PlannedConference {
    id: i64,
    instructors: Vec<i64>,
    slots: Vec<PlannedSlot>,
}

/// A user a selection is written for.
#[derive(Clone)]
struct Person {
    id: i64,
    email: String,
    branch: i64,
}

/// The generator's state: the one random source, the row writers and the ids handed out.
struct Generator<'c> {
    rng: SplitMix64,
    anchor: DateTime<Utc>,
    total: u64,
    users: SqliteWriter<'c, UserRow>,
    selections: SqliteWriter<'c, SelectionRow>,
    /// The admins and instructors, by id − 1 (they are written first).
    staff: Vec<Person>,
    next_user: i64,
    next_selection: i64,
    written: u64,
    /// Selections per slot id (index 0 is unused).
    slot_counts: Vec<i64>,
}

impl<'c> Generator<'c> {
    fn new(conn: &'c Connection, spec: &DemoSpec) -> Result<Generator<'c>, String> {
        Ok(Generator {
            rng: SplitMix64::new(spec.seed),
            anchor: spec.anchor,
            total: spec.selections,
            users: SqliteWriter::new(conn).map_err(sql_error)?,
            selections: SqliteWriter::new(conn).map_err(sql_error)?,
            staff: Vec::new(),
            next_user: 1,
            next_selection: 1,
            written: 0,
            slot_counts: vec![0],
        })
    }

    fn ts(&self, before: Duration) -> String {
        django_datetime(self.anchor - before)
    }

    fn branches(&self, conn: &Connection) -> Result<(), String> {
        let mut writer = SqliteWriter::new(conn).map_err(sql_error)?;
        for b in &BRANCHES {
            writer
                .write(&BranchRow {
                    id: b.id,
                    name: b.name.to_string(),
                    created_at: self.ts(Duration::days(400)),
                    teams_integration_enabled: b.teams_enabled,
                })
                .map_err(sql_error)?;
        }
        Ok(())
    }

    fn integrations(&self, conn: &Connection) -> Result<(), String> {
        let mut writer = SqliteWriter::new(conn).map_err(sql_error)?;
        for i in &INTEGRATIONS {
            writer
                .write(&IntegrationRow {
                    id: i.id,
                    name: i.name.to_string(),
                    is_active: i.active,
                    created_at: self.ts(Duration::days(200)),
                    client_id: demo_client_id(i.id),
                    client_secret: demo_secret(i.id),
                    tenant_id: i.tenant.to_string(),
                    branch: i.branch,
                    owner: i.owner,
                })
                .map_err(sql_error)?;
        }
        Ok(())
    }

    /// Writes a user with the next id and returns it.
    fn user(
        &mut self,
        username: &str,
        (first, last): (&str, &str),
        email: &str,
        role: &str,
        branch: &Branch,
    ) -> Result<i64, String> {
        let id = self.next_user;
        let timezone = if branch.id == 3 {
            "America/New_York"
        } else {
            "Europe/London"
        };
        self.users
            .write(&UserRow {
                id,
                username: username.to_string(),
                first_name: first.to_string(),
                last_name: last.to_string(),
                email: email.to_string(),
                is_staff: role != "learner",
                date_joined: django_datetime(
                    self.anchor - Duration::days(300) + Duration::seconds(id),
                ),
                role: role.to_string(),
                timezone: timezone.to_string(),
                branch: Some(branch.id),
            })
            .map_err(sql_error)?;
        self.next_user += 1;
        Ok(id)
    }

    /// An admin per branch (the integration owners, ids 1 to 5), then sixteen instructors.
    /// Returns the instructors' ids.
    fn admins_and_instructors(&mut self) -> Result<Vec<i64>, String> {
        for b in &BRANCHES {
            let username = format!("admin.{}", b.domain.split('.').next().unwrap_or("x"));
            let email = format!("{username}@{}", b.domain);
            let id = self.user(&username, ("Branch", "Admin"), &email, "admin", b)?;
            self.staff.push(Person {
                id,
                email,
                branch: b.id,
            });
        }
        let mut instructors = Vec::new();
        for i in 0..16u64 {
            // Most tutors work at the two big campuses; one at each of the others.
            let branch = &BRANCHES[match i {
                13 => 2,
                14 => 3,
                15 => 4,
                _ => (i % 2) as usize,
            }];
            let first = FIRST_NAMES[(i * 7 % 32) as usize];
            let last = LAST_NAMES[(i * 5 % 24) as usize];
            let username = format!("tutor{:02}", i + 1);
            let email = format!("{}.{}@{}", ascii(first), ascii(last), branch.domain);
            let id = self.user(&username, (first, last), &email, "instructor", branch)?;
            instructors.push(id);
            self.staff.push(Person {
                id,
                email,
                branch: branch.id,
            });
        }
        Ok(instructors)
    }

    /// A conference per title, each with three to six slots.
    fn conferences(
        &mut self,
        conn: &Connection,
        instructors: &[i64],
    ) -> Result<Vec<PlannedConference>, String> {
        let mut conference_rows = SqliteWriter::new(conn).map_err(sql_error)?;
        let mut slot_rows = SqliteWriter::new(conn).map_err(sql_error)?;
        let mut conferences = Vec::new();
        for (n, title) in TITLES.iter().enumerate() {
            let id = n as i64 + 1;
            let platform = weighted(&mut self.rng, &PLATFORMS);
            let creator = instructors[n % instructors.len()];
            let mut conference_instructors = vec![creator];
            if n % 3 == 0 {
                conference_instructors.push(instructors[(n + 5) % instructors.len()]);
            }
            let day = self.anchor.date_naive() + Duration::days(n as i64 * 3 - 45);
            let zone = *self.rng.pick(&ZONES);
            conference_rows
                .write(&ConferenceRow {
                    id,
                    title: (*title).to_string(),
                    description: description(&mut self.rng, title),
                    date: day.to_string(),
                    start_time: "10:00:00".to_string(),
                    end_time: Some("11:00:00".to_string()),
                    timezone: zone.to_string(),
                    meeting_link: Some(meeting_link(platform, n as u64)),
                    meeting_platform: platform.to_string(),
                    created_at: self.ts(Duration::days(60)),
                    created_by: creator,
                    use_time_slots: !(n == 12 || n == 31),
                })
                .map_err(sql_error)?;
            let count = 3 + self.rng.below(4);
            let slots = (0..count)
                .map(|k| self.slot(&mut slot_rows, (n, k), id, (day, zone, platform)))
                .collect::<Result<_, _>>()?;
            conferences.push(PlannedConference {
                id,
                instructors: conference_instructors,
                slots,
            });
        }
        Ok(conferences)
    }

    /// Slot `k` of conference `n`: the awkward one planned for that place, or an ordinary slot
    /// on or after the conference's day.
    fn slot(
        &mut self,
        writer: &mut SqliteWriter<'_, SlotRow>,
        (n, k): (usize, u64),
        conference: i64,
        (day, zone, platform): (NaiveDate, &'static str, &str),
    ) -> Result<PlannedSlot, String> {
        let (date, start, end, slot_zone, slot_link) =
            special_slot(n, k as usize).unwrap_or_else(|| {
                let hour = 9 + (k as u32 * 2) % 8;
                let minute = if k % 2 == 0 { 0 } else { 30 };
                (
                    day + Duration::days(k as i64 / 2),
                    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default(),
                    NaiveTime::from_hms_opt(hour + 1, minute, 0).unwrap_or_default(),
                    zone,
                    if k == 1 {
                        Some(meeting_link(platform, 1000 + n as u64))
                    } else {
                        Some(String::new())
                    },
                )
            });
        let id = self.slot_counts.len() as i64;
        writer
            .write(&SlotRow {
                id,
                date: date.to_string(),
                start_time: start.format("%H:%M:%S").to_string(),
                end_time: end.format("%H:%M:%S").to_string(),
                timezone: slot_zone.to_string(),
                max_participants: 0,
                current_participants: 0,
                meeting_link: slot_link,
                meeting_id: Some(String::new()),
                meeting_password: Some(String::new()),
                is_available: k != 3,
                created_at: self.ts(Duration::days(50)),
                conference,
            })
            .map_err(sql_error)?;
        self.slot_counts.push(0);
        Ok(PlannedSlot {
            id,
            zone: slot_zone,
        })
    }

    /// One selection, with what the LMS's calendar sync recorded for it.
    fn selection(
        &mut self,
        conference: &PlannedConference,
        slot: &PlannedSlot,
        person: &Person,
    ) -> Result<(), String> {
        let outcome = sync_outcome(
            &mut self.rng,
            &person.email,
            person.branch,
            slot.zone,
            self.anchor,
        );
        let id = self.next_selection;
        self.selections
            .write(&SelectionRow {
                id,
                outlook_event_id: outcome.event_id,
                calendar_added: outcome.added,
                calendar_add_attempted_at: outcome.attempted.map(django_datetime),
                calendar_error: outcome.error,
                selected_at: django_datetime(outcome.selected_at),
                ip_address: Some(format!("198.51.100.{}", id % 250 + 1)),
                conference: conference.id,
                slot: slot.id,
                user: person.id,
            })
            .map_err(sql_error)?;
        self.slot_counts[slot.id as usize] += 1;
        self.next_selection += 1;
        self.written += 1;
        Ok(())
    }

    /// Instructors are auto-registered for every available slot of their conferences.
    fn instructor_selections(&mut self, conferences: &[PlannedConference]) -> Result<(), String> {
        for conference in conferences {
            for &instructor in &conference.instructors {
                let person = self.staff[(instructor - 1) as usize].clone();
                for slot in &conference.slots {
                    if self.written >= self.total {
                        return Ok(());
                    }
                    self.selection(conference, slot, &person)?;
                }
            }
        }
        Ok(())
    }

    /// Learners hold one slot in each of one to three conferences, until the total is written.
    fn learner_selections(
        &mut self,
        conferences: &[PlannedConference],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), String> {
        let mut learner = 0u64;
        while self.written < self.total {
            learner += 1;
            let person = self.learner(learner)?;
            let first_conference = self.rng.below(conferences.len() as u64) as usize;
            let wanted = (1 + self.rng.below(3)).min(self.total - self.written);
            for j in 0..wanted as usize {
                let conference = &conferences[(first_conference + j * 13) % conferences.len()];
                let slot = self.rng.pick(&conference.slots).clone();
                self.selection(conference, &slot, &person)?;
            }
            if learner.is_multiple_of(4096) {
                progress(self.written, self.total);
            }
        }
        Ok(())
    }

    /// The `n`th learner: mostly at the big campuses, a few with awkward addresses.
    fn learner(&mut self, n: u64) -> Result<Person, String> {
        let branch = &BRANCHES[match self.rng.below(100) {
            0..=44 => 0,
            45..=85 => 1,
            86..=91 => 2,
            92..=95 => 3,
            _ => 4,
        }];
        let first = *self.rng.pick(&FIRST_NAMES);
        let last = *self.rng.pick(&LAST_NAMES);
        let username = format!("{}.{}{}", ascii(first), ascii(last), n);
        let email = match n {
            3 => String::new(),
            5 => format!("Mixed.Case{n}@North.Example"),
            8 => format!("o'brien+lms{n}@south.example"),
            _ if self.rng.chance(4) => format!("{username}@{PERSONAL_DOMAIN}"),
            _ => format!("{username}@{}", branch.domain),
        };
        let id = self.user(&username, (first, last), &email, "learner", branch)?;
        Ok(Person {
            id,
            email,
            branch: branch.id,
        })
    }
}
