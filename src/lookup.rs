//! Lookup: one code's published values and payment, from the published datasets only (never
//! the CMS files), for the release in force on a date or a named release.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{ReleaseId, effective_from};
use crate::error::{Error, Result};
use crate::package::Manifest;
use crate::payment::{self, Amounts, Inputs, PAYABLE};
use crate::read::{Grid, Row};
use crate::tables::{Record, Table, TableKind, Value};

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub code: String,
    /// None: the global row (blank modifier).
    pub modifier: Option<String>,
    /// `YYYY-MM-DD`: the release in force that day.
    pub as_of: Option<String>,
    pub release: Option<ReleaseId>,
    /// (MAC, locality), e.g. ("01112", "54").
    pub locality: Option<(String, String)>,
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub setting: &'static str,
    pub total_rvu: String,
    /// None when not payable; `reason` says why.
    pub amounts: Option<AmountsText>,
    pub reason: Option<String>,
    /// The OPPS-based cap for this setting and locality, and the payment after it.
    pub opps_cap: Option<String>,
    pub capped_payment: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmountsText {
    pub fee_schedule: String,
    pub non_participating: String,
    pub limiting_charge: String,
}

impl From<Amounts> for AmountsText {
    fn from(a: Amounts) -> Self {
        AmountsText {
            fee_schedule: payment::dollars(a.fee_schedule),
            non_participating: payment::dollars(a.non_participating),
            limiting_charge: payment::dollars(a.limiting_charge),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub release_id: String,
    pub revision: u32,
    pub effective_from: String,
    pub variant: String,
    /// Every published column of the code's row, as published.
    pub row: Vec<(&'static str, String)>,
    pub status_meaning: &'static str,
    pub locality: String,
    pub gpci: (String, String, String),
    pub payments: Vec<Setting>,
}

impl Answer {
    pub fn field(&self, name: &str) -> &str {
        self.row
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The release a query asks for: named, in force on a date, or the latest.
pub fn choose_release(output: &Path, q: &Query) -> Result<(ReleaseId, PathBuf)> {
    let all = crate::stages::publish::published(output);
    let none = || {
        Error::Release(format!(
            "no release is published under {}",
            output.display()
        ))
    };
    if let Some(id) = q.release {
        return all.into_iter().find(|(r, _)| *r == id).ok_or_else(|| {
            Error::Release(format!("{id} is not published under {}", output.display()))
        });
    }
    match &q.as_of {
        Some(date) => all
            .into_iter()
            .filter(|(id, _)| effective_from(*id).as_str() <= date.as_str())
            .max_by_key(|(id, _)| (effective_from(*id), *id))
            .ok_or_else(|| Error::Release(format!("no published release was in force on {date}"))),
        None => all.into_iter().last().ok_or_else(none),
    }
}

/// Reads only the rows of a published CSV that `keep` accepts (fast: no typing of the rest).
fn load_rows(
    dir: &Path,
    kind: TableKind,
    keep: impl Fn(&csv::StringRecord) -> bool,
) -> Result<Table> {
    let path = dir.join(format!("{}.csv", kind.name()));
    let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(file);
    let mut rows = Vec::new();
    let parse_error = |e: csv::Error| Error::Parse {
        location: crate::error::Location::file(path.display().to_string()),
        message: e.to_string(),
    };
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(parse_error)?;
        if i == 0 || keep(&record) {
            rows.push(Row {
                number: i + 1,
                cells: record.iter().map(str::to_string).collect(),
            });
        }
    }
    let grid = Grid {
        file: path.display().to_string(),
        sheet: None,
        rows,
    };
    Table::from_canonical(kind, &grid)
}

fn cell(table: &Table, record: &Record, column: &str) -> String {
    table.render(record, column)
}

fn dec(table: &Table, record: &Record, column: &str) -> i64 {
    match table.value(record, column) {
        Some(Value::Dec(m)) => *m,
        _ => 0,
    }
}

pub fn lookup(output: &Path, q: &Query) -> Result<Answer> {
    let (id, dir) = choose_release(output, q)?;
    let code = q.code.trim().to_ascii_uppercase();
    let column_of = |kind: TableKind, name: &str| {
        kind.columns()
            .iter()
            .position(|c| c.name == name)
            .unwrap_or(0)
    };
    let h = column_of(TableKind::Pprrvu, "hcpcs");
    let rvus = load_rows(&dir, TableKind::Pprrvu, |r| r.get(h) == Some(code.as_str()))?;
    if rvus.rows.is_empty() {
        return Err(Error::Release(format!("{code} is not in {id}")));
    }
    let modifier = q.modifier.clone().unwrap_or_default().to_ascii_uppercase();
    let candidates: Vec<&Record> = rvus
        .rows
        .iter()
        .filter(|r| cell(&rvus, r, "modifier") == modifier)
        .collect();
    if candidates.is_empty() {
        let available: Vec<String> = rvus
            .rows
            .iter()
            .map(|r| cell(&rvus, r, "modifier"))
            .map(|m| if m.is_empty() { "(none)".into() } else { m })
            .collect();
        return Err(Error::Release(format!(
            "{code} has no row with modifier '{modifier}' in {id}; modifiers: {}",
            available.join(", ")
        )));
    }
    let variants: Vec<String> = candidates
        .iter()
        .map(|r| cell(&rvus, r, "variant"))
        .collect();
    let wanted = q.variant.clone().unwrap_or_else(|| {
        if variants.iter().any(|v| v == "non_qpp") {
            "non_qpp".into()
        } else {
            variants[0].clone()
        }
    });
    let record = *candidates
        .iter()
        .find(|r| cell(&rvus, r, "variant") == wanted)
        .ok_or_else(|| {
            Error::Release(format!(
                "{code} has no '{wanted}' variant in {id} (variants: {})",
                variants.join(", ")
            ))
        })?;

    let (gpci, locality) = match &q.locality {
        None => ((1000, 1000, 1000), "national (GPCI 1.000)".to_string()),
        Some((mac, loc)) => locality_gpci(&dir, mac, loc, id)?,
    };
    let caps = match &q.locality {
        Some((mac, loc)) => opps_caps(&dir, &code, &modifier, mac, loc)?,
        None => None,
    };
    let status = cell(&rvus, record, "status_code");
    let payments = [
        (
            "non-facility",
            "nonfacility_pe_rvu",
            "nonfacility_na",
            "nonfacility_total",
            1,
        ),
        (
            "facility",
            "facility_pe_rvu",
            "facility_na",
            "facility_total",
            0,
        ),
    ]
    .into_iter()
    .map(|(setting, pe, na, total, cap_index)| {
        let reason = if !PAYABLE.contains(&status.as_str()) {
            Some(format!(
                "not payable: status {status} ({})",
                payment::status_meaning(&status)
            ))
        } else if matches!(rvus.value(record, na), Some(Value::Bool(true))) {
            Some(format!("not payable in the {setting} setting (NA)"))
        } else {
            None
        };
        let amounts = reason.is_none().then(|| {
            payment::amounts(Inputs {
                work: dec(&rvus, record, "work_rvu"),
                pe: dec(&rvus, record, pe),
                mp: dec(&rvus, record, "mp_rvu"),
                pw_gpci: gpci.0,
                pe_gpci: gpci.1,
                mp_gpci: gpci.2,
                cf: dec(&rvus, record, "conversion_factor"),
            })
        });
        let cap: Option<i64> = caps.map(|c: (i64, i64)| if cap_index == 1 { c.1 } else { c.0 });
        Setting {
            setting,
            total_rvu: cell(&rvus, record, total),
            capped_payment: amounts
                .zip(cap)
                .map(|(a, c)| payment::dollars(a.fee_schedule.min(c))),
            opps_cap: cap.map(payment::dollars),
            amounts: amounts.map(AmountsText::from),
            reason,
        }
    })
    .collect();
    let fmt_gpci = |g: i64| crate::tables::format_decimal(g, 3);
    Ok(Answer {
        release_id: id.to_string(),
        revision: Manifest::read(&dir).map_or(1, |m| m.revision),
        effective_from: effective_from(id),
        variant: wanted,
        row: rvus
            .columns()
            .iter()
            .map(|c| (c.name, cell(&rvus, record, c.name)))
            .collect(),
        status_meaning: payment::status_meaning(&status),
        locality,
        gpci: (fmt_gpci(gpci.0), fmt_gpci(gpci.1), fmt_gpci(gpci.2)),
        payments,
    })
}

fn locality_gpci(
    dir: &Path,
    mac: &str,
    loc: &str,
    id: ReleaseId,
) -> Result<((i64, i64, i64), String)> {
    let m = TableKind::Gpci
        .columns()
        .iter()
        .position(|c| c.name == "mac")
        .unwrap_or(0);
    let gpci = load_rows(dir, TableKind::Gpci, |r| r.get(m) == Some(mac))?;
    let row = gpci
        .rows
        .iter()
        .find(|r| cell(&gpci, r, "locality") == loc)
        .ok_or_else(|| Error::Release(format!("locality {mac}-{loc} is not in {id}'s GPCI")))?;
    let name = cell(&gpci, row, "locality_name");
    Ok((
        (
            dec(&gpci, row, "pw_gpci"),
            dec(&gpci, row, "pe_gpci"),
            dec(&gpci, row, "mp_gpci"),
        ),
        format!("{mac}-{loc} {name}"),
    ))
}

/// The OPPS caps (facility, non-facility) in cents for a code at a locality, if capped.
fn opps_caps(
    dir: &Path,
    code: &str,
    modifier: &str,
    mac: &str,
    loc: &str,
) -> Result<Option<(i64, i64)>> {
    if !dir.join("oppscap.csv").is_file() {
        return Ok(None);
    }
    let h = TableKind::Oppscap
        .columns()
        .iter()
        .position(|c| c.name == "hcpcs")
        .unwrap_or(0);
    let caps = load_rows(dir, TableKind::Oppscap, |r| r.get(h) == Some(code))?;
    Ok(caps
        .rows
        .iter()
        .find(|r| {
            cell(&caps, r, "modifier") == modifier
                && cell(&caps, r, "mac") == mac
                && cell(&caps, r, "locality") == loc
        })
        .map(|r| {
            (
                dec(&caps, r, "facility_price"),
                dec(&caps, r, "nonfacility_price"),
            )
        }))
}
