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

/// Prints every table with its columns, types and meanings.
pub fn print_schema() -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "events: one row per CloudTrail record (every event type)"
    )?;
    for c in Column::ALL {
        let data_type = match c.kind() {
            trailmap::schema::Kind::Time => "Timestamp".to_owned(),
            kind => kind.data_type().to_string(),
        };
        writeln!(out, "  {:<24} {:<12} {}", c.name(), data_type, c.meaning())?;
    }
    writeln!(
        out,
        "\ninvocations: view, SELECT * FROM events WHERE is_invocation (same columns)"
    )?;
    writeln!(out, "\nregions: every AWS Region trailmap knows")?;
    print_small(&mut out, REGIONS_COLUMNS)?;
    writeln!(
        out,
        "\nload_errors: one row per file that could not be read"
    )?;
    print_small(&mut out, LOAD_ERRORS_COLUMNS)?;
    writeln!(
        out,
        "\napplication_profiles: application inference profiles, from CreateInferenceProfile events and --profiles"
    )?;
    print_small(&mut out, APPLICATION_PROFILES_COLUMNS)?;
    writeln!(
        out,
        "\nintegrity: the digest chain's verdict on each log file (as trailmap verify; computed when first queried)"
    )?;
    print_small(&mut out, INTEGRITY_COLUMNS)?;
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
