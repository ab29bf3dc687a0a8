//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fetches.
//! Every value from the logs is escaped: logs are attacker-controlled input.

use std::fmt::Write as _;

use super::charts;
use super::table::{TOP_ROWS, TableData};
use super::{Headline, ReportData};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:24px;color:#1b1f24;background:#fff}
h1{font-size:1.7em;margin:0 0 4px} h2{font-size:1.25em;margin:36px 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub,.note{color:#57606a;margin:2px 0 12px}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:18px 0}
.stat{border:1px solid #d0d7de;border-radius:6px;padding:10px 12px}
.stat .label{color:#57606a;font-size:.85em} .stat .value{font-size:1.45em;font-weight:600}
.stat.warn{border-color:#cf222e} .stat.warn .value{color:#cf222e}
table{border-collapse:collapse;margin:8px 0 4px;font-size:.88em} th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums} td{word-break:break-word;max-width:480px}
.chart{overflow-x:auto} .chart svg{max-width:100%;height:auto}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
.more{color:#57606a;margin:4px 0 0} .empty{padding:14px;border:1px dashed #d0d7de;border-radius:6px;color:#57606a}
@media print{body{padding:0} h2{break-after:avoid} .chart,table{break-inside:avoid}}
"#;

fn stat(out: &mut String, key: &str, label: &str, value: &str, shown: &str, warn: bool) {
    let class = if warn { "stat warn" } else { "stat" };
    let _ = write!(
        out,
        r#"<div class="{class}"><div class="label">{}</div><div class="value" data-key="{}" data-value="{}">{}</div></div>"#,
        escape(label),
        escape(key),
        escape(value),
        escape(shown)
    );
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn headline(out: &mut String, h: &Headline) {
    out.push_str(r#"<div class="stats" id="headline">"#);
    let counts: [(&str, &str, u64); 6] = [
        ("invocations", "Bedrock invocations", h.invocations),
        ("successful", "Successful invocations", h.successful),
        ("events", "CloudTrail events", h.events),
        ("accounts", "Accounts", h.accounts),
        ("source_regions", "Source Regions", h.source_regions),
        ("files_read", "Files read", h.files_read as u64),
    ];
    count_stats(out, &counts, false);
    let outside_region = h.share(h.outside_region);
    stat(
        out,
        "outside_region_pct",
        "Served outside the source Region",
        &outside_region,
        &format!("{outside_region}%"),
        false,
    );
    let outside_geo = h.share(h.outside_geography);
    stat(
        out,
        "outside_geography_pct",
        "Served outside the caller's geography",
        &outside_geo,
        &format!("{outside_geo}%"),
        h.outside_geography > 0,
    );
    // Counts that are worth a look whenever they are not zero.
    let warnings = [
        (
            "served_unknown",
            "Served Region not in the logs",
            h.served_unknown,
        ),
        (
            "outside_aws",
            "On a platform outside AWS (may run outside AWS)",
            h.outside_aws,
        ),
        (
            "blind_spots",
            "Surfaces the trail may not record",
            h.blind_spots,
        ),
        ("load_errors", "Files not read", h.load_errors as u64),
    ];
    count_stats(out, &warnings, true);
    out.push_str("</div>\n");
}

/// One stat per `(key, label, count)`, flagged when not zero if `flag_non_zero`.
fn count_stats(out: &mut String, counts: &[(&str, &str, u64)], flag_non_zero: bool) {
    for &(key, label, value) in counts {
        stat(
            out,
            key,
            label,
            &value.to_string(),
            &thousands(value),
            flag_non_zero && value > 0,
        );
    }
}

/// Renders a table in full; `id` becomes `t-ID`.
pub fn table(out: &mut String, id: &str, data: &TableData) {
    rows(out, id, data, None);
}

/// Renders the top [`TOP_ROWS`] rows of the table of named query `id`, and a line saying how
/// many more `trailmap query ID` gives.
pub fn top_table(out: &mut String, id: &str, data: &TableData) {
    rows(out, id, data, Some(id));
}

fn rows(out: &mut String, id: &str, data: &TableData, query: Option<&str>) {
    if data.rows.is_empty() {
        out.push_str(r#"<p class="empty">No rows.</p>"#);
        return;
    }
    let (shown, more) = data.head(query.map(|_| TOP_ROWS));
    let _ = write!(out, r#"<table id="t-{}"><thead><tr>"#, escape(id));
    for column in &data.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in shown {
        out.push_str("<tr>");
        for cell in row {
            let numeric = !cell.is_empty() && cell.parse::<f64>().is_ok();
            let class = if numeric { r#" class="num""# } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    if let (Some(query), true) = (query, more > 0) {
        let _ = writeln!(
            out,
            r#"<p class="more" data-more="{more}">and {} more: <code>trailmap query {}</code></p>"#,
            thousands(more as u64),
            escape(query)
        );
    }
}

fn legend(out: &mut String, geographies: &[&str]) {
    out.push_str(r#"<div class="legend">"#);
    for g in geographies {
        let _ = write!(
            out,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            charts::geography_hex(g),
            escape(g)
        );
    }
    out.push_str("</div>");
}

fn triples(data: &TableData, a: &str, b: &str, count: &str) -> Vec<(String, String, u64)> {
    let counts = data.counts(count);
    data.texts(a)
        .into_iter()
        .zip(data.texts(b))
        .zip(counts)
        .map(|((x, y), n)| (x.to_owned(), y.to_owned(), n))
        .collect()
}

fn section_head(out: &mut String, id: &str, title: &str, note: &str) {
    let _ = writeln!(
        out,
        "<section id=\"{}\"><h2>{}</h2><p class=\"note\">{}</p>",
        escape(id),
        escape(title),
        escape(note)
    );
}

/// The whole page.
pub fn render(report: &ReportData) -> String {
    let h = &report.headline;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>trailmap: where Bedrock requests ran</title><style>{STYLE}</style></head><body>\n\
         <h1>Where our Bedrock requests ran</h1><p class=\"sub\">{} to {} &middot; made by trailmap {}</p>\n",
        escape(&h.first_event),
        escape(&h.last_event),
        env!("CARGO_PKG_VERSION")
    );
    headline(&mut out, h);
    if let Some(integrity) = &report.integrity {
        let _ = writeln!(
            out,
            "<p class=\"sub\" id=\"integrity\">{}.</p>",
            escape(&integrity.headline())
        );
    }
    if h.invocations == 0 {
        out.push_str("<p class=\"empty\" id=\"no-invocations\">No Bedrock invocations in this archive: nothing ran anywhere, so there is nothing to chart. The coverage note below says what was read.</p>\n");
    } else {
        let served = triples(
            &report.served_regions,
            "served_region",
            "served_geography",
            "invocations",
        );
        section_head(
            &mut out,
            "served-regions",
            "Where requests ran",
            "Successful invocations by the Region that served them; colour = geography.",
        );
        let mut geographies: Vec<&str> = served.iter().map(|s| s.1.as_str()).collect();
        geographies.sort();
        geographies.dedup();
        legend(&mut out, &geographies);
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            charts::served_regions(&served)
        );
        top_table(&mut out, "served-regions", &report.served_regions);
        out.push_str("</section>\n");

        section_head(
            &mut out,
            "routes",
            "Source → served Region",
            "Rows: the Region the caller sent to; columns: the Region that ran it.",
        );
        let cells = triples(
            &report.routes,
            "source_region",
            "served_region",
            "invocations",
        );
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            charts::routes_heatmap(&cells)
        );
        top_table(&mut out, "routes", &report.routes);
        out.push_str("</section>\n");

        section_head(
            &mut out,
            "daily",
            "Daily invocations by served geography",
            "Successful invocations per UTC day, stacked by the geography that served them.",
        );
        let points = triples(&report.daily, "day", "served_geography", "invocations");
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            charts::daily_stacked(&points)
        );
        top_table(&mut out, "daily", &report.daily);
        out.push_str("</section>\n");

        for section in &report.sections {
            section_head(&mut out, section.id, section.title, &section.note);
            top_table(&mut out, section.id, &section.table);
            out.push_str("</section>\n");
        }
    }
    coverage(&mut out, report);
    out.push_str("</body></html>\n");
    out
}

fn coverage(out: &mut String, report: &ReportData) {
    let h = &report.headline;
    section_head(
        out,
        "coverage",
        "Coverage and method",
        "What was read, what could not be, and what the numbers mean.",
    );
    let _ = write!(
        out,
        "<p>{} of {} listed log files read; {} could not be read. {} CloudTrail events from {} to {}.</p>",
        thousands(h.files_read as u64),
        thousands(h.files_listed as u64),
        h.load_errors,
        thousands(h.events),
        escape(&h.first_event),
        escape(&h.last_event)
    );
    let _ = write!(out, "<p>{}.</p>", escape(&report.delivery_note));
    if !report.load_errors.is_empty() {
        out.push_str("<p><strong>Files not read</strong>: their events are missing from every number above.</p>");
        table(out, "load-errors", &report.load_errors_table());
    }
    if !report.unknown_bedrock_events.rows.is_empty() {
        out.push_str("<p><strong>Bedrock events not counted</strong>: they name a model, but their event name is not a known inference call (a new inference API?).</p>");
        table(
            out,
            "unknown-bedrock-events",
            &report.unknown_bedrock_events,
        );
    }
    out.push_str(
        "<ul><li><b>served Region</b>: <code>additionalEventData.inferenceRegion</code> when CloudTrail records it; the source Region (<code>awsRegion</code>) for a call that cannot leave it (a plain model id, or an application profile copying one); otherwise <b>unknown</b>, shown as its own row, never guessed.</li>\
         <li><b>geography</b>: the broad residency area of a Region (US, EU, APAC, ...), as Bedrock's geographic inference profiles use it.</li>\
         <li><b>invocations</b>: calls that run a model on any inference surface (<code>trailmap schema</code> lists them): bedrock-runtime, batch jobs, bedrock-mantle, knowledge bases, agents, flows and Claude Platform on AWS. Only some surfaces log where a call ran; most besides bedrock-runtime are CloudTrail data events, which a trail records only when its event selectors ask for them. Failed calls (an <code>errorCode</code>) ran nowhere: charts count successful invocations; the errors table shows the failures.</li>\
         <li><b>profile scope</b>: the prefix of a system inference profile (<code>global.</code>, <code>eu.</code>, ...), <code>application</code> for application inference profiles, <code>in-region</code> for a plain model id, <code>not routed by model id</code> for surfaces whose model id does not decide where they run.</li></ul>\
         <p class=\"note\">Every section is a named query; re-run one with <code>trailmap query -s SOURCE NAME</code>.</p></section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
    }
}
