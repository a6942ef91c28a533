//! Published datasets across releases: the history of every PPRRVU and GPCI row with the
//! dates it was in force, conversion factors by date, the `codes` dataset for the code
//! reference site, and per-release `payments`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use polars::prelude::*;

use crate::catalog::{ReleaseId, effective_from};
use crate::error::{Error, Result};
use crate::payment::{self, Inputs, PAYABLE};
use crate::report::changes::is_licensed;
use crate::tables::{Kind, Record, Table, TableKind, Value};

/// The day before an ISO date (`2025-04-01` -> `2025-03-31`).
pub fn day_before(date: &str) -> String {
    let parts: Vec<i64> = date.split('-').filter_map(|p| p.parse().ok()).collect();
    let [y, m, d] = parts[..] else {
        return date.to_string();
    };
    let days = days_from_civil(y, m, d) - 1;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// Howard Hinnant's civil-date algorithms (public domain), for day arithmetic without a crate.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One version of a row: the values, the first and last release that carried them.
struct Version<'a> {
    record: &'a Record,
    first: ReleaseId,
    last: ReleaseId,
    /// The release after `last` (where the next version starts or the key disappears).
    ended_by: Option<ReleaseId>,
}

/// Versions of every key of a table across releases (oldest first), merging runs of equal
/// values (release_id aside).
fn versions<'a>(
    kind: TableKind,
    releases: &'a [(ReleaseId, BTreeMap<TableKind, Table>)],
) -> Vec<(Vec<Value>, Version<'a>)> {
    let mut open: HashMap<Vec<Value>, Version<'a>> = HashMap::new();
    let mut done: Vec<(Vec<Value>, Version<'a>)> = Vec::new();
    for (id, tables) in releases {
        let Some(table) = tables.get(&kind) else {
            continue;
        };
        let release_col = table.column_index("release_id");
        let same = |a: &Record, b: &Record| {
            a.values
                .iter()
                .zip(&b.values)
                .enumerate()
                .all(|(i, (x, y))| Some(i) == release_col || x == y)
        };
        let mut seen: HashMap<Vec<Value>, &Record> = HashMap::new();
        for record in &table.rows {
            seen.entry(table.key_of(record)).or_insert(record);
        }
        let gone: Vec<Vec<Value>> = open
            .keys()
            .filter(|k| !seen.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut v) = open.remove(&key) {
                v.ended_by = Some(*id);
                done.push((key, v));
            }
        }
        for (key, record) in seen {
            match open.get_mut(&key) {
                Some(v) if same(v.record, record) => {
                    v.last = *id;
                    continue;
                }
                Some(_) => {
                    if let Some(mut old) = open.remove(&key) {
                        old.ended_by = Some(*id);
                        done.push((key.clone(), old));
                    }
                }
                None => {}
            }
            let version = Version {
                record,
                first: *id,
                last: *id,
                ended_by: None,
            };
            open.insert(key, version);
        }
    }
    done.extend(open);
    done.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.first.cmp(&b.1.first)));
    done
}

fn string_column(name: &str, values: Vec<Option<String>>) -> Column {
    let chunked: StringChunked = values.iter().map(|v| v.as_deref()).collect();
    chunked.into_series().with_name(name.into()).into_column()
}

/// A history table: the canonical columns, then first/last release and the dates in force.
fn history_frame(kind: TableKind, versions: &[(Vec<Value>, Version)]) -> PolarsResult<DataFrame> {
    let records: Vec<&Record> = versions.iter().map(|(_, v)| v.record).collect();
    let table = Table {
        kind,
        file: String::new(),
        rows: records.into_iter().cloned().collect(),
        skipped_rows: 0,
    };
    let mut df = crate::stages::publish::to_dataframe(&table)?;
    let text = |f: &dyn Fn(&Version) -> Option<String>| {
        versions.iter().map(|(_, v)| f(v)).collect::<Vec<_>>()
    };
    for column in [
        string_column("last_release_id", text(&|v| Some(v.last.to_string()))),
        string_column("effective_from", text(&|v| Some(effective_from(v.first)))),
        string_column(
            "effective_to",
            text(&|v| v.ended_by.map(|n| day_before(&effective_from(n)))),
        ),
    ] {
        df.with_column(column)?;
    }
    Ok(df)
}

use crate::stages::publish::write_frame as write_parquet;

type Loaded = Vec<(ReleaseId, BTreeMap<TableKind, Table>)>;

/// The PPRRVU and GPCI tables of every published release, oldest first, read on all cores.
fn load_published(output: &Path) -> Result<Loaded> {
    let published = crate::stages::publish::published(output);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let chunk = published.len().div_ceil(workers).max(1);
    let kinds = [TableKind::Pprrvu, TableKind::Gpci];
    std::thread::scope(|scope| {
        let handles: Vec<_> = published
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(id, dir)| {
                            Ok((*id, crate::stages::publish::load_tables(dir, &kinds)?))
                        })
                        .collect::<Result<Loaded>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            );
        }
        Ok(all)
    })
}

/// Rebuilds `history/` (PPRRVU and GPCI versions, conversion factors) and `codes.parquet` /
/// `codes.jsonl` from every release published under `output`.
pub fn rebuild(output: &Path, cpt_descriptions: bool) -> Result<()> {
    let clock = std::time::Instant::now();
    let releases = load_published(output)?;
    tracing::debug!("history: loaded in {:?}", clock.elapsed());
    if releases.is_empty() {
        return Ok(());
    }
    let staging = output
        .join(".staging")
        .join(format!("history.{}", std::process::id()));
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let polars_err = |e: PolarsError| Error::Output {
        what: "history".into(),
        message: e.to_string(),
    };
    let pprrvu_versions = versions(TableKind::Pprrvu, &releases);
    tracing::debug!("history: versions at {:?}", clock.elapsed());
    for kind in [TableKind::Pprrvu, TableKind::Gpci] {
        let gpci_versions;
        let v = match kind {
            TableKind::Pprrvu => &pprrvu_versions,
            _ => {
                gpci_versions = versions(kind, &releases);
                &gpci_versions
            }
        };
        let mut df = history_frame(kind, v).map_err(polars_err)?;
        write_parquet(&staging.join(format!("{}.parquet", kind.name())), &mut df)?;
    }
    tracing::debug!("history: frames written at {:?}", clock.elapsed());
    let mut cf = conversion_factors(&releases).map_err(polars_err)?;
    write_parquet(&staging.join("conversion_factors.parquet"), &mut cf)?;
    let (mut codes, lines) =
        codes(&releases, &pprrvu_versions, cpt_descriptions).map_err(polars_err)?;
    tracing::debug!("history: codes at {:?}", clock.elapsed());
    write_parquet(&staging.join("codes.parquet"), &mut codes)?;
    fs::write(staging.join("codes.jsonl"), lines).map_err(|e| Error::io(&staging, e))?;
    // Swap the whole folder in, as releases are.
    let target = output.join("history");
    let old = output
        .join(".staging")
        .join(format!("history.old.{}", std::process::id()));
    if target.exists() {
        fs::rename(&target, &old).map_err(|e| Error::io(&target, e))?;
    }
    fs::rename(&staging, &target).map_err(|e| Error::io(&target, e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// A run of one conversion factor: variant, CF, first and last release, the release after.
type CfRun = (String, String, ReleaseId, ReleaseId, Option<ReleaseId>);

fn conversion_factors(
    releases: &[(ReleaseId, BTreeMap<TableKind, Table>)],
) -> PolarsResult<DataFrame> {
    // Per variant, in release order, merged into runs of equal values.
    let mut runs: Vec<CfRun> = Vec::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for (id, tables) in releases {
        let Some(t) = tables.get(&TableKind::Pprrvu) else {
            continue;
        };
        let mut cfs: BTreeMap<String, String> = BTreeMap::new();
        for r in &t.rows {
            let variant = t
                .value(r, "variant")
                .map(|v| v.render(Kind::Text))
                .unwrap_or_default();
            if let Some(Value::Dec(cf)) = t.value(r, "conversion_factor") {
                cfs.entry(variant)
                    .or_insert_with(|| crate::tables::format_decimal(*cf, 4));
            }
        }
        for (variant, i) in open.clone() {
            if !cfs.contains_key(&variant) {
                runs[i].4 = Some(*id);
                open.remove(&variant);
            }
        }
        for (variant, cf) in cfs {
            match open.get(&variant) {
                Some(&i) if runs[i].1 == cf => runs[i].3 = *id,
                Some(&i) => {
                    runs[i].4 = Some(*id);
                    runs.push((variant.clone(), cf, *id, *id, None));
                    open.insert(variant, runs.len() - 1);
                }
                None => {
                    runs.push((variant.clone(), cf, *id, *id, None));
                    open.insert(variant, runs.len() - 1);
                }
            }
        }
    }
    let col = |name: &str, f: &dyn Fn(&CfRun) -> Option<String>| {
        string_column(name, runs.iter().map(f).collect())
    };
    DataFrame::new(
        runs.len(),
        vec![
            col("variant", &|r| Some(r.0.clone())),
            col("conversion_factor", &|r| Some(r.1.clone())),
            col("release_id", &|r| Some(r.2.to_string())),
            col("last_release_id", &|r| Some(r.3.to_string())),
            col("effective_from", &|r| Some(effective_from(r.2))),
            col("effective_to", &|r| {
                r.4.map(|n| day_before(&effective_from(n)))
            }),
        ],
    )
}

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

/// One row per (hcpcs, modifier) of the latest release, with when it first appeared and when
/// it last changed. Returns the frame and its JSON lines.
fn codes(
    releases: &[(ReleaseId, BTreeMap<TableKind, Table>)],
    history: &[(Vec<Value>, Version)],
    cpt_descriptions: bool,
) -> PolarsResult<(DataFrame, String)> {
    let mut first_seen: BTreeMap<(String, String), ReleaseId> = BTreeMap::new();
    let mut last_changed: BTreeMap<(String, String), ReleaseId> = BTreeMap::new();
    let Some((latest_id, latest)) = releases.last() else {
        return Ok((DataFrame::empty(), String::new()));
    };
    let Some(table) = latest.get(&TableKind::Pprrvu) else {
        return Ok((DataFrame::empty(), String::new()));
    };
    let code_of = |key: &[Value]| {
        (
            key.get(1).map(|v| v.render(Kind::Text)).unwrap_or_default(),
            key.get(2).map(|v| v.render(Kind::Text)).unwrap_or_default(),
        )
    };
    for (key, v) in history {
        let code = code_of(key);
        first_seen
            .entry(code.clone())
            .and_modify(|f| *f = (*f).min(v.first))
            .or_insert(v.first);
        last_changed
            .entry(code)
            .and_modify(|l| *l = (*l).max(v.first))
            .or_insert(v.first);
    }
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
                first_seen
                    .get(&(hcpcs.clone(), modifier.clone()))
                    .map(ToString::to_string),
            ),
            (
                "last_changed_release_id",
                last_changed
                    .get(&(hcpcs.clone(), modifier.clone()))
                    .map(ToString::to_string),
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

/// Payable codes (A, R, T) at every locality, per variant: non-facility and facility amounts
/// in dollars (null in an NA setting), rounded to cents.
pub fn payments(tables: &BTreeMap<TableKind, Table>) -> PolarsResult<Option<DataFrame>> {
    let (Some(rvus), Some(gpci)) = (tables.get(&TableKind::Pprrvu), tables.get(&TableKind::Gpci))
    else {
        return Ok(None);
    };
    let idx = |t: &Table, c: &str| t.column_index(c).unwrap_or(0);
    let dec = |r: &Record, i: usize| match r.values[i] {
        Value::Dec(m) => m,
        _ => 0,
    };
    fn text(r: &Record, i: usize) -> &str {
        r.values[i].as_text().unwrap_or("")
    }
    let [
        release,
        variant,
        hcpcs,
        modifier,
        status,
        work,
        nf_pe,
        f_pe,
        mp,
        cf,
        nf_na,
        f_na,
    ] = [
        "release_id",
        "variant",
        "hcpcs",
        "modifier",
        "status_code",
        "work_rvu",
        "nonfacility_pe_rvu",
        "facility_pe_rvu",
        "mp_rvu",
        "conversion_factor",
        "nonfacility_na",
        "facility_na",
    ]
    .map(|c| idx(rvus, c));
    let [mac, loc, pw, pe, mpg] =
        ["mac", "locality", "pw_gpci", "pe_gpci", "mp_gpci"].map(|c| idx(gpci, c));
    let payable: Vec<&Record> = rvus
        .rows
        .iter()
        .filter(|r| PAYABLE.contains(&text(r, status)))
        .collect();
    let height = payable.len() * gpci.rows.len();
    let mut texts: [Vec<&str>; 6] = std::array::from_fn(|_| Vec::with_capacity(height));
    let (mut nf, mut f): (Vec<Option<i128>>, Vec<Option<i128>>) =
        (Vec::with_capacity(height), Vec::with_capacity(height));
    for r in &payable {
        for g in &gpci.rows {
            let amount = |pe_i: usize, na_i: usize| {
                (r.values[na_i] != Value::Bool(true)).then(|| {
                    let inputs = Inputs {
                        work: dec(r, work),
                        pe: dec(r, pe_i),
                        mp: dec(r, mp),
                        pw_gpci: dec(g, pw),
                        pe_gpci: dec(g, pe),
                        mp_gpci: dec(g, mpg),
                        cf: dec(r, cf),
                    };
                    i128::from(payment::amounts(inputs).fee_schedule)
                })
            };
            for (column, value) in texts.iter_mut().zip([
                text(r, release),
                text(r, variant),
                text(r, hcpcs),
                text(r, modifier),
                text(g, mac),
                text(g, loc),
            ]) {
                column.push(value);
            }
            nf.push(amount(nf_pe, nf_na));
            f.push(amount(f_pe, f_na));
        }
    }
    let names = [
        "release_id",
        "variant",
        "hcpcs",
        "modifier",
        "mac",
        "locality",
    ];
    let mut columns: Vec<Column> = names
        .iter()
        .zip(texts)
        .map(|(name, values)| {
            let chunked: StringChunked = values.into_iter().map(Some).collect();
            chunked
                .into_series()
                .with_name((*name).into())
                .into_column()
        })
        .collect();
    for (name, values) in [("nonfacility_amount", nf), ("facility_amount", f)] {
        let ints: Int128Chunked = values.into_iter().collect();
        columns.push(
            ints.into_decimal(10, 2)?
                .into_series()
                .with_name(name.into())
                .into_column(),
        );
    }
    Ok(Some(DataFrame::new(height, columns)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_before() {
        assert_eq!(day_before("2025-04-01"), "2025-03-31");
        assert_eq!(day_before("2024-03-09"), "2024-03-08");
        assert_eq!(day_before("2024-03-01"), "2024-02-29");
        assert_eq!(day_before("2025-01-01"), "2024-12-31");
    }

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
