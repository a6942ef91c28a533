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
