//! The table format on a terminal: a result fitted to the terminal's width, as DuckDB's and
//! psql's renderers do. Middle columns give way to a `…` column, long values are cut with `…`,
//! a long result shows its first and last rows, numbers are right-aligned, and a footer says
//! what was left out (`3,000 rows (40 shown), 45 columns (9 shown)`). `-x` prints each row as
//! `column = value` lines. Output that is not a terminal is not fitted (see [`super::output`]).

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Rows a fitted table shows unless told otherwise.
pub const DEFAULT_MAX_ROWS: usize = 40;
/// The width used when the terminal's cannot be found.
const FALLBACK_WIDTH: usize = 120;
/// Rows `--wide` shows at most (as many as the table format holds when piped).
const WIDE_ROWS: usize = super::output::TABLE_ROW_LIMIT;
/// Characters a value shows at most when there are several columns (without `--wide`).
const CELL_WIDTH: usize = 32;
/// How a cut value ends, and the column standing for those left out.
const ELLIPSIS: &str = "…";

/// How to fit a result to the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// Rows shown at most (the first half and the last half of a longer result).
    pub max_rows: usize,
    /// Characters per line at most.
    pub max_width: usize,
    /// Show every row, column and character.
    pub wide: bool,
    /// One `column = value` line per column, one block per row.
    pub expanded: bool,
}

impl Fit {
    /// The fit for stdout when it is a terminal (`None` otherwise, when output stays whole):
    /// `max_rows` and `max_width` when given, else [`DEFAULT_MAX_ROWS`] and the terminal's
    /// width (`COLUMNS` when set, as shells and tests set it).
    pub fn for_stdout(
        max_rows: Option<usize>,
        max_width: Option<usize>,
        wide: bool,
        expanded: bool,
    ) -> Option<Fit> {
        std::io::stdout().is_terminal().then(|| Fit {
            max_rows: max_rows.unwrap_or(DEFAULT_MAX_ROWS).max(1),
            max_width: max_width.unwrap_or_else(terminal_width).max(20),
            wide,
            expanded,
        })
    }
}

/// The terminal's width: `COLUMNS`, else what the terminal says, else [`FALLBACK_WIDTH`].
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|w: &usize| *w > 0)
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        .unwrap_or(FALLBACK_WIDTH)
}

/// The rows a fitted table keeps of a stream: the first and the last (whole batches, sliced at
/// the end, so memory holds at most the rows shown and one batch), and the count.
#[derive(Debug, Default)]
pub struct Kept {
    head: Vec<RecordBatch>,
    head_rows: usize,
    tail: VecDeque<RecordBatch>,
    tail_rows: usize,
    total: usize,
}

impl Kept {
    /// Takes in a batch, keeping `fit.max_rows` rows (all of them with `fit.wide`).
    pub fn add(&mut self, batch: &RecordBatch, fit: &Fit) {
        self.total += batch.num_rows();
        if fit.wide {
            // Everything, up to what the piped table holds.
            let room = WIDE_ROWS
                .saturating_sub(self.head_rows)
                .min(batch.num_rows());
            if room > 0 {
                self.head.push(batch.slice(0, room));
                self.head_rows += room;
            }
            return;
        }
        let head_room = fit.max_rows.div_ceil(2).saturating_sub(self.head_rows);
        let to_head = batch.num_rows().min(head_room);
        if to_head > 0 {
            self.head.push(batch.slice(0, to_head));
            self.head_rows += to_head;
        }
        if to_head < batch.num_rows() {
            let rest = batch.slice(to_head, batch.num_rows() - to_head);
            self.tail_rows += rest.num_rows();
            self.tail.push_back(rest);
            let tail_room = fit.max_rows / 2;
            while let Some(front) = self.tail.front() {
                if self.tail_rows - front.num_rows() < tail_room {
                    break;
                }
                self.tail_rows -= front.num_rows();
                self.tail.pop_front();
            }
        }
    }

    /// The head rows and the tail rows (cut to the room), and whether rows were left out.
    fn rows(&self, fit: &Fit) -> (Vec<RecordBatch>, Vec<RecordBatch>, bool) {
        let tail_room = if fit.wide { 0 } else { fit.max_rows / 2 };
        let mut tail: Vec<RecordBatch> = self.tail.iter().cloned().collect();
        let mut extra = self.tail_rows.saturating_sub(tail_room);
        for batch in &mut tail {
            let cut = extra.min(batch.num_rows());
            *batch = batch.slice(cut, batch.num_rows() - cut);
            extra -= cut;
        }
        let shown = self.head_rows + self.tail_rows.min(tail_room);
        let elided = shown < self.total;
        if !elided {
            // Everything fits: the tail follows the head with no gap.
            let mut all = self.head.clone();
            all.extend(tail);
            return (all, Vec::new(), false);
        }
        (self.head.clone(), tail, true)
    }
}

/// Writes the kept rows of a result of `schema` fitted by `fit`.
pub fn write_fitted(
    out: &mut dyn Write,
    schema: &SchemaRef,
    kept: &Kept,
    fit: &Fit,
) -> std::io::Result<()> {
    let (head, tail, rows_elided) = kept.rows(fit);
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let head_cells = cells(&head).map_err(std::io::Error::other)?;
    let tail_cells = cells(&tail).map_err(std::io::Error::other)?;
    let shown_rows = head_cells.len() + tail_cells.len();
    if fit.expanded {
        write_expanded(out, &names, (&head_cells, &tail_cells, kept.total), fit)?;
        return write_footer(
            out,
            kept.total,
            shown_rows,
            names.len(),
            names.len(),
            rows_elided,
        );
    }
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    // One column may take the line; among several, a value takes at most [`CELL_WIDTH`].
    let cell_limit = match (fit.wide, names.len()) {
        (true, _) => usize::MAX,
        (false, 1) => fit.max_width.saturating_sub(4).max(8),
        (false, _) => CELL_WIDTH.min(fit.max_width.saturating_sub(4)).max(8),
    };
    let cut = |text: &str| shorten(text, cell_limit);
    let rows: Vec<Vec<String>> = head_cells
        .iter()
        .chain(&tail_cells)
        .map(|row| row.iter().map(|v| cut(v)).collect())
        .collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|c| {
            rows.iter()
                .map(|r| width(&r[c]))
                .chain([width(&cut(&names[c]))])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let (columns, gap_after) = match fit.wide {
        true => ((0..names.len()).collect(), None),
        false => fitting_columns(&widths, fit.max_width),
    };
    let mut table = Table::new();
    table
        .load_preset("||--+-++|    ++++++")
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header: Vec<String> = Vec::new();
    for (i, &c) in columns.iter().enumerate() {
        header.push(cut(&names[c]));
        if gap_after == Some(i) {
            header.push(ELLIPSIS.to_owned());
        }
    }
    table.set_header(header);
    let line = |row: &Vec<String>| -> Vec<String> {
        let mut out = Vec::new();
        for (i, &c) in columns.iter().enumerate() {
            out.push(row[c].clone());
            if gap_after == Some(i) {
                out.push(ELLIPSIS.to_owned());
            }
        }
        out
    };
    for row in &rows[..head_cells.len()] {
        table.add_row(line(row));
    }
    if rows_elided {
        let gap: Vec<String> = (0..columns.len() + usize::from(gap_after.is_some()))
            .map(|_| "·".to_owned())
            .collect();
        table.add_row(gap);
    }
    for row in &rows[head_cells.len()..] {
        table.add_row(line(row));
    }
    for (i, &c) in columns.iter().enumerate() {
        // The `…` column, when there is one, stands after position `gap_after`.
        let index = i + usize::from(gap_after.is_some_and(|g| i > g));
        if let (Some(column), true) = (table.column_mut(index), numeric[c]) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{table}")?;
    write_footer(
        out,
        kept.total,
        shown_rows,
        names.len(),
        columns.len(),
        rows_elided,
    )
}

/// Each row of `batches` as display texts (nulls as `NULL`, line breaks as `↵`).
fn cells(
    batches: &[RecordBatch],
) -> Result<Vec<Vec<String>>, datafusion::arrow::error::ArrowError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string().replace(['\n', '\r'], "↵"))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The columns that fit `max_width`, taken from both ends inwards, and the position (in the
/// kept list) after which a `…` column stands for the ones left out.
fn fitting_columns(widths: &[usize], max_width: usize) -> (Vec<usize>, Option<usize>) {
    // A column takes its width and three characters ("| " before, " " after); the line one more.
    let cost = |w: usize| w + 3;
    let all: usize = widths.iter().map(|w| cost(*w)).sum::<usize>() + 1;
    if all <= max_width || widths.len() <= 1 {
        return ((0..widths.len()).collect(), None);
    }
    // The `…` column is one character wide.
    let budget = max_width.saturating_sub(1 + cost(1));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let (mut used, mut lo, mut hi) = (0, 0, widths.len());
    // Alternately from the left and the right; a side whose next column does not fit gives
    // its turn to the other, until neither fits.
    let mut from_left = true;
    let mut refused = 0;
    while lo < hi && refused < 2 {
        let next = if from_left { lo } else { hi - 1 };
        if used + cost(widths[next]) > budget {
            refused += 1;
        } else {
            refused = 0;
            used += cost(widths[next]);
            if from_left {
                left.push(next);
                lo += 1;
            } else {
                right.push(next);
                hi -= 1;
            }
        }
        from_left = !from_left;
    }
    if left.is_empty() {
        // Not even the first column fits: it alone is shown, cut by the cells' limit.
        left.push(0);
        right.clear();
    }
    let gap = left.len() - 1;
    right.reverse();
    left.extend(right);
    (left, Some(gap))
}

/// Rows as `column = value` blocks.
fn write_expanded(
    out: &mut dyn Write,
    names: &[String],
    (head, tail, total): (&[Vec<String>], &[Vec<String>], usize),
    fit: &Fit,
) -> std::io::Result<()> {
    let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0);
    let (value_limit, line_limit) = match fit.wide {
        true => (usize::MAX, usize::MAX),
        false => (
            fit.max_width.saturating_sub(name_width + 3).max(8),
            fit.max_width,
        ),
    };
    let block = |out: &mut dyn Write, number: usize, row: &Vec<String>| -> std::io::Result<()> {
        let title = format!("-[ RECORD {number} ]");
        let rule = "-".repeat(
            fit.max_width
                .min(name_width + 40)
                .saturating_sub(width(&title)),
        );
        writeln!(out, "{title}{rule}")?;
        for (name, value) in names.iter().zip(row) {
            let pad = " ".repeat(name_width.saturating_sub(width(name)));
            let line = format!("{name}{pad} = {}", shorten(value, value_limit));
            writeln!(out, "{}", shorten(&line, line_limit))?;
        }
        Ok(())
    };
    for (i, row) in head.iter().enumerate() {
        block(out, i + 1, row)?;
    }
    if !tail.is_empty() {
        writeln!(out, "{ELLIPSIS}")?;
    }
    for (i, row) in tail.iter().enumerate() {
        block(out, total - tail.len() + i + 1, row)?;
    }
    Ok(())
}

/// The line saying what was left out, if anything was.
fn write_footer(
    out: &mut dyn Write,
    total_rows: usize,
    shown_rows: usize,
    columns: usize,
    shown_columns: usize,
    rows_elided: bool,
) -> std::io::Result<()> {
    if !rows_elided && shown_columns == columns {
        return Ok(());
    }
    let rows = match rows_elided {
        true => format!(
            "{} rows ({} shown)",
            thousands(total_rows),
            thousands(shown_rows)
        ),
        false => format!("{} rows", thousands(total_rows)),
    };
    let columns = match shown_columns < columns {
        true => format!("{} columns ({shown_columns} shown)", thousands(columns)),
        false => format!("{} columns", thousands(columns)),
    };
    writeln!(
        out,
        "{rows}, {columns}; --wide shows all, -x one row per block"
    )
}

/// `text` with its lines wrapped at spaces to `fit.max_width` (whole with `fit.wide`), each
/// continuation indented like its line plus two spaces; a word longer than a line is cut.
pub fn wrap(text: &str, fit: &Fit) -> String {
    if fit.wide {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut emit = |line: &str| {
        out.push_str(&shorten(line.trim_end(), fit.max_width));
        out.push('\n');
    };
    for line in text.lines() {
        let indent = " ".repeat(line.len() - line.trim_start().len());
        let mut current = indent.clone();
        for word in line.split_whitespace() {
            let empty = current.trim().is_empty();
            if !empty && width(&current) + 1 + width(word) > fit.max_width {
                emit(&current);
                current = format!("{indent}  ");
            } else if !empty {
                current.push(' ');
            }
            current.push_str(word);
        }
        emit(&current);
    }
    out
}

/// `text` cut to `limit` characters, ending in `…` when cut.
fn shorten(text: &str, limit: usize) -> String {
    if width(text) <= limit {
        return text.to_owned();
    }
    let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    format!("{kept}{ELLIPSIS}")
}

/// Characters of `text` (what a terminal shows of these values, near enough).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// `n` with commas between thousands (as the report writes counts).
fn thousands(n: usize) -> String {
    trailmap::report::html::thousands(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_kept_from_both_ends() {
        let (kept, gap) = fitting_columns(&[10, 10, 10, 10, 10], 40);
        assert_eq!(kept, [0, 4]);
        assert_eq!(gap, Some(0));
        let (kept, gap) = fitting_columns(&[10, 10], 80);
        assert_eq!((kept, gap), (vec![0, 1], None));
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(3000), "3,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
