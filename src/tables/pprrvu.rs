//! PPRRVU: national RVUs and payment policy indicators, one row per (HCPCS, modifier).
//!
//! Header aliases are the caption fragments CMS stacks above each column, joined with spaces
//! and normalised (see `normalise_header`). A new year's rename is one alias here.

use std::collections::BTreeMap;

use super::{
    ColumnSpec, Kind, PROSE, ParseContext, RVU, TEXT, Table, TableKind, Value, code,
    format_decimal, looks_like_hcpcs, parse_rows,
};
use crate::error::Result;
use crate::read::Grid;
use crate::read::fixed_width::{Field, Layout};

const NA: Kind = Kind::Flag { truthy: "NA" };
const PCT: Kind = Kind::Decimal {
    precision: 4,
    scale: 2,
};
const CF: Kind = Kind::Decimal {
    precision: 10,
    scale: 4,
};

/// CMS's status codes, in the order of DOMAIN.md section 3 (meanings: [`status_meaning`]).
pub const STATUS_CODES: &[&str] = &[
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "M", "N", "P", "R", "T", "X",
];

/// Statuses whose RVUs are used for payment.
pub const PAYABLE: &[&str] = &["A", "R", "T"];

/// What CMS's status codes mean (DOMAIN.md section 3).
pub fn status_meaning(code: &str) -> &'static str {
    match code {
        "A" => "active code, paid under the fee schedule",
        "B" => "bundled: payment is in other services",
        "C" => "carrier (contractor) priced",
        "D" => "deleted code",
        "E" => "excluded from the fee schedule by regulation",
        "F" => "deleted, no grace period",
        "G" => "not valid for Medicare, grace period",
        "H" => "deleted modifier",
        "I" => "not valid for Medicare",
        "J" => "anesthesia service (no RVUs)",
        "M" => "measurement code, not paid",
        "N" => "non-covered service",
        "P" => "bundled or excluded",
        "R" => "restricted coverage",
        "T" => "paid only when no other service is paid that day",
        "X" => "statutory exclusion",
        _ => "unknown status",
    }
}

/// The columns a per-code view reads (the `codes` dataset, the workbooks' code sheets).
pub const CODE_VIEW: &[&str] = &[
    "hcpcs",
    "modifier",
    "variant",
    "status_code",
    "description",
    "work_rvu",
    "nonfacility_pe_rvu",
    "facility_pe_rvu",
    "mp_rvu",
    "nonfacility_total",
    "facility_total",
    "global_days",
    "conversion_factor",
];

pub const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::derived("release_id", TEXT),
    ColumnSpec::derived("variant", TEXT),
    ColumnSpec::required("hcpcs", TEXT, &["HCPCS", "HCPCS CODE"]),
    ColumnSpec::required("modifier", Kind::KeyText, &["MOD", "MODIFIER"]),
    ColumnSpec::required("description", PROSE, &["DESCRIPTION"]),
    ColumnSpec::required("status_code", TEXT, &["STATUS CODE", "STATUS"]),
    ColumnSpec::optional(
        "not_used_for_medicare",
        Kind::Flag { truthy: "+" },
        &["NOT USED FOR MEDICARE PAYMENT"],
    ),
    ColumnSpec::required("work_rvu", RVU, &["WORK RVU"]),
    ColumnSpec::required("nonfacility_pe_rvu", RVU, &["NON-FAC PE RVU"]),
    ColumnSpec::required("nonfacility_na", NA, &["NON-FAC NA INDICATOR"]),
    ColumnSpec::required("facility_pe_rvu", RVU, &["FACILITY PE RVU"]),
    ColumnSpec::required("facility_na", NA, &["FACILITY NA INDICATOR"]),
    ColumnSpec::required("mp_rvu", RVU, &["MP RVU"]),
    ColumnSpec::required("nonfacility_total", RVU, &["NON-FACILITY TOTAL"]),
    ColumnSpec::required("facility_total", RVU, &["FACILITY TOTAL"]),
    ColumnSpec::required("pctc_indicator", code(1), &["PCTC IND"]),
    ColumnSpec::required("global_days", code(3), &["GLOB DAYS"]),
    ColumnSpec::required("preop_pct", PCT, &["PRE OP"]),
    ColumnSpec::required("intraop_pct", PCT, &["INTRA OP"]),
    ColumnSpec::required("postop_pct", PCT, &["POST OP"]),
    ColumnSpec::required("mult_proc", code(1), &["MULT PROC"]),
    ColumnSpec::required("bilateral", code(1), &["BILAT SURG"]),
    ColumnSpec::required("assistant_surgery", code(1), &["ASST SURG"]),
    ColumnSpec::required("co_surgery", code(1), &["CO- SURG", "CO-SURG", "CO SURG"]),
    ColumnSpec::required("team_surgery", code(1), &["TEAM SURG"]),
    // 2026 added this column after TEAM SURG; earlier files lack it (null there).
    ColumnSpec::optional(
        "pricing_indicator",
        TEXT,
        &["PRIC IND", "PRICING INDICATOR"],
    ),
    ColumnSpec::required("endo_base", TEXT, &["ENDO BASE"]),
    ColumnSpec::required(
        "conversion_factor",
        CF,
        &["CONV FACTOR", "CONVERSION FACTOR"],
    ),
    ColumnSpec::required(
        "physician_supervision",
        code(2),
        &["PHYSICIAN SUPERVISION OF DIAGNOSTIC PROCEDURES"],
    ),
    ColumnSpec::required("calculation_flag", TEXT, &["CALCULATION FLAG"]),
    ColumnSpec::required(
        "imaging_family",
        code(2),
        &["DIAGNOSTIC IMAGING FAMILY INDICATOR"],
    ),
    ColumnSpec::required(
        "opps_nonfacility_pe_rvu",
        RVU,
        &["NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT"],
    ),
    ColumnSpec::required(
        "opps_facility_pe_rvu",
        RVU,
        &["FACILITY PE USED FOR OPPS PAYMENT AMOUNT"],
    ),
    ColumnSpec::required("opps_mp_rvu", RVU, &["MP USED FOR OPPS PAYMENT AMOUNT"]),
];

pub const KEY: &[&str] = &["variant", "hcpcs", "modifier"];

/// The record layout of the txt file through 2025 (release PDF, "DATA RECORD").
const FIELDS_2025: &[Field] = &[
    Field::new("hcpcs", 1, 5),
    Field::new("modifier", 6, 7),
    Field::new("description", 8, 57),
    Field::new("status_code", 58, 58),
    Field::new("not_used_for_medicare", 59, 59),
    Field::new("work_rvu", 60, 65),
    Field::new("nonfacility_pe_rvu", 67, 72),
    Field::new("nonfacility_na", 73, 74),
    Field::new("facility_pe_rvu", 76, 81),
    Field::new("facility_na", 82, 83),
    Field::new("mp_rvu", 85, 89),
    Field::new("nonfacility_total", 91, 96),
    Field::new("facility_total", 97, 102),
    Field::new("pctc_indicator", 103, 103),
    Field::new("global_days", 104, 106),
    Field::new("preop_pct", 107, 109),
    Field::new("intraop_pct", 110, 112),
    Field::new("postop_pct", 113, 115),
    Field::new("mult_proc", 116, 116),
    Field::new("bilateral", 117, 117),
    Field::new("assistant_surgery", 118, 118),
    Field::new("co_surgery", 119, 119),
    Field::new("team_surgery", 120, 120),
    Field::new("endo_base", 128, 132),
    Field::new("conversion_factor", 133, 140),
    Field::new("physician_supervision", 142, 143),
    Field::new("calculation_flag", 144, 144),
    Field::new("imaging_family", 146, 147),
    Field::new("opps_nonfacility_pe_rvu", 152, 157),
    Field::new("opps_facility_pe_rvu", 159, 164),
    Field::new("opps_mp_rvu", 166, 171),
];

/// 2026 puts the pricing indicator in position 121 (formerly filler); the rest is unchanged.
pub fn txt_layout(year: u16) -> Option<Layout> {
    let mut fields = FIELDS_2025.to_vec();
    if year >= 2026 {
        let after_team = fields.iter().position(|f| f.name == "team_surgery")? + 1;
        fields.insert(after_team, Field::new("pricing_indicator", 121, 121));
    }
    Some(Layout { fields })
}

pub fn parse(grid: &Grid, ctx: &ParseContext) -> Result<Table> {
    parse_rows(
        grid,
        TableKind::Pprrvu,
        ctx,
        |row, header| looks_like_hcpcs(row, header, COLUMNS, "hcpcs"),
        |_, _, _| Ok(()),
    )
}

/// The variant a PPRRVU file holds, from its name (2026 ships `_nonQPP` and `_QPP` files).
pub fn variant_of(file_name: &str) -> &'static str {
    let upper = file_name.to_ascii_uppercase();
    if upper.contains("NONQPP") || upper.contains("NON_QPP") || upper.contains("NON-QPP") {
        "non_qpp"
    } else if upper.contains("QPP") {
        "qpp"
    } else {
        "standard"
    }
}

/// The conversion factor of each variant in a PPRRVU table.
pub fn conversion_factors(table: &Table) -> BTreeMap<String, String> {
    let mut cfs = BTreeMap::new();
    for r in &table.rows {
        let variant = table
            .value(r, "variant")
            .map(|v| v.render(Kind::Text))
            .unwrap_or_default();
        if let Some(Value::Dec(cf)) = table.value(r, "conversion_factor") {
            cfs.entry(variant).or_insert_with(|| format_decimal(*cf, 4));
        }
    }
    cfs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_come_from_the_file_name() {
        assert_eq!(variant_of("PPRRVU2026_Jan_nonQPP.csv"), "non_qpp");
        assert_eq!(variant_of("PPRRVU2026_Jan_QPP.xlsx"), "qpp");
        assert_eq!(variant_of("PPRRVU25_JAN.csv"), "standard");
    }

    #[test]
    fn layouts_do_not_overlap() {
        for year in [2025, 2026] {
            let layout = txt_layout(year).unwrap();
            for pair in layout.fields.windows(2) {
                assert!(pair[0].end < pair[1].start, "{pair:?}");
            }
        }
    }
}
