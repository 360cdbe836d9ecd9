//! Column widths from content and the terminal's width (issue 13, item 6): every column gets
//! its least, then the columns that must not be cut (emails) get what their content needs, in
//! the caller's order, and what is left goes to the columns that grow (titles, errors). What
//! does not fit is reached by scrolling sideways.

/// What one column needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Never narrower (the header, or a useful stub of the content).
    pub least: usize,
    /// The widest content on screen (and the header).
    pub want: usize,
    /// Takes what is left once every column has what it wants.
    pub grows: bool,
}

/// Columns are separated by one space.
pub const SPACING: usize = 1;

/// The width of each column in `columns` terminal columns. `first` lists the columns that get
/// their content's width before the others (in that order); the rest follow in column order.
pub fn allot(needs: &[Need], first: &[usize], columns: usize) -> Vec<usize> {
    let mut widths: Vec<usize> = needs.iter().map(|n| n.least).collect();
    let spacing = SPACING * needs.len().saturating_sub(1);
    let Some(mut left) = columns.checked_sub(widths.iter().sum::<usize>() + spacing) else {
        return widths;
    };
    let rest = (0..needs.len()).filter(|i| !first.contains(i));
    for i in first.iter().copied().chain(rest) {
        let more = needs[i].want.saturating_sub(widths[i]).min(left);
        widths[i] += more;
        left -= more;
    }
    let growing: Vec<usize> = (0..needs.len()).filter(|&i| needs[i].grows).collect();
    if !growing.is_empty() {
        let share = left / growing.len();
        let odd = left % growing.len();
        for (n, &i) in growing.iter().enumerate() {
            widths[i] += share + usize::from(n < odd);
        }
    }
    widths
}

/// How many columns from `from` fit in `columns` (at least one, so something always shows).
pub fn fitting_from(widths: &[usize], from: usize, columns: usize) -> usize {
    let mut used = 0;
    let mut count = 0;
    for &w in widths.iter().skip(from) {
        let more = if count == 0 { w } else { w + SPACING };
        if used + more > columns && count > 0 {
            break;
        }
        used += more;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(least: usize, want: usize, grows: bool) -> Need {
        Need { least, want, grows }
    }

    /// ID, PERSON, EMAIL, CONFERENCE, STATE, ERROR.
    fn columns() -> Vec<Need> {
        vec![
            need(5, 5, false),
            need(8, 18, false),
            need(10, 31, false),
            need(10, 40, true),
            need(4, 16, false),
            need(10, 120, true),
        ]
    }

    #[test]
    fn emails_are_whole_as_soon_as_there_is_room_for_them() {
        let widths = allot(&columns(), &[2], 80);
        assert_eq!(widths.iter().sum::<usize>() + 5, 80);
        assert_eq!(widths[2], 31, "{widths:?}");
    }

    #[test]
    fn on_a_wide_terminal_every_column_has_its_content_and_the_growing_ones_share_the_rest() {
        let widths = allot(&columns(), &[2], 220);
        assert_eq!(&widths[..3], &[5, 18, 31]);
        assert_eq!(widths[4], 16, "STATE takes what its words need, no more");
        assert!(widths[3] >= 40 && widths[5] >= 120 - 40, "{widths:?}");
        assert_eq!(widths.iter().sum::<usize>() + 5, 220);
    }

    #[test]
    fn too_narrow_keeps_each_columns_least_for_scrolling_sideways() {
        let widths = allot(&columns(), &[2], 30);
        assert_eq!(widths, [5, 8, 10, 10, 4, 10]);
        assert_eq!(fitting_from(&widths, 0, 30), 3);
        assert_eq!(fitting_from(&widths, 3, 30), 3);
        assert_eq!(fitting_from(&[50], 0, 30), 1, "one column always shows");
    }
}
