//! `trailmap queries` and `trailmap schema`: what there is to ask, and of which columns.

use std::io::Write;

use super::Outcome;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use trailmap::queries;
use trailmap::schema::{
    APPLICATION_PROFILES_COLUMNS, Column, INTEGRITY_COLUMNS, LOAD_ERRORS_COLUMNS, REGIONS_COLUMNS,
    SESSIONS_COLUMNS, SmallColumn, TRAIL_COVERAGE_COLUMNS, events_schema,
};
use trailmap::surfaces::{Recording, SURFACES, Served};
use trailmap::table::coverage::coverage_schema;
use trailmap::table::load_errors::load_errors_schema;
use trailmap::table::profiles::profiles_schema;
use trailmap::table::regions::regions_schema;
use trailmap::table::sessions::sessions_schema;
use trailmap::verify::integrity_schema;

/// Prints every named query with its description.
pub fn list_queries() -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    let width = queries::all().map(|q| q.name.len()).max().unwrap_or(0);
    for query in queries::all() {
        writeln!(out, "{:width$}  {}", query.name, query.description)?;
    }
    writeln!(out, "\nRun one with: trailmap query -s SOURCE NAME")?;
    Ok(Outcome::Success)
}

/// The tables, each with a one-line description.
pub const TABLES: &[(&str, &str)] = &[
    ("events", "one row per CloudTrail record (every event type)"),
    (
        "invocations",
        "view, SELECT * FROM events WHERE is_invocation (same columns)",
    ),
    ("regions", "every AWS Region trailmap knows"),
    ("load_errors", "one row per file that could not be read"),
    (
        "application_profiles",
        "application inference profiles, from CreateInferenceProfile events and --profiles",
    ),
    (
        "sessions",
        "temporary credentials issued by STS events (AssumeRole*, GetFederationToken, GetSessionToken), with their session tags: events.access_key_id joins access_key_id",
    ),
    (
        "integrity",
        "the digest chain's verdict on each log file (as trailmap verify; computed when first queried)",
    ),
    (
        "trail_coverage",
        "per trail, inference surface and period: whether the trail's event selectors record the surface's calls",
    ),
];

/// The column names of a table (`None`: no such table).
pub fn column_names(table: &str) -> Option<Vec<&'static str>> {
    column_docs(table).map(|docs| docs.into_iter().map(|(name, _, _)| name).collect())
}

/// A column as `trailmap schema` describes it: name, type, meaning.
type ColumnDoc = (&'static str, String, &'static str);

/// How a column's type is shown: Arrow's name, every timestamp (microseconds, UTC) as
/// `Timestamp`.
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Timestamp(_, _) => "Timestamp".to_owned(),
        other => other.to_string(),
    }
}

/// The columns of a table with their types and meanings (`None`: no such table). The types come
/// from the schemas the tables are registered with.
fn column_docs(table: &str) -> Option<Vec<ColumnDoc>> {
    let small = |columns: &[SmallColumn]| columns.iter().map(|c| (c.name, c.meaning)).collect();
    let (columns, schema): (Vec<(&'static str, &'static str)>, SchemaRef) = match table {
        "events" | "invocations" => (
            Column::ALL
                .iter()
                .map(|c| (c.name(), c.meaning()))
                .collect(),
            events_schema(),
        ),
        "regions" => (small(REGIONS_COLUMNS), regions_schema()),
        "load_errors" => (small(LOAD_ERRORS_COLUMNS), load_errors_schema()),
        "application_profiles" => (small(APPLICATION_PROFILES_COLUMNS), profiles_schema()),
        "sessions" => (small(SESSIONS_COLUMNS), sessions_schema()),
        "integrity" => (small(INTEGRITY_COLUMNS), integrity_schema()),
        "trail_coverage" => (small(TRAIL_COVERAGE_COLUMNS), coverage_schema()),
        _ => return None,
    };
    Some(
        columns
            .into_iter()
            .map(|(name, meaning)| {
                let data_type = schema
                    .field_with_name(name)
                    .map(|f| type_name(f.data_type()))
                    .unwrap_or_default();
                (name, data_type, meaning)
            })
            .collect(),
    )
}

/// Writes one table's description and columns, with types and meanings; `false` if there is no
/// such table.
pub fn write_table(out: &mut impl Write, table: &str) -> std::io::Result<bool> {
    let Some((name, description)) = TABLES.iter().find(|(name, _)| *name == table) else {
        return Ok(false);
    };
    writeln!(out, "{name}: {description}")?;
    // `invocations` is a view of `events`: its columns are listed once, under `events`.
    if *name != "invocations" {
        for (column, data_type, meaning) in column_docs(name).unwrap_or_default() {
            writeln!(out, "  {column:<24} {data_type:<12} {meaning}")?;
        }
    }
    Ok(true)
}

/// The SQL functions trailmap adds, with what they do.
const FUNCTIONS: &[(&str, &str)] = &[
    (
        "geography(region)",
        "the geography of a Region code (as in regions), null if unknown",
    ),
    (
        "session_tag(session_tags, key)",
        "the value of one session tag, its key matched in any case as IAM does; null when absent or the tags are unknown",
    ),
    (
        "json_get_str(json, key, ...), json_get_int, json_get_bool, json_get_float, json_get_json, json_as_text, json_contains, json_length, json_object_keys",
        "read the JSON-text columns (request_parameters, response_elements, additional_event_data, user_identity, ...)",
    ),
];

/// What the column list alone does not say, printed after the tables.
const NOTES: &[(&str, &str)] = &[
    (
        "Model ids",
        "Every form is understood: `anthropic.claude-...` (a foundation model), \
         `arn:aws:bedrock:REGION::foundation-model/...`, system profiles (`global.`, `us.`, `eu.`, \
         `apac.`, `jp.`, `au.`, `ca.`, `us-gov.` before a model id, or their \
         `arn:...:inference-profile/...` ARNs) and `arn:...:application-inference-profile/ID` \
         (`profile_scope = 'application'`).",
    ),
    (
        "Application profiles",
        "An application inference profile ARN names neither the model nor where it may run. \
         trailmap resolves it from the archive's CreateInferenceProfile events \
         (`requestParameters.modelSource.copyFrom`) and from `--profiles FILE` (the JSON of \
         `aws bedrock list-inference-profiles --type-equals APPLICATION`). Calls through a \
         resolved profile get `model` and `routing_scope`, and, when it copies a foundation model \
         and no inferenceRegion is logged, `served_region = aws_region`. An unknown profile leaves \
         them null, and an audit reports its calls as unverifiable.",
    ),
    (
        "What the trail records",
        "Most surfaces besides bedrock-runtime are CloudTrail data events, which a trail records \
         only when its advanced event selectors select their resource type; most trails record \
         management events only. `trail_coverage` says, per trail, surface and period, whether \
         they are recorded: from the archive's CreateTrail (a new trail records management \
         events only), PutEventSelectors, UpdateTrail (moved or narrowed: unknown after), \
         StopLogging/StartLogging and DeleteTrail events; and from today's selectors \
         (GetEventSelectors for logs in S3, `--event-selectors FILE` otherwise), which count \
         only when the archive shows the trail unchanged from the range's start to the last \
         hour (its home account and Region's files read). Name the trail with a `trail:NAME` source or \
         `--trail NAME`: without it, data events are `unknown`. Management events count as \
         recorded unless the selectors say otherwise. An audit whose rule covers a surface not \
         recorded in full is incomplete (`surfaces = [...]` narrows a rule; `--assume-recorded` \
         vouches for a surface).",
    ),
    (
        "Geographies",
        "`geography` is the broad residency area Bedrock's geographic profiles use: US, CA, MX, \
         SA, EU (every Europe Region, London and Zurich included), APAC, ME, AF, US-GOV, CN. \
         Narrower residency (`jp.`, `au.` profiles) is expressed with `country`. A Region not in \
         the `regions` table gets its geography from its code prefix (`eu-` is EU).",
    ),
];

/// A surface's columns as `trailmap schema` shows them: id, event source, event names, how
/// CloudTrail records it, what the log proves about where it ran, its AWS page.
fn surface_docs() -> Vec<[String; 6]> {
    SURFACES
        .iter()
        .map(|s| {
            let recording = match s.recording {
                Recording::Management => "management event".to_owned(),
                Recording::Data { resource_type } => format!("data event ({resource_type})"),
                Recording::Unknown => "not documented".to_owned(),
            };
            let served = match (s.served, s.outside_aws) {
                (_, true) => "never: may run outside AWS",
                (Served::ByModelId, _) => {
                    "inferenceRegion, or the caller's Region for a model that cannot leave it"
                }
                (Served::NotLogged, _) => "never logged",
            };
            [
                s.id.to_owned(),
                s.event_source.to_owned(),
                s.event_names.join(", "),
                recording,
                served.to_owned(),
                format!("{} ({})", s.note, s.source),
            ]
        })
        .collect()
}

/// How `trailmap schema` prints.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum SchemaFormat {
    /// Aligned text for the terminal.
    #[default]
    Text,
    /// Markdown tables (docs/tables.md is this output).
    Markdown,
}

/// How to print the schema.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// text (default) or markdown.
    #[arg(long, value_enum, default_value_t)]
    pub format: SchemaFormat,
}

/// Prints every table with its columns, types and meanings.
pub fn print_schema(args: SchemaArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    match args.format {
        SchemaFormat::Text => write_schema_text(&mut out)?,
        SchemaFormat::Markdown => write_schema_markdown(&mut out)?,
    }
    Ok(Outcome::Success)
}

fn write_schema_text(out: &mut impl Write) -> std::io::Result<()> {
    for (i, (name, _)) in TABLES.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_table(out, name)?;
    }
    writeln!(out, "\nfunctions:")?;
    for (function, meaning) in FUNCTIONS {
        writeln!(out, "  {function}:\n      {meaning}")?;
    }
    for (title, text) in NOTES {
        writeln!(out, "\n{title}: {text}")?;
    }
    writeln!(out, "\n{SURFACES_INTRO}")?;
    for [id, source, names, recording, served, note] in surface_docs() {
        writeln!(out, "  {id:<22} {source}: {names}")?;
        writeln!(out, "  {:<22} {recording}; served Region: {served}", "")?;
        writeln!(out, "  {:<22} {note}", "")?;
    }
    writeln!(out, "\nTimestamps are UTC, microsecond precision.")
}

/// What the surfaces section says first.
const SURFACES_INTRO: &str = "Inference surfaces (the `surface` column; every call on one is an \
     invocation). A data event is recorded only by a trail whose event selectors ask for it: \
     without them, an archive holds none of those calls, whether or not they were made.";

/// Text for a Markdown table cell: `|` escaped, so a meaning cannot end its cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A description as a sentence: its first letter capitalised.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn write_schema_markdown(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "# Tables")?;
    writeln!(out)?;
    writeln!(
        out,
        "Generated by `trailmap schema --format markdown`; a test fails when this file differs."
    )?;
    writeln!(
        out,
        "Timestamps are UTC, microsecond precision; every column of `events` is nullable."
    )?;
    for (name, description) in TABLES {
        writeln!(out, "\n## `{name}`\n\n{}.", sentence(description))?;
        if *name == "invocations" {
            continue;
        }
        writeln!(out, "\n| column | type | meaning |\n|---|---|---|")?;
        for (column, data_type, meaning) in column_docs(name).unwrap_or_default() {
            writeln!(out, "| `{column}` | {data_type} | {} |", cell(meaning))?;
        }
    }
    writeln!(out, "\n## Functions\n\n| function | meaning |\n|---|---|")?;
    for (function, meaning) in FUNCTIONS {
        writeln!(out, "| `{}` | {} |", cell(function), cell(meaning))?;
    }
    for (title, text) in NOTES {
        writeln!(out, "\n## {title}\n\n{text}")?;
    }
    writeln!(out, "\n## Inference surfaces\n\n{SURFACES_INTRO}\n")?;
    writeln!(
        out,
        "| surface | event source | event names | recorded as | served Region | what it is |\n|---|---|---|---|---|---|"
    )?;
    for row in surface_docs() {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        writeln!(out, "| `{}` | {} |", cells[0], cells[1..].join(" | "))?;
    }
    Ok(())
}
