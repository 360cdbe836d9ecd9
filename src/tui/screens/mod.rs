//! One file per screen of the stack: each draws itself, says how many table rows it shows in
//! the body it gets, and holds the screen's own rules (its cursor, what enter opens).

pub mod audit;
pub mod conferences;
pub mod error_detail;
pub mod overview;
pub mod overview_causes;
pub mod overview_failures;
pub mod parked;
pub mod person;
pub mod reconcile;
pub mod retries;
pub mod selections;
pub mod slots;
pub mod workers;
