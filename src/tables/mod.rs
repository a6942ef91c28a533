//! The CMS tables. Each table module owns its canonical columns (DOMAIN.md section 5), their
//! header aliases across years and formats, its fixed-width layouts and its natural key. This
//! module holds what they share: typed values, header matching and row typing.

pub mod anes;
pub mod gpci;
pub mod locco;
pub mod oppscap;
pub mod pprrvu;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::error::{Error, Location, Result};
use crate::read::fixed_width::Layout;
use crate::read::{Grid, Row};

/// The five tables of a release.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Pprrvu,
    Gpci,
    Locco,
    Anes,
    Oppscap,
}

impl TableKind {
    pub const ALL: [TableKind; 5] = [
        TableKind::Pprrvu,
        TableKind::Gpci,
        TableKind::Locco,
        TableKind::Anes,
        TableKind::Oppscap,
    ];

    /// The dataset name, also the output file stem.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Pprrvu => "pprrvu",
            TableKind::Gpci => "gpci",
            TableKind::Locco => "locco",
            TableKind::Anes => "anes",
            TableKind::Oppscap => "oppscap",
        }
    }

    /// Which table a release member holds, by its (drifting) file name.
    pub fn from_file_name(name: &str) -> Option<TableKind> {
        let stem = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let upper = stem.to_ascii_uppercase();
        if upper.starts_with("PPRRVU") || upper.starts_with("PPRVU") {
            Some(TableKind::Pprrvu)
        } else if upper.starts_with("GPCI") {
            Some(TableKind::Gpci)
        } else if upper.contains("LOCCO") {
            Some(TableKind::Locco)
        } else if upper.starts_with("ANES") {
            Some(TableKind::Anes)
        } else if upper.starts_with("OPPSCAP") {
            Some(TableKind::Oppscap)
        } else {
            None
        }
    }

    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            TableKind::Pprrvu => pprrvu::COLUMNS,
            TableKind::Gpci => gpci::COLUMNS,
            TableKind::Locco => locco::COLUMNS,
            TableKind::Anes => anes::COLUMNS,
            TableKind::Oppscap => oppscap::COLUMNS,
        }
    }

    /// The columns as a file of this table names them (ANES files are wide, one CF column
    /// per variant; the others name their canonical columns).
    pub fn file_columns(self) -> &'static [ColumnSpec] {
        match self {
            TableKind::Anes => anes::source_columns(),
            other => other.columns(),
        }
    }

    /// The natural key, without release_id (every row of one release shares it).
    pub fn key(self) -> &'static [&'static str] {
        match self {
            TableKind::Pprrvu => pprrvu::KEY,
            TableKind::Gpci => gpci::KEY,
            TableKind::Locco => locco::KEY,
            TableKind::Anes => anes::KEY,
            TableKind::Oppscap => oppscap::KEY,
        }
    }

    /// The fixed-width layout for a year, when one is known.
    pub fn txt_layout(self, year: u16) -> Option<Layout> {
        match self {
            TableKind::Pprrvu => pprrvu::txt_layout(year),
            TableKind::Gpci => gpci::txt_layout(year),
            TableKind::Locco => locco::txt_layout(year),
            TableKind::Anes => anes::txt_layout(year),
            TableKind::Oppscap => oppscap::txt_layout(year),
        }
    }

    /// Parses one grid (one file of this table) into canonical rows.
    pub fn parse(self, grid: &Grid, ctx: &ParseContext) -> Result<Table> {
        match self {
            TableKind::Pprrvu => pprrvu::parse(grid, ctx),
            TableKind::Gpci => gpci::parse(grid, ctx),
            TableKind::Locco => locco::parse(grid, ctx),
            TableKind::Anes => anes::parse(grid, ctx),
            TableKind::Oppscap => oppscap::parse(grid, ctx),
        }
    }
}

impl std::fmt::Display for TableKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a table parser needs to know beyond the grid.
#[derive(Debug, Clone)]
pub struct ParseContext {
    pub release_id: String,
    /// Four-digit calendar year of the release (picks fixed-width layouts).
    pub year: u16,
    /// `standard`, or `non_qpp` / `qpp` for 2026's file pair.
    pub variant: String,
}

/// How a canonical column is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Trimmed text; blank is null.
    Text,
    /// Prose (descriptions, names, county lists): typed like `Text`, but CMS's own formats
    /// disagree on it (truncated, retyped), so a cross-format difference is a warning.
    FreeText,
    /// Trimmed text; blank is the empty string (part of a key, like the modifier).
    KeyText,
    /// An indicator or code kept as text; all-digit values are zero-padded to `width`, since
    /// some files (and xlsx numbers) lose the leading zeros CMS means.
    Code { width: usize },
    /// A decimal at the file's precision, stored exactly as an integer count of 10^-scale.
    Decimal { precision: usize, scale: u32 },
    /// A flag: true when the cell holds `truthy`, false when blank.
    Flag { truthy: &'static str },
}

/// One canonical column: its name, type and the header texts that mean it.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// Normalised header texts (see [`normalise_header`]); `*` matches any text. Empty for
    /// columns the table module fills itself (release_id, variant, floor_marker).
    pub aliases: &'static [&'static str],
    /// A file whose header lacks this column is schema drift.
    pub required: bool,
}

impl ColumnSpec {
    /// A column the table module fills itself.
    pub const fn derived(name: &'static str, kind: Kind) -> Self {
        ColumnSpec::optional(name, kind, &[])
    }

    pub const fn required(
        name: &'static str,
        kind: Kind,
        aliases: &'static [&'static str],
    ) -> Self {
        ColumnSpec {
            name,
            kind,
            aliases,
            required: true,
        }
    }

    /// A column some years' files lack (null there).
    pub const fn optional(
        name: &'static str,
        kind: Kind,
        aliases: &'static [&'static str],
    ) -> Self {
        ColumnSpec {
            required: false,
            ..ColumnSpec::required(name, kind, aliases)
        }
    }

    fn matches(&self, header: &str) -> bool {
        header.eq_ignore_ascii_case(self.name) || self.aliases.iter().any(|a| glob_match(a, header))
    }
}

pub const TEXT: Kind = Kind::Text;
pub const PROSE: Kind = Kind::FreeText;
pub const RVU: Kind = Kind::Decimal {
    precision: 8,
    scale: 2,
};
pub const fn code(width: usize) -> Kind {
    Kind::Code { width }
}

pub use crate::read::Text;

/// A typed cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Null,
    Text(Text),
    /// Mantissa of a decimal; the column's scale says where the point goes.
    Dec(i64),
    Bool(bool),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The value as it is written to CSV and shown in messages.
    pub fn render(&self, kind: Kind) -> String {
        self.field(kind, &mut DecimalBuf::default()).to_string()
    }

    /// [`Value::render`] without an allocation: text borrowed, a decimal written into `buf`
    /// (for the CSV writers, a cell at a time).
    pub fn field<'a>(&'a self, kind: Kind, buf: &'a mut DecimalBuf) -> &'a str {
        match (self, kind) {
            (Value::Null, _) => "",
            (Value::Text(s), _) => s,
            (Value::Dec(m), Kind::Decimal { scale, .. }) => buf.format(*m, scale),
            (Value::Dec(m), _) => buf.format(*m, 0),
            (Value::Bool(true), _) => "true",
            (Value::Bool(false), _) => "false",
        }
    }
}

/// Room for a decimal's digits: an i64 has 19, plus sign, point and the leading zeros of a
/// scale up to 40.
#[derive(Debug)]
pub struct DecimalBuf([u8; 64]);

impl Default for DecimalBuf {
    fn default() -> Self {
        DecimalBuf([0; 64])
    }
}

impl DecimalBuf {
    /// `mantissa` x 10^-`scale` with exactly `scale` digits after the point.
    pub fn format(&mut self, mantissa: i64, scale: u32) -> &str {
        let scale = scale.min(40) as usize;
        let buf = &mut self.0;
        let mut start = buf.len();
        let (mut rest, mut digits) = (mantissa.unsigned_abs(), 0);
        // Right to left: the fraction's digits, the point, then the integer part (at least 0).
        loop {
            if digits == scale && scale > 0 {
                start -= 1;
                buf[start] = b'.';
            }
            start -= 1;
            buf[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            digits += 1;
            if rest == 0 && digits > scale {
                break;
            }
        }
        if mantissa < 0 {
            start -= 1;
            buf[start] = b'-';
        }
        // Only ASCII digits, '.' and '-' were written.
        std::str::from_utf8(&buf[start..]).unwrap_or_default()
    }
}

/// A table's cells by column name, each name looked up once (for code that reads many rows
/// by name: the workbook, `codes`). A column the table lacks reads as empty.
pub struct Cells<'t> {
    table: &'t Table,
    index: BTreeMap<&'static str, Option<usize>>,
}

impl<'t> Cells<'t> {
    pub fn new(table: &'t Table, names: &[&'static str]) -> Cells<'t> {
        let index = names.iter().map(|&n| (n, table.column_index(n))).collect();
        Cells { table, index }
    }

    pub fn at(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied().flatten()
    }

    pub fn dec(&self, r: &Record, name: &str) -> Option<i64> {
        match self.at(name).map(|i| &r.values[i]) {
            Some(Value::Dec(m)) => Some(*m),
            _ => None,
        }
    }

    pub fn text(&self, r: &Record, name: &str) -> String {
        self.str(r, name).into_owned()
    }

    /// A text cell as it is ("" when the cell is not text or the column is missing).
    pub fn code<'r>(&self, r: &'r Record, name: &str) -> &'r str {
        self.at(name)
            .and_then(|i| r.values[i].as_text())
            .unwrap_or("")
    }

    /// [`Cells::text`], borrowed where the cell is text (only a number is rendered).
    pub fn str<'r>(&self, r: &'r Record, name: &str) -> Cow<'r, str> {
        match self
            .at(name)
            .map(|i| (&r.values[i], self.table.columns()[i].kind))
        {
            Some((Value::Text(s), _)) => Cow::Borrowed(s),
            Some((value, kind)) => Cow::Owned(value.render(kind)),
            None => Cow::Borrowed(""),
        }
    }

    pub fn is(&self, r: &Record, name: &str, text: &str) -> bool {
        self.code(r, name) == text
    }
}

/// One canonical row and the source line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub values: Vec<Value>,
    pub source_row: usize,
}

/// A canonical table: the columns of DOMAIN.md section 5 and typed rows in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub kind: TableKind,
    pub file: String,
    pub rows: Vec<Record>,
    /// Rows after the header that were not records (blank, footnotes, Ctrl-Z).
    pub skipped_rows: usize,
}

impl Table {
    /// A sorted table from typed rows of one grid.
    pub fn new(kind: TableKind, grid: &Grid, typed: TypedRows) -> Table {
        let mut table = Table {
            kind,
            file: grid.file_location().to_string(),
            rows: typed.rows,
            skipped_rows: typed.skipped_rows,
        };
        table.sort();
        table
    }

    pub fn columns(&self) -> &'static [ColumnSpec] {
        self.kind.columns()
    }

    /// Reads a table back from the canonical CSV this tool publishes (header = column names).
    pub fn from_canonical(kind: TableKind, grid: &Grid) -> Result<Table> {
        let spec = kind.columns();
        let names: Vec<&str> = spec.iter().map(|c| c.name).collect();
        let header: Vec<&str> = grid
            .rows
            .first()
            .map(|r| r.cells.iter().map(Text::as_str).collect())
            .unwrap_or_default();
        if header != names {
            return Err(Error::SchemaDrift {
                location: Box::new(grid.file_location().with_row(1)),
                table: kind.name(),
                details: format!(
                    "the header is not the canonical one (expected {})",
                    names.join(",")
                ),
            });
        }
        let mut rows = Vec::with_capacity(grid.rows.len().saturating_sub(1));
        for row in &grid.rows[1..] {
            let values = spec
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    parse_canonical(row.cell(i), column.kind).map_err(|expected| Error::BadValue {
                        location: Box::new(grid.location(row.number, column.name)),
                        value: row.cell(i).to_string(),
                        expected,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            rows.push(Record {
                values,
                source_row: row.number,
            });
        }
        Ok(Table {
            kind,
            file: grid.file_location().to_string(),
            rows,
            skipped_rows: 0,
        })
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        index_of(self.columns(), name)
    }

    /// Column indexes of the natural key (variant first where the table has one).
    pub fn key_indexes(&self) -> Vec<usize> {
        self.kind
            .key()
            .iter()
            .filter_map(|k| self.column_index(k))
            .collect()
    }

    /// Key values (as [`Table::key_of`] gives them) beside their column names.
    pub fn key_pairs(&self, key: &[Value]) -> Vec<(&'static str, String)> {
        let columns = self.columns();
        self.key_indexes()
            .into_iter()
            .zip(key)
            .map(|(i, v)| (columns[i].name, v.render(Kind::Text)))
            .collect()
    }

    /// A key as people read it in reports and errors: `hcpcs=99213 modifier=26`.
    pub fn key_text(&self, key: &[Value]) -> String {
        let pairs: Vec<String> = self
            .key_pairs(key)
            .iter()
            .map(|(name, v)| format!("{name}={v}"))
            .collect();
        pairs.join(" ")
    }

    pub fn key_of(&self, record: &Record) -> Vec<Value> {
        self.key_indexes()
            .into_iter()
            .map(|i| record.values[i].clone())
            .collect()
    }

    /// Sorts rows by natural key, then by source row, so output order never depends on the
    /// format or the order CMS listed rows in.
    pub fn sort(&mut self) {
        let key = self.key_indexes();
        self.rows.par_sort_by(|a, b| compare_by(&key, a, b));
    }

    /// Adds another file's rows of the same table (the 2026 QPP / non-QPP pair).
    pub fn append(&mut self, other: Table) {
        self.file = format!("{} + {}", self.file, other.file);
        self.skipped_rows += other.skipped_rows;
        self.rows.extend(other.rows);
        self.sort();
    }

    /// A cell as the published CSV writes it ("" for a missing column).
    pub fn render(&self, record: &Record, column: &str) -> String {
        self.column_index(column)
            .map(|i| record.values[i].render(self.columns()[i].kind))
            .unwrap_or_default()
    }

    pub fn value<'r>(&self, record: &'r Record, column: &str) -> Option<&'r Value> {
        self.column_index(column).map(|i| &record.values[i])
    }
}

/// Two rows by the values at `key` (a table's [`Table::key_indexes`]), the order rows are kept in.
pub fn compare_keys(key: &[usize], a: &Record, b: &Record) -> Ordering {
    key.iter()
        .map(|&i| a.values[i].cmp(&b.values[i]))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn compare_by(key: &[usize], a: &Record, b: &Record) -> Ordering {
    compare_keys(key, a, b).then(a.source_row.cmp(&b.source_row))
}

/// A header row found in a grid, and which grid column holds each canonical column.
#[derive(Debug)]
pub struct HeaderMap {
    /// Index into `grid.rows` of the header row.
    pub row_index: usize,
    /// For each canonical column (in spec order), the grid column and its header text.
    pub columns: Vec<Option<(usize, String)>>,
}

impl HeaderMap {
    pub fn position(&self, spec: &[ColumnSpec], name: &str) -> Option<usize> {
        let i = index_of(spec, name)?;
        self.columns[i].as_ref().map(|(col, _)| *col)
    }
}

/// Upper-cases, folds white space and drops a leading year (`2025 PE GPCI` is `PE GPCI`), so
/// aliases survive the yearly renames.
pub fn normalise_header(text: &str) -> String {
    let folded = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    match folded.split_once(' ') {
        Some((first, rest)) if first.len() == 4 && first.bytes().all(|b| b.is_ascii_digit()) => {
            rest.to_string()
        }
        _ => folded,
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Joins a header cell with the stacked caption fragments above it (`NON-FAC` over `PE RVU`).
/// Caption rows are the rows right above the header that hold two or more cells; a title or
/// `RELEASED` line holds one and ends the stack.
fn joined_headers(grid: &Grid, header_index: usize) -> Vec<String> {
    let mut top = header_index;
    while top > 0 && header_index - top < 6 && grid.rows[top - 1].non_blank_count() >= 2 {
        top -= 1;
    }
    let width = grid.rows[header_index].cells.len();
    (0..width)
        .map(|col| {
            grid.rows[top..=header_index]
                .iter()
                .map(|r| r.cell(col).trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Finds the header row: among the first rows, the one whose (caption-joined) cells match the
/// most canonical columns, at least `min_matches` of them.
pub fn find_header(grid: &Grid, spec: &[ColumnSpec], table: &'static str) -> Result<HeaderMap> {
    let min_matches = spec.iter().filter(|c| c.required).count().min(3);
    let mut best: Option<(usize, usize, Vec<String>)> = None;
    for index in 0..grid.rows.len().min(40) {
        if grid.rows[index].non_blank_count() < min_matches {
            continue;
        }
        let headers = joined_headers(grid, index);
        let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let matches = spec
            .iter()
            .filter(|c| normalised.iter().any(|h| c.matches(h)))
            .count();
        if matches >= min_matches && best.as_ref().is_none_or(|(_, m, _)| matches > *m) {
            best = Some((index, matches, headers));
        }
    }
    let Some((row_index, _, headers)) = best else {
        return Err(Error::NoHeader {
            file: grid.file_location().to_string(),
            table,
            looked_for: spec
                .iter()
                .filter(|c| c.required)
                .flat_map(|c| c.aliases.first())
                .take(4)
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    map_headers(grid, spec, table, row_index, &headers)
}

fn map_headers(
    grid: &Grid,
    spec: &[ColumnSpec],
    table: &'static str,
    row_index: usize,
    headers: &[String],
) -> Result<HeaderMap> {
    let mut columns: Vec<Option<(usize, String)>> = vec![None; spec.len()];
    let mut unknown = Vec::new();
    for (col, header) in headers.iter().enumerate() {
        let normalised = normalise_header(header);
        if normalised.is_empty() {
            continue;
        }
        match spec
            .iter()
            .enumerate()
            .find(|(i, c)| columns[*i].is_none() && c.matches(&normalised))
        {
            Some((i, _)) => columns[i] = Some((col, header.clone())),
            None => unknown.push(header.clone()),
        }
    }
    let missing: Vec<&str> = spec
        .iter()
        .zip(&columns)
        .filter(|(c, found)| c.required && found.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(HeaderMap { row_index, columns });
    }
    let location = Location {
        row: Some(grid.rows[row_index].number),
        ..grid.file_location()
    };
    Err(Error::SchemaDrift {
        location: Box::new(location),
        table,
        details: drift_details(spec, &unknown, &missing),
    })
}

fn drift_details(spec: &[ColumnSpec], unknown: &[String], missing: &[&str]) -> String {
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        let described: Vec<String> = unknown
            .iter()
            .map(|h| match closest_known(spec, h) {
                Some(near) => format!("'{h}' (closest known: '{near}')"),
                None => format!("'{h}'"),
            })
            .collect();
        parts.push(format!("unknown header(s) {}", described.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("missing column(s) {}", missing.join(", ")));
    }
    parts.push("add the new header text to the table's aliases if CMS renamed it".to_string());
    parts.join("; ")
}

fn closest_known(spec: &[ColumnSpec], header: &str) -> Option<String> {
    let normalised = normalise_header(header);
    spec.iter()
        .flat_map(|c| c.aliases.iter())
        .map(|a| (strsim::normalized_levenshtein(a, &normalised), *a))
        .filter(|(score, _)| *score > 0.4)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, a)| a.to_string())
}

/// Types one grid row into canonical values; derived columns come back as null for the table
/// module to fill.
pub fn type_row(
    grid: &Grid,
    spec: &[ColumnSpec],
    header: &HeaderMap,
    row: &Row,
) -> Result<Vec<Value>> {
    spec.iter()
        .zip(&header.columns)
        .map(|(column, found)| match found {
            None => Ok(Value::Null),
            Some((col, header_text)) => {
                parse_value(row.cell(*col), column.kind).map_err(|expected| Error::BadValue {
                    location: Box::new(grid.location(row.number, header_text)),
                    value: row.cell(*col).to_string(),
                    expected,
                })
            }
        })
        .collect()
}

/// Parses one cell by its column kind; the error says what was expected.
pub fn parse_value(cell: &str, kind: Kind) -> Result<Value, String> {
    let text = cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{1a}');
    match kind {
        Kind::Text | Kind::FreeText if text.is_empty() => Ok(Value::Null),
        Kind::Text | Kind::FreeText | Kind::KeyText => Ok(Value::Text(text.into())),
        Kind::Code { .. } if text.is_empty() => Ok(Value::Null),
        Kind::Code { width } => Ok(Value::Text(pad_digits(text, width))),
        Kind::Decimal { .. } if text.is_empty() => Ok(Value::Null),
        Kind::Decimal { scale, .. } => parse_decimal(text, scale).map(Value::Dec),
        Kind::Flag { truthy } => {
            if text.is_empty() {
                Ok(Value::Bool(false))
            } else if text.eq_ignore_ascii_case(truthy) {
                Ok(Value::Bool(true))
            } else {
                Err(format!("expected '{truthy}' or blank"))
            }
        }
    }
}

/// Parses a cell of the canonical CSV (flags are `true` / `false` there).
fn parse_canonical(cell: &str, kind: Kind) -> Result<Value, String> {
    match kind {
        Kind::Flag { .. } => match cell {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "" => Ok(Value::Null),
            _ => Err("expected true or false".to_string()),
        },
        Kind::Code { .. } if !cell.is_empty() => Ok(Value::Text(cell.into())),
        other => parse_value(cell, other),
    }
}

fn pad_digits(text: &str, width: usize) -> Text {
    if text.len() < width && text.bytes().all(|b| b.is_ascii_digit()) {
        compact_str::format_compact!("{text:0>width$}")
    } else {
        text.into()
    }
}

/// Parses a decimal exactly into a count of 10^-scale. More decimals than the scale are
/// accepted only when they are float noise from a spreadsheet (1.2999999999999998).
pub fn parse_decimal(text: &str, scale: u32) -> Result<i64, String> {
    let expected = || format!("expected a number with at most {scale} decimals");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || int_part.len() > 12
    {
        return Err(expected());
    }
    let scale_len = scale as usize;
    let (kept, extra) = frac_part.split_at(frac_part.len().min(scale_len));
    let int_value: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| expected())?
    };
    let kept_value: i64 = if kept.is_empty() {
        0
    } else {
        kept.parse().map_err(|_| expected())?
    };
    let mut mantissa =
        int_value * 10i64.pow(scale) + kept_value * 10i64.pow(scale - kept.len() as u32);
    if !extra.bytes().all(|b| b == b'0') {
        let exact: f64 = digits.parse().map_err(|_| expected())?;
        let scaled = exact * 10f64.powi(scale as i32);
        if (scaled - scaled.round()).abs() > 1e-6 {
            return Err(expected());
        }
        mantissa = scaled.round() as i64;
    }
    Ok(if negative { -mantissa } else { mantissa })
}

pub fn format_decimal(mantissa: i64, scale: u32) -> String {
    DecimalBuf::default().format(mantissa, scale).to_string()
}

/// Rows typed against a column spec, before a table module shapes them.
pub struct TypedRows {
    pub rows: Vec<Record>,
    pub skipped_rows: usize,
}

/// The generic body of a table parser: find the header, then type every row that `is_record`
/// accepts against `spec`; other rows below the header (blank, notes, Ctrl-Z) are counted as
/// skipped. `fill` sets the columns a table derives itself.
pub fn type_grid(
    grid: &Grid,
    spec: &[ColumnSpec],
    table: &'static str,
    ctx: &ParseContext,
    is_record: impl Fn(&Row, &HeaderMap) -> bool,
    mut fill: impl FnMut(&mut Vec<Value>, &Row, &HeaderMap) -> Result<()>,
) -> Result<TypedRows> {
    let header = find_header(grid, spec, table)?;
    let below = &grid.rows[header.row_index + 1..];
    let records: Vec<&Row> = below.iter().filter(|r| is_record(r, &header)).collect();
    let skipped_rows = below.len() - records.len();
    // Typing the cells is most of a parse, and each row's on its own: it runs on every core.
    // `fill` (which may carry state from row to row) then goes through the rows in order, so
    // the first error is the first row's, as in a parse row by row.
    let typed: Vec<Result<Vec<Value>>> = records
        .par_iter()
        .with_min_len(1024)
        .map(|row| type_row(grid, spec, &header, row))
        .collect();
    let mut rows = Vec::with_capacity(records.len());
    for (row, values) in records.into_iter().zip(typed) {
        let mut values = values?;
        set(
            spec,
            &mut values,
            "release_id",
            Value::Text(ctx.release_id.as_str().into()),
        );
        set(
            spec,
            &mut values,
            "variant",
            Value::Text(ctx.variant.as_str().into()),
        );
        fill(&mut values, row, &header)?;
        rows.push(Record {
            values,
            source_row: row.number,
        });
    }
    Ok(TypedRows { rows, skipped_rows })
}

/// Parses a table whose file columns are its canonical columns (all but ANES).
pub fn parse_rows(
    grid: &Grid,
    kind: TableKind,
    ctx: &ParseContext,
    is_record: impl Fn(&Row, &HeaderMap) -> bool,
    fill: impl FnMut(&mut Vec<Value>, &Row, &HeaderMap) -> Result<()>,
) -> Result<Table> {
    let typed = type_grid(grid, kind.columns(), kind.name(), ctx, is_record, fill)?;
    Ok(Table::new(kind, grid, typed))
}

/// Where a canonical column sits in a table's columns: every lookup by name goes through here.
pub fn index_of(spec: &[ColumnSpec], name: &str) -> Option<usize> {
    spec.iter().position(|c| c.name == name)
}

/// Sets a column by name, when the table has it.
pub fn set(spec: &[ColumnSpec], values: &mut [Value], name: &str, value: Value) {
    if let Some(i) = index_of(spec, name) {
        values[i] = value;
    }
}

/// True when the cell at the named column is a CMS HCPCS code (five letters or digits).
pub fn looks_like_hcpcs(row: &Row, header: &HeaderMap, spec: &[ColumnSpec], column: &str) -> bool {
    header.position(spec, column).is_some_and(|col| {
        let code = row.cell(col).trim();
        code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// True when the cell at the named column is a MAC number (4 or 5 digits; zeros get lost).
pub fn looks_like_mac(row: &Row, header: &HeaderMap, spec: &[ColumnSpec], column: &str) -> bool {
    header.position(spec, column).is_some_and(|col| {
        let mac = row.cell(col).trim();
        (4..=5).contains(&mac.len()) && mac.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Splits trailing `*` floor markers off a locality name: `ALASKA*` is (`ALASKA`, `*`).
pub fn split_marker(name: &str) -> (String, String) {
    let trimmed = name.trim();
    let base = trimmed.trim_end_matches('*');
    (
        base.trim_end().to_string(),
        trimmed[base.len()..].to_string(),
    )
}

/// The distinct values of a column, for summaries and tests.
pub fn distinct(table: &Table, column: &str) -> BTreeSet<Value> {
    table
        .rows
        .iter()
        .filter_map(|r| table.value(r, column).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("1.30", 2), Ok(130));
        assert_eq!(parse_decimal(".10", 2), Ok(10));
        assert_eq!(parse_decimal("1", 3), Ok(1000));
        assert_eq!(parse_decimal("-0.5", 2), Ok(-50));
        assert_eq!(parse_decimal("1.2999999999999998", 2), Ok(130));
        assert_eq!(parse_decimal("32.34650", 4), Ok(323465));
        assert!(parse_decimal("1.3x", 2).is_err());
        assert!(parse_decimal("1.234", 2).is_err());
        assert!(parse_decimal(".", 2).is_err());
        assert!(parse_decimal("1,000", 2).is_err());
        assert_eq!(format_decimal(130, 2), "1.30");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(323465, 4), "32.3465");
        assert_eq!(format_decimal(0, 2), "0.00");
        assert_eq!(format_decimal(7, 0), "7");
        assert_eq!(format_decimal(0, 0), "0");
        assert_eq!(format_decimal(-120, 0), "-120");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(format_decimal(i64::MAX, 4), "922337203685477.5807");
    }

    #[test]
    fn headers_lose_year_and_spacing() {
        assert_eq!(normalise_header(" 2025  PE GPCI "), "PE GPCI");
        assert_eq!(normalise_header("Locality Number"), "LOCALITY NUMBER");
        assert!(glob_match(
            "NATIONAL ANES CF OF *",
            "NATIONAL ANES CF OF 20.3178"
        ));
        assert!(!glob_match(
            "QUALIFYING APM*",
            "NON-QUALIFYING APM NATIONAL"
        ));
        assert!(glob_match(
            "*ANESTHESIA CONVERSION FACTOR",
            "ANESTHESIA CONVERSION FACTOR"
        ));
    }

    #[test]
    fn markers_split_off() {
        assert_eq!(split_marker("ALASKA*"), ("ALASKA".into(), "*".into()));
        assert_eq!(
            split_marker("WYOMING*** "),
            ("WYOMING".into(), "***".into())
        );
        assert_eq!(
            split_marker("REST OF STATE"),
            ("REST OF STATE".into(), "".into())
        );
    }

    #[test]
    fn codes_keep_and_restore_leading_zeros() {
        assert_eq!(parse_value("9", code(2)), Ok(Value::Text("09".into())));
        assert_eq!(parse_value("6A", code(2)), Ok(Value::Text("6A".into())));
        assert_eq!(parse_value(" ", code(2)), Ok(Value::Null));
        assert_eq!(
            parse_value("", Kind::KeyText),
            Ok(Value::Text(Text::default()))
        );
    }
}
