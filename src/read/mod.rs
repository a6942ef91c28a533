//! Readers that know nothing about CMS: they turn csv, xlsx and fixed-width bytes into a
//! [`Grid`] of text cells that remembers where each cell came from.

pub mod csv;
pub mod fixed_width;
pub mod xlsx;

use crate::error::Location;

/// A cell's text: up to 24 bytes in place (most cells of a CMS file), longer ones on the heap.
pub type Text = compact_str::CompactString;

/// One row of a grid: its 1-based line (csv, txt) or sheet row (xlsx), and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<Text>,
}

impl Row {
    /// The cell at `index`, or "" for a ragged row that stops short.
    pub fn cell(&self, index: usize) -> &str {
        self.cells.get(index).map(Text::as_str).unwrap_or("")
    }

    /// True when every cell is blank (spaces, or a lone Ctrl-Z end-of-file marker).
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| is_blank_cell(c))
    }

    pub fn non_blank_count(&self) -> usize {
        self.cells.iter().filter(|c| !is_blank_cell(c)).count()
    }
}

fn is_blank_cell(cell: &str) -> bool {
    cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{1a}')
        .is_empty()
}

/// A table of text cells read from one file (and sheet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// The file name as the user knows it (the zip member or the file in the folder).
    pub file: String,
    pub sheet: Option<String>,
    pub rows: Vec<Row>,
}

impl Grid {
    pub fn location(&self, row: usize, column: &str) -> Location {
        Location {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: Some(row),
            column: Some(column.to_string()),
        }
    }

    pub fn file_location(&self) -> Location {
        Location {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: None,
            column: None,
        }
    }
}

/// The file formats CMS ships each table in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Txt,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Xlsx, Format::Txt];

    pub fn from_extension(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "txt" | "prn" => Some(Format::Txt),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Txt => "txt",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "txt" => Ok(Format::Txt),
            other => Err(format!(
                "unknown format '{other}' (expected csv, xlsx or txt)"
            )),
        }
    }
}

/// Decodes Windows-1252 bytes (what CMS writes) into text.
pub fn decode_windows_1252(bytes: &[u8]) -> String {
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
    text.into_owned()
}

/// Splits text into lines on CRLF, LF or a bare CR, as CMS files use all three.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_line_ending() {
        assert_eq!(split_lines("a\r\nb\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\r\n"), vec!["a"]);
        assert_eq!(split_lines(""), Vec::<&str>::new());
    }

    #[test]
    fn decodes_windows_1252() {
        assert_eq!(decode_windows_1252(b"caf\xe9 \x96 x"), "café – x");
    }
}
