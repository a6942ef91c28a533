//! Fixed-width text: the layout is data (field name and 1-based column span), so a new year's
//! record layout from the release PDF is a table edit, not code.

use compact_str::format_compact;

use super::{Grid, Row, Text, decode_windows_1252, split_lines};
use crate::error::Result;

/// One field of a fixed-width record, 1-based inclusive positions as the CMS PDFs give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub start: usize,
    pub end: usize,
    /// Digits after an implied decimal point (`1931` with 2 is `19.31`).
    pub implied_decimals: u8,
}

impl Field {
    pub const fn new(name: &'static str, start: usize, end: usize) -> Self {
        Field {
            name,
            start,
            end,
            implied_decimals: 0,
        }
    }

    pub const fn implied(name: &'static str, start: usize, end: usize, decimals: u8) -> Self {
        Field {
            name,
            start,
            end,
            implied_decimals: decimals,
        }
    }
}

/// A record layout: the fields of one line, in order.
#[derive(Debug, Clone)]
pub struct Layout {
    pub fields: Vec<Field>,
}

/// A layout known only for the years it was measured on; other years have none, so an
/// unmeasured file is reported rather than misread.
pub fn measured_layout(
    year: u16,
    years: std::ops::RangeInclusive<u16>,
    fields: &[Field],
) -> Option<Layout> {
    years.contains(&year).then(|| Layout {
        fields: fields.to_vec(),
    })
}

/// Reads fixed-width text into a grid whose first row holds the field names; every other row
/// keeps its physical line number. Lines are cut by character, after Windows-1252 decoding.
pub fn read(file: &str, bytes: &[u8], layout: &Layout) -> Result<Grid> {
    let text = decode_windows_1252(bytes);
    let mut rows = vec![Row {
        number: 0,
        cells: layout.fields.iter().map(|f| Text::from(f.name)).collect(),
    }];
    for (i, line) in split_lines(&text).into_iter().enumerate() {
        // Fields are counted in characters; in an ASCII line (nearly every line) those are
        // bytes, and the line is cut in place.
        let cells = if line.is_ascii() {
            layout
                .fields
                .iter()
                .map(|field| cut(&line[span(field, line.len())], field))
                .collect()
        } else {
            let chars: Vec<char> = line.chars().collect();
            layout
                .fields
                .iter()
                .map(|field| {
                    let raw: String = chars[span(field, chars.len())].iter().collect();
                    cut(&raw, field)
                })
                .collect()
        };
        rows.push(Row {
            number: i + 1,
            cells,
        });
    }
    Ok(Grid {
        file: file.to_string(),
        sheet: None,
        rows,
    })
}

/// The characters of `field` in a line of `len` characters (fewer at a short line's end).
fn span(field: &Field, len: usize) -> std::ops::Range<usize> {
    let start = field.start.saturating_sub(1).min(len);
    let end = field.end.min(len).max(start);
    start..end
}

/// A field's cell from its characters: trimmed, with its implied decimal point.
fn cut(raw: &str, field: &Field) -> Text {
    let trimmed = raw.trim();
    let (sign, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", trimmed),
    };
    // Only plain digits have an implied point; anything else goes on as written, for the
    // table's typing to accept or reject with its location.
    if field.implied_decimals == 0
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return trimmed.into();
    }
    insert_decimal_point(sign, digits, field.implied_decimals as usize)
}

fn insert_decimal_point(sign: &str, digits: &str, decimals: usize) -> Text {
    let padded = format_compact!("{digits:0>width$}", width = decimals + 1);
    let (int, frac) = padded.split_at(padded.len() - decimals);
    format_compact!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        Field::new("code", 1, 5),
        Field::new("name", 7, 12),
        Field::implied("cf", 13, 16, 2),
    ];

    #[test]
    fn cuts_fields_and_inserts_implied_decimals() {
        let grid = read(
            "a.txt",
            b"10112 ALA   1931\r\n02102 AK      5\r\nshort",
            &Layout {
                fields: FIELDS.to_vec(),
            },
        )
        .unwrap();
        assert_eq!(grid.rows[0].cells, vec!["code", "name", "cf"]);
        assert_eq!(grid.rows[1].cells, vec!["10112", "ALA", "19.31"]);
        assert_eq!(grid.rows[2].cells, vec!["02102", "AK", "0.05"]);
        assert_eq!(grid.rows[3].cells, vec!["short", "", ""]);
    }

    #[test]
    fn a_line_with_accents_is_cut_by_character() {
        // Windows-1252 0xE9 is one character (é), two bytes in UTF-8.
        let grid = read(
            "a.txt",
            b"10112 CAF\xe9  1931",
            &Layout {
                fields: FIELDS.to_vec(),
            },
        )
        .unwrap();
        assert_eq!(grid.rows[1].cells, vec!["10112", "CAF\u{e9}", "19.31"]);
    }
}
