//! The `codes` dataset for the code reference website: one row per (hcpcs, modifier) of the
//! latest release with its description, category, status, RVUs and release history.

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::catalog::ReleaseId;
use crate::payment;
use crate::tables::{Cells, Record, Table};

/// The CPT section or HCPCS Level II family of a code, for the code reference site.
pub fn category(hcpcs: &str) -> &'static str {
    let first = hcpcs.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() {
        return match hcpcs.chars().last() {
            Some('F') => "Category II (Performance Measures)",
            Some('T') => "Category III (Emerging Technology)",
            Some('U') => "Proprietary Laboratory Analyses",
            Some('M') => "Multianalyte Assays with Algorithmic Analyses",
            _ => match hcpcs.parse::<u32>().unwrap_or(0) {
                100..=1999 => "Anesthesia",
                10004..=69990 => "Surgery",
                70010..=79999 => "Radiology",
                80047..=89398 => "Pathology and Laboratory",
                99202..=99499 => "Evaluation and Management",
                _ => "Medicine",
            },
        };
    }
    match first {
        'A' => "A Codes (Transportation, Medical and Surgical Supplies)",
        'B' => "B Codes (Enteral and Parenteral Therapy)",
        'C' => "C Codes (Outpatient PPS)",
        'D' => "D Codes (Dental Procedures)",
        'E' => "E Codes (Durable Medical Equipment)",
        'G' => "G Codes (Procedures and Professional Services)",
        'H' => "H Codes (Alcohol and Drug Abuse Treatment)",
        'J' => "J Codes (Drugs)",
        'K' => "K Codes (Temporary, DME MACs)",
        'L' => "L Codes (Orthotics and Prosthetics)",
        'M' => "M Codes (Medical Services and Measures)",
        'P' => "P Codes (Pathology and Laboratory)",
        'Q' => "Q Codes (Temporary)",
        'R' => "R Codes (Diagnostic Radiology)",
        'S' => "S Codes (Temporary, Private Payers)",
        'T' => "T Codes (State Medicaid Agencies)",
        'U' => "U Codes (Coronavirus Laboratory Tests)",
        'V' => "V Codes (Vision and Hearing)",
        _ => "Other",
    }
}

/// CPT codes (a digit first) are AMA content; D codes with four digits are ADA content.
pub fn is_licensed(hcpcs: &str) -> bool {
    let mut chars = hcpcs.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('D') => hcpcs.len() == 5 && chars.all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

pub fn description_source(hcpcs: &str) -> &'static str {
    match hcpcs.chars().next() {
        Some(c) if c.is_ascii_digit() => "cpt",
        Some('D') if is_licensed(hcpcs) => "ada",
        _ => "hcpcs",
    }
}

/// The release a code first appeared in and the one its values last changed in.
type Span = (ReleaseId, ReleaseId);

/// When each (hcpcs, modifier) first appeared and last changed, from the PPRRVU history of
/// the default payment lineage (each version's `release_id` is the release it started in;
/// a version runs on through conversion factor changes and the 2026 variant split).
fn seen_and_changed(history: &DataFrame) -> PolarsResult<HashMap<(&str, &str), Span>> {
    let column = |name: &str| -> PolarsResult<&StringChunked> { history.column(name)?.str() };
    let (hcpcs, modifier, first) = (column("hcpcs")?, column("modifier")?, column("release_id")?);
    let lineage = column("lineage")?;
    let mut ids: HashMap<&str, Option<ReleaseId>> = HashMap::default();
    let mut out: HashMap<(&str, &str), Span> =
        HashMap::with_capacity_and_hasher(history.height(), Default::default());
    let rows = hcpcs
        .iter()
        .zip(modifier.iter())
        .zip(first.iter())
        .zip(lineage.iter())
        .filter(|(_, l)| *l == Some(crate::history::DEFAULT_LINEAGE))
        .map(|(row, _)| row);
    for ((h, m), f) in rows {
        let Some(started) = f.and_then(|f| *ids.entry(f).or_insert_with(|| f.parse().ok())) else {
            continue;
        };
        out.entry((h.unwrap_or_default(), m.unwrap_or_default()))
            .and_modify(|(seen, changed)| {
                *seen = (*seen).min(started);
                *changed = (*changed).max(started);
            })
            .or_insert((started, started));
    }
    Ok(out)
}

/// One row of the `codes` dataset (field order is the column order). Text cells are
/// borrowed from the release's table; only numbers are rendered.
#[derive(Serialize)]
struct CodeRow<'a> {
    release_id: &'a str,
    hcpcs: &'a str,
    modifier: &'a str,
    description: Option<Cow<'a, str>>,
    description_source: &'static str,
    category: &'static str,
    status_code: Cow<'a, str>,
    status_meaning: &'static str,
    has_work_rvu: bool,
    work_rvu: Cow<'a, str>,
    nonfacility_pe_rvu: Cow<'a, str>,
    facility_pe_rvu: Cow<'a, str>,
    mp_rvu: Cow<'a, str>,
    nonfacility_total: Cow<'a, str>,
    facility_total: Cow<'a, str>,
    global_days: Cow<'a, str>,
    /// The conversion factor of the default payment variant (non-QPP from 2026).
    conversion_factor: Cow<'a, str>,
    /// 2026+: the qualifying APM participants' conversion factor, when the QPP file lists
    /// the code (null when it does not, and before 2026).
    qpp_conversion_factor: Option<Cow<'a, str>>,
    first_release_id: Option<String>,
    last_changed_release_id: Option<String>,
}

/// One row per (hcpcs, modifier) of the latest release's PPRRVU table, with when it first
/// appeared and last changed (from the history). Returns the frame and its JSON lines.
pub fn codes(
    latest_id: ReleaseId,
    table: &Table,
    history: &DataFrame,
    cpt_descriptions: bool,
) -> PolarsResult<(DataFrame, String)> {
    let seen = seen_and_changed(history)?;
    let cells = Cells::new(table, crate::tables::pprrvu::CODE_VIEW);
    let text = |r, name| cells.str(r, name);
    let key = |r| (cells.code(r, "hcpcs"), cells.code(r, "modifier"));
    // One row per code: the non-QPP variant where there are two (their RVUs are the same).
    let mut chosen: BTreeMap<(&str, &str), &Record> = BTreeMap::new();
    let mut qpp_cf: HashMap<(&str, &str), Cow<'_, str>> = HashMap::default();
    for r in &table.rows {
        let code = key(r);
        let preferred = !cells.is(r, "variant", "qpp");
        if !preferred {
            qpp_cf.insert(code, text(r, "conversion_factor"));
        }
        if preferred || !chosen.contains_key(&code) {
            chosen.insert(code, r);
        }
    }
    let release_id = latest_id.to_string();
    let rows: Vec<CodeRow> = chosen
        .into_iter()
        .map(|(code, r)| {
            let licensed = is_licensed(code.0);
            let status = text(r, "status_code");
            let work = text(r, "work_rvu");
            let history = seen.get(&code);
            CodeRow {
                release_id: &release_id,
                description: (cpt_descriptions || !licensed).then(|| text(r, "description")),
                description_source: description_source(code.0),
                category: category(code.0),
                status_meaning: payment::status_meaning(&status),
                status_code: status,
                has_work_rvu: work != "0.00" && !work.is_empty(),
                work_rvu: work,
                nonfacility_pe_rvu: text(r, "nonfacility_pe_rvu"),
                facility_pe_rvu: text(r, "facility_pe_rvu"),
                mp_rvu: text(r, "mp_rvu"),
                nonfacility_total: text(r, "nonfacility_total"),
                facility_total: text(r, "facility_total"),
                global_days: text(r, "global_days"),
                conversion_factor: text(r, "conversion_factor"),
                qpp_conversion_factor: qpp_cf.get(&code).cloned(),
                first_release_id: history.map(|(first, _)| first.to_string()),
                last_changed_release_id: history.map(|(_, changed)| changed.to_string()),
                hcpcs: code.0,
                modifier: code.1,
            }
        })
        .collect();
    // A line is about 530 bytes (RVU26A: 10.2 MB for 19,226 codes): room for 640 each means
    // the buffer is never grown, and copied, near its end.
    let mut lines = Vec::with_capacity(rows.len() * 640);
    for row in &rows {
        serde_json::to_writer(&mut lines, row).map_err(|e| polars_err!(ComputeError: "{e}"))?;
        lines.push(b'\n');
    }
    // serde_json writes UTF-8 only.
    let lines = String::from_utf8(lines).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    Ok((frame(&rows)?, lines))
}

fn frame(rows: &[CodeRow]) -> PolarsResult<DataFrame> {
    let text = |name: &str, f: &dyn for<'r> Fn(&'r CodeRow) -> Option<&'r str>| -> Column {
        let chunked: StringChunked = rows.iter().map(f).collect();
        chunked.into_series().with_name(name.into()).into_column()
    };
    let flags: BooleanChunked = rows.iter().map(|r| Some(r.has_work_rvu)).collect();
    DataFrame::new(
        rows.len(),
        vec![
            text("release_id", &|r| Some(r.release_id)),
            text("hcpcs", &|r| Some(r.hcpcs)),
            text("modifier", &|r| Some(r.modifier)),
            text("description", &|r| r.description.as_deref()),
            text("description_source", &|r| Some(r.description_source)),
            text("category", &|r| Some(r.category)),
            text("status_code", &|r| Some(&*r.status_code)),
            text("status_meaning", &|r| Some(r.status_meaning)),
            flags
                .into_series()
                .with_name("has_work_rvu".into())
                .into_column(),
            text("work_rvu", &|r| Some(&*r.work_rvu)),
            text("nonfacility_pe_rvu", &|r| Some(&*r.nonfacility_pe_rvu)),
            text("facility_pe_rvu", &|r| Some(&*r.facility_pe_rvu)),
            text("mp_rvu", &|r| Some(&*r.mp_rvu)),
            text("nonfacility_total", &|r| Some(&*r.nonfacility_total)),
            text("facility_total", &|r| Some(&*r.facility_total)),
            text("global_days", &|r| Some(&*r.global_days)),
            text("conversion_factor", &|r| Some(&*r.conversion_factor)),
            text("qpp_conversion_factor", &|r| {
                r.qpp_conversion_factor.as_deref()
            }),
            text("first_release_id", &|r| r.first_release_id.as_deref()),
            text("last_changed_release_id", &|r| {
                r.last_changed_release_id.as_deref()
            }),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(category("99213"), "Evaluation and Management");
        assert_eq!(category("J3398"), "J Codes (Drugs)");
        assert_eq!(category("27447"), "Surgery");
        assert_eq!(category("71046"), "Radiology");
        assert_eq!(category("0001F"), "Category II (Performance Measures)");
        assert_eq!(category("0633T"), "Category III (Emerging Technology)");
        assert_eq!(category("00100"), "Anesthesia");
        assert_eq!(description_source("D0120"), "ada");
        assert_eq!(description_source("99213"), "cpt");
        assert_eq!(description_source("J3398"), "hcpcs");
    }
}
