//! `trailmap report`: the page's numbers are the SQL's, the Markdown's are the page's, and log
//! values cannot inject markup.

use std::io::Write;
use std::path::Path;

use crate::common::*;
use flate2::{Compression, write::GzEncoder};
use scraper::{Html, Selector};
use trailmap::generate::GeneratorConfig;
use trailmap::report::table::TOP_ROWS;

struct Report {
    html: String,
    doc: Html,
    markdown: String,
    stderr: String,
}

fn report_of(source: &Path) -> (Option<i32>, Report) {
    report_with(source, &[])
}

fn report_with(source: &Path, extra: &[&str]) -> (Option<i32>, Report) {
    let out = tempfile::tempdir().unwrap();
    let html_path = out.path().join("r.html");
    let md_path = out.path().join("r.md");
    let mut args = vec![
        "report",
        "-s",
        source.to_str().unwrap(),
        "-o",
        html_path.to_str().unwrap(),
        "--markdown",
        md_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = trailmap(&args);
    let html = std::fs::read_to_string(&html_path)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    let markdown = std::fs::read_to_string(&md_path).unwrap();
    let doc = Html::parse_document(&html);
    (
        output.status.code(),
        Report {
            html,
            doc,
            markdown,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
    )
}

impl Report {
    fn stat(&self, key: &str) -> String {
        let selector = Selector::parse(&format!("[data-key=\"{key}\"]")).unwrap();
        let element = self
            .doc
            .select(&selector)
            .next()
            .unwrap_or_else(|| panic!("no stat {key}"));
        element.value().attr("data-value").unwrap().to_owned()
    }

    fn table(&self, id: &str) -> Vec<Vec<String>> {
        let rows = Selector::parse(&format!("#t-{id} tbody tr")).unwrap();
        let cells = Selector::parse("td").unwrap();
        self.doc
            .select(&rows)
            .map(|row| {
                row.select(&cells)
                    .map(|c| c.text().collect::<String>())
                    .collect()
            })
            .collect()
    }

    /// How many rows the table of `id` leaves out ("and K more"), 0 when it shows them all.
    fn more(&self, id: &str) -> usize {
        let selector = Selector::parse(&format!("#t-{id} + p.more")).unwrap();
        self.doc
            .select(&selector)
            .next()
            .and_then(|p| p.value().attr("data-more"))
            .map_or(0, |k| k.parse().unwrap())
    }

    /// Rows of the Markdown table under `## heading`, as a renderer shows them (escapes undone).
    fn markdown_table(&self, heading: &str) -> Vec<Vec<String>> {
        let start = self
            .markdown
            .find(&format!("## {heading}\n"))
            .unwrap_or_else(|| panic!("no section {heading}"));
        self.markdown[start..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                l.trim_matches('|')
                    .split(" | ")
                    .map(|c| markdown_text(c.trim()))
                    .collect()
            })
            .collect()
    }

    fn markdown_headline(&self, measure: &str) -> String {
        let line = self
            .markdown
            .lines()
            .find(|l| markdown_text(l).starts_with(&format!("| {measure} |")))
            .unwrap();
        line.trim_matches('|')
            .split(" | ")
            .nth(1)
            .unwrap()
            .trim()
            .to_owned()
    }
}

/// The text a Markdown renderer shows for a table cell: backslash escapes and entities undone.
fn markdown_text(cell: &str) -> String {
    let mut out = String::new();
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn sample() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data"))
}

fn check_against_sql(source: &Path) {
    let (code, report) = report_of(source);
    assert_eq!(code, Some(0));
    let totals = &query_json(
        source,
        &[],
        "SELECT count(*) AS events, count(DISTINCT account_id) AS accounts, \
         (SELECT count(*) FROM invocations) AS invocations, \
         (SELECT count(*) FROM invocations WHERE error_code IS NULL) AS successful, \
         (SELECT count(DISTINCT aws_region) FROM invocations) AS source_regions, \
         (SELECT count(*) FROM invocations WHERE error_code IS NULL AND served_geography <> source_geography) AS outside_geo \
         FROM events",
    )[0];
    for key in [
        "events",
        "accounts",
        "invocations",
        "successful",
        "source_regions",
    ] {
        assert_eq!(report.stat(key), totals[key].to_string(), "{key}");
    }
    let successful = totals["successful"].as_f64().unwrap();
    let share = format!(
        "{:.1}",
        100.0 * totals["outside_geo"].as_f64().unwrap() / successful
    );
    assert_eq!(report.stat("outside_geography_pct"), share);
    assert_eq!(
        report.markdown_headline("Served outside the caller's geography (%)"),
        share
    );
    assert_eq!(
        report.markdown_headline("Bedrock invocations"),
        report.stat("invocations")
    );

    // The same headline numbers by the independent walk of the files.
    let walked = walk(source);
    let invocations: Vec<&WalkedRecord> = walked.iter().filter(|r| r.is_invocation()).collect();
    let successful_calls: Vec<&WalkedRecord> = invocations
        .iter()
        .copied()
        .filter(|r| r.succeeded())
        .collect();
    let distinct = |values: Vec<Option<&str>>| {
        values
            .into_iter()
            .flatten()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert_eq!(report.stat("events"), walked.len().to_string());
    // The archive is read once: the summary line counts each file and event once.
    // Log files on disk (digest files are skipped by name), counted without trailmap.
    let files = walkdir::WalkDir::new(source)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let path = e.path().to_string_lossy();
            e.file_type().is_file() && path.ends_with(".json.gz") && !path.contains("Digest")
        })
        .count();
    let summary = format!("read {files} of {files} listed files (");
    assert!(report.stderr.contains(&summary), "{}", report.stderr);
    assert!(
        report
            .stderr
            .contains(&format!(", {} events) in ", walked.len())),
        "{}",
        report.stderr
    );
    assert_eq!(report.stat("invocations"), invocations.len().to_string());
    assert_eq!(
        report.stat("successful"),
        successful_calls.len().to_string()
    );
    assert_eq!(
        report.stat("accounts"),
        distinct(
            walked
                .iter()
                .map(|r| r.str("/recipientAccountId"))
                .collect()
        )
        .to_string()
    );
    assert_eq!(
        report.stat("source_regions"),
        distinct(invocations.iter().map(|r| r.str("/awsRegion")).collect()).to_string()
    );
    let by_walk = tally(successful_calls.iter().copied(), |r| {
        Some(r.served_region().unwrap_or("unknown").to_owned())
    });
    let served = query_json(source, &[], "served-regions");
    let by_query: std::collections::BTreeMap<String, u64> = served
        .iter()
        .map(|row| {
            (
                row["served_region"].as_str().unwrap().to_owned(),
                row["invocations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_query, by_walk);

    // Each table shows the query's top rows, and says how many more the query gives.
    let html_rows = report.table("served-regions");
    assert_eq!(html_rows.len(), served.len().min(TOP_ROWS));
    assert_eq!(
        report.more("served-regions"),
        served.len().saturating_sub(TOP_ROWS)
    );
    for (row, expected) in html_rows.iter().zip(&served) {
        assert_eq!(row[0], expected["served_region"].as_str().unwrap());
        assert_eq!(row[2], expected["invocations"].to_string());
    }
    assert_eq!(report.markdown_table("Where requests ran"), html_rows);
    assert_eq!(
        report.markdown_table("Daily invocations by served geography"),
        report.table("daily")
    );
    assert_eq!(
        report.markdown_table("Source → served Region"),
        report.table("routes")
    );
    let routes = query_json(source, &[], "routes");
    assert_eq!(report.table("routes").len(), routes.len().min(TOP_ROWS));
    assert_eq!(report.more("routes"), routes.len().saturating_sub(TOP_ROWS));
    let routes_total: u64 = routes
        .iter()
        .map(|r| r["invocations"].as_u64().unwrap())
        .sum();
    assert_eq!(routes_total as f64, successful);
    // Tables show their top rows, so the page stays small whatever the archive.
    assert!(report.html.len() < 250_000, "{} bytes", report.html.len());
    // Charts are inline SVG; nothing is fetched.
    let svg = Selector::parse("svg").unwrap();
    assert_eq!(report.doc.select(&svg).count(), 3);
    for forbidden in [
        "<script",
        "src=\"http",
        "href=\"http",
        "url(http",
        "<link",
        "@import",
    ] {
        assert!(
            !report.html.contains(forbidden),
            "self-contained page: found {forbidden}"
        );
    }
}

#[test]
fn sample_report_numbers_match_sql() {
    check_against_sql(sample());
}

#[test]
fn generated_report_numbers_match_sql() {
    let dir = generated(GeneratorConfig {
        events: 8_000,
        events_per_file: 200,
        days: 30,
        seed: 3,
        ..GeneratorConfig::default()
    });
    check_against_sql(dir.path());
}

fn gz_file(root: &Path, relative: &str, json: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(json.as_bytes()).unwrap();
    std::fs::write(path, enc.finish().unwrap()).unwrap();
}

#[test]
fn hostile_log_values_render_as_text() {
    let dir = generated(GeneratorConfig {
        events: 300,
        ..GeneratorConfig::default()
    });
    let record = |id: &str, extra: &str| {
        format!(
            r#"{{"eventTime":"2025-03-02T11:58:00Z","eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel",
            "awsRegion":"eu-west-1","recipientAccountId":"111122223333","eventID":"{id}",
            "userAgent":"<script>alert('ua')</script>",
            "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/<img src=x onerror=alert(1)>/s"}},
            "requestParameters":{{"modelId":"global.<b>bold</b>.anthropic"}}{extra}}}"#
        )
    };
    let ok = record(
        "h1",
        r#","additionalEventData":{"inferenceRegion":"\"><script>alert(2)</script>"}"#,
    );
    let failed = record(
        "h2",
        r#","errorCode":"Throttling<script>","errorMessage":"</td></tr></table><script>alert(3)</script>""#,
    );
    // A principal whose name is Markdown: an image and a link, served outside its geography
    // so it shows in the cross-geography table.
    let markdown = r#"{"eventTime":"2025-03-02T11:59:00Z","eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel",
        "awsRegion":"eu-west-1","recipientAccountId":"111122223333","eventID":"h3",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/![pic](http://evil.example/x.png)[click](https://evil.example)`x`/s"},
        "requestParameters":{"modelId":"global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        "additionalEventData":{"inferenceRegion":"us-east-1"}}"#;
    gz_file(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/02/111122223333_CloudTrail_eu-west-1_20250302T1200Z_hostile.json.gz",
        &format!(r#"{{"Records":[{ok},{failed},{markdown}]}}"#),
    );
    let (code, report) = report_of(dir.path());
    assert_eq!(code, Some(0));
    let script = Selector::parse("script, img").unwrap();
    assert_eq!(
        report.doc.select(&script).count(),
        0,
        "no element came from the logs"
    );
    let bold = Selector::parse("b").unwrap();
    assert!(
        report
            .doc
            .select(&bold)
            .all(|b| b.text().collect::<String>() != "bold")
    );
    assert!(
        report
            .html
            .contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "the served Region is shown, escaped"
    );
    assert!(
        report.html.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"),
        "the error message is shown, escaped"
    );
    assert!(
        report.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the principal is shown, escaped"
    );
    assert!(!report.markdown.contains("<script") && !report.markdown.contains("<img"));
    assert!(report.markdown.contains("&lt;script&gt;"));
    // Markdown in a log value stays text: no image, link or code span survives unescaped.
    for syntax in ["![", "](", "`x`", "http://", "https://"] {
        assert!(
            !report.markdown.contains(syntax),
            "{syntax} in the Markdown"
        );
    }
    let (_, full) = report_with(dir.path(), &["--full"]);
    let principals: Vec<String> = full
        .markdown_table("Served outside the caller's geography")
        .into_iter()
        .map(|row| row[1].clone())
        .collect();
    assert!(
        principals.contains(
            &"arn:aws:sts::111122223333:assumed-role/![pic](http://evil.example/x.png)[click](https://evil.example)`x`/s"
                .to_owned()
        ),
        "the principal is shown as text: {principals:?}"
    );
}

#[test]
fn an_archive_without_bedrock_says_so() {
    let dir = tempfile::tempdir().unwrap();
    gz_file(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/02/111122223333_CloudTrail_us-east-1_20250302T1200Z_x.json.gz",
        r#"{"Records":[{"eventTime":"2025-03-02T11:58:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"111122223333"}]}"#,
    );
    std::fs::write(dir.path().join("AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/02/111122223333_CloudTrail_us-east-1_20250302T1300Z_bad.json.gz"), b"not gzip").unwrap();
    let (code, report) = report_of(dir.path());
    assert_eq!(code, Some(0));
    assert!(
        report
            .doc
            .select(&Selector::parse("#no-invocations").unwrap())
            .next()
            .is_some()
    );
    assert_eq!(
        report.doc.select(&Selector::parse("svg").unwrap()).count(),
        0
    );
    assert_eq!(report.stat("invocations"), "0");
    assert_eq!(report.stat("events"), "1");
    assert_eq!(report.stat("load_errors"), "1");
    let errors = report.table("load-errors");
    assert_eq!(errors.len(), 1);
    assert!(errors[0][0].ends_with("_bad.json.gz") && errors[0][1] == "gunzip");
    assert!(report.markdown.contains("No Bedrock invocations"));
    assert!(report.markdown.contains("_bad.json.gz"));
}
