//! Output on a terminal: the binary run in a pseudo-terminal (util-linux `script`) 100 columns
//! wide. Tables fit the width with exact footers, `-x` prints `column = value` lines, and an
//! audit starts with its result. Piped output is checked everywhere else (docs, cli).

use std::process::Command;

use crate::common::*;

/// The bundled sample archive.
fn sample() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data")
}

/// The lines `trailmap ARGS` prints on a terminal `COLUMNS` wide (stderr left out), without
/// the terminal's carriage returns and colour codes.
fn on_terminal(args: &[&str], columns: usize) -> Vec<String> {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let command = format!(
        "COLUMNS={columns} NO_COLOR=1 '{}' {} 2>/dev/null",
        env!("CARGO_BIN_EXE_trailmap"),
        quoted.join(" ")
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("util-linux script runs the binary in a pseudo-terminal");
    String::from_utf8_lossy(&output.stdout)
        .replace('\r', "")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_wide_result_fits_the_terminal_with_an_exact_footer() {
    let lines = on_terminal(&["query", "-s", sample(), "SELECT * FROM events"], 100);
    assert!(lines.len() > 40, "{lines:?}");
    for line in &lines {
        assert!(
            line.chars().count() <= 100,
            "{} > 100: {line}",
            line.chars().count()
        );
    }
    let header = &lines[1];
    let shown = header.split('|').filter(|c| !c.trim().is_empty()).count() - 1;
    assert!(header.contains('…'), "{header}");
    let columns = trailmap::schema::Column::ALL.len();
    let footer = lines.last().unwrap();
    assert_eq!(
        footer,
        &format!(
            "3,000 rows (40 shown), {columns} columns ({shown} shown); --wide shows all, -x one row per block"
        )
    );
    // Numbers are right-aligned; a long result shows its first and last rows.
    let rows = on_terminal(
        &[
            "query",
            "-s",
            sample(),
            "--max-rows",
            "4",
            "SELECT event_name, length(event_id) AS n FROM events ORDER BY event_id",
        ],
        100,
    );
    assert!(rows.iter().any(|l| l.contains('·')), "{rows:?}");
    let aligned = on_terminal(
        &[
            "query",
            "-s",
            sample(),
            "SELECT * FROM (VALUES ('a', 5), ('b', 12345)) AS t(k, n)",
        ],
        100,
    );
    assert!(aligned.iter().any(|l| l == "| a |     5 |"), "{aligned:?}");
    assert!(rows.iter().any(|l| l.contains('·')), "{rows:?}");
    assert_eq!(
        rows.last().unwrap(),
        "3,000 rows (4 shown), 2 columns; --wide shows all, -x one row per block"
    );
}

#[test]
fn expanded_display_prints_one_line_per_column() {
    let lines = on_terminal(
        &[
            "query",
            "-s",
            sample(),
            "-x",
            "SELECT event_name, aws_region, user_identity FROM events ORDER BY event_id LIMIT 1",
        ],
        100,
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with("-[ RECORD 1 ]"), "{lines:?}");
    assert!(lines[1].starts_with("event_name    = "), "{lines:?}");
    assert!(lines[3].starts_with("user_identity = {"), "{lines:?}");
    assert!(lines.iter().all(|l| l.chars().count() <= 100), "{lines:?}");
    // A long result shows its first and its last records.
    let ends = on_terminal(
        &[
            "query",
            "-s",
            sample(),
            "-x",
            "--max-rows",
            "2",
            "SELECT event_id FROM events ORDER BY event_id LIMIT 3",
        ],
        100,
    );
    let titles: Vec<&String> = ends.iter().filter(|l| l.starts_with("-[ RECORD")).collect();
    assert_eq!(titles.len(), 2, "{ends:?}");
    assert!(titles[0].starts_with("-[ RECORD 1 ]") && titles[1].starts_with("-[ RECORD 3 ]"));
    assert!(ends.contains(&"…".to_owned()), "{ends:?}");
    assert!(
        ends.last()
            .unwrap()
            .starts_with("3 rows (2 shown), 1 columns"),
        "{ends:?}"
    );
}

#[test]
fn an_audit_on_a_terminal_starts_with_its_result_and_groups_findings() {
    let lines = on_terminal(
        &[
            "audit",
            "-s",
            sample(),
            "--policy",
            "queries/policies/eu-residency.toml",
        ],
        100,
    );
    let piped = trailmap(&[
        "audit",
        "-s",
        sample(),
        "--policy",
        "queries/policies/eu-residency.toml",
    ]);
    let piped = String::from_utf8_lossy(&piped.stdout).into_owned();
    let result = piped.lines().last().unwrap();
    assert!(result.starts_with("Result: NOT COMPLIANT"), "{piped}");
    assert_eq!(lines[0], result);
    assert!(lines.iter().all(|l| l.chars().count() <= 100), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("Findings: ")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("more: --format csv (or json) lists every finding")),
        "{lines:?}"
    );
    assert!(lines.len() < 80, "{} lines", lines.len());
}
