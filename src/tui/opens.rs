//! Where Enter leads from a screen, as data: each screen's own file decides it, `App` opens it.

use crate::domain::{ConferenceSummary, Filter};

/// Where Enter leads from a screen.
pub enum Opens {
    Nothing,
    Conferences,
    List { title: String, filter: Filter },
    Slots(ConferenceSummary),
    ErrorDetail(i64),
    Person(i64),
}
