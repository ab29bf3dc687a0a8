//! The report as Markdown: the same numbers as the HTML page, tables only, for wikis and pull
//! requests. Cells are escaped so log values cannot break the table or inject markup.

use std::fmt::Write as _;

use super::ReportData;
use super::table::{TOP_ROWS, TableData};

/// Characters escaped with a backslash in a cell: every one that can start Markdown syntax
/// inside a line (links, images, code, emphasis, strikethrough, escapes) or end the cell.
const MARKDOWN_PUNCTUATION: &[char] = &['\\', '`', '*', '_', '[', ']', '(', ')', '!', '|', '~'];

/// Escapes a table cell so a log value is always plain text: Markdown punctuation with a
/// backslash, HTML-significant characters as entities, line breaks as spaces, and bare URLs
/// (`https://`, `www.`) broken so that no renderer turns them into links.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c if MARKDOWN_PUNCTUATION.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.replace("://", "\\://").replace("www.", "www\\.")
}

/// Renders a table in full (or "No rows.").
pub fn table(out: &mut String, data: &TableData) {
    rows(out, data, None);
}

/// Renders the table of named query `query`: its top [`TOP_ROWS`] rows and a line saying how
/// many more `trailmap query` gives, or every row when `full`.
fn top_table(out: &mut String, data: &TableData, query: &str, full: bool) {
    rows(out, data, (!full).then_some(query));
}

fn rows(out: &mut String, data: &TableData, query: Option<&str>) {
    if data.rows.is_empty() {
        out.push_str("No rows.\n\n");
        return;
    }
    let (shown, more) = data.head(query.map(|_| TOP_ROWS));
    let header: Vec<String> = data.columns.iter().map(|c| cell(c)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(data.columns.len()));
    for row in shown {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    if let (Some(query), true) = (query, more > 0) {
        let _ = writeln!(out, "and {more} more: `trailmap query {query}`\n");
    }
}

/// The whole document: each table's top rows, or every row when `full`.
pub fn render(report: &ReportData, full: bool) -> String {
    let h = &report.headline;
    let mut out = String::new();
    let _ = writeln!(out, "# Where our Bedrock requests ran\n");
    let _ = writeln!(
        out,
        "{} to {}, made by trailmap {}\n",
        cell(&h.first_event),
        cell(&h.last_event),
        env!("CARGO_PKG_VERSION")
    );
    if let Some(integrity) = &report.integrity {
        let _ = writeln!(out, "{}.\n", cell(&integrity.headline()));
    }
    let headline = TableData {
        columns: vec!["measure".into(), "value".into()],
        rows: [
            ("Bedrock invocations", h.invocations.to_string()),
            ("Successful invocations", h.successful.to_string()),
            ("CloudTrail events", h.events.to_string()),
            ("Accounts", h.accounts.to_string()),
            ("Source Regions", h.source_regions.to_string()),
            ("Files read", h.files_read.to_string()),
            (
                "Served outside the source Region (%)",
                h.share(h.outside_region),
            ),
            (
                "Served outside the caller's geography (%)",
                h.share(h.outside_geography),
            ),
            (
                "Served Region not in the logs",
                h.served_unknown.to_string(),
            ),
            (
                "On a platform outside AWS (may run outside AWS)",
                h.outside_aws.to_string(),
            ),
            (
                "Surfaces the trail may not record (see Blind spots)",
                h.blind_spots.to_string(),
            ),
            ("Files not read", h.load_errors.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_owned(), v])
        .collect(),
    };
    table(&mut out, &headline);
    if h.invocations == 0 {
        out.push_str("No Bedrock invocations in this archive.\n\n");
    } else {
        for (title, query, data) in [
            (
                "Where requests ran",
                "served-regions",
                &report.served_regions,
            ),
            ("Source → served Region", "routes", &report.routes),
            (
                "Daily invocations by served geography",
                "daily",
                &report.daily,
            ),
        ] {
            let _ = writeln!(out, "## {title}\n");
            top_table(&mut out, data, query, full);
        }
        for section in &report.sections {
            let _ = writeln!(out, "## {}\n\n{}\n", section.title, cell(&section.note));
            top_table(&mut out, &section.table, section.id, full);
        }
    }
    let _ = writeln!(out, "## Coverage\n");
    let _ = writeln!(
        out,
        "{} of {} listed log files read; {} could not be read; {}.\n",
        h.files_read,
        h.files_listed,
        h.load_errors,
        cell(&report.delivery_note)
    );
    if !report.load_errors.is_empty() {
        table(&mut out, &report.load_errors_table());
    }
    if !report.unknown_bedrock_events.rows.is_empty() {
        out.push_str("Bedrock events not counted (they name a model, but their event name is not a known inference call):\n\n");
        table(&mut out, &report.unknown_bedrock_events);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_out() {
        assert_eq!(cell("a|b\n<script>"), "a\\|b &lt;script&gt;");
        assert_eq!(
            cell("![x](http://evil.example/a.png)"),
            "\\!\\[x\\]\\(http\\://evil.example/a.png\\)"
        );
        assert_eq!(
            cell("`code` *b* _i_ ~s~ \\"),
            "\\`code\\` \\*b\\* \\_i\\_ \\~s\\~ \\\\"
        );
        assert_eq!(cell("see www.example.com"), "see www\\.example.com");
        assert_eq!(cell("eu-west-1"), "eu-west-1");
    }
}
