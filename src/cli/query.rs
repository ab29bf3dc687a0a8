//! `trailmap query`: SQL or a named query over the archive.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use super::args::{ReadArgs, report_load_errors};
use super::output::{Format, open_sink, refuse_binary_on_terminal, write_results};
use super::progress::Progress;
use super::terminal::Fit;
use trailmap::error::Error;
use trailmap::queries;

/// Options of `trailmap query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub source: ReadArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read the SQL from this file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE.sql",
        conflicts_with = "query"
    )]
    pub sql_file: Option<PathBuf>,
    #[command(flatten)]
    pub fit: FitArgs,
    /// SQL text, or the name of a named query (see `trailmap queries`).
    #[arg(value_name = "SQL | NAMED_QUERY", required_unless_present = "sql_file")]
    pub query: Option<String>,
}

/// How the table format fits a terminal (output that is not a terminal is whole).
#[derive(Debug, Args)]
pub struct FitArgs {
    /// On a terminal, show at most N rows: the first and the last halves.
    #[arg(long, value_name = "N")]
    pub max_rows: Option<usize>,
    /// On a terminal, fit lines to N characters (default: the terminal's width).
    #[arg(long, value_name = "N")]
    pub max_width: Option<usize>,
    /// On a terminal, show every row, column and character.
    #[arg(long, alias = "full")]
    pub wide: bool,
    /// Expanded display: each row as `column = value` lines (one CloudTrail event at a time).
    #[arg(short = 'x', long)]
    pub expanded: bool,
}

impl FitArgs {
    /// The fit for stdout, when it is a terminal.
    pub fn for_stdout(&self) -> Option<Fit> {
        Fit::for_stdout(self.max_rows, self.max_width, self.wide, self.expanded)
    }
}

/// Resolves the query text: a file, a named query, or SQL.
fn resolve_sql(args: &QueryArgs) -> anyhow::Result<String> {
    if let Some(path) = &args.sql_file {
        return std::fs::read_to_string(path)
            .with_context(|| format!("cannot read SQL file {}", path.display()));
    }
    let text = args.query.as_deref().unwrap_or_default().trim();
    if let Some(named) = queries::find(text) {
        return Ok(named.sql.to_owned());
    }
    let is_bare_word = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let is_sql_keyword = ["select", "with", "explain", "show", "describe", "values"]
        .iter()
        .any(|k| text.eq_ignore_ascii_case(k));
    if is_bare_word && !is_sql_keyword {
        return Err(Error::UnknownQuery {
            name: text.to_owned(),
            known: queries::known_names(),
        }
        .into());
    }
    Ok(text.to_owned())
}

/// Runs `trailmap query`.
pub async fn run(args: QueryArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let sql = resolve_sql(&args)?;
    refuse_binary_on_terminal(args.format, args.output.as_deref())?;
    let session = Arc::new(args.source.open_for_query(&sql).await?);
    let frame = session.sql(&sql).await?;
    let sink = open_sink(args.format, args.output.as_deref())?;
    let progress = Progress::start(&session, quiet);
    let fit = match args.output {
        Some(_) => None,
        None => args.fit.for_stdout(),
    };
    let plan = write_results(frame, args.format, sink, args.output.as_deref(), fit).await?;
    progress.finish(&session);
    if tracing::enabled!(tracing::Level::INFO) {
        match session.cluster_work(&plan).await {
            Ok(Some(work)) => tracing::info!("{work}"),
            Ok(None) => {}
            Err(e) => tracing::info!("could not ask the scheduler what the job did: {e}"),
        }
    }
    let incomplete = report_load_errors(&session);
    Ok(if incomplete && args.source.strict {
        Outcome::Incomplete
    } else {
        Outcome::Success
    })
}
