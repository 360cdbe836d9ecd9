//! Writing one setting back into the operator's config file: the console's column choice
//! (`[console] columns`). The file is edited as text, one line replaced or added, so every
//! other setting and comment stays as written; the result is checked by reading it back as
//! a config before it replaces the file.

use std::path::Path;

use crate::config::ConfigFile;

/// Sets `[console] columns` to `names` in the file at `path` (created when missing).
pub fn set_console_columns(path: &Path, names: &[&str]) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read config file {}: {e}", path.display())),
    };
    let edited = with_console_columns(&text, names);
    toml::from_str::<ConfigFile>(&edited).map_err(|e| {
        format!(
            "cannot save the columns in {}: the edited file would not read back ({})",
            path.display(),
            e.message().lines().next().unwrap_or("not valid TOML")
        )
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // A whole new file or the old one, never half of one.
    let partial = path.with_extension("toml.partial");
    std::fs::write(&partial, edited)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write config file {}: {e}", path.display()))
}

/// `text` with its `[console]` table's `columns` line replaced, or added to the table, or the
/// table added at the end.
pub fn with_console_columns(text: &str, names: &[&str]) -> String {
    let value: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    let line = format!("columns = [{}]", value.join(", "));
    let lines: Vec<&str> = text.lines().collect();
    let is_header = |l: &str| uncommented(l).starts_with('[');
    let Some(header) = lines.iter().position(|l| uncommented(l) == "[console]") else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[console]\n{line}\n"));
        return out;
    };
    let end = lines
        .iter()
        .skip(header + 1)
        .position(|l| is_header(l))
        .map_or(lines.len(), |i| header + 1 + i);
    let existing = (header + 1..end).find(|&i| {
        uncommented(lines[i])
            .strip_prefix("columns")
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 1);
    match existing {
        Some(start) => {
            // An array written over several lines ends at the line that closes it.
            let mut depth = 0i32;
            let mut stop = start;
            for (i, l) in lines.iter().enumerate().take(end).skip(start) {
                depth += uncommented(l).matches('[').count() as i32;
                depth -= uncommented(l).matches(']').count() as i32;
                stop = i;
                if depth <= 0 {
                    break;
                }
            }
            out.extend(lines[..start].iter().map(|l| l.to_string()));
            out.push(line);
            out.extend(lines[stop + 1..].iter().map(|l| l.to_string()));
        }
        None => {
            out.extend(lines[..=header].iter().map(|l| l.to_string()));
            out.push(line);
            out.extend(lines[header + 1..].iter().map(|l| l.to_string()));
        }
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// The line without its comment, trimmed (names and headers hold no `#`).
fn uncommented(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 2] = ["id", "email"];

    #[test]
    fn a_file_without_the_table_gets_it_at_the_end_and_keeps_everything_else() {
        let text = "# mine\nrefresh_secs = 5 # fast\n\n[keymap]\nretry = \"ctrl-r\"\n";
        let edited = with_console_columns(text, &NAMES);
        assert_eq!(
            edited,
            "# mine\nrefresh_secs = 5 # fast\n\n[keymap]\nretry = \"ctrl-r\"\n\n[console]\ncolumns = [\"id\", \"email\"]\n"
        );
        let config: ConfigFile = toml::from_str(&edited).unwrap();
        assert_eq!(config.refresh_secs, Some(5));
        assert_eq!(config.keymap["retry"], "ctrl-r");
        assert_eq!(config.console.columns.unwrap(), NAMES);
    }

    #[test]
    fn the_columns_line_is_replaced_in_place_even_over_several_lines() {
        let text = "[console] # the lists\ncolumns = [\n  \"error\", # why\n]\n# after\n[theme]\ncolor = \"never\"\n";
        let edited = with_console_columns(text, &NAMES);
        assert_eq!(
            edited,
            "[console] # the lists\ncolumns = [\"id\", \"email\"]\n# after\n[theme]\ncolor = \"never\"\n"
        );
        let once_more = with_console_columns(&edited, &["state"]);
        assert!(
            once_more.contains("columns = [\"state\"]\n# after"),
            "{once_more}"
        );
    }

    #[test]
    fn a_table_without_the_key_gets_it_under_its_header() {
        let edited = with_console_columns("[console]\n\n[theme]\n", &NAMES);
        assert_eq!(
            edited,
            "[console]\ncolumns = [\"id\", \"email\"]\n\n[theme]\n"
        );
        assert_eq!(
            with_console_columns("", &NAMES),
            "[console]\ncolumns = [\"id\", \"email\"]\n"
        );
    }

    #[test]
    fn a_file_that_would_not_read_back_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("calsync-config-edit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        // A dotted key already defines the table: adding `[console]` would define it twice.
        std::fs::write(&path, "console.columns = [\"id\"]\n").unwrap();
        let error = set_console_columns(&path, &NAMES).unwrap_err();
        assert!(error.contains("would not read back"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "console.columns = [\"id\"]\n"
        );
        std::fs::write(&path, "refresh_secs = 2\n").unwrap();
        set_console_columns(&path, &NAMES).unwrap();
        let (config, _) = ConfigFile::load(Some(&path)).unwrap();
        assert_eq!(config.console.columns.unwrap(), NAMES);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
