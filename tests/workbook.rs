//! `comparison.xlsx` for the real RVU25A -> RVU25D diff, read back with calamine and with
//! openpyxl (a second, independent reader), checked against the two PPRRVU files; and
//! `rvu export xlsx`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Range, Reader, Xlsx, open_workbook};

const FROM: &str = "RVU25A/PPRRVU25_JAN.csv";
const TO: &str = "RVU25D/PPRRVU2025_Oct.csv";

/// RVU25A then RVU25D published (csv) once for this test binary, with their change report.
fn published() -> &'static Path {
    common::published_samples(&["RVU25A", "RVU25D"])
}

fn workbook_path() -> PathBuf {
    published().join("changes/RVU25A..RVU25D/comparison.xlsx")
}

fn sheet(name: &str) -> Range<Data> {
    let mut book: Xlsx<_> = open_workbook(workbook_path()).unwrap();
    book.worksheet_range(name).unwrap()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn number(cell: &Data) -> Option<f64> {
    match cell {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A CMS decimal cell in hundredths (RVUs) or ten-thousandths (CF).
fn scaled(cell: &str, scale: u32) -> i64 {
    let value: f64 = cell.trim().parse().unwrap_or(0.0);
    (value * 10f64.powi(scale as i32)).round() as i64
}

/// RVUs (hundredths) x CF (ten-thousandths) in cents, half up: CMS's national amount.
fn cents(rvus: i64, cf: i64) -> i64 {
    let product = i128::from(rvus) * i128::from(cf);
    ((product + 5_000) / 10_000) as i64
}

/// A code's national participating amounts (NF, F) in cents, from a CMS file row: the lower
/// of the amount and the OPPS cap (when the file gives OPPS RVUs).
fn national_par(file: &common::CmsPprrvu, row: &[String]) -> (i64, i64) {
    let v = |name: &str| scaled(&row[file.column(name)], 2);
    let cf = scaled(&row[file.column("CONV FACTOR")], 4);
    let (work, mp) = (v("WORK RVU"), v("MP RVU"));
    let nf = cents(work + v("NON-FAC PE RVU") + mp, cf);
    let f = cents(work + v("FACILITY PE RVU") + mp, cf);
    let (opps_nf, opps_f, opps_mp) = (
        v("NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT"),
        v("FACILITY PE USED FOR OPPS PAYMENT AMOUNT"),
        v("MP USED FOR OPPS PAYMENT AMOUNT"),
    );
    if opps_nf == 0 && opps_f == 0 && opps_mp == 0 {
        return (nf, f);
    }
    (
        nf.min(cents(work + opps_nf + opps_mp, cf)),
        f.min(cents(work + opps_f + opps_mp, cf)),
    )
}

fn status(file: &common::CmsPprrvu, row: &[String]) -> String {
    row[file.column("STATUS CODE")].clone()
}

#[test]
fn the_workbook_has_every_sheet_and_a_row_per_code_of_either_file() {
    let mut book: Xlsx<_> = open_workbook(workbook_path()).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Payment comparison",
            "All RVUs",
            "Largest changes",
            "Added and deleted",
            "Status changes",
            "Status indicators",
            "Locality",
        ]
    );
    let (a, b) = (common::CmsPprrvu::read(FROM), common::CmsPprrvu::read(TO));
    let (in_a, in_b): (BTreeSet<_>, BTreeSet<_>) = (
        a.by_key().into_keys().collect(),
        b.by_key().into_keys().collect(),
    );
    let union: BTreeSet<&(String, String)> = in_a.union(&in_b).collect();
    let payments = book.worksheet_range("Payment comparison").unwrap();
    assert_eq!(payments.height() - 1, union.len());
    let rvus = book.worksheet_range("All RVUs").unwrap();
    assert_eq!(rvus.height() - 1, union.len());

    // Added and deleted: the codes one file has and the other lacks.
    let added_deleted = book.worksheet_range("Added and deleted").unwrap();
    let only_one = union
        .iter()
        .filter(|k| in_a.contains(**k) != in_b.contains(**k))
        .count();
    assert_eq!(added_deleted.height() - 1, only_one);
}

#[test]
fn the_99213_row_holds_the_files_values_and_every_amount_is_a_number() {
    let payments = sheet("Payment comparison");
    let header: Vec<String> = payments.rows().next().unwrap().iter().map(text).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = payments
        .rows()
        .find(|r| text(&r[0]) == "99213" && text(&r[1]).is_empty())
        .expect("99213 is listed");
    for (file, suffix) in [(FROM, "before"), (TO, "after")] {
        let cms = common::CmsPprrvu::read(file);
        let cms_row = cms.by_key()[&("99213".to_string(), String::new())].clone();
        assert_eq!(
            text(&row[col(&format!("Status {suffix}"))]),
            status(&cms, &cms_row)
        );
        for (column, cms_column) in [
            ("Total RVU NF", "NON-FACILITY TOTAL"),
            ("Total RVU F", "FACILITY TOTAL"),
        ] {
            let expected = scaled(&cms_row[cms.column(cms_column)], 2) as f64 / 100.0;
            assert_eq!(
                number(&row[col(&format!("{column} {suffix}"))]),
                Some(expected),
                "{column} {suffix}"
            );
        }
        let (nf, f) = national_par(&cms, &cms_row);
        assert_eq!(
            number(&row[col(&format!("NF pay {suffix}"))]),
            Some(nf as f64 / 100.0)
        );
        assert_eq!(
            number(&row[col(&format!("F pay {suffix}"))]),
            Some(f as f64 / 100.0)
        );
    }
    // From "Total RVU NF before" on, every cell is a number or empty, never text.
    let first_number = col("Total RVU NF before");
    for (i, r) in payments.rows().enumerate().skip(1) {
        for (c, cell) in r.iter().enumerate().skip(first_number) {
            assert!(
                matches!(cell, Data::Float(_) | Data::Int(_) | Data::Empty),
                "row {i} column {}: {cell:?}",
                header[c]
            );
        }
    }
}

#[test]
fn the_largest_nf_pay_increases_are_sorted_and_start_with_the_files_largest() {
    let largest = sheet("Largest changes");
    let rows: Vec<&[Data]> = largest.rows().collect();
    let header_at = rows
        .iter()
        .position(|r| text(&r[0]) == "List")
        .expect("a header row");
    let header: Vec<String> = rows[header_at].iter().map(text).collect();
    let pct = header.iter().position(|h| h == "Change %").unwrap();
    let block: Vec<&[Data]> = rows[header_at + 1..]
        .iter()
        .filter(|r| text(&r[0]) == "Non-facility payment: largest increases")
        .copied()
        .collect();
    assert!(!block.is_empty());
    assert!(block.len() <= 25);
    let percents: Vec<f64> = block.iter().map(|r| number(&r[pct]).unwrap()).collect();
    assert!(percents.windows(2).all(|w| w[0] >= w[1]), "{percents:?}");

    // The largest increase, computed here from the two files.
    let (a, b) = (common::CmsPprrvu::read(FROM), common::CmsPprrvu::read(TO));
    let (before, after) = (a.by_key(), b.by_key());
    let payable = |s: &str| ["A", "R", "T"].contains(&s);
    let mut best: Option<(f64, String)> = None;
    for (key, new) in &after {
        let Some(old) = before.get(key) else { continue };
        if !(payable(&status(&a, old)) && payable(&status(&b, new))) {
            continue;
        }
        let (old_nf, new_nf) = (national_par(&a, old).0, national_par(&b, new).0);
        if old_nf <= 0 || new_nf <= 0 || new_nf <= old_nf {
            continue;
        }
        let p = (new_nf - old_nf) as f64 / old_nf as f64;
        if best.as_ref().is_none_or(|(q, _)| p > *q) {
            best = Some((p, key.0.clone()));
        }
    }
    let (p, code) = best.expect("some NF payment rose");
    assert!((percents[0] - p).abs() < 1e-12, "{} vs {p}", percents[0]);
    assert_eq!(text(&block[0][2]), code);
}

/// Every sheet as calamine reads it: rows of JSON values from A1, trailing blanks trimmed.
fn calamine_values() -> BTreeMap<String, Vec<Vec<serde_json::Value>>> {
    let mut book: Xlsx<_> = open_workbook(workbook_path()).unwrap();
    let mut out = BTreeMap::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        let (top, left) = range.start().unwrap_or((0, 0));
        let mut rows: Vec<Vec<serde_json::Value>> = vec![Vec::new(); top as usize];
        for r in range.rows() {
            let mut row: Vec<serde_json::Value> = vec![serde_json::Value::Null; left as usize];
            row.extend(r.iter().map(|cell| match cell {
                Data::String(s) => serde_json::Value::from(s.clone()),
                Data::Float(f) => serde_json::Value::from(*f),
                Data::Int(i) => serde_json::Value::from(*i as f64),
                Data::Bool(b) => serde_json::Value::from(*b),
                Data::Empty => serde_json::Value::Null,
                other => serde_json::Value::from(other.to_string()),
            }));
            rows.push(row);
        }
        out.insert(name, trimmed(rows));
    }
    out
}

fn trimmed(mut rows: Vec<Vec<serde_json::Value>>) -> Vec<Vec<serde_json::Value>> {
    for row in &mut rows {
        while row.last().is_some_and(|v| v.is_null()) {
            row.pop();
        }
    }
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    rows
}

/// The same cells: text equal, numbers equal to the last bit the JSON hop keeps (serde_json's
/// default float parser may round the 17th digit differently from Python's).
fn same_row(a: &[serde_json::Value], b: &[serde_json::Value]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                _ => x == y,
            })
}

#[test]
fn openpyxl_reads_every_sheet_as_calamine_does() {
    let script = r#"
import json, sys
try:
    import openpyxl
except ImportError:
    sys.exit("openpyxl is missing: install it with `python3 -m pip install openpyxl` (scripts/test does)")
book = openpyxl.load_workbook(sys.argv[1], read_only=True)
out = {}
for sheet in book.worksheets:
    rows = []
    for row in sheet.iter_rows(values_only=True):
        rows.append([float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in row])
    out[sheet.title] = rows
print(json.dumps(out))
"#;
    let theirs: BTreeMap<String, Vec<Vec<serde_json::Value>>> =
        common::python_json(script, &[&workbook_path()], "openpyxl");
    let theirs: BTreeMap<String, Vec<Vec<serde_json::Value>>> = theirs
        .into_iter()
        .map(|(name, rows)| (name, trimmed(rows)))
        .collect();
    let ours = calamine_values();
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    for (name, rows) in &ours {
        assert_eq!(rows.len(), theirs[name].len(), "{name}: rows");
        for (i, (a, b)) in rows.iter().zip(&theirs[name]).enumerate() {
            assert!(same_row(a, b), "{name} row {}: {a:?} vs {b:?}", i + 1);
        }
    }
}

#[test]
fn the_workbook_is_the_same_bytes_when_written_again() {
    let out = published();
    let before = std::fs::read(workbook_path()).unwrap();
    let (code, stdout, stderr) = common::rvu_with_output(&["diff", "RVU25A", "RVU25D"], out);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(std::fs::read(workbook_path()).unwrap(), before);
}

#[test]
fn a_release_exports_with_its_payments_at_a_locality() {
    let out = published();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("rvu25d.xlsx");
    let output = common::rvu_command()
        .args([
            "export",
            "xlsx",
            "RVU25D",
            "--locality",
            "01112-54",
            "--file",
        ])
        .arg(&file)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut book: Xlsx<_> = open_workbook(&file).unwrap();
    assert_eq!(book.sheet_names(), ["RVUs"]);
    let range = book.worksheet_range("RVUs").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    let header: Vec<String> = rows[1].iter().map(text).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = rows
        .iter()
        .find(|r| text(&r[0]) == "99213" && text(&r[1]).is_empty())
        .unwrap();
    // The payment at 01112-54 equals payments.parquet's row for it.
    let payments = polars::prelude::ParquetReader::new(
        std::fs::File::open(out.join("releases/RVU25D/payments.parquet")).unwrap(),
    );
    use polars::prelude::*;
    let df = payments.finish().unwrap();
    let mask = df.column("hcpcs").unwrap().str().unwrap().equal("99213")
        & df.column("modifier").unwrap().str().unwrap().equal("")
        & df.column("mac").unwrap().str().unwrap().equal("01112")
        & df.column("locality").unwrap().str().unwrap().equal("54");
    let hit = df.filter(&mask).unwrap();
    let par: f64 = hit
        .column("nonfacility_par")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(number(&row[col("NF pay")]), Some(par));
    let cms = common::CmsPprrvu::read(TO);
    let cms_row = cms.by_key()[&("99213".to_string(), String::new())].clone();
    assert_eq!(
        number(&row[col("Work RVU")]),
        Some(scaled(&cms_row[cms.column("WORK RVU")], 2) as f64 / 100.0)
    );
    // A release that is not published is named.
    let (code, _, stderr) = common::rvu_with_output(&["export", "xlsx", "RVU19A"], out);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("RVU19A"), "{stderr}");
}
