//! Renders a change report's sections with the templates in `templates/`: `changes.md` and
//! `changes.html` walk the same [`Report`]; askama escapes every value (HTML by its own
//! escaper, Markdown table cells by [`Markdown`]).

use std::fmt;

use askama::Template;

use super::sections::{Block, Report};
use crate::error::{Error, Result};

/// The stylesheet inlined in `report.html`, so the report is one self-contained file.
const CSS: &str = include_str!("../../templates/report.css").trim_ascii_end();

#[derive(Template)]
#[template(path = "changes.md")]
struct MarkdownReport<'a> {
    r: &'a Report,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct HtmlReport<'a> {
    r: &'a Report,
    css: &'static str,
}

pub fn markdown(report: &Report) -> Result<String> {
    finish("report.md", MarkdownReport { r: report }.render())
}

pub fn html(report: &Report) -> Result<String> {
    finish(
        "report.html",
        HtmlReport {
            r: report,
            css: CSS,
        }
        .render(),
    )
}

fn finish(what: &str, rendered: askama::Result<String>) -> Result<String> {
    rendered.map_err(|e| Error::Output {
        what: what.into(),
        message: e.to_string(),
    })
}

/// Escapes a value for a Markdown table cell: `|` would end the cell, a line break the row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl askama::filters::Escaper for Markdown {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        for ch in text.chars() {
            match ch {
                '|' => dest.write_str("\\|")?,
                '\n' => dest.write_char(' ')?,
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::{Cell, Column, Row, Section, Table};

    /// A report whose one cell holds markup, a pipe and a line break, as a CMS description could.
    fn hostile() -> Report {
        let cell = "<script>alert('x')</script> a|b\nc & d";
        Report {
            from: "RVU25A".into(),
            to: "RVU25B".into(),
            header: Table {
                columns: vec![Column {
                    label: "",
                    numeric: false,
                }],
                rows: Vec::new(),
                row_headers: true,
            },
            licence: "",
            sections: vec![Section {
                title: "Added codes (1)".into(),
                blocks: vec![Block::Table(Table {
                    columns: vec![Column {
                        label: "description",
                        numeric: false,
                    }],
                    rows: vec![Row {
                        class: None,
                        cells: vec![Cell::from(cell.to_string())],
                    }],
                    row_headers: false,
                })],
            }],
        }
    }

    #[test]
    fn html_escapes_every_value() {
        let html = html(&hostile()).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
        assert!(html.contains("c &#38; d"));
    }

    #[test]
    fn markdown_keeps_a_cell_in_its_row() {
        let md = markdown(&hostile()).unwrap();
        assert!(
            md.contains("| <script>alert('x')</script> a\\|b c & d |\n"),
            "{md}"
        );
    }
}
