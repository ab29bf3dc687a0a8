//! `trailmap queries` and `trailmap schema`: what there is to ask, and of which columns.

use std::io::Write;

use super::Outcome;
use trailmap::queries;
use trailmap::schema::{
    APPLICATION_PROFILES_COLUMNS, Column, INTEGRITY_COLUMNS, LOAD_ERRORS_COLUMNS, REGIONS_COLUMNS,
    SmallColumn,
};

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

fn print_small(out: &mut impl Write, columns: &[SmallColumn]) -> std::io::Result<()> {
    for c in columns {
        writeln!(out, "  {:<24} {:<12} {}", c.name, "Utf8", c.meaning)?;
    }
    Ok(())
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
        "integrity",
        "the digest chain's verdict on each log file (as trailmap verify; computed when first queried)",
    ),
];

/// The column names of a table (`None`: no such table).
pub fn column_names(table: &str) -> Option<Vec<&'static str>> {
    let small = |columns: &[SmallColumn]| columns.iter().map(|c| c.name).collect();
    Some(match table {
        "events" | "invocations" => Column::ALL.iter().map(|c| c.name()).collect(),
        "regions" => small(REGIONS_COLUMNS),
        "load_errors" => small(LOAD_ERRORS_COLUMNS),
        "application_profiles" => small(APPLICATION_PROFILES_COLUMNS),
        "integrity" => small(INTEGRITY_COLUMNS),
        _ => return None,
    })
}

/// Writes one table's description and columns, with types and meanings; `false` if there is no
/// such table.
pub fn write_table(out: &mut impl Write, table: &str) -> std::io::Result<bool> {
    let Some((name, description)) = TABLES.iter().find(|(name, _)| *name == table) else {
        return Ok(false);
    };
    writeln!(out, "{name}: {description}")?;
    match *name {
        "events" => {
            for c in Column::ALL {
                let data_type = match c.kind() {
                    trailmap::schema::Kind::Time => "Timestamp".to_owned(),
                    kind => kind.data_type().to_string(),
                };
                writeln!(out, "  {:<24} {:<12} {}", c.name(), data_type, c.meaning())?;
            }
        }
        "regions" => print_small(out, REGIONS_COLUMNS)?,
        "load_errors" => print_small(out, LOAD_ERRORS_COLUMNS)?,
        "application_profiles" => print_small(out, APPLICATION_PROFILES_COLUMNS)?,
        "integrity" => print_small(out, INTEGRITY_COLUMNS)?,
        _ => {}
    }
    Ok(true)
}

/// Prints every table with its columns, types and meanings.
pub fn print_schema() -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    for (i, (name, _)) in TABLES.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_table(&mut out, name)?;
    }
    writeln!(out, "\nfunctions:")?;
    writeln!(
        out,
        "  geography(region)        the geography of a Region code (as in regions), null if unknown"
    )?;
    writeln!(
        out,
        "  json_get_str(json, key, ...), json_get_int, json_get_bool, json_get_float, json_get_json,"
    )?;
    writeln!(
        out,
        "  json_as_text, json_contains, json_length, json_object_keys: read the JSON-text columns"
    )?;
    writeln!(
        out,
        "  (request_parameters, response_elements, additional_event_data, user_identity, ...)"
    )?;
    writeln!(out, "\nTimestamps are UTC, microsecond precision.")?;
    Ok(Outcome::Success)
}
