//! A table's rows, its cursor and the read it waits for, as state (the widgets draw it): the
//! screens that list rows hold one.

#[derive(Debug, Clone)]
pub struct Table<T> {
    pub rows: Vec<T>,
    pub cursor: usize,
    pub pending: Option<u64>,
    pub error: Option<String>,
}

impl<T> Table<T> {
    pub fn loading(generation: u64) -> Table<T> {
        Table {
            rows: Vec::new(),
            cursor: 0,
            pending: Some(generation),
            error: None,
        }
    }

    pub fn move_by(&mut self, delta: i64) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as i64 - 1;
        self.cursor = (self.cursor as i64 + delta).clamp(0, last) as usize;
    }

    pub fn current(&self) -> Option<&T> {
        self.rows.get(self.cursor)
    }

    /// Takes the answer in; the caller has checked it is the one this table waits for.
    pub fn fill(&mut self, result: Result<Vec<T>, String>) {
        self.pending = None;
        match result {
            Ok(rows) => {
                self.cursor = self.cursor.min(rows.len().saturating_sub(1));
                self.rows = rows;
            }
            Err(e) => self.error = Some(e),
        }
    }
}
