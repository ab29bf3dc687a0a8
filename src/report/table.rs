//! Query results as text cells, the common input of the HTML and Markdown renderers (so both
//! show the very same numbers).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;

/// A small result table: column names and rows of display text (empty for null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableData {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells, as many as columns each.
    pub rows: Vec<Vec<String>>,
}

/// Rows a report table shows; the rest is one `trailmap query` away.
pub const TOP_ROWS: usize = 15;

impl TableData {
    /// The first `limit` rows (all of them with `None`), and how many were left out.
    pub fn head(&self, limit: Option<usize>) -> (&[Vec<String>], usize) {
        let shown = limit.map_or(self.rows.len(), |l| l.min(self.rows.len()));
        (&self.rows[..shown], self.rows.len() - shown)
    }

    /// The text of batches.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<TableData> {
        let mut table = TableData::default();
        let options = FormatOptions::default().with_null("");
        for batch in batches {
            if table.columns.is_empty() {
                table.columns = batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
            }
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                table.rows.push(
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect(),
                );
            }
        }
        Ok(table)
    }

    /// The index of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cells of one column, parsed as counts (unparsable cells count 0).
    pub fn counts(&self, name: &str) -> Vec<u64> {
        let Some(i) = self.column(name) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .map(|r| r[i].parse().unwrap_or(0))
            .collect()
    }

    /// The cells of one column.
    pub fn texts(&self, name: &str) -> Vec<&str> {
        let Some(i) = self.column(name) else {
            return Vec::new();
        };
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }
}
