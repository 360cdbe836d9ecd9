//! What the LMS's calendar sync would have recorded for a selection, in its real text formats.

use chrono::{DateTime, Duration, Utc};

use super::policy::{BRANCHES, fnv1a, mailbox_state};
use crate::sim::MailboxState;
use crate::sim::rng::SplitMix64;

pub(super) struct Outcome {
    pub(super) selected_at: DateTime<Utc>,
    pub(super) added: bool,
    pub(super) event_id: Option<String>,
    pub(super) attempted: Option<DateTime<Utc>>,
    pub(super) error: Option<String>,
}

fn graph_url(email: &str) -> String {
    format!("https://graph.microsoft.com/v1.0/users/{email}/calendar/events")
}

/// What the LMS would have written for this person, in its real text formats.
pub(super) fn sync_outcome(
    rng: &mut SplitMix64,
    email: &str,
    branch: i64,
    zone: &str,
    anchor: DateTime<Utc>,
) -> Outcome {
    // Recent selections are denser: a quadratic skew towards the anchor.
    let age_minutes = {
        let r = rng.below(1000) as i64;
        r * r * 30 * 24 * 60 / 1_000_000
    };
    let selected_at = anchor
        - Duration::minutes(age_minutes)
        - Duration::seconds(rng.below(60) as i64)
        - Duration::microseconds(if rng.chance(70) {
            rng.below(1_000_000) as i64
        } else {
            0
        });
    let attempted_at = selected_at + Duration::milliseconds(400 + rng.below(3_000) as i64);
    let event_id = || format!("AAMkAGDemo{:016x}=", rng_id(email, selected_at));
    let failed = |error: String| Outcome {
        selected_at,
        added: false,
        event_id: None,
        attempted: Some(attempted_at),
        error: Some(error),
    };
    // Never attempted: the newest selections (the LMS's page failed before the call) and some
    // older ones made before calendar sync existed.
    if age_minutes < 90 && rng.chance(60) || rng.chance(6) {
        return Outcome {
            selected_at,
            added: false,
            event_id: None,
            attempted: None,
            error: if rng.chance(10) {
                Some(String::new())
            } else {
                None
            },
        };
    }
    let integration = BRANCHES
        .iter()
        .find(|b| b.id == branch)
        .and_then(|b| b.integration);
    if integration.is_none() {
        return failed("No Teams integration available".to_string());
    }
    if zone == "Foo/Bar" {
        return failed("'Foo/Bar'".to_string());
    }
    if email.is_empty() {
        return failed("User email address is required for calendar integration".to_string());
    }
    if integration == Some("online") {
        return failed(format!(
            "Token acquisition error: Token acquisition failed: AADSTS7000215: Invalid client secret provided. \
             Ensure the secret being sent in the request is the client secret value, not the client secret ID, \
             for a secret added to app '00000000-0000-4000-8000-000000001003'. Trace ID: {:08x}-demo \
             Correlation ID: {:08x}-demo Timestamp: {}",
            rng.next_u64() as u32,
            rng.next_u64() as u32,
            attempted_at.format("%Y-%m-%d %H:%M:%SZ")
        ));
    }
    match mailbox_state(email) {
        MailboxState::Unknown | MailboxState::NoMailbox | MailboxState::AccessDenied => {
            return failed(if rng.chance(15) {
                // The wording of rows written before the LMS's 2025-11-24 change.
                format!("The user '{email}' does not exist in Azure AD or doesn't have a mailbox")
            } else {
                format!(
                    "API request failed: 404 Client Error: Not Found for url: {}",
                    graph_url(email)
                )
            });
        }
        MailboxState::Ok => {}
    }
    let roll = rng.below(1000);
    match roll {
        0..=19 => failed(format!(
            "API request failed: 429 Client Error: Too Many Requests for url: {}",
            graph_url(email)
        )),
        20..=29 => failed(
            "API request failed: HTTPSConnectionPool(host='graph.microsoft.com', port=443): Read timed out. (read timeout=30)"
                .to_string(),
        ),
        30..=34 => failed(format!(
            "API request failed: 503 Server Error: Service Unavailable for url: {}",
            graph_url(email)
        )),
        35 => failed(format!(
            "API request failed: 400 Client Error: Bad Request \u{1b}[31mfor url\u{1b}[0m: {} — {}",
            graph_url(email),
            "détails: ".to_string() + &"x".repeat(2600)
        )),
        36..=54 => Outcome {
            selected_at,
            added: false,
            event_id: None,
            attempted: Some(attempted_at),
            error: None,
        },
        55..=84 => Outcome {
            selected_at,
            added: true,
            event_id: Some(event_id()),
            attempted: Some(attempted_at),
            error: Some(format!(
                "API request failed: 429 Client Error: Too Many Requests for url: {}",
                graph_url(email)
            )),
        },
        _ => Outcome {
            selected_at,
            added: true,
            event_id: Some(event_id()),
            attempted: Some(attempted_at),
            error: if rng.chance(20) { Some(String::new()) } else { None },
        },
    }
}

fn rng_id(email: &str, at: DateTime<Utc>) -> u64 {
    fnv1a(email.as_bytes()) ^ at.timestamp_micros() as u64
}
