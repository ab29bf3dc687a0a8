//! `trailmap shell`: an interactive SQL prompt over one session.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

use super::Outcome;
use super::args::{ReadArgs, parse_size};
use super::catalog::{self, TABLES};
use super::output::{Format, write_results};
use trailmap::TrailSession;
use trailmap::queries;

/// Options of `trailmap shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub source: ReadArgs,
    /// Keep up to this much of the columns decoded from a raw archive (e.g. 512MiB, 4GiB), so
    /// that later statements needing them read no file again.
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub cache_size: String,
}

/// What the backslash commands do, for `\?`.
const HELP: &str = "\
Statements end with `;` and may span lines. A named query runs by its name alone.
  \\d             list the tables
  \\d TABLE       the columns of TABLE, with their meanings
  \\queries       list the named queries
  \\timing        show how long each statement takes (on/off)
  \\x [on|off]    expanded display: each row as `column = value` lines
  \\set NAME N    max_rows N (0: 40), max_width N (0: the terminal's; at least 20), wide on|off
  \\cache         what the column cache holds
  \\?             this help
  \\q             quit (or Ctrl-D)
Ctrl-C cancels the running statement (or the line being typed), not the shell.";

/// Runs `trailmap shell`.
pub async fn run(args: ShellArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let (specs, mut options) = args.source.parse()?;
    // On a cluster the executors decode: there is nothing to keep here.
    if options.cluster.is_none() {
        options.column_cache = Some(parse_size(&args.cache_size)?);
    }
    let session = Arc::new(trailmap::open(&specs, &options, &args.source.source.aws()).await?);
    if !quiet {
        let coverage = session.coverage();
        eprintln!(
            "trailmap shell over {} listed file(s). \\? for help, \\q to quit.",
            coverage.files_listed
        );
    }
    let mut editor: Editor<ShellHelper, FileHistory> = Editor::new()?;
    editor.set_helper(Some(ShellHelper::new()));
    let history = history_path();
    if let Some(path) = &history {
        // No history yet is normal.
        let _ = editor.load_history(path);
    }
    let mut shell = Shell {
        session,
        timing: false,
        fit: FitSettings::default(),
    };
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() {
            "trailmap> "
        } else {
            "     ...> "
        };
        let line = match tokio::task::block_in_place(|| editor.readline(prompt)) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if statement.is_empty() && line.trim().is_empty() {
            continue;
        }
        if !statement.is_empty() {
            statement.push('\n');
        }
        statement.push_str(&line);
        let Some(input) = Input::parse(&statement) else {
            continue;
        };
        let _ = editor.add_history_entry(statement.trim());
        statement.clear();
        if !shell.handle(input).await {
            break;
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(path) {
            tracing::warn!(
                "could not save the shell history to {}: {e}",
                path.display()
            );
        }
    }
    Ok(Outcome::Success)
}

/// Where the history is kept: the user's data directory.
fn history_path() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("trailmap").join("shell_history"))
}

/// One complete input of the shell.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// A backslash command and its argument.
    Command(String, Option<String>),
    /// SQL, without its final `;`.
    Sql(String),
}

impl Input {
    /// A complete input, or `None` while a statement still lacks its `;`.
    fn parse(text: &str) -> Option<Input> {
        let trimmed = text.trim();
        if let Some(command) = trimmed.strip_prefix('\\') {
            let command = command.trim_end_matches(';').trim();
            let (name, rest) = command
                .split_once(char::is_whitespace)
                .unwrap_or((command, ""));
            let argument = Some(rest.trim())
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
            return Some(Input::Command(name.to_owned(), argument));
        }
        let without_semicolon = trimmed.trim_end_matches(';').trim();
        if let Some(named) = queries::find(without_semicolon) {
            return Some(Input::Sql(named.sql.to_owned()));
        }
        trimmed
            .ends_with(';')
            .then(|| Input::Sql(without_semicolon.to_owned()))
    }
}

/// The shell's state between inputs.
struct Shell {
    session: Arc<TrailSession>,
    timing: bool,
    fit: FitSettings,
}

/// How tables fit the terminal (`\x`, `\set`); output that is not a terminal is whole.
#[derive(Debug, Default)]
struct FitSettings {
    max_rows: Option<usize>,
    max_width: Option<usize>,
    wide: bool,
    expanded: bool,
}

impl FitSettings {
    /// Applies `\set NAME VALUE`; the error says what is accepted.
    fn set(&mut self, setting: &str) -> Result<String, String> {
        let mut words = setting.split_whitespace();
        let (name, value) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        if let Some(extra) = words.next() {
            return Err(format!(
                "\\set {name} takes one value; {extra:?} is one too many"
            ));
        }
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("\\set {name} takes a number, not {value:?}"))
        };
        match name {
            "max_rows" => self.max_rows = Some(number()?).filter(|n| *n > 0),
            "max_width" => self.max_width = Some(number()?).filter(|n| *n > 0),
            "wide" => {
                self.wide = match value {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    other => return Err(format!("\\set wide takes on or off, not {other:?}")),
                }
            }
            other => {
                return Err(format!(
                    "no setting {other:?}: \\set max_rows N, max_width N or wide on|off"
                ));
            }
        }
        Ok(format!("{name} is {value}"))
    }

    fn for_stdout(&self) -> Option<super::terminal::Fit> {
        super::terminal::Fit::for_stdout(self.max_rows, self.max_width, self.wide, self.expanded)
    }
}

impl Shell {
    /// Handles one input; `false` to quit.
    async fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Command(name, argument) => self.command(&name, argument.as_deref()),
            Input::Sql(sql) => {
                self.run_sql(&sql).await;
                true
            }
        }
    }

    fn command(&mut self, name: &str, argument: Option<&str>) -> bool {
        let mut out = std::io::stdout().lock();
        let written = match (name, argument) {
            ("q" | "quit", _) => return false,
            ("d", None) => TABLES
                .iter()
                .try_for_each(|(name, description)| writeln!(out, "{name:<22} {description}")),
            ("d", Some(table)) => match catalog::write_table(
                &mut out,
                table.split_whitespace().next().unwrap_or_default(),
            ) {
                Ok(true) => Ok(()),
                Ok(false) => {
                    eprintln!("no table {table:?}; \\d lists them");
                    Ok(())
                }
                Err(e) => Err(e),
            },
            ("queries", _) => {
                queries::all().try_for_each(|q| writeln!(out, "{:<26} {}", q.name, q.description))
            }
            ("x", setting) => {
                self.fit.expanded = match setting {
                    Some("on") => true,
                    Some("off") => false,
                    _ => !self.fit.expanded,
                };
                let state = if self.fit.expanded { "on" } else { "off" };
                writeln!(out, "expanded display is {state}")
            }
            ("set", None) => writeln!(
                out,
                "max_rows {}, max_width {}, wide {}, expanded {} (\\set NAME VALUE changes one)",
                self.fit
                    .max_rows
                    .map_or("default".to_owned(), |n| n.to_string()),
                self.fit
                    .max_width
                    .map_or("terminal".to_owned(), |n| n.to_string()),
                self.fit.wide,
                self.fit.expanded
            ),
            ("set", Some(setting)) => match self.fit.set(setting) {
                Ok(done) => writeln!(out, "{done}"),
                Err(e) => {
                    eprintln!("{e}");
                    Ok(())
                }
            },
            ("timing", _) => {
                self.timing = !self.timing;
                let state = if self.timing { "on" } else { "off" };
                writeln!(out, "timing is {state}")
            }
            ("cache", _) => match self.session.cache_usage() {
                Some(usage) => writeln!(
                    out,
                    "column cache: {} file(s), {} column(s), {:.1} MiB of {:.1} MiB",
                    usage.files,
                    usage.columns,
                    usage.bytes as f64 / f64::from(1 << 20),
                    usage.limit as f64 / f64::from(1 << 20)
                ),
                None => writeln!(
                    out,
                    "no column cache: a warehouse is read from its Parquet files"
                ),
            },
            ("?" | "h" | "help", _) => writeln!(out, "{HELP}"),
            (other, _) => {
                eprintln!("unknown command \\{other}; \\? lists the commands");
                Ok(())
            }
        };
        if let Err(e) = written.and_then(|()| out.flush()) {
            eprintln!("error: {e}");
        }
        true
    }

    /// Runs one statement, printing the table or the error; Ctrl-C cancels it.
    async fn run_sql(&self, sql: &str) {
        let started = Instant::now();
        let work = async {
            let frame = self.session.sql(sql).await?;
            let sink = Box::new(std::io::BufWriter::new(std::io::stdout()));
            write_results(frame, Format::Table, sink, None, self.fit.for_stdout()).await
        };
        tokio::select! {
            result = work => {
                if let Err(e) = result {
                    eprintln!("error: {e}");
                }
            }
            _ = tokio::signal::ctrl_c() => eprintln!("cancelled"),
        }
        if self.timing {
            eprintln!("time: {:.3} s", started.elapsed().as_secs_f64());
        }
    }
}

/// Completion of table names, column names, named queries and backslash commands.
#[derive(Helper, Hinter, Highlighter, Validator)]
struct ShellHelper {
    words: Vec<String>,
}

impl ShellHelper {
    fn new() -> Self {
        let mut words: Vec<String> = TABLES.iter().map(|(name, _)| name.to_string()).collect();
        for (table, _) in TABLES {
            words.extend(
                catalog::column_names(table)
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        words.extend(queries::all().map(|q| q.name.to_owned()));
        words.extend(
            [
                "\\d",
                "\\queries",
                "\\timing",
                "\\x",
                "\\set",
                "\\cache",
                "\\q",
                "\\?",
            ]
            .into_iter()
            .map(str::to_owned),
        );
        words.sort();
        words.dedup();
        ShellHelper { words }
    }

    /// The words starting with `prefix` (case-insensitive).
    fn candidates(&self, prefix: &str) -> Vec<&str> {
        let prefix = prefix.to_ascii_lowercase();
        self.words
            .iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&prefix))
            .map(String::as_str)
            .collect()
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '\\'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let pairs = self
            .candidates(word)
            .into_iter()
            .map(|w| Pair {
                display: w.to_owned(),
                replacement: w.to_owned(),
            })
            .collect();
        Ok((start, pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_end_at_a_semicolon_or_are_commands_or_named_queries() {
        assert_eq!(Input::parse("SELECT 1"), None);
        assert_eq!(
            Input::parse("SELECT 1\n FROM events ;"),
            Some(Input::Sql("SELECT 1\n FROM events".into()))
        );
        assert_eq!(
            Input::parse("\\d events"),
            Some(Input::Command("d".into(), Some("events".into())))
        );
        assert_eq!(Input::parse("\\q"), Some(Input::Command("q".into(), None)));
        let Some(Input::Sql(sql)) = Input::parse("served-regions") else {
            panic!("a named query runs by its name");
        };
        assert_eq!(sql, queries::find("served-regions").unwrap().sql);
    }

    #[test]
    fn completion_offers_tables_columns_and_queries() {
        let helper = ShellHelper::new();
        assert_eq!(helper.candidates("invoc"), vec!["invocations"]);
        assert!(helper.candidates("served_").contains(&"served_region"));
        assert!(helper.candidates("SERVED-").contains(&"served-regions"));
        assert!(helper.candidates("\\ti").contains(&"\\timing"));
    }
}
