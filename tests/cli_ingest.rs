//! The `rvu` binary end to end, on the generated fixtures and on bad input.

mod common;

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use common::{fixture, rvu};

/// A member of a fixture zip.
fn fixture_member(zip_name: &str, member: &str) -> Vec<u8> {
    let bytes = fs::read(fixture(zip_name)).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut file = archive.by_name(member).unwrap();
    let mut out = Vec::new();
    file.read_to_end(&mut out).unwrap();
    out
}

/// Runs `rvu ingest PATH [extra] --output OUT`, which must succeed; returns stdout.
fn ingest_ok(path: &Path, out: &Path, extra: &[&str]) -> String {
    let assert = rvu()
        .arg("ingest")
        .arg(path)
        .args(extra)
        .arg("--output")
        .arg(out)
        .assert()
        .success();
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// Every file below `dir`, relative path -> bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn committed_fixtures_are_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    rvu()
        .args(["fixtures", "--output"])
        .arg(dir.path())
        .assert()
        .success();
    for name in ["rvu99a.zip", "rvu99b.zip", "rvu99c.zip"] {
        let fresh = fs::read(dir.path().join(name)).unwrap();
        let committed = fs::read(fixture(name)).unwrap();
        assert!(
            fresh == committed,
            "{name} differs: run `cargo run -- fixtures` and commit"
        );
    }
}

#[test]
fn fixture_releases_ingest_every_table_in_every_format() {
    let out = tempfile::tempdir().unwrap();
    for (name, id) in [
        ("rvu99a.zip", "RVU99A"),
        ("rvu99b.zip", "RVU99B"),
        ("rvu99c.zip", "RVU99C"),
    ] {
        let stdout = ingest_ok(&fixture(name), out.path(), &[]);
        assert!(stdout.contains(&format!("{id} -> ")), "{stdout}");
        assert!(stdout.contains("csv=xlsx agree, csv=txt agree"), "{stdout}");
        let release = out.path().join("releases").join(id);
        for table in ["pprrvu", "gpci", "locco", "anes", "oppscap"] {
            assert!(
                release.join(format!("{table}.parquet")).is_file(),
                "{id} {table}"
            );
            assert!(
                release.join(format!("{table}.csv")).is_file(),
                "{id} {table}"
            );
        }
    }
    // The generator's edits between releases show in the datasets.
    let a = fs::read_to_string(out.path().join("releases/RVU99A/pprrvu.csv")).unwrap();
    let b = fs::read_to_string(out.path().join("releases/RVU99B/pprrvu.csv")).unwrap();
    assert!(a.contains("RVU99A,standard,99214,,Office o/p est mod 30 min,A,false,1.92,"));
    assert!(b.contains("RVU99B,standard,99214,,Office o/p est mod 30 min,A,false,1.99,"));
    assert!(a.contains(",A0021,") && !b.contains(",A0021,"));
    assert!(!a.contains(",99215,") && b.contains(",99215,"));
    assert!(a.contains("\"Débridement, skin, first 20 sq cm\""));
}

#[test]
fn reruns_are_byte_identical() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for out in [first.path(), second.path()] {
        ingest_ok(&fixture("rvu99b.zip"), out, &[]);
    }
    let a = tree(&first.path().join("releases"));
    let b = tree(&second.path().join("releases"));
    assert_eq!(
        a.len(),
        16,
        "5 tables x 2 formats, payments, ingest, validation (2), manifest, datapackage"
    );
    assert!(a == b, "outputs differ between runs");
}

#[test]
fn parquet_holds_exact_decimals() {
    use polars::prelude::*;
    let out = tempfile::tempdir().unwrap();
    ingest_ok(&fixture("rvu99a.zip"), out.path(), &[]);
    let file = fs::File::open(out.path().join("releases/RVU99A/pprrvu.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    assert_eq!(df.height(), 13);
    assert_eq!(
        df.column("work_rvu").unwrap().dtype(),
        &DataType::Decimal(8, 2)
    );
    assert_eq!(
        df.column("conversion_factor").unwrap().dtype(),
        &DataType::Decimal(10, 4)
    );
    assert_eq!(
        df.column("nonfacility_na").unwrap().dtype(),
        &DataType::Boolean
    );
    let hcpcs = df.column("hcpcs").unwrap().str().unwrap().get(0);
    assert_eq!(hcpcs, Some("0001F"), "codes stay text");
}

/// A folder holding one file, for bad-input runs.
fn folder_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(name), bytes).unwrap();
    dir
}

/// Runs an ingest into a fresh folder that must fail with exit 1, writing nothing; returns
/// the error line.
fn failing_ingest(input: &Path, extra: &[&str]) -> String {
    let out = tempfile::tempdir().unwrap();
    let stderr = failing_ingest_into(input, out.path(), extra);
    let releases = out.path().join("releases");
    assert!(!releases.exists() || fs::read_dir(&releases).unwrap().next().is_none());
    stderr
}

fn failing_ingest_into(input: &Path, out: &Path, extra: &[&str]) -> String {
    let assert = rvu()
        .arg("ingest")
        .arg(input)
        .args(extra)
        .arg("--output")
        .arg(out)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn fixture_csv() -> String {
    let bytes = fixture_member("rvu99a.zip", "PPRRVU2099_Jan.csv");
    encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned()
}

fn encode(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
}

#[test]
fn a_bad_number_names_file_row_column_and_value() {
    let csv = fixture_csv().replacen(",1.30,1.35,", ",1.3x,1.35,", 1);
    let dir = folder_with("PPRRVU2099_Jan.csv", &encode(&csv));
    let line = csv.lines().position(|l| l.contains("1.3x")).unwrap() + 1;
    let stderr = failing_ingest(dir.path(), &[]);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: PPRRVU2099_Jan.csv, row {line}, column 'WORK RVU': '1.3x' is not a valid \
             value: expected a number with at most 2 decimals"
        )
    );
}

#[test]
fn an_unknown_column_is_schema_drift_with_the_closest_name() {
    let csv = fixture_csv().replacen(
        "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU,",
        "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVUS,",
        1,
    );
    let dir = folder_with("PPRRVU2099_Jan.csv", &encode(&csv));
    let stderr = failing_ingest(dir.path(), &[]);
    assert!(
        stderr.contains("PPRRVU2099_Jan.csv, row 10: schema drift in the pprrvu table"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown header(s) 'WORK RVUS' (closest known: 'WORK RVU')"),
        "{stderr}"
    );
    assert!(stderr.contains("missing column(s) work_rvu"), "{stderr}");
}

#[test]
fn a_csv_without_a_header_row_says_so() {
    let csv = fixture_csv();
    let data_only: String = csv.lines().skip(10).map(|l| format!("{l}\r\n")).collect();
    let dir = folder_with("PPRRVU2099_Jan.csv", &encode(&data_only));
    let stderr = failing_ingest(dir.path(), &["--release", "RVU99A"]);
    assert!(
        stderr.starts_with("error: PPRRVU2099_Jan.csv: no header row found for the pprrvu table"),
        "{stderr}"
    );
}

#[test]
fn a_truncated_xlsx_names_the_file() {
    let xlsx = fixture_member("rvu99a.zip", "PPRRVU2099_Jan.xlsx");
    let dir = folder_with("PPRRVU2099_Jan.xlsx", &xlsx[..xlsx.len() / 2]);
    let stderr = failing_ingest(dir.path(), &["--release", "RVU99A"]);
    assert!(
        stderr.starts_with("error: PPRRVU2099_Jan.xlsx: not a readable xlsx workbook"),
        "{stderr}"
    );
}

#[test]
fn an_empty_zip_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rvu99a.zip");
    let writer = zip::ZipWriter::new(fs::File::create(&path).unwrap());
    writer.finish().unwrap();
    let stderr = failing_ingest(&path, &[]);
    assert!(stderr.contains("no CMS table members"), "{stderr}");
}

#[test]
fn formats_that_disagree_fail_unless_allowed() {
    // Change one RVU in the txt only.
    let txt = fixture_member("rvu99a.zip", "PPRRVU2099_Jan.txt");
    let text =
        encoding_rs::WINDOWS_1252
            .decode(&txt)
            .0
            .replacen("  1.30   1.35", "  1.31   1.35", 1);
    let dir = folder_with("PPRRVU2099_Jan.txt", &encode(&text));
    fs::write(
        dir.path().join("PPRRVU2099_Jan.csv"),
        fixture_member("rvu99a.zip", "PPRRVU2099_Jan.csv"),
    )
    .unwrap();
    let stderr = failing_ingest(dir.path(), &[]);
    assert!(
        stderr.contains("pprrvu: the formats disagree in 1 cell(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "[variant=standard hcpcs=99213 modifier=] work_rvu: csv \"1.30\" vs txt \"1.31\""
        ),
        "{stderr}"
    );

    let out = tempfile::tempdir().unwrap();
    ingest_ok(dir.path(), out.path(), &["--allow-format-mismatch"]);
    let report = fs::read_to_string(out.path().join("releases/RVU99A/ingest.json")).unwrap();
    assert!(report.contains("\"mismatches\": 1"), "{report}");
}

#[test]
fn a_failed_ingest_leaves_the_published_release_as_it_was() {
    let out = tempfile::tempdir().unwrap();
    ingest_ok(&fixture("rvu99a.zip"), out.path(), &[]);
    let before = tree(out.path());
    let bad = fixture_csv().replacen(",1.30,1.35,", ",1.3x,1.35,", 1);
    let dir = folder_with("PPRRVU2099_Jan.csv", &encode(&bad));
    failing_ingest_into(dir.path(), out.path(), &["--release", "RVU99A"]);
    assert!(tree(out.path()) == before, "the published release changed");
}

#[test]
fn a_name_that_disagrees_with_the_contents_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rvu98d.zip");
    fs::copy(fixture("rvu99a.zip"), &path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let stdout = ingest_ok(&path, out.path(), &[]);
    assert!(stdout.starts_with("RVU99A -> "), "{stdout}");
    assert!(
        stdout.contains("says RVU98D but the contents say RVU99A"),
        "{stdout}"
    );
}

#[test]
fn formats_can_be_chosen() {
    let out = tempfile::tempdir().unwrap();
    let stdout = ingest_ok(&fixture("rvu99a.zip"), out.path(), &["--formats", "txt"]);
    assert!(
        stdout.contains("pprrvu       13 rows  [txt 13]"),
        "{stdout}"
    );
    assert!(stdout.contains("gpci     not in this release"), "{stdout}");
    rvu()
        .arg("ingest")
        .arg(fixture("rvu99a.zip"))
        .args(["--formats", "pdf"])
        .assert()
        .code(2);
}

#[test]
fn a_missing_input_is_a_usage_error() {
    let assert = rvu()
        .args(["ingest", "/nonexistent/rvu25a.zip"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("/nonexistent/rvu25a.zip"), "{stderr}");
    let _ = std::io::stdout().flush();
}

#[test]
fn a_published_release_reads_back_exactly() {
    use rvu_pipeline::stages::{extract, normalize};
    let out = tempfile::tempdir().unwrap();
    ingest_ok(&fixture("rvu99a.zip"), out.path(), &[]);
    let (id, tables) =
        rvu_pipeline::published::load_release(&out.path().join("releases/RVU99A")).unwrap();
    assert_eq!(id.to_string(), "RVU99A");
    let path = fixture("rvu99a.zip");
    let extracted = extract::extract(&path, &extract::Limits::default()).unwrap();
    let normalized = normalize::normalize(&extracted, &path, &Default::default()).unwrap();
    assert_eq!(tables.len(), 5);
    for (kind, table) in &tables {
        let original = &normalized.tables[kind].table;
        let values = |t: &rvu_pipeline::tables::Table| {
            t.rows.iter().map(|r| r.values.clone()).collect::<Vec<_>>()
        };
        assert_eq!(values(table), values(original), "{kind}");
    }
}

#[test]
fn ingesting_the_same_files_again_changes_nothing() {
    let out = tempfile::tempdir().unwrap();
    ingest_ok(&fixture("rvu99a.zip"), out.path(), &[]);
    let before = tree(out.path());
    let stdout = ingest_ok(&fixture("rvu99a.zip"), out.path(), &[]);
    assert!(
        stdout.starts_with("RVU99A: already published from these files"),
        "{stdout}"
    );
    assert!(tree(out.path()) == before, "the tree changed");
}
