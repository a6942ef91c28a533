//! ANES: anesthesia conversion factors per (MAC, locality).
//!
//! The CF column is renamed every year (`2024 Anesthesia Conversion Factor`, `National Anes CF
//! of 20.3178`); 2026 has two, for qualifying and non-qualifying APM participants, which become
//! rows with `variant` `qpp` and `non_qpp` (long form). The txt writes the CF with implied
//! decimals (`1931` is 19.31) and the names without floor markers.

use super::{
    ColumnSpec, Kind, PROSE, ParseContext, Record, TEXT, Table, TableKind, TypedRows, Value, code,
    looks_like_mac, split_marker, type_grid,
};
use crate::error::{Error, Result};
use crate::read::Grid;
use crate::read::fixed_width::{Field, Layout, measured_layout};

const ANES_CF: Kind = Kind::Decimal {
    precision: 6,
    scale: 2,
};

/// The canonical (long) columns.
pub const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::derived("release_id", TEXT),
    ColumnSpec::derived("variant", TEXT),
    ColumnSpec::derived("mac", code(5)),
    ColumnSpec::derived("locality", code(2)),
    ColumnSpec::derived("locality_name", PROSE),
    ColumnSpec::derived("anes_cf", ANES_CF),
];

pub const KEY: &[&str] = &["variant", "mac", "locality"];

/// The columns as the files have them (wide: one CF column per variant).
const SOURCE: &[ColumnSpec] = &[
    ColumnSpec::required("mac", code(5), &["CONTRACTOR", "MAC", "CARRIER"]),
    ColumnSpec::required("locality", code(2), &["LOCALITY", "LOCALITY NUMBER"]),
    ColumnSpec::required("locality_name", PROSE, &["LOCALITY NAME"]),
    ColumnSpec::optional(
        "anes_cf",
        ANES_CF,
        &[
            "NATIONAL ANES CF OF *",
            "ANES CF OF *",
            "ANESTHESIA CONVERSION FACTOR",
            "ANES CF",
            "NATIONAL ANESTHESIA CF*",
        ],
    ),
    ColumnSpec::optional("anes_cf_qpp", ANES_CF, &["QUALIFYING APM *ANES CF*"]),
    ColumnSpec::optional(
        "anes_cf_non_qpp",
        ANES_CF,
        &["NON-QUALIFYING APM *ANES CF*"],
    ),
];

/// The columns the files hold, for finding the header (and the sheet) of an ANES file.
pub fn source_columns() -> &'static [ColumnSpec] {
    SOURCE
}

/// Source CF column and the variant its rows get.
const CF_VARIANTS: &[(&str, &str)] = &[
    ("anes_cf", "standard"),
    ("anes_cf_qpp", "qpp"),
    ("anes_cf_non_qpp", "non_qpp"),
];

/// The txt layout of 2024 and 2025, measured on the RVU24B and RVU25A files.
const FIELDS_2024: &[Field] = &[
    Field::new("mac", 1, 12),
    Field::new("locality", 13, 18),
    // CMS cuts names at 40 characters here (the csv has them whole).
    Field::new("locality_name", 19, 58),
    Field::implied("anes_cf", 59, 80, 2),
];

pub fn txt_layout(year: u16) -> Option<Layout> {
    measured_layout(year, 2024..=2025, FIELDS_2024)
}

pub fn parse(grid: &Grid, ctx: &ParseContext) -> Result<Table> {
    let mut cf_columns_seen = Vec::new();
    let typed = type_grid(
        grid,
        SOURCE,
        TableKind::Anes.name(),
        ctx,
        |row, header| looks_like_mac(row, header, SOURCE, "mac"),
        |_, _, header| {
            if cf_columns_seen.is_empty() {
                cf_columns_seen = CF_VARIANTS
                    .iter()
                    .filter(|(col, _)| header.position(SOURCE, col).is_some())
                    .copied()
                    .collect();
            }
            Ok(())
        },
    )?;
    if cf_columns_seen.is_empty() && !typed.rows.is_empty() {
        return Err(Error::SchemaDrift {
            location: Box::new(grid.file_location()),
            table: "anes",
            details: "no anesthesia conversion factor column found (expected a header like \
                      'National Anes CF of ...' or 'Anesthesia Conversion Factor')"
                .to_string(),
        });
    }
    let rows = typed
        .rows
        .iter()
        .flat_map(|source| {
            cf_columns_seen
                .iter()
                .map(|(column, variant)| long_row(ctx, source, column, variant))
        })
        .collect();
    Ok(Table::new(
        TableKind::Anes,
        grid,
        TypedRows {
            rows,
            skipped_rows: typed.skipped_rows,
        },
    ))
}

fn source_value<'a>(record: &'a Record, column: &str) -> &'a Value {
    let i = super::index_of(SOURCE, column).expect("CF_VARIANTS and COLUMNS name SOURCE columns");
    &record.values[i]
}

fn long_row(ctx: &ParseContext, source: &Record, cf_column: &str, variant: &str) -> Record {
    let name = match source_value(source, "locality_name") {
        Value::Text(raw) => Value::Text(split_marker(raw).0.into()),
        other => other.clone(),
    };
    Record {
        values: vec![
            Value::Text(ctx.release_id.as_str().into()),
            Value::Text(variant.into()),
            source_value(source, "mac").clone(),
            source_value(source, "locality").clone(),
            name,
            source_value(source, cf_column).clone(),
        ],
        source_row: source.source_row,
    }
}
