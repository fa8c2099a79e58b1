//! Charts as inline SVG, drawn in Rust (no script): a line per numeric
//! column over a datetime x axis (timechart, or a summarize by a time bin),
//! else bars per row's first text cell (barchart, columnchart, piechart —
//! a pie is drawn as bars: the values read the same).

use crate::backend::Grid;
use maud::{html, Markup};

const W: f64 = 800.0;
const H: f64 = 260.0;
const PAD: f64 = 40.0;
/// Bars drawn at most (the rest are summed in no bar; the grid shows all).
const MAX_BARS: usize = 50;
const COLORS: [&str; 4] = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700"];

fn num(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Whether the result should be charted: a `render`, or a datetime column
/// next to a numeric one when the query bins by time.
pub fn wanted(grid: &Grid, query: &str) -> bool {
    grid.render.is_some() || (query.contains("bin(") && grid.datetime.iter().any(|d| *d))
}

pub fn draw(grid: &Grid) -> Markup {
    let x_col = grid.datetime.iter().position(|d| *d);
    let numeric: Vec<usize> = (0..grid.columns.len())
        .filter(|&c| Some(c) != x_col && grid.rows.iter().any(|r| r.get(c).and_then(num).is_some()))
        .collect();
    let is_time = matches!(grid.render.as_deref(), None | Some("timechart") | Some("linechart") | Some("areachart"));
    match (x_col, is_time) {
        (Some(x), true) => line_chart(grid, x, &numeric),
        _ => bar_chart(grid, &numeric),
    }
}

fn line_chart(grid: &Grid, x: usize, ys: &[usize]) -> Markup {
    let mut pts: Vec<(i64, &Vec<serde_json::Value>)> =
        grid.rows.iter().filter_map(|r| r.get(x)?.as_str().and_then(parse_time).map(|t| (t, r))).collect();
    pts.sort_by_key(|p| p.0);
    let (t0, t1) = (pts.first().map_or(0, |p| p.0), pts.last().map_or(1, |p| p.0));
    let span = (t1 - t0).max(1) as f64;
    let ymax =
        pts.iter().flat_map(|(_, r)| ys.iter().filter_map(|&c| r.get(c).and_then(num))).fold(0.0, f64::max).max(1.0);
    let sx = |t: i64| PAD + (t - t0) as f64 / span * (W - 2.0 * PAD);
    let sy = |v: f64| H - PAD - v / ymax * (H - 2.0 * PAD);
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W) " " (H)} role="img" aria-label="time chart" {
            (axes(ymax))
            text x=(PAD) y=(H - 10.0) { (grid.rows.first().and_then(|r| r.get(x)).and_then(|v| v.as_str()).unwrap_or("")) }
            @for (i, &c) in ys.iter().enumerate() {
                polyline fill="none" stroke=(COLORS[i % COLORS.len()]) stroke-width="2"
                    points=(pts.iter().filter_map(|(t, r)| r.get(c).and_then(num).map(|v| format!("{:.1},{:.1} ", sx(*t), sy(v)))).collect::<String>()) {}
                text x=(W - PAD - 150.0) y=(PAD + 14.0 * i as f64) fill=(COLORS[i % COLORS.len()]) { (grid.columns[c]) }
            }
        }
    }
}

fn bar_chart(grid: &Grid, ys: &[usize]) -> Markup {
    let y = ys.first().copied();
    let label_col = (0..grid.columns.len()).find(|c| Some(*c) != y);
    let rows: Vec<_> = grid.rows.iter().take(MAX_BARS).collect();
    let vals: Vec<f64> = rows.iter().map(|r| y.and_then(|c| r.get(c)).and_then(num).unwrap_or(0.0)).collect();
    let ymax = vals.iter().copied().fold(0.0, f64::max).max(1.0);
    let bw = (W - 2.0 * PAD) / rows.len().max(1) as f64;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W) " " (H)} role="img" aria-label="bar chart" {
            (axes(ymax))
            @for (i, v) in vals.iter().enumerate() {
                @let h = v / ymax * (H - 2.0 * PAD);
                rect x=(format!("{:.1}", PAD + i as f64 * bw + 2.0)) y=(format!("{:.1}", H - PAD - h)) width=(format!("{:.1}", (bw - 4.0).max(1.0))) height=(format!("{:.1}", h)) fill=(COLORS[0]) {
                    title { (label_col.and_then(|c| rows[i].get(c)).map(cell_text).unwrap_or_default()) ": " (v) }
                }
            }
        }
    }
}

fn axes(ymax: f64) -> Markup {
    html! {
        line x1=(PAD) y1=(H - PAD) x2=(W - PAD) y2=(H - PAD) stroke="#888" {}
        line x1=(PAD) y1=(PAD) x2=(PAD) y2=(H - PAD) stroke="#888" {}
        text x="2" y=(PAD) { (ymax) }
        text x="2" y=(H - PAD) { "0" }
    }
}

pub fn cell_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.f]Z` to seconds (charts need order and
/// spacing only).
fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_order() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2024-03-01T00:00:01Z"), Some(1709251201));
        assert_eq!(parse_time("bad"), None);
    }

    #[test]
    fn a_timechart_draws_a_line_per_numeric_column() {
        let g = Grid {
            columns: vec!["Timestamp".into(), "count_".into()],
            datetime: vec![true, false],
            rows: vec![vec!["2024-01-01T00:00:00Z".into(), 3.into()], vec!["2024-01-01T01:00:00Z".into(), 5.into()]],
            render: Some("timechart".into()),
            truncated: false,
        };
        let svg = draw(&g).into_string();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
    }
}
