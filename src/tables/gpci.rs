//! GPCI: geographic practice cost indices per (MAC, locality).
//!
//! Layouts seen: 2020 (no State column, header on line 2, padding columns), 2022 (MAC header
//! without "(MAC)", zeros lost), 2024-2025 (`1` for `1.000`), 2026 (work GPCI with and without
//! the 1.0 floor). Locality names carry `*` markers for statutory floors.

use super::{
    ColumnSpec, Kind, PROSE, ParseContext, TEXT, Table, TableKind, Value, code, looks_like_mac,
    parse_rows, set, split_marker,
};
use crate::error::Result;
use crate::read::Grid;
use crate::read::fixed_width::{Field, Layout, measured_layout};

const GPCI: Kind = Kind::Decimal {
    precision: 6,
    scale: 3,
};

pub const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::derived("release_id", TEXT),
    ColumnSpec::required(
        "mac",
        code(5),
        &[
            "MEDICARE ADMINISTRATIVE CONTRACTOR (MAC)",
            "MEDICARE ADMINISTRATIVE CONTRACTOR",
            "CONTRACTOR",
            "MAC",
        ],
    ),
    ColumnSpec::optional("state", TEXT, &["STATE"]),
    ColumnSpec::required("locality", code(2), &["LOCALITY NUMBER", "LOCALITY"]),
    ColumnSpec::required("locality_name", PROSE, &["LOCALITY NAME"]),
    ColumnSpec::derived("floor_marker", Kind::KeyText),
    ColumnSpec::required(
        "pw_gpci",
        GPCI,
        &["PW GPCI (WITH 1.0 FLOOR)", "PW GPCI", "WORK GPCI"],
    ),
    ColumnSpec::optional("pw_gpci_no_floor", GPCI, &["PW GPCI (WITHOUT 1.0 FLOOR)"]),
    ColumnSpec::required("pe_gpci", GPCI, &["PE GPCI"]),
    ColumnSpec::required("mp_gpci", GPCI, &["MP GPCI", "MALPRACTICE GPCI"]),
];

pub const KEY: &[&str] = &["mac", "locality"];

/// The txt (.prn) layout of 2024 and 2025, measured on the RVU24B and RVU25A files.
const FIELDS_2024: &[Field] = &[
    Field::new("mac", 1, 14),
    Field::new("state", 15, 21),
    Field::new("locality", 22, 29),
    Field::new("locality_name", 30, 118),
    Field::new("pw_gpci", 119, 126),
    Field::new("pe_gpci", 127, 138),
    Field::new("mp_gpci", 139, 150),
];

pub fn txt_layout(year: u16) -> Option<Layout> {
    measured_layout(year, 2024..=2025, FIELDS_2024)
}

pub fn parse(grid: &Grid, ctx: &ParseContext) -> Result<Table> {
    parse_rows(
        grid,
        TableKind::Gpci,
        ctx,
        |row, header| looks_like_mac(row, header, COLUMNS, "mac"),
        |values, _, _| {
            strip_marker(values);
            Ok(())
        },
    )
}

/// Moves the `*` / `**` floor markers from the locality name into `floor_marker`.
fn strip_marker(values: &mut [Value]) {
    let Some(i) = super::index_of(COLUMNS, "locality_name") else {
        return;
    };
    let (name, marker) = match &values[i] {
        Value::Text(raw) => split_marker(raw),
        _ => (String::new(), String::new()),
    };
    if !name.is_empty() {
        values[i] = Value::Text(name.into());
    }
    set(COLUMNS, values, "floor_marker", Value::Text(marker.into()));
}
