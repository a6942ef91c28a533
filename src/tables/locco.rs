//! LOCCO: which counties make up each payment locality.
//!
//! CMS writes the state only on a state's first row, separates states with blank rows, loses
//! leading zeros in some years, and lists MO 05302/99 twice (kept as listed). A state is
//! filled down only within its block of adjacent rows: the txt leaves even a block's first
//! row blank (California), and copying the state across the blank row would publish the
//! previous state (Arkansas). Such rows take their state from the release's GPCI
//! ([`fill_states_from_gpci`]) or stay null with a warning.

use std::collections::HashMap;

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
    let state_index = super::index_of(COLUMNS, "state");
    // The state of the block the previous record is in, and that record's line.
    let mut block: Option<(usize, Value)> = None;
    parse_rows(
        grid,
        TableKind::Locco,
        ctx,
        |row, header| looks_like_mac(row, header, COLUMNS, "mac"),
        |values, row, _| {
            if let Some(i) = state_index {
                let adjacent = block
                    .as_ref()
                    .filter(|(line, _)| line + 1 == row.number)
                    .map(|(_, state)| state.clone());
                if values[i] == Value::Null {
                    values[i] = adjacent.unwrap_or(Value::Null);
                }
                block = Some((row.number, values[i].clone()));
            }
            Ok(())
        },
    )
}

/// Fills the states a LOCCO file left blank from the same release's GPCI, which lists a
/// state (postal code) per MAC and locality; the name is spelled as this LOCCO table spells
/// that state elsewhere, else the usual name. Returns the localities still without a state.
pub fn fill_states_from_gpci(locco: &mut Table, gpci: Option<&Table>) -> Vec<String> {
    let column = |t: &Table, name: &str| t.column_index(name);
    let (Some(state), Some(mac), Some(locality)) = (
        column(locco, "state"),
        column(locco, "mac"),
        column(locco, "locality"),
    ) else {
        return Vec::new();
    };
    let text = |r: &super::Record, i: usize| r.values[i].as_text().unwrap_or("").to_string();
    let key = |r: &super::Record, m: usize, l: usize| (text(r, m), text(r, l));
    let postal: HashMap<(String, String), String> = gpci
        .and_then(|g| {
            let (m, l, s) = (
                column(g, "mac")?,
                column(g, "locality")?,
                column(g, "state")?,
            );
            Some(
                g.rows
                    .iter()
                    .filter_map(|r| Some((key(r, m, l), r.values[s].as_text()?.to_string())))
                    .collect(),
            )
        })
        .unwrap_or_default();
    // How this file spells each state it does name (HI is "HAWAII/GUAM" in LOCCO).
    let mut spelled: HashMap<String, String> = HashMap::new();
    for r in &locco.rows {
        if let (Some(name), Some(code)) = (
            r.values[state].as_text(),
            postal.get(&key(r, mac, locality)),
        ) {
            spelled
                .entry(code.clone())
                .or_insert_with(|| name.to_string());
        }
    }
    let mut missing = Vec::new();
    for r in &mut locco.rows {
        if r.values[state] == Value::Null {
            let (m, l) = key(r, mac, locality);
            let name = postal.get(&(m.clone(), l.clone())).and_then(|code| {
                spelled
                    .get(code)
                    .cloned()
                    .or_else(|| state_name(code).map(str::to_string))
            });
            match name {
                Some(name) => r.values[state] = Value::Text(name.into()),
                None => missing.push(format!("{m}-{l}")),
            }
        }
    }
    missing
}

/// The name LOCCO files use for a state, territory or district, by postal code.
fn state_name(postal: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("AL", "ALABAMA"),
        ("AK", "ALASKA"),
        ("AZ", "ARIZONA"),
        ("AR", "ARKANSAS"),
        ("CA", "CALIFORNIA"),
        ("CO", "COLORADO"),
        ("CT", "CONNECTICUT"),
        ("DE", "DELAWARE"),
        ("DC", "DISTRICT OF COLUMBIA"),
        ("FL", "FLORIDA"),
        ("GA", "GEORGIA"),
        ("HI", "HAWAII/GUAM"),
        ("ID", "IDAHO"),
        ("IL", "ILLINOIS"),
        ("IN", "INDIANA"),
        ("IA", "IOWA"),
        ("KS", "KANSAS"),
        ("KY", "KENTUCKY"),
        ("LA", "LOUISIANA"),
        ("ME", "MAINE"),
        ("MD", "MARYLAND"),
        ("MA", "MASSACHUSETTS"),
        ("MI", "MICHIGAN"),
        ("MN", "MINNESOTA"),
        ("MS", "MISSISSIPPI"),
        ("MO", "MISSOURI"),
        ("MT", "MONTANA"),
        ("NE", "NEBRASKA"),
        ("NV", "NEVADA"),
        ("NH", "NEW HAMPSHIRE"),
        ("NJ", "NEW JERSEY"),
        ("NM", "NEW MEXICO"),
        ("NY", "NEW YORK"),
        ("NC", "NORTH CAROLINA"),
        ("ND", "NORTH DAKOTA"),
        ("OH", "OHIO"),
        ("OK", "OKLAHOMA"),
        ("OR", "OREGON"),
        ("PA", "PENNSYLVANIA"),
        ("PR", "PUERTO RICO"),
        ("RI", "RHODE ISLAND"),
        ("SC", "SOUTH CAROLINA"),
        ("SD", "SOUTH DAKOTA"),
        ("TN", "TENNESSEE"),
        ("TX", "TEXAS"),
        ("UT", "UTAH"),
        ("VT", "VERMONT"),
        ("VI", "VIRGIN ISLANDS"),
        ("VA", "VIRGINIA"),
        ("WA", "WASHINGTON"),
        ("WV", "WEST VIRGINIA"),
        ("WI", "WISCONSIN"),
        ("WY", "WYOMING"),
    ];
    NAMES.iter().find(|(p, _)| *p == postal).map(|(_, n)| *n)
}
