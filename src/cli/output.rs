//! Writing query results: a table for people, CSV / JSON / NDJSON / Parquet for programs.

use super::terminal::{Fit, Kept, write_fitted};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::DataFrame;
use futures::StreamExt;

use trailmap::error::{Error, Result};

/// Output format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet (needs -o FILE or a redirected stdout).
    Parquet,
}

/// Wraps a writing failure with what was being written.
pub fn output_error(
    target: &str,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> Error + '_ {
    move |source| Error::Output {
        target: target.to_owned(),
        source,
    }
}

/// Refuses to write a binary format to a terminal (checked before any work is done).
pub fn refuse_binary_on_terminal(format: Format, path: Option<&Path>) -> Result<()> {
    if format == Format::Parquet && path.is_none() && std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "Parquet is binary: give -o FILE or redirect stdout".into(),
        ));
    }
    Ok(())
}

/// Opens `path` (or stdout) for writing `format`.
pub fn open_sink(format: Format, path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    refuse_binary_on_terminal(format, path)?;
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            File::create(path).map_err(|e| output_error(&target_name(Some(path)))(Box::new(e)))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

/// Writes `text` to `path` (or stdout).
pub fn write_text(text: &str, path: Option<&Path>) -> Result<()> {
    let target = target_name(path);
    let mut sink = open_sink(Format::Table, path)?;
    sink.write_all(text.as_bytes())
        .and_then(|()| sink.flush())
        .map_err(|e| output_error(&target)(Box::new(e)))
}

/// Writes `value` as indented JSON and a newline to `path` (or stdout).
pub fn write_json(value: &impl serde::Serialize, path: Option<&Path>) -> Result<()> {
    let target = target_name(path);
    let mut sink = open_sink(Format::Json, path)?;
    serde_json::to_writer_pretty(&mut sink, value)
        .map_err(|e| output_error(&target)(Box::new(e)))?;
    writeln!(sink)
        .and_then(|()| sink.flush())
        .map_err(|e| output_error(&target)(Box::new(e)))
}

/// How errors name the output.
pub fn target_name(path: Option<&Path>) -> String {
    path.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
}

/// Streams `frame` in `format` to `sink`, opened for `path` (or stdout). Returns the physical
/// plan that ran.
/// A table for a terminal is fitted to it by `fit` ([`super::terminal`]).
pub async fn write_results(
    frame: DataFrame,
    format: Format,
    sink: Box<dyn Write + Send>,
    path: Option<&Path>,
    fit: Option<Fit>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let target = target_name(path);
    let schema = frame.schema().inner().clone();
    let task = Arc::new(frame.task_ctx());
    let plan = frame.create_physical_plan().await?;
    let mut stream = execute_stream(Arc::clone(&plan), task)?;
    let mut writer = match (format, fit) {
        (Format::Table, Some(fit)) => BatchWriter::Terminal(sink, Kept::default(), fit),
        _ => BatchWriter::new(format, sink, &schema).map_err(output_error(&target))?,
    };
    while let Some(batch) = stream.next().await {
        writer.write(&batch?).map_err(output_error(&target))?;
    }
    writer.finish(&schema).map_err(output_error(&target))?;
    Ok(plan)
}

/// Writes one batch to `sink` in `format`.
pub fn write_batch(
    batch: &RecordBatch,
    format: Format,
    sink: Box<dyn Write + Send>,
    target: &str,
) -> Result<()> {
    let schema = batch.schema();
    let mut writer = BatchWriter::new(format, sink, &schema).map_err(output_error(target))?;
    writer.write(batch).map_err(output_error(target))?;
    writer.finish(&schema).map_err(output_error(target))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rows the table format shows at most: it lays rows out by their widths, so it holds them; past
/// this, rows are counted, not held, and a note points to the streaming formats.
pub const TABLE_ROW_LIMIT: usize = 1_000;

/// The rows a table shows, and how many there were in all.
struct TableRows {
    shown: Vec<RecordBatch>,
    held: usize,
    total: usize,
}

impl TableRows {
    fn add(&mut self, batch: &RecordBatch) {
        let room = TABLE_ROW_LIMIT - self.held;
        if room > 0 {
            let kept = batch.slice(0, batch.num_rows().min(room));
            self.held += kept.num_rows();
            self.shown.push(kept);
        }
        self.total += batch.num_rows();
    }
}

/// A writer for one format; the table format holds up to [`TABLE_ROW_LIMIT`] rows, the others
/// stream.
enum BatchWriter {
    Table(Box<dyn Write + Send>, TableRows),
    Terminal(Box<dyn Write + Send>, Kept, Fit),
    Csv(csv::Writer<Box<dyn Write + Send>>),
    Json(ArrayWriter<Box<dyn Write + Send>>),
    Ndjson(LineDelimitedWriter<Box<dyn Write + Send>>),
    Parquet(ArrowWriter<Box<dyn Write + Send>>),
}

impl BatchWriter {
    fn new(
        format: Format,
        sink: Box<dyn Write + Send>,
        schema: &datafusion::arrow::datatypes::SchemaRef,
    ) -> Result<Self, BoxError> {
        Ok(match format {
            Format::Table => BatchWriter::Table(
                sink,
                TableRows {
                    shown: Vec::new(),
                    held: 0,
                    total: 0,
                },
            ),
            Format::Csv => {
                BatchWriter::Csv(csv::WriterBuilder::new().with_header(true).build(sink))
            }
            Format::Json => BatchWriter::Json(ArrayWriter::new(sink)),
            Format::Ndjson => BatchWriter::Ndjson(LineDelimitedWriter::new(sink)),
            Format::Parquet => {
                BatchWriter::Parquet(ArrowWriter::try_new(sink, schema.clone(), None)?)
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), BoxError> {
        match self {
            BatchWriter::Table(_, rows) => rows.add(batch),
            BatchWriter::Terminal(_, kept, fit) => kept.add(batch, fit),
            BatchWriter::Csv(w) => w.write(batch)?,
            BatchWriter::Json(w) => w.write(batch)?,
            BatchWriter::Ndjson(w) => w.write(batch)?,
            BatchWriter::Parquet(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self, schema: &datafusion::arrow::datatypes::SchemaRef) -> Result<(), BoxError> {
        match self {
            BatchWriter::Table(mut sink, rows) => {
                writeln!(
                    sink,
                    "{}",
                    pretty_format_batches_with_schema(schema.clone(), &rows.shown)?
                )?;
                if rows.total > rows.held {
                    writeln!(
                        sink,
                        "{} of {} rows shown; --format csv, ndjson or parquet writes them all",
                        rows.held, rows.total
                    )?;
                }
                sink.flush()?;
            }
            BatchWriter::Terminal(mut sink, kept, fit) => {
                write_fitted(&mut sink, schema, &kept, &fit)?;
                sink.flush()?;
            }
            BatchWriter::Csv(w) => w.into_inner().flush()?,
            BatchWriter::Json(mut w) => {
                w.finish()?;
                w.into_inner().flush()?;
            }
            BatchWriter::Ndjson(mut w) => {
                w.finish()?;
                w.into_inner().flush()?;
            }
            BatchWriter::Parquet(w) => {
                w.into_inner()?.flush()?;
            }
        }
        Ok(())
    }
}
