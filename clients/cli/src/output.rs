//! How a command's answer reaches its reader: a short human summary (aligned columns) for a
//! person at a terminal, JSON for a script. `--json` or `--output` choose; by default a terminal
//! gets the summary and a pipe gets JSON, so `commerce … | jq` keeps working.
use std::io::{IsTerminal, Write};

use serde::Serialize;

/// `--output`: what stdout receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The summary on a terminal, JSON when stdout is a pipe or a file.
    #[default]
    Auto,
    /// The summary for a person, whatever stdout is.
    Human,
    /// JSON: one document, or one object per line for lists of rows.
    Json,
}

/// The format in effect for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
}

impl Output {
    /// `--json` wins; `auto` asks whether stdout is a terminal.
    pub fn choose(format: OutputFormat, json: bool) -> Self {
        match (json, format) {
            (true, _) | (false, OutputFormat::Json) => Output::Json,
            (false, OutputFormat::Human) => Output::Human,
            (false, OutputFormat::Auto) if std::io::stdout().is_terminal() => Output::Human,
            (false, OutputFormat::Auto) => Output::Json,
        }
    }

    /// Prints `value` as pretty JSON, or `human(value)` as text.
    pub fn print<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        match self {
            Output::Json => emit(&serde_json::to_string_pretty(value)?),
            Output::Human => emit(&human(value)),
        }
    }

    /// Prints rows as one JSON object per line, or `human(rows)` as text.
    pub fn print_rows<T: Serialize>(
        self,
        rows: &[T],
        human: impl FnOnce(&[T]) -> String,
    ) -> anyhow::Result<()> {
        match self {
            Output::Json => {
                let mut lines = String::new();
                for row in rows {
                    lines.push_str(&serde_json::to_string(row)?);
                    lines.push('\n');
                }
                emit(lines.trim_end_matches('\n'))
            }
            Output::Human => emit(&human(rows)),
        }
    }
}

/// Writes `text` and a newline to stdout. A reader that went away (`commerce … | head`) ends
/// the output quietly instead of a panic.
pub fn emit(text: &str) -> anyhow::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Columns aligned for reading: headers in capitals, numbers right-aligned.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    right_aligned: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `columns`: each header, and whether its column holds numbers (right-aligned).
    pub fn new(columns: &[(&'static str, bool)]) -> Self {
        Self {
            headers: columns.iter().map(|(header, _)| *header).collect(),
            right_aligned: columns.iter().map(|(_, right)| *right).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let width = |i: usize| {
            self.rows
                .iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([self.headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                let last = i + 1 == widths.len();
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    out.push_str("  ");
                }
                if self.right_aligned[i] {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    if !last {
                        out.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&mut self.headers.iter().copied());
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

/// `label: value` lines with the values aligned; empty values are left out.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, _)| label.chars().count() + 1)
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("{:<width$} {value}", format!("{label}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `1 sale`, `2 sales`: a count with its noun.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A text cut to `max` characters, with `…` when cut, so one long title keeps a table readable.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The text with each run of spaces as one: a table's rows, whatever the column widths; tests
/// compare summaries with it.
#[cfg(test)]
pub(crate) fn squeeze(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_its_columns_and_numbers_to_the_right() {
        let mut table = Table::new(&[("TITLE", false), ("QTY", true), ("PRICE", true)]);
        table
            .row(vec!["Tee".into(), "2".into(), "19.99 EUR".into()])
            .row(vec![
                "Organic hoodie".into(),
                "10".into(),
                "5.00 EUR".into(),
            ]);
        assert_eq!(
            table.render(),
            "TITLE           QTY      PRICE\n\
             Tee               2  19.99 EUR\n\
             Organic hoodie   10   5.00 EUR"
        );
    }

    #[test]
    fn fields_align_their_values_and_leave_out_empty_ones() {
        assert_eq!(
            fields(&[
                ("status", "confirmed".into()),
                ("reason", String::new()),
                ("total", "39.98 EUR".into())
            ]),
            "status: confirmed\ntotal:  39.98 EUR"
        );
        assert_eq!(shorten("Organic cotton tee", 10), "Organic c…");
    }
}
