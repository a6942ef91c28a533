//! OPPSCAP: the OPPS-based payment caps per (HCPCS, modifier, MAC, locality) for imaging.

use super::{
    ColumnSpec, Kind, ParseContext, TEXT, Table, TableKind, code, looks_like_hcpcs, parse_rows,
};
use crate::error::Result;
use crate::read::Grid;
use crate::read::fixed_width::{Field, Layout, measured_layout};

const PRICE: Kind = Kind::Decimal {
    precision: 10,
    scale: 2,
};

pub const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::derived("release_id", TEXT),
    ColumnSpec::required("hcpcs", TEXT, &["HCPCS"]),
    ColumnSpec::required("modifier", Kind::KeyText, &["MOD", "MODIFIER"]),
    ColumnSpec::required("proc_status", TEXT, &["PROCSTAT", "PROC STAT", "STATUS"]),
    ColumnSpec::required("mac", code(5), &["CARRIER", "MAC", "CONTRACTOR"]),
    ColumnSpec::required("locality", code(2), &["LOCALITY"]),
    ColumnSpec::required("facility_price", PRICE, &["FACILITY PRICE"]),
    // CMS spells it "NON-FACILTY" in every release so far.
    ColumnSpec::required(
        "nonfacility_price",
        PRICE,
        &["NON-FACILTY PRICE", "NON-FACILITY PRICE"],
    ),
];

pub const KEY: &[&str] = &["hcpcs", "modifier", "mac", "locality"];

/// The txt layout of 2024 and 2025, measured on the RVU24B and RVU25A files.
const FIELDS_2024: &[Field] = &[
    Field::new("hcpcs", 1, 5),
    Field::new("modifier", 6, 7),
    Field::new("proc_status", 8, 9),
    Field::new("mac", 10, 15),
    Field::new("locality", 16, 19),
    Field::new("facility_price", 20, 29),
    Field::new("nonfacility_price", 30, 40),
];

pub fn txt_layout(year: u16) -> Option<Layout> {
    measured_layout(year, 2024..=2025, FIELDS_2024)
}

pub fn parse(grid: &Grid, ctx: &ParseContext) -> Result<Table> {
    parse_rows(
        grid,
        TableKind::Oppscap,
        ctx,
        |row, header| looks_like_hcpcs(row, header, COLUMNS, "hcpcs"),
        |_, _, _| Ok(()),
    )
}
