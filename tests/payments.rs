//! `payments.parquet` against CMS's own payment amount file (a real Alaska excerpt of
//! PFAK25A), and `rvu lookup` against `payments.parquet`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use polars::prelude::*;

use common::read_parquet;
use common::rvu_with_output as rvu;
use rvu_pipeline::tables::TableKind;

/// RVU24B, RVU24C (no GPCI file), RVU25A and RVU26A published once for this test binary.
fn published() -> &'static Path {
    common::published_samples(&["RVU24B", "RVU24C", "RVU25A", "RVU26A"])
}

/// A payments row: the text columns and the amounts in cents (None for null).
#[derive(Debug, Clone, PartialEq)]
struct Pay {
    status: String,
    na: (bool, bool),
    cents: BTreeMap<String, Option<i64>>,
}

const AMOUNTS: [&str; 10] = [
    "nonfacility_amount",
    "facility_amount",
    "nonfacility_opps_cap",
    "facility_opps_cap",
    "nonfacility_par",
    "facility_par",
    "nonfacility_nonpar",
    "facility_nonpar",
    "nonfacility_limiting_charge",
    "facility_limiting_charge",
];

/// (variant, hcpcs, modifier, mac, locality).
type PayKey = (String, String, String, String, String);
type Payments = BTreeMap<PayKey, Pay>;

/// payments.parquet of a release, keyed by (variant, hcpcs, modifier, mac, locality).
fn payments(release: &str) -> Payments {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<String, Payments>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap().get(release) {
        return hit.clone();
    }
    let path = published()
        .join("releases")
        .join(release)
        .join("payments.parquet");
    let df = read_parquet(&path);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut expected: Vec<&str> = vec![
        "release_id",
        "variant",
        "hcpcs",
        "modifier",
        "mac",
        "locality",
        "status_code",
        "nonfacility_na",
        "facility_na",
    ];
    expected.extend(AMOUNTS[..2].iter());
    expected.extend(AMOUNTS[2..].iter());
    assert_eq!(names, expected, "the documented columns, in order");
    let text = |c: &str| df.column(c).unwrap().str().unwrap().clone();
    let flag = |c: &str| df.column(c).unwrap().bool().unwrap().clone();
    let (variant, hcpcs, modifier, mac, locality, status) = (
        text("variant"),
        text("hcpcs"),
        text("modifier"),
        text("mac"),
        text("locality"),
        text("status_code"),
    );
    let (nf_na, f_na) = (flag("nonfacility_na"), flag("facility_na"));
    let money: Vec<Vec<Option<i64>>> = AMOUNTS
        .iter()
        .map(|c| {
            assert!(
                matches!(df.column(c).unwrap().dtype(), DataType::Decimal(_, 2)),
                "{c} is a decimal with 2 places"
            );
            let floats = df.column(c).unwrap().cast(&DataType::Float64).unwrap();
            let floats = floats.f64().unwrap().clone();
            floats
                .iter()
                .map(|v| v.map(|x| (x * 100.0).round() as i64))
                .collect()
        })
        .collect();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        let s = |c: &StringChunked| c.get(i).unwrap_or("").to_string();
        out.insert(
            (s(&variant), s(&hcpcs), s(&modifier), s(&mac), s(&locality)),
            Pay {
                status: s(&status),
                na: (nf_na.get(i).unwrap(), f_na.get(i).unwrap()),
                cents: AMOUNTS
                    .iter()
                    .zip(&money)
                    .map(|(c, m)| (c.to_string(), m[i]))
                    .collect(),
            },
        );
    }
    cache
        .lock()
        .unwrap()
        .insert(release.to_string(), out.clone());
    out
}

/// "0000316.40" -> 31640.
fn cents(field: &str) -> i64 {
    let (dollars, cents) = field.split_once('.').unwrap();
    dollars.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

/// The derived amounts by the rule in CMS's record layout (PF25PC.pdf): non-participating =
/// 95% of the (rounded) fee schedule amount, limiting charge = 1.0925 x it, half up.
fn nonpar(par: i64) -> i64 {
    (par * 95 + 50) / 100
}
fn limiting(par: i64) -> i64 {
    (par * 10925 + 5000) / 10000
}

#[test]
fn every_row_of_cms_alaska_payment_file_excerpt_is_in_payments_to_the_cent() {
    let text = std::fs::read_to_string(common::samples().join("payment-file/PFAK25A.excerpt.txt"))
        .unwrap();
    let ours = payments("RVU25A");
    let mut cms_keys: Vec<(String, String)> = Vec::new();
    let mut capped = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
        assert_eq!(f.len(), 16, "{line}");
        assert_eq!((f[0], f[1], f[2]), ("2025", "02102", "01"));
        let (hcpcs, modifier) = (f[3].to_string(), f[4].trim().to_string());
        let key = (
            "standard".to_string(),
            hcpcs.clone(),
            modifier.clone(),
            "02102".to_string(),
            "01".to_string(),
        );
        let row = ours
            .get(&key)
            .unwrap_or_else(|| panic!("{hcpcs}-{modifier} is not in payments.parquet"));
        let c = |name: &str| row.cents[name];
        assert_eq!(row.status, f[9], "{hcpcs}-{modifier} status");
        let (nf, fac) = (cents(f[5]), cents(f[6]));
        assert_eq!(c("nonfacility_amount"), Some(nf), "{hcpcs}-{modifier} NF");
        assert_eq!(c("facility_amount"), Some(fac), "{hcpcs}-{modifier} F");
        let (nf_cap, f_cap) = match f[13] {
            "1" => {
                capped += 1;
                (Some(cents(f[14])), Some(cents(f[15])))
            }
            "9" => (None, None),
            other => panic!("OPPS indicator {other}"),
        };
        assert_eq!(c("nonfacility_opps_cap"), nf_cap, "{hcpcs}-{modifier}");
        assert_eq!(c("facility_opps_cap"), f_cap, "{hcpcs}-{modifier}");
        for (amount, cap, setting) in [(nf, nf_cap, "nonfacility"), (fac, f_cap, "facility")] {
            let par = cap.map_or(amount, |cap| amount.min(cap));
            assert_eq!(c(&format!("{setting}_par")), Some(par), "{hcpcs} {setting}");
            assert_eq!(c(&format!("{setting}_nonpar")), Some(nonpar(par)));
            assert_eq!(
                c(&format!("{setting}_limiting_charge")),
                Some(limiting(par))
            );
        }
        cms_keys.push((hcpcs, modifier));
    }
    assert_eq!(cms_keys.len(), 363);
    assert!(capped > 0, "the excerpt has capped imaging rows");
    // 70496: PFS 316.40, OPPS 300.66, so a participating provider is paid 300.66.
    let ct = &ours[&(
        "standard".into(),
        "70496".into(),
        String::new(),
        "02102".into(),
        "01".into(),
    )];
    assert_eq!(ct.cents["nonfacility_par"], Some(30066));
    // Row for row: within each of the excerpt's three blocks, our Alaska rows are exactly the
    // codes CMS lists (all-zero codes such as 97545 and 97546 left out, as CMS does).
    let alaska: BTreeSet<(String, String)> = ours
        .keys()
        .filter(|k| k.0 == "standard" && k.3 == "02102" && k.4 == "01")
        .map(|k| (k.1.clone(), k.2.clone()))
        .collect();
    let listed: BTreeSet<(String, String)> = cms_keys.iter().cloned().collect();
    for block in cms_keys.chunks(121) {
        let (first, last) = (&block[0], &block[block.len() - 1]);
        let ours_in_block: BTreeSet<&(String, String)> =
            alaska.range(first.clone()..=last.clone()).collect();
        let theirs: BTreeSet<&(String, String)> = block.iter().collect();
        assert_eq!(ours_in_block, theirs, "block {first:?}..{last:?}");
    }
    for absent in ["97545", "97546"] {
        assert!(!alaska.contains(&(absent.to_string(), String::new())));
        assert!(!listed.contains(&(absent.to_string(), String::new())));
    }
    // NA settings carry CMS's printed amount, and say NA: 21610 non-facility.
    let rib = &ours[&(
        "standard".into(),
        "21610".into(),
        String::new(),
        "02102".into(),
        "01".into(),
    )];
    assert_eq!(rib.na, (true, false));
    assert!(rib.cents["nonfacility_amount"].is_some());
}

/// `rvu lookup --json` of a code.
fn lookup(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["lookup"];
    all.extend(args);
    all.push("--json");
    let (code, stdout, stderr) = rvu(&all, published());
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn lookup_cents(answer: &serde_json::Value, setting: usize, field: &str) -> Option<i64> {
    answer["payments"][setting]["amounts"][field]
        .as_str()
        .map(cents)
}

#[test]
fn national_99213_non_par_and_limiting_charge_follow_cms_rule() {
    // PPRRVU25_JAN.csv: 99213,,...,A,,1.30,1.35,,0.57,,0.10,2.75,1.97,...,32.3465
    let file = common::CmsPprrvu::read("RVU25A/PPRRVU25_JAN.csv");
    let row = file.by_key()[&("99213".to_string(), String::new())].clone();
    let hundredths = |name: &str| -> i128 {
        let v: f64 = row[file.column(name)].parse().unwrap();
        (v * 100.0).round() as i128
    };
    let cf: f64 = row[file.column("CONV FACTOR")].parse().unwrap();
    let cf = (cf * 10_000.0).round() as i128;
    let answer = lookup(&["99213", "--release", "RVU25A"]);
    for (setting, pe) in [(0, "NON-FAC PE RVU"), (1, "FACILITY PE RVU")] {
        let total = hundredths("WORK RVU") + hundredths(pe) + hundredths("MP RVU");
        // RVUs x CF at scale 6, half up to cents.
        let par = ((total * cf + 5_000) / 10_000) as i64;
        assert_eq!(lookup_cents(&answer, setting, "par"), Some(par));
        assert_eq!(lookup_cents(&answer, setting, "nonpar"), Some(nonpar(par)));
        assert_eq!(
            lookup_cents(&answer, setting, "limiting_charge"),
            Some(limiting(par))
        );
    }
    // The figure: 88.95 x 1.0925 = 97.18 (not 92.32).
    assert_eq!(lookup_cents(&answer, 0, "limiting_charge"), Some(9718));
    // The row is an object keyed by column name.
    assert_eq!(answer["row"]["work_rvu"], "1.30");
}

#[test]
fn lookup_and_payments_agree_for_20_codes_at_5_localities() {
    let ours = payments("RVU25A");
    let codes: Vec<(String, String)> = ours
        .keys()
        .map(|k| (k.1.clone(), k.2.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .step_by(400)
        .take(20)
        .chain([
            ("70496".to_string(), String::new()),
            ("93990".to_string(), "TC".to_string()),
        ])
        .collect();
    assert_eq!(codes.len(), 22);
    let localities = ["02102-01", "01112-54", "15202-00", "05302-99", "10112-00"];
    let mut checked = 0;
    for (hcpcs, modifier) in &codes {
        for locality in localities {
            let mut args = vec![
                hcpcs.as_str(),
                "--release",
                "RVU25A",
                "--locality",
                locality,
            ];
            if !modifier.is_empty() {
                args.extend(["--modifier", modifier.as_str()]);
            }
            let answer = lookup(&args);
            let (mac, loc) = locality.split_once('-').unwrap();
            let row = &ours[&(
                "standard".into(),
                hcpcs.clone(),
                modifier.clone(),
                mac.into(),
                loc.into(),
            )];
            for (i, setting) in ["nonfacility", "facility"].iter().enumerate() {
                for (field, column) in [
                    ("amount", "amount"),
                    ("opps_cap", "opps_cap"),
                    ("par", "par"),
                    ("nonpar", "nonpar"),
                    ("limiting_charge", "limiting_charge"),
                ] {
                    assert_eq!(
                        lookup_cents(&answer, i, field),
                        row.cents[&format!("{setting}_{column}")],
                        "{hcpcs}-{modifier} {locality} {setting} {field}"
                    );
                }
                assert_eq!(
                    answer["payments"][i]["na"],
                    if i == 0 { row.na.0 } else { row.na.1 }
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 110);
}

#[test]
fn a_release_without_a_gpci_file_is_priced_with_the_gpci_in_force() {
    // RVU24C ships only PPRRVU; RVU24B (same year) has GPCI2024.csv.
    let ingest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(published().join("releases/RVU24C/ingest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ingest["payments"]["gpci_release_id"], "RVU24B");
    assert!(
        ingest["payments"]["note"]
            .as_str()
            .unwrap()
            .contains("RVU24B"),
        "{ingest}"
    );
    let answer = lookup(&["99213", "--release", "RVU24C", "--locality", "01112-54"]);
    assert_eq!(answer["gpci_release_id"], "RVU24B");
    // GPCI2024.csv: 01112,CA,54,BAKERSFIELD,...
    let gpci = std::fs::read_to_string(common::samples().join("RVU24B/GPCI2024.csv")).unwrap();
    let cells: Vec<f64> = gpci
        .lines()
        .find(|l| l.starts_with("01112,CA,54,"))
        .unwrap()
        .split(',')
        .skip(4)
        .take(3)
        .map(|c| c.trim().parse().unwrap())
        .collect();
    let file = common::CmsPprrvu::read("RVU24C/PPRRVU24_JUL.csv");
    let row = file.by_key()[&("99213".to_string(), String::new())].clone();
    let v = |name: &str| -> f64 { row[file.column(name)].parse().unwrap() };
    let amount =
        (v("WORK RVU") * cells[0] + v("NON-FAC PE RVU") * cells[1] + v("MP RVU") * cells[2])
            * v("CONV FACTOR");
    assert_eq!(
        lookup_cents(&answer, 0, "amount"),
        Some((amount * 100.0).round() as i64)
    );
    assert!(answer["locality"].as_str().unwrap().contains("RVU24B"));
    let rows = payments("RVU24C");
    assert!(rows.contains_key(&(
        "standard".into(),
        "99213".into(),
        String::new(),
        "01112".into(),
        "54".into()
    )));
}

#[test]
fn a_release_without_any_gpci_in_force_says_so_and_writes_no_payments() {
    let out = tempfile::tempdir().unwrap();
    let path = common::samples().join("RVU23A").display().to_string();
    let (code, _, stderr) = rvu(&["ingest", &path], out.path());
    assert_eq!(code, Some(0), "{stderr}");
    let release = out.path().join("releases/RVU23A");
    let ingest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(release.join("ingest.json")).unwrap()).unwrap();
    assert!(
        ingest["payments"]["note"]
            .as_str()
            .unwrap()
            .contains("no published release of 2023 has one"),
        "{ingest}"
    );
    assert!(!release.join("payments.parquet").exists());
    let (code, _, stderr) = rvu(
        &[
            "lookup",
            "99213",
            "--release",
            "RVU23A",
            "--locality",
            "01112-54",
        ],
        out.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("RVU23A has no GPCI file"), "{stderr}");
    assert!(!stderr.contains("No such file"), "{stderr}");
}

#[test]
fn ingest_json_counts_rows_per_variant() {
    let ingest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(published().join("releases/RVU26A/ingest.json")).unwrap(),
    )
    .unwrap();
    let pprrvu = ingest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "pprrvu")
        .unwrap();
    // The data rows of PPRRVU2026_Jan_nonQPP.csv and PPRRVU2026_Jan_QPP.csv.
    let (non_qpp, qpp) = (
        common::CmsPprrvu::read("RVU26A/PPRRVU2026_Jan_nonQPP.csv")
            .rows
            .len(),
        common::CmsPprrvu::read("RVU26A/PPRRVU2026_Jan_QPP.csv")
            .rows
            .len(),
    );
    assert_eq!(pprrvu["rows_by_variant"]["non_qpp"], non_qpp);
    assert_eq!(pprrvu["rows_by_variant"]["qpp"], qpp);
    assert_eq!(pprrvu["rows"], non_qpp + qpp);
}

#[test]
fn lookup_of_the_qpp_variant_uses_its_conversion_factor() {
    let answer = lookup(&[
        "99213",
        "--release",
        "RVU26A",
        "--variant",
        "qpp",
        "--locality",
        "01112-05",
    ]);
    assert_eq!(answer["variant"], "qpp");
    assert_eq!(answer["row"]["conversion_factor"], "33.5675");
    let rows = payments("RVU26A");
    let key = |v: &str| {
        (
            v.to_string(),
            "99213".to_string(),
            String::new(),
            "01112".to_string(),
            "05".to_string(),
        )
    };
    assert_eq!(
        lookup_cents(&answer, 0, "par"),
        rows[&key("qpp")].cents["nonfacility_par"]
    );
    assert_ne!(
        rows[&key("qpp")].cents["nonfacility_par"],
        rows[&key("non_qpp")].cents["nonfacility_par"]
    );
    // J3398 (status E) is only in the non-QPP file.
    let (code, _, stderr) = rvu(
        &["lookup", "J3398", "--release", "RVU26A", "--variant", "qpp"],
        published(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("in RVU26A's non-QPP file but not in its QPP file"),
        "{stderr}"
    );
}

#[test]
fn anesthesia_codes_explain_their_rule_with_the_locality_cf() {
    // ANES2026.csv lists both CFs per locality; 00100 is status J.
    let answer = lookup(&["00100", "--release", "RVU26A", "--locality", "01112-05"]);
    assert_eq!(answer["row"]["status_code"], "J");
    let anes = std::fs::read_to_string(common::samples().join("RVU26A/ANES2026.csv")).unwrap();
    let line = anes
        .lines()
        .find(|l| {
            let c: Vec<&str> = l.split(',').map(str::trim).collect();
            c.first() == Some(&"01112")
                && c.get(1).is_some_and(|l| l.trim_start_matches('0') == "5")
        })
        .unwrap();
    let cfs: Vec<f64> = line
        .split(',')
        .filter_map(|c| c.trim().parse::<f64>().ok())
        .filter(|v| *v > 10.0 && *v < 40.0)
        .collect();
    let ours: f64 = answer["anesthesia"]["anes_cf"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(cfs.contains(&ours), "{ours} not among {cfs:?} ({line})");
    assert!(
        answer["anesthesia"]["rule"]
            .as_str()
            .unwrap()
            .contains("(base units + time units)")
    );
}

#[test]
fn a_code_not_in_the_release_lists_the_closest() {
    let (code, _, stderr) = rvu(&["lookup", "99299", "--release", "RVU25A"], published());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("99299 is not in RVU25A"), "{stderr}");
    assert!(stderr.contains("the closest codes there: "), "{stderr}");
    let (code, _, stderr) = rvu(&["lookup", "99213", "--as-of", "2024-13-99"], published());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("2024-13-99"), "{stderr}");
}

#[test]
fn lookup_names_a_column_missing_from_a_published_pprrvu() {
    let out = tempfile::tempdir().unwrap();
    let path = common::samples().join("RVU25A").display().to_string();
    let (code, _, stderr) = rvu(&["ingest", &path, "--formats", "csv"], out.path());
    assert_eq!(code, Some(0), "{stderr}");
    // The published dataset lookup reads, without its mp_rvu column.
    let parquet = out.path().join("releases/RVU25A/pprrvu.parquet");
    let mut frame = read_parquet(&parquet);
    frame.drop_in_place("mp_rvu").unwrap();
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    let (code, _, stderr) = rvu(&["lookup", "99213", "--release", "RVU25A"], out.path());
    assert_ne!(code, Some(0));
    assert!(stderr.contains("mp_rvu"), "{stderr}");
}

#[test]
fn the_datapackage_describes_payments_column_for_column() {
    let package: serde_json::Value = serde_json::from_slice(
        &std::fs::read(published().join("releases/RVU25A/datapackage.json")).unwrap(),
    )
    .unwrap();
    let payments = &package["derived"][0];
    assert_eq!(payments["path"], "payments.parquet");
    let names: Vec<&str> = payments["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let df = read_parquet(&published().join("releases/RVU25A/payments.parquet"));
    let columns: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, columns);
    // Required exactly where the file has no null: every column but the caps.
    for field in payments["schema"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        let nulls = df.column(name).unwrap().null_count();
        let required = field["constraints"]["required"].as_bool().unwrap();
        assert!(!required || nulls == 0, "{name}: {nulls} nulls");
        assert_eq!(required, !name.ends_with("_opps_cap"), "{name}");
    }
}

/// A release whose PPRRVU lists no payable code writes a payments file with the 19 columns
/// and no rows (not an error, not a file without a schema).
#[test]
fn no_payable_code_writes_an_empty_payments_file_with_every_column() {
    let n = common::normalized("RVU25A");
    let mut rvus = common::table(&n, TableKind::Pprrvu).clone();
    let status = rvus.column_index("status_code").unwrap();
    rvus.rows
        .retain(|r| r.values[status].as_text() == Some("I"));
    assert!(!rvus.rows.is_empty());
    let gpci = common::table(&n, TableKind::Gpci);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.parquet");
    let (rows, written) =
        rvu_pipeline::published::payments::write_file(&path, &rvus, gpci).unwrap();
    assert_eq!(rows, 0);
    assert_eq!(written.bytes, std::fs::metadata(&path).unwrap().len());
    let df = read_parquet(&path);
    assert_eq!((df.height(), df.width()), (0, 19));
}

/// An amount that `decimal(10,2)` cannot hold is an error naming the column, never a
/// wrapped or truncated number.
#[test]
fn an_amount_beyond_decimal_10_2_is_an_error_naming_the_column() {
    let n = common::normalized("RVU25A");
    let mut rvus = common::table(&n, TableKind::Pprrvu).clone();
    let (hcpcs, work) = (
        rvus.column_index("hcpcs").unwrap(),
        rvus.column_index("work_rvu").unwrap(),
    );
    let row = rvus
        .rows
        .iter_mut()
        .find(|r| r.values[hcpcs].as_text() == Some("99213"))
        .unwrap();
    // 10,000,000.00 work RVUs x about $32 is over $300 million.
    row.values[work] = rvu_pipeline::tables::Value::Dec(1_000_000_000);
    let gpci = common::table(&n, TableKind::Gpci);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.parquet");
    let error = rvu_pipeline::published::payments::write_file(&path, &rvus, gpci)
        .unwrap_err()
        .to_string();
    assert!(error.contains("nonfacility_amount"), "{error}");
    assert!(error.contains("decimal(10,2)"), "{error}");
}
