//! Reports for people and CI systems.

pub mod changes;
mod facts;
mod figures;
mod render;
mod sections;
pub mod validation;
pub mod workbook;

/// Escapes text for XML and HTML.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell.
pub fn escape_md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
