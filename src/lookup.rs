//! Lookup: one code's published values and payment, from the published datasets only (never
//! the CMS files), for the release in force on a date or a named release.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{ReleaseId, effective_from};
use crate::error::{Error, Result};
use crate::package::Manifest;
use crate::payment::{self, Amounts, PAYABLE};
use crate::tables::{Record, Table, TableKind, Value};

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub code: String,
    /// None: the global row (blank modifier).
    pub modifier: Option<String>,
    /// The release in force that day.
    pub as_of: Option<chrono::NaiveDate>,
    pub release: Option<ReleaseId>,
    /// (MAC, locality), e.g. ("01112", "54").
    pub locality: Option<(String, String)>,
    pub variant: Option<String>,
}

/// One setting's payment at the locality, from `payment::settings` (as `payments.parquet`).
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub setting: &'static str,
    pub total_rvu: String,
    /// CMS marks the setting NA: not paid there, though its file prints an amount.
    pub na: bool,
    /// None when CMS's payment file does not list the code; `reason` says why.
    pub amounts: Option<AmountsText>,
    pub reason: Option<String>,
}

/// [`payment::Amounts`] in dollars.
#[derive(Debug, Clone, Serialize)]
pub struct AmountsText {
    /// The fee schedule amount from the printed RVUs, before the OPPS cap.
    pub amount: String,
    pub opps_cap: Option<String>,
    /// The lower of amount and cap: what a participating provider is paid.
    pub par: String,
    pub nonpar: String,
    pub limiting_charge: String,
}

impl From<Amounts> for AmountsText {
    fn from(a: Amounts) -> Self {
        AmountsText {
            amount: payment::dollars(a.amount),
            opps_cap: a.opps_cap.map(payment::dollars),
            par: payment::dollars(a.par),
            nonpar: payment::dollars(a.nonpar),
            limiting_charge: payment::dollars(a.limiting_charge),
        }
    }
}

/// An anesthesia code's payment rule and the locality's anesthesia conversion factor.
#[derive(Debug, Clone, Serialize)]
pub struct Anesthesia {
    pub rule: &'static str,
    /// ANES's conversion factor for the locality and variant (None without --locality).
    pub anes_cf: Option<String>,
}

/// Every published column of a row, in column order (a JSON object keyed by name).
#[derive(Debug, Clone)]
pub struct PublishedRow(pub Vec<(&'static str, String)>);

impl Serialize for PublishedRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub release_id: String,
    pub revision: u32,
    pub effective_from: String,
    pub variant: String,
    pub row: PublishedRow,
    pub status_meaning: &'static str,
    pub locality: String,
    pub gpci: (String, String, String),
    /// The release whose GPCI priced the answer, when not `release_id` (no GPCI file).
    pub gpci_release_id: Option<String>,
    pub payments: Vec<Setting>,
    pub anesthesia: Option<Anesthesia>,
}

impl Answer {
    pub fn field(&self, name: &str) -> &str {
        self.row
            .0
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The release a query asks for: named, in force on a date, or the latest.
pub fn choose_release(output: &Path, q: &Query) -> Result<(ReleaseId, PathBuf)> {
    let all = crate::published::published(output);
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
            .filter(|(id, _)| effective_from(*id) <= date.format("%Y-%m-%d").to_string())
            .max_by_key(|(id, _)| (effective_from(*id), *id))
            .ok_or_else(|| Error::Release(format!("no published release was in force on {date}"))),
        None => all.into_iter().last().ok_or_else(none),
    }
}

fn cell(table: &Table, record: &Record, column: &str) -> String {
    table.render(record, column)
}

/// The release's codes nearest to `code` (for "not found" messages).
fn closest_codes(dir: &Path, code: &str) -> Result<Vec<String>> {
    let mut codes = crate::published::read_column(dir, TableKind::Pprrvu, "hcpcs")?;
    codes.sort();
    codes.dedup();
    codes.sort_by(|a, b| {
        let d = |c: &str| std::cmp::Reverse((strsim::jaro_winkler(code, c) * 1e6) as i64);
        d(a).cmp(&d(b)).then_with(|| a.cmp(b))
    });
    codes.truncate(5);
    Ok(codes)
}

pub fn lookup(output: &Path, q: &Query) -> Result<Answer> {
    let (id, dir) = choose_release(output, q)?;
    let code = q.code.trim().to_ascii_uppercase();
    let rvus = crate::published::read_table(&dir, TableKind::Pprrvu, Some(("hcpcs", &code)))?;
    if rvus.rows.is_empty() {
        return Err(Error::NotFound(format!(
            "{code} is not in {id}; the closest codes there: {}",
            closest_codes(&dir, &code)?.join(", ")
        )));
    }
    let modifier = q.modifier.clone().unwrap_or_default().to_ascii_uppercase();
    let candidates: Vec<&Record> = rvus
        .rows
        .iter()
        .filter(|r| cell(&rvus, r, "modifier") == modifier)
        .collect();
    if candidates.is_empty() {
        let mut available: Vec<String> = rvus
            .rows
            .iter()
            .map(|r| cell(&rvus, r, "modifier"))
            .map(|m| if m.is_empty() { "(none)".into() } else { m })
            .collect();
        available.dedup();
        return Err(Error::NotFound(format!(
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
        .ok_or_else(
            || match (wanted.as_str(), variants.iter().any(|v| v == "non_qpp")) {
                ("qpp", true) => {
                    let status = cell(&rvus, candidates[0], "status_code");
                    Error::NotFound(format!(
                        "{code} is in {id}'s non-QPP file but not in its QPP file: the QPP file \
                     lists only the priced statuses (A, C, R, T), and {code} is status {status} \
                     ({}); ask for --variant non_qpp",
                        payment::status_meaning(&status)
                    ))
                }
                _ => Error::NotFound(format!(
                    "{code} has no '{wanted}' variant in {id} (variants: {})",
                    variants.join(", ")
                )),
            },
        )?;

    let (gpci, locality, gpci_release_id) = match &q.locality {
        None => (payment::NATIONAL, "national (GPCI 1.000)".to_string(), None),
        Some((mac, loc)) => locality_gpci(output, &dir, mac, loc, id)?,
    };
    let columns = payment::PprrvuColumns::of(&rvus)?;
    let status = cell(&rvus, record, "status_code");
    // Only a payable row is priced; there an empty RVU cell is an error, never $0.00. CMS's
    // payment file leaves out a payable code whose RVUs are all zero.
    let settings = if PAYABLE.contains(&status.as_str()) {
        let code_rvus = columns.rvus(&rvus, record)?;
        payment::listed(&status, &code_rvus).then(|| payment::settings(&code_rvus, gpci))
    } else {
        None
    };
    let reason = if !PAYABLE.contains(&status.as_str()) {
        Some(format!(
            "not paid under the fee schedule: status {status} ({})",
            payment::status_meaning(&status)
        ))
    } else if settings.is_none() {
        Some("every RVU is zero: CMS's payment file does not list it".to_string())
    } else {
        None
    };
    let payments = [
        ("non-facility", "nonfacility_na", "nonfacility_total"),
        ("facility", "facility_na", "facility_total"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (setting, na, total))| Setting {
        setting,
        total_rvu: cell(&rvus, record, total),
        na: matches!(rvus.value(record, na), Some(Value::Bool(true))),
        amounts: settings.map(|(nf, f)| AmountsText::from(if i == 0 { nf } else { f })),
        reason: reason.clone(),
    })
    .collect();
    let anesthesia = if status == "J" {
        Some(Anesthesia {
            rule: "anesthesia is paid as (base units + time units) x the locality's anesthesia \
                   conversion factor; base units are not in the RVU file",
            anes_cf: match &q.locality {
                Some((mac, loc)) => anes_cf(&dir, mac, loc, &wanted)?,
                None => None,
            },
        })
    } else {
        None
    };
    let fmt_gpci = |g: i64| crate::tables::format_decimal(g, 3);
    Ok(Answer {
        release_id: id.to_string(),
        revision: Manifest::read(&dir).map_or(1, |m| m.revision),
        effective_from: effective_from(id),
        variant: wanted,
        row: PublishedRow(
            rvus.columns()
                .iter()
                .map(|c| (c.name, cell(&rvus, record, c.name)))
                .collect(),
        ),
        status_meaning: payment::status_meaning(&status),
        locality,
        gpci: (fmt_gpci(gpci.pw), fmt_gpci(gpci.pe), fmt_gpci(gpci.mp)),
        gpci_release_id,
        payments,
        anesthesia,
    })
}

/// A locality's GPCIs from the release's GPCI, or from the GPCI in force when the release
/// has none (named in the answer). Returns the GPCIs, a label naming the locality (and the
/// release whose GPCI it is, when not this one) and that release.
pub fn locality_gpci(
    output: &Path,
    dir: &Path,
    mac: &str,
    loc: &str,
    id: ReleaseId,
) -> Result<(payment::Gpcis, String, Option<String>)> {
    let (gpci, from) = if dir.join("gpci.parquet").is_file() {
        (
            crate::published::read_table(dir, TableKind::Gpci, Some(("mac", mac)))?,
            None,
        )
    } else {
        match crate::published::gpci_in_force(output, id)? {
            Some((from, table)) => (table, Some(from)),
            None => {
                return Err(Error::NotFound(format!(
                    "{id} has no GPCI file and no published release of {} has one, so there \
                     is no GPCI for {mac}-{loc}; leave out --locality for national amounts",
                    id.year
                )));
            }
        }
    };
    let g = payment::GpciColumns::of(&gpci)?;
    let row = gpci
        .rows
        .iter()
        .find(|r| cell(&gpci, r, "mac") == mac && cell(&gpci, r, "locality") == loc)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "locality {mac}-{loc} is not in the GPCI of {}",
                from.unwrap_or(id)
            ))
        })?;
    let name = cell(&gpci, row, "locality_name");
    let label = match from {
        Some(from) => {
            format!("{mac}-{loc} {name} (GPCI in force: {from}'s; {id} has no GPCI file)")
        }
        None => format!("{mac}-{loc} {name}"),
    };
    Ok((g.gpcis(&gpci, row)?, label, from.map(|f| f.to_string())))
}

/// ANES's conversion factor for a locality and variant (a 2025 `standard` row answers for
/// any variant asked of a release with one).
fn anes_cf(dir: &Path, mac: &str, loc: &str, variant: &str) -> Result<Option<String>> {
    if !dir.join("anes.parquet").is_file() {
        return Ok(None);
    }
    let anes = crate::published::read_table(dir, TableKind::Anes, Some(("mac", mac)))?;
    let rows: Vec<&Record> = anes
        .rows
        .iter()
        .filter(|r| cell(&anes, r, "locality") == loc)
        .collect();
    let pick = rows
        .iter()
        .find(|r| cell(&anes, r, "variant") == variant)
        .or_else(|| (rows.len() == 1).then(|| &rows[0]));
    Ok(pick.map(|r| cell(&anes, r, "anes_cf")))
}
