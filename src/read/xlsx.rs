//! xlsx through calamine: every sheet becomes a grid, and the caller picks the one that holds
//! its table (CMS renames and even misspells sheets from release to release).

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, ReaderRef, Xlsx};
use compact_str::format_compact;

use super::{Grid, Row, Text};
use crate::error::{Error, Location, Result};

/// What an xlsx (itself a zip) may inflate to before calamine reads it: a real PPRRVU
/// workbook inflates to about 19 MB in 10 parts.
const MAX_PART_BYTES: u64 = 256 << 20;
const MAX_TOTAL_BYTES: u64 = 512 << 20;
const MAX_PARTS: usize = 1000;

/// Inflates every part of the workbook into nothing, counting, so a bomb inside an xlsx is
/// refused before calamine (which has no limits) reads it.
fn check_inflated_size(file: &str, bytes: &[u8]) -> Result<()> {
    let refuse = |message: String| Error::Parse {
        location: Location::file(file),
        message,
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| refuse(format!("not a readable xlsx workbook: {e}")))?;
    if archive.len() > MAX_PARTS {
        return Err(refuse(format!(
            "{} parts; a workbook may have {MAX_PARTS}",
            archive.len()
        )));
    }
    let mut total = 0u64;
    for index in 0..archive.len() {
        let mut part = archive
            .by_index(index)
            .map_err(|e| refuse(format!("part {index}: {e}")))?;
        let inflated = std::io::copy(
            &mut (&mut part).take(MAX_PART_BYTES + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| refuse(format!("part {index}: {e}")))?;
        total += inflated;
        if inflated > MAX_PART_BYTES || total > MAX_TOTAL_BYTES {
            return Err(refuse(format!(
                "inflates past {MAX_PART_BYTES} bytes in a part or {MAX_TOTAL_BYTES} in all (a zip bomb?); refused"
            )));
        }
    }
    Ok(())
}

/// Reads the first sheet for which `holds_table` says yes; the error lists the sheets seen.
pub fn read(file: &str, bytes: &[u8], holds_table: impl Fn(&Grid) -> bool) -> Result<Grid> {
    check_inflated_size(file, bytes)?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|err| Error::Parse {
        location: Location::file(file),
        message: format!("not a readable xlsx workbook: {err}"),
    })?;
    let names = workbook.sheet_names();
    for name in &names {
        let range = workbook
            .worksheet_range_ref(name)
            .map_err(|err| Error::Parse {
                location: Location {
                    file: file.to_string(),
                    sheet: Some(name.clone()),
                    ..Default::default()
                },
                message: format!("sheet cannot be read: {err}"),
            })?;
        let grid = range_to_grid(file, name, &range);
        if holds_table(&grid) {
            return Ok(grid);
        }
    }
    Err(Error::Parse {
        location: Location::file(file),
        message: format!(
            "no sheet holds the expected table (sheets: {})",
            names.join(", ")
        ),
    })
}

fn range_to_grid(file: &str, sheet: &str, range: &calamine::Range<DataRef>) -> Grid {
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut texts = vec![Text::default(); first_col as usize];
            texts.extend(cells.iter().map(cell_text));
            Row {
                number: first_row as usize + i + 1,
                cells: texts,
            }
        })
        .collect();
    Grid {
        file: file.to_string(),
        sheet: Some(sheet.to_string()),
        rows,
    }
}

/// The text a person sees for a cell, without float noise: 1.3 stays "1.3", 90.0 is "90".
/// Shared strings are borrowed from the workbook, so a cell's text is copied once.
fn cell_text(cell: &DataRef) -> Text {
    match cell {
        DataRef::Empty => Text::default(),
        DataRef::SharedString(s) => Text::from(*s),
        DataRef::String(s) => Text::from(s.as_str()),
        DataRef::Int(i) => format_compact!("{i}"),
        DataRef::Float(f) => float_text(*f),
        DataRef::Bool(b) => Text::const_new(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(dt) => float_text(dt.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Text::from(s.as_str()),
        DataRef::Error(e) => format_compact!("#{e:?}"),
    }
}

fn float_text(f: f64) -> Text {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format_compact!("{}", f as i64)
    } else {
        format_compact!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_without_noise() {
        assert_eq!(float_text(1.3), "1.3");
        assert_eq!(float_text(90.0), "90");
        assert_eq!(float_text(32.3465), "32.3465");
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let err = read("x.xlsx", b"PK\x03\x04 not really", |_| true).unwrap_err();
        assert!(err.to_string().starts_with("x.xlsx"), "{err}");
    }
}
