//! CSV: Windows-1252 text, any line ending, quoted fields, ragged rows.

use super::{Grid, Row, Text, decode_windows_1252};
use crate::error::{Error, Location, Result};

/// Reads CMS CSV bytes (Windows-1252) into a grid. Rows keep their physical line numbers, so
/// an error can point at the line a user sees in an editor.
pub fn read(file: &str, bytes: &[u8]) -> Result<Grid> {
    read_text(file, &decode_windows_1252(bytes))
}

/// Reads UTF-8 CSV (what this tool publishes) into a grid.
pub fn read_utf8(file: &str, bytes: &[u8]) -> Result<Grid> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Parse {
        location: Location::file(file),
        message: format!("not UTF-8: {e}"),
    })?;
    read_text(file, text)
}

fn read_text(file: &str, text: &str) -> Result<Grid> {
    // The csv crate treats a bare CR as a line end only in some positions; normalising to LF
    // keeps one rule for CRLF, LF and CR files. Quoted fields in CMS files never span lines.
    let text = normalise_line_ends(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let number = record
                    .position()
                    .map_or(rows.len() + 1, |p| p.line() as usize);
                rows.push(Row {
                    number,
                    cells: record.iter().map(Text::from).collect(),
                });
            }
            Err(err) => {
                let mut location = Location::file(file);
                if let Some(pos) = err.position() {
                    location.row = Some(pos.line() as usize);
                }
                return Err(Error::Parse {
                    location,
                    message: format!("not readable as CSV: {err}"),
                });
            }
        }
    }
    Ok(Grid {
        file: file.to_string(),
        sheet: None,
        rows,
    })
}

fn normalise_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_ragged_cp1252_rows() {
        let grid = read("t.csv", b"a,\"b, c\",d\r\n1\r\ncaf\xe9,2\r").unwrap();
        assert_eq!(grid.rows.len(), 3);
        assert_eq!(grid.rows[0].cells, vec!["a", "b, c", "d"]);
        assert_eq!(grid.rows[1].cells, vec!["1"]);
        assert_eq!(grid.rows[2].cells, vec!["café", "2"]);
        assert_eq!(grid.rows[2].number, 3);
    }

    #[test]
    fn bare_cr_files_have_lines() {
        let grid = read("t.csv", b"a,b\rc,d\re,f").unwrap();
        assert_eq!(grid.rows.len(), 3);
        assert_eq!(grid.rows[2].number, 3);
    }
}
