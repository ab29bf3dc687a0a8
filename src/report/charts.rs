//! SVG charts (plotters' SVG backend): served-Region bars, the source → served heatmap, and
//! daily invocations stacked by served geography. Each geography has one colour everywhere.
//! Chart sizes grow with the number of Regions and days, so 1 Region and 30 both read well.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::regions::GEOGRAPHIES;

const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),  // US
    RGBColor(23, 190, 207),  // CA
    RGBColor(188, 189, 34),  // MX
    RGBColor(140, 86, 75),   // SA
    RGBColor(44, 160, 44),   // EU
    RGBColor(255, 127, 14),  // APAC
    RGBColor(148, 103, 189), // ME
    RGBColor(227, 119, 194), // AF
    RGBColor(57, 59, 121),   // US-GOV
    RGBColor(214, 39, 40),   // CN
];
const UNKNOWN: RGBColor = RGBColor(127, 127, 127);

/// The colour of a geography (grey for unknown).
pub fn geography_color(geography: &str) -> RGBColor {
    GEOGRAPHIES
        .iter()
        .position(|g| *g == geography)
        .map_or(UNKNOWN, |i| PALETTE[i])
}

/// `#rrggbb` of a geography's colour, for HTML legends.
pub fn geography_hex(geography: &str) -> String {
    let RGBColor(r, g, b) = geography_color(geography);
    format!("#{r:02x}{g:02x}{b:02x}")
}

type ChartResult = Result<(), Box<dyn std::error::Error>>;

fn center_label(labels: &[String], value: &SegmentValue<usize>) -> String {
    match value {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn label_width(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    (longest * 7 + 16).clamp(40, 320)
}

/// Horizontal bars: `(label, geography, count)` in display order.
pub fn served_regions(bars: &[(String, String, u64)]) -> String {
    let mut svg = String::new();
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let height = 70 + 24 * bars.len().max(1) as u32;
    let result: ChartResult = (|| {
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let max = bars.iter().map(|b| b.2).max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(label_width(&labels))
            .build_cartesian_2d(0u64..max + max / 10 + 1, (0..bars.len()).into_segmented())?;
        // Segment 0 is at the bottom: the first bar goes to the top segment.
        let top_down: Vec<String> = labels.iter().rev().cloned().collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .x_labels(8)
            .y_labels(bars.len().max(1))
            .y_label_formatter(&|v| center_label(&top_down, v))
            .x_desc("successful invocations")
            .label_style((FONT, 13))
            .draw()?;
        for (rank, (_, geography, count)) in bars.iter().enumerate() {
            let i = bars.len() - 1 - rank;
            let color = geography_color(geography);
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (0, SegmentValue::Exact(i)),
                    (*count, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            )))?;
            let style = TextStyle::from((FONT, 12)).pos(Pos::new(HPos::Left, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                format!(" {count}"),
                (*count, SegmentValue::CenterOf(i)),
                style,
            )))?;
        }
        root.present()?;
        Ok(())
    })();
    finish(svg, result)
}

/// Heatmap of `(source, served, count)` cells.
pub fn routes_heatmap(cells: &[(String, String, u64)]) -> String {
    let cells = &busiest_routes(cells, HEATMAP_REGIONS);
    let mut sources: Vec<String> = cells.iter().map(|c| c.0.clone()).collect();
    let mut served: Vec<String> = cells.iter().map(|c| c.1.clone()).collect();
    sources.sort_by(|a, b| (a == OTHER, a).cmp(&(b == OTHER, b)));
    sources.dedup();
    // Segment 0 is at the bottom: list sources bottom-up so they read alphabetically downwards.
    let sources_top_down: Vec<String> = sources.iter().rev().cloned().collect();
    served.sort_by(|a, b| (a == OTHER, a).cmp(&(b == OTHER, b)));
    served.dedup();
    let mut svg = String::new();
    let width = label_width(&sources) + 60 + 56 * served.len().max(1) as u32;
    let height = label_width(&served) + 40 + 30 * sources.len().max(1) as u32;
    let max = cells.iter().map(|c| c.2).max().unwrap_or(1).max(1) as f64;
    let result: ChartResult = (|| {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(label_width(&served))
            .y_label_area_size(label_width(&sources))
            .build_cartesian_2d(
                (0..served.len()).into_segmented(),
                (0..sources.len()).into_segmented(),
            )?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(served.len().max(1))
            .y_labels(sources.len().max(1))
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| center_label(&sources_top_down, v))
            .y_label_style((FONT, 14))
            .draw()?;
        let bottom: Vec<(String, (i32, i32))> = served
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.clone(),
                    chart.backend_coord(&(SegmentValue::CenterOf(i), SegmentValue::Exact(0))),
                )
            })
            .collect();
        draw_bottom_labels(&root, &bottom)?;
        for (source, target, count) in cells {
            let (Some(x), Some(y)) = (
                served.iter().position(|s| s == target),
                sources_top_down.iter().position(|s| s == source),
            ) else {
                continue;
            };
            let intensity = (*count as f64 / max).sqrt();
            let shade = |light: f64, dark: f64| (light + (dark - light) * intensity) as u8;
            let fill = RGBColor(shade(239.0, 8.0), shade(243.0, 81.0), shade(255.0, 156.0));
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                fill.filled(),
            )))?;
            let ink = if intensity > 0.55 { WHITE } else { BLACK };
            let style = TextStyle::from((FONT, 13))
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                count.to_string(),
                (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                style,
            )))?;
        }
        root.present()?;
        Ok(())
    })();
    finish(svg, result)
}

/// Regions on each axis of the heatmap at most (the busiest, then "other"): past a dozen the
/// cells and labels get too small to read on a screen or on paper.
const HEATMAP_REGIONS: usize = 12;
/// The label of the Regions folded together.
const OTHER: &str = "other";

/// `cells` with only the `limit` - 1 busiest sources and served Regions by name (all of them
/// when there are at most `limit`), the rest summed into "other".
fn busiest_routes(cells: &[(String, String, u64)], limit: usize) -> Vec<(String, String, u64)> {
    let keep = |side: fn(&(String, String, u64)) -> &String| {
        let mut totals: Vec<(&String, u64)> = Vec::new();
        for cell in cells {
            match totals.iter_mut().find(|(name, _)| *name == side(cell)) {
                Some((_, total)) => *total += cell.2,
                None => totals.push((side(cell), cell.2)),
            }
        }
        totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let kept = if totals.len() <= limit {
            limit
        } else {
            limit - 1
        };
        totals
            .into_iter()
            .take(kept)
            .map(|(name, _)| name.clone())
            .collect::<Vec<String>>()
    };
    let sources = keep(|c| &c.0);
    let served = keep(|c| &c.1);
    let name = |kept: &[String], name: &String| {
        if kept.contains(name) {
            name.clone()
        } else {
            OTHER.to_owned()
        }
    };
    let mut folded: Vec<(String, String, u64)> = Vec::new();
    for (source, target, count) in cells {
        let key = (name(&sources, source), name(&served, target));
        match folded.iter_mut().find(|c| (&c.0, &c.1) == (&key.0, &key.1)) {
            Some(cell) => cell.2 += count,
            None => folded.push((key.0, key.1, *count)),
        }
    }
    folded
}

/// Stacked bars per day: `(day, geography, count)`.
pub fn daily_stacked(points: &[(String, String, u64)]) -> String {
    let mut days: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
    days.sort();
    days.dedup();
    let geographies: Vec<&str> = GEOGRAPHIES
        .iter()
        .copied()
        .filter(|g| points.iter().any(|p| p.1 == *g))
        .chain(
            points
                .iter()
                .any(|p| !GEOGRAPHIES.contains(&p.1.as_str()))
                .then_some("unknown"),
        )
        .collect();
    let mut totals = vec![0u64; days.len()];
    for (day, _, count) in points {
        if let Some(i) = days.iter().position(|d| d == day) {
            totals[i] += count;
        }
    }
    let max = totals.iter().copied().max().unwrap_or(1).max(1);
    // The legend sits in the plot's upper right: the y axis reaches high enough that the
    // tallest bar stays below it (its rows are about 20 px each; the plot is 256 px high).
    let legend = 20 * geographies.len() as u64 + 20;
    let plot = 256u64;
    let top = (max * plot / plot.saturating_sub(legend).max(64)).max(max + max * 2 / 5) + 1;
    let mut svg = String::new();
    let width = (140 + 34 * days.len() as u32).clamp(480, 1400);
    let label_every = days.len().div_ceil(20).max(1);
    let result: ChartResult = (|| {
        let root = SVGBackend::with_string(&mut svg, (width, 360)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(80)
            .y_label_area_size(60)
            .build_cartesian_2d((0..days.len()).into_segmented(), 0u64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.len().max(1))
            .x_label_formatter(&|_| String::new())
            .light_line_style(WHITE)
            .y_desc("successful invocations")
            .label_style((FONT, 12))
            .draw()?;
        let bottom: Vec<(String, (i32, i32))> = days
            .iter()
            .enumerate()
            .filter(|(i, _)| i % label_every == 0)
            .map(|(i, day)| {
                (
                    day.clone(),
                    chart.backend_coord(&(SegmentValue::CenterOf(i), 0)),
                )
            })
            .collect();
        draw_bottom_labels(&root, &bottom)?;
        let mut base = vec![0u64; days.len()];
        for geography in &geographies {
            let color = geography_color(geography);
            let mut bars = Vec::new();
            for (day, g, count) in points {
                let known = GEOGRAPHIES.contains(&g.as_str());
                let matches = if *geography == "unknown" {
                    !known
                } else {
                    g == geography
                };
                if let (true, Some(i)) = (matches, days.iter().position(|d| d == day)) {
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), base[i]),
                            (SegmentValue::Exact(i + 1), base[i] + count),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(0, 0, 2, 2);
                    bars.push(bar);
                    base[i] += count;
                }
            }
            chart
                .draw_series(bars)?
                .label(*geography)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 12))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, result)
}

/// Category names under the x axis, rotated to read downwards from their tick, so long Region
/// names and dates never overlap.
fn draw_bottom_labels(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    labels: &[(String, (i32, i32))],
) -> ChartResult {
    let style = TextStyle::from((FONT, 12))
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (text, (x, y)) in labels {
        root.draw_text(text, &style, (*x, *y + 6))?;
    }
    Ok(())
}

/// The SVG, or a note saying the chart could not be drawn (never a broken page).
fn finish(svg: String, result: ChartResult) -> String {
    match result {
        Ok(()) => svg,
        Err(e) => {
            tracing::warn!("chart could not be drawn: {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heatmap_keeps_the_busiest_regions_and_folds_the_rest() {
        let cell = |a: &str, b: &str, n: u64| (a.to_owned(), b.to_owned(), n);
        let cells = vec![
            cell("eu-west-1", "eu-west-1", 50),
            cell("eu-west-1", "eu-west-3", 20),
            cell("us-east-1", "us-east-2", 30),
            cell("ap-south-1", "ap-south-2", 2),
            cell("sa-east-1", "us-east-1", 1),
        ];
        let mut folded = busiest_routes(&cells, 3);
        folded.sort();
        assert_eq!(
            folded,
            vec![
                cell("eu-west-1", "eu-west-1", 50),
                cell("eu-west-1", "other", 20),
                cell("other", "other", 3),
                cell("us-east-1", "us-east-2", 30),
            ]
        );
        assert_eq!(busiest_routes(&cells[..2], 3), cells[..2].to_vec());
    }
}
