//! The HTML report's figures: the status transition heat map and the work RVU histogram
//! (drawn by `templates/histogram.svg`). Their geometry and colours are computed here.

use askama::Template;

use crate::stages::diff::{GONE, NEW, StatusMatrix};

/// The status transition matrix (rows: status before, columns: status after).
pub struct Matrix {
    pub columns: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

pub struct MatrixRow {
    pub status: String,
    pub cells: Vec<MatrixCell>,
}

pub struct MatrixCell {
    /// Empty for zero, so the eye goes to what moved.
    pub count: String,
    /// `background:rgba(...)`: red for a status change, blue for staying, deeper with more codes.
    pub style: String,
}

impl Matrix {
    pub fn new(m: &StatusMatrix) -> Matrix {
        let mut columns: Vec<String> = m.values().flat_map(|row| row.keys().cloned()).collect();
        columns.sort();
        columns.dedup();
        let max = m
            .values()
            .flat_map(|r| r.values())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1);
        let rows = m
            .iter()
            .map(|(from, row)| MatrixRow {
                status: from.clone(),
                cells: columns
                    .iter()
                    .map(|to| {
                        let n = row.get(to).copied().unwrap_or(0);
                        let changed = from != to && from != NEW && to != GONE;
                        MatrixCell {
                            count: if n == 0 { String::new() } else { n.to_string() },
                            style: heat(n, max, changed),
                        }
                    })
                    .collect(),
            })
            .collect();
        Matrix { columns, rows }
    }
}

/// A log-scaled shade, so a cell of 3 codes still shows beside one of 18,000.
fn heat(n: usize, max: usize, changed: bool) -> String {
    let strength = if n == 0 {
        0.0
    } else {
        0.15 + 0.85 * (n as f64).ln_1p() / (max as f64).ln_1p()
    };
    let (r, g, b) = if changed {
        (214, 40, 40)
    } else {
        (40, 110, 214)
    };
    format!("background:rgba({r},{g},{b},{strength:.2})")
}

/// An inline SVG bar chart of the work RVU percent-change bins.
#[derive(Template)]
#[template(path = "histogram.svg")]
pub struct Histogram {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    /// Where the bars stand (the axis line).
    pub base: f64,
    pub bars: Vec<Bar>,
}

/// One bar, its count above it and its bin label below, coordinates already formatted.
pub struct Bar {
    pub label: String,
    pub count: usize,
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub count_x: String,
    pub count_y: String,
    pub label_x: String,
    pub label_y: String,
}

impl Histogram {
    pub fn new(bins: &[(&str, usize)]) -> Histogram {
        let (width, height, left, bottom) = (640.0, 220.0, 40.0, 50.0);
        let max = bins.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
        let bar = (width - left) / bins.len().max(1) as f64;
        let base = height - bottom;
        let bars = bins
            .iter()
            .enumerate()
            .map(|(i, (label, n))| {
                let h = (base - 10.0) * (*n as f64) / max;
                let x = left + i as f64 * bar;
                let y = base - h;
                Bar {
                    label: label.to_string(),
                    count: *n,
                    x: format!("{:.1}", x + 2.0),
                    y: format!("{y:.1}"),
                    width: format!("{:.1}", bar - 4.0),
                    height: format!("{h:.1}"),
                    count_x: format!("{:.1}", x + bar / 2.0),
                    count_y: format!("{:.1}", y - 2.0),
                    label_x: format!("{:.1}", x + bar / 2.0 - 10.0),
                    label_y: format!("{:.1}", base + 12.0),
                }
            })
            .collect();
        Histogram {
            width,
            height,
            left,
            base,
            bars,
        }
    }
}
