//! The `codes` dataset for the code reference website: one row per (hcpcs, modifier) of the
//! latest release with its description, category, status, RVUs and release history.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::catalog::ReleaseId;
use crate::history::string_column;
use crate::payment;
use crate::report::changes::is_licensed;
use crate::tables::{Record, Table};

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

pub fn description_source(hcpcs: &str) -> &'static str {
    match hcpcs.chars().next() {
        Some(c) if c.is_ascii_digit() => "cpt",
        Some('D') if is_licensed(hcpcs) => "ada",
        _ => "hcpcs",
    }
}

/// When each (hcpcs, modifier) first appeared and last changed, from the PPRRVU history
/// (each version's `release_id` is the release it started in).
fn seen_and_changed(
    history: &DataFrame,
) -> PolarsResult<BTreeMap<(String, String), (ReleaseId, ReleaseId)>> {
    let column =
        |name: &str| -> PolarsResult<StringChunked> { Ok(history.column(name)?.str()?.clone()) };
    let (hcpcs, modifier, first) = (column("hcpcs")?, column("modifier")?, column("release_id")?);
    let mut out: BTreeMap<(String, String), (ReleaseId, ReleaseId)> = BTreeMap::new();
    for ((h, m), f) in hcpcs.iter().zip(modifier.iter()).zip(first.iter()) {
        let Some(started) = f.and_then(|f| f.parse::<ReleaseId>().ok()) else {
            continue;
        };
        let code = (
            h.unwrap_or_default().to_string(),
            m.unwrap_or_default().to_string(),
        );
        out.entry(code)
            .and_modify(|(seen, changed)| {
                *seen = (*seen).min(started);
                *changed = (*changed).max(started);
            })
            .or_insert((started, started));
    }
    Ok(out)
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
    let text = |r: &Record, c: &str| table.render(r, c);
    // One row per code: the non-QPP variant where there are two (their RVUs are the same).
    let mut rows: BTreeMap<(String, String), &Record> = BTreeMap::new();
    for r in &table.rows {
        let code = (text(r, "hcpcs"), text(r, "modifier"));
        let preferred = text(r, "variant") != "qpp";
        if preferred || !rows.contains_key(&code) {
            rows.insert(code, r);
        }
    }
    let mut columns: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    let order = [
        "release_id",
        "hcpcs",
        "modifier",
        "description",
        "description_source",
        "category",
        "status_code",
        "status_meaning",
        "has_work_rvu",
        "work_rvu",
        "nonfacility_pe_rvu",
        "facility_pe_rvu",
        "mp_rvu",
        "nonfacility_total",
        "facility_total",
        "global_days",
        "first_release_id",
        "last_changed_release_id",
    ];
    let mut lines = String::new();
    for ((hcpcs, modifier), r) in &rows {
        let licensed = is_licensed(hcpcs);
        let description = (cpt_descriptions || !licensed).then(|| text(r, "description"));
        let status = text(r, "status_code");
        let work = text(r, "work_rvu");
        let values: Vec<(&str, Option<String>)> = vec![
            ("release_id", Some(latest_id.to_string())),
            ("hcpcs", Some(hcpcs.clone())),
            ("modifier", Some(modifier.clone())),
            ("description", description),
            (
                "description_source",
                Some(description_source(hcpcs).to_string()),
            ),
            ("category", Some(category(hcpcs).to_string())),
            ("status_code", Some(status.clone())),
            (
                "status_meaning",
                Some(payment::status_meaning(&status).to_string()),
            ),
            (
                "has_work_rvu",
                Some((work != "0.00" && !work.is_empty()).to_string()),
            ),
            ("work_rvu", Some(work)),
            ("nonfacility_pe_rvu", Some(text(r, "nonfacility_pe_rvu"))),
            ("facility_pe_rvu", Some(text(r, "facility_pe_rvu"))),
            ("mp_rvu", Some(text(r, "mp_rvu"))),
            ("nonfacility_total", Some(text(r, "nonfacility_total"))),
            ("facility_total", Some(text(r, "facility_total"))),
            ("global_days", Some(text(r, "global_days"))),
            (
                "first_release_id",
                seen.get(&(hcpcs.clone(), modifier.clone()))
                    .map(|(first, _)| first.to_string()),
            ),
            (
                "last_changed_release_id",
                seen.get(&(hcpcs.clone(), modifier.clone()))
                    .map(|(_, changed)| changed.to_string()),
            ),
        ];
        let object: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|(k, v)| {
                let value = match (*k, v) {
                    ("has_work_rvu", Some(flag)) => serde_json::Value::Bool(flag == "true"),
                    (_, Some(text)) => serde_json::Value::String(text.clone()),
                    (_, None) => serde_json::Value::Null,
                };
                (k.to_string(), value)
            })
            .collect();
        lines.push_str(&serde_json::Value::Object(object).to_string());
        lines.push('\n');
        for (k, v) in values {
            columns.entry(k).or_default().push(v);
        }
    }
    let frame = DataFrame::new(
        rows.len(),
        order
            .iter()
            .map(|name| {
                let values = columns.remove(name).unwrap_or_default();
                if *name == "has_work_rvu" {
                    let flags: BooleanChunked = values
                        .iter()
                        .map(|v| v.as_deref().map(|f| f == "true"))
                        .collect();
                    flags.into_series().with_name((*name).into()).into_column()
                } else {
                    string_column(name, values)
                }
            })
            .collect(),
    )?;
    Ok((frame, lines))
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
