//! LOCCO: which counties make up each payment locality.
//!
//! CMS writes the state only on a state's first row (filled down here), separates states with
//! blank rows, loses leading zeros in some years, and lists MO 05302/99 twice (kept as listed).

use super::{
    ColumnSpec, PROSE, ParseContext, TEXT, Table, TableKind, Value, code, looks_like_mac,
    parse_rows,
};
use crate::error::Result;
use crate::read::Grid;
use crate::read::fixed_width::{Field, Layout, measured_layout};

pub const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::derived("release_id", TEXT),
    ColumnSpec::required(
        "mac",
        code(5),
        &[
            "MEDICARE ADMINSTRATIVE CONTRACTOR",
            "MEDICARE ADMINISTRATIVE CONTRACTOR",
            "MEDICARE ADMINISTRATIVE CONTRACTOR (MAC)",
            "CONTRACTOR",
        ],
    ),
    ColumnSpec::required("locality", code(2), &["LOCALITY NUMBER", "LOCALITY"]),
    ColumnSpec::required("state", PROSE, &["STATE"]),
    ColumnSpec::required("fee_schedule_area", PROSE, &["FEE SCHEDULE AREA"]),
    ColumnSpec::required("counties", PROSE, &["COUNTIES"]),
];

pub const KEY: &[&str] = &["mac", "locality"];

/// The txt (.prn) layout of 2024 and 2025, measured on the RVU24B and RVU25A files.
const FIELDS_2024: &[Field] = &[
    Field::new("mac", 1, 14),
    Field::new("locality", 15, 22),
    Field::new("state", 23, 45),
    Field::new("fee_schedule_area", 46, 143),
    // CMS cuts county lists at 58 characters here (the csv has them whole).
    Field::new("counties", 144, 201),
];

pub fn txt_layout(year: u16) -> Option<Layout> {
    measured_layout(year, 2024..=2025, FIELDS_2024)
}

pub fn parse(grid: &Grid, ctx: &ParseContext) -> Result<Table> {
    let state_index = COLUMNS.iter().position(|c| c.name == "state");
    let mut current_state = Value::Null;
    parse_rows(
        grid,
        TableKind::Locco,
        ctx,
        |row, header| looks_like_mac(row, header, COLUMNS, "mac"),
        |values, _, _| {
            if let Some(i) = state_index {
                if values[i] == Value::Null {
                    values[i] = current_state.clone();
                } else {
                    current_state = values[i].clone();
                }
            }
            Ok(())
        },
    )
}
