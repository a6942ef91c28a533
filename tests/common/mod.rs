//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod postgres;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rvu_pipeline::catalog::ReleaseId;
use rvu_pipeline::stages::extract::{self, Limits};
use rvu_pipeline::stages::normalize::{self, Normalized, Options};
use rvu_pipeline::tables::{Record, Table, TableKind};

/// The real CMS samples. Missing samples fail the test: they are the judge, never skipped.
pub fn samples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cms-samples");
    assert!(
        dir.join("PROVENANCE.md").is_file(),
        "the real CMS samples are missing at {}; the real-data tests need ../shared beside the repo",
        dir.display()
    );
    dir
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A generated fixture release (`rvu99a.zip`, ...).
pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The `rvu` binary, to run to completion and assert on (assert_cmd).
pub fn rvu() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("rvu").expect("the rvu binary is built for the tests")
}

/// Normalizes a path with all formats and lenient cross-checks, once per test binary.
pub fn normalized(relative: &str) -> Arc<Normalized> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Normalized>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap().get(relative) {
        return hit.clone();
    }
    let path = samples().join(relative);
    let options = Options {
        allow_format_mismatch: true,
        release: relative
            .starts_with("UNKNOWN-1")
            .then(|| "RVU20A".parse::<ReleaseId>().unwrap()),
        ..Options::default()
    };
    let extracted = extract::extract(&path, &Limits::default()).unwrap();
    let result = Arc::new(normalize::normalize(&extracted, &path, &options).unwrap());
    cache
        .lock()
        .unwrap()
        .insert(relative.to_string(), result.clone());
    result
}

pub fn table(n: &Normalized, kind: TableKind) -> &Table {
    &n.tables
        .get(&kind)
        .unwrap_or_else(|| panic!("{} has no {kind} table", n.release_id))
        .table
}

/// The rows whose named columns render as the given texts.
pub fn rows<'a>(table: &'a Table, filter: &[(&str, &str)]) -> Vec<&'a Record> {
    table
        .rows
        .iter()
        .filter(|r| {
            filter
                .iter()
                .all(|(col, want)| cell(table, r, col) == *want)
        })
        .collect()
}

pub fn one<'a>(table: &'a Table, filter: &[(&str, &str)]) -> &'a Record {
    let found = rows(table, filter);
    assert_eq!(found.len(), 1, "{filter:?} matched {} rows", found.len());
    found[0]
}

/// A cell as the CSV output writes it.
pub fn cell(table: &Table, record: &Record, column: &str) -> String {
    assert!(table.column_index(column).is_some(), "no column {column}");
    table.render(record, column)
}

pub fn assert_cells(table: &Table, record: &Record, expected: &[(&str, &str)]) {
    for (column, want) in expected {
        assert_eq!(&cell(table, record, column), want, "column {column}");
    }
}

/// Runs `cmd` with the failpoint `point` armed until the process says it reached it, then
/// ends it with SIGKILL (a real kill: nothing after the point runs). Returns its stderr.
pub fn kill_at_failpoint(mut cmd: std::process::Command, point: &str) -> String {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = cmd
        .env(rvu_pipeline::failpoint::VAR, point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("utf-8 stderr");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(rvu_pipeline::failpoint::REACHED) {
            child.kill().expect("SIGKILL");
            let status = child.wait().expect("the killed child is reaped");
            assert_eq!(status.signal(), Some(9), "{status:?}");
            return seen;
        }
    }
    let status = child.wait().expect("the child ends");
    panic!("the run ended ({status:?}) without reaching failpoint {point}:\n{seen}");
}

/// Runs `rvu ARGS --output OUT`: (exit code, stdout, stderr).
pub fn rvu_with_output(args: &[&str], out: &Path) -> (Option<i32>, String, String) {
    let output = rvu_command()
        .args(args)
        .arg("--output")
        .arg(out)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `rvu` binary as a plain command (for spawning and killing).
pub fn rvu_command() -> std::process::Command {
    std::process::Command::new(rvu_binary())
}

/// Runs a Python script (`python3 -c SCRIPT ARGS...`) that prints JSON, and parses what it
/// prints; `package` is the PyPI package it needs, named when Python cannot run.
pub fn python_json<T: serde::de::DeserializeOwned>(
    script: &str,
    args: &[&Path],
    package: &str,
) -> T {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 runs ({e}; install Python 3 and `python3 -m pip install {package}`)")
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// Where the `rvu` binary the tests run is.
pub fn rvu_binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("rvu")
}

/// RVU99B with one non-facility total that is not the sum of its RVUs (a validation error),
/// as a folder `dir/RVU99B` holding its PPRRVU csv; returns the folder.
pub fn broken_release(dir: &Path) -> String {
    let bytes = std::fs::read(fixtures().join("rvu99b.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let folder = dir.join("RVU99B");
    std::fs::create_dir_all(&folder).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name("PPRRVU2099_Apr.csv").unwrap(),
        &mut raw,
    )
    .unwrap();
    let csv = encoding_rs::WINDOWS_1252.decode(&raw).0.into_owned();
    let broken = csv.replacen(
        ",1.30,1.35,,0.57,,0.10,2.75,",
        ",1.30,1.35,,0.57,,0.10,2.80,",
        1,
    );
    assert_ne!(broken, csv);
    std::fs::write(
        folder.join("PPRRVU2099_Apr.csv"),
        encoding_rs::WINDOWS_1252.encode(&broken).0,
    )
    .unwrap();
    folder.display().to_string()
}

/// Every published file below `dir` (not `.staging/`, not the run state in `.rvu/`), as
/// relative path -> bytes, sorted.
pub fn published_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if rel.starts_with(".staging") || rel.starts_with(".rvu") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A real PPRRVU csv read with the csv crate alone, not with the code under test: the data
/// rows, and each column's name as CMS stacks it (the caption fragments above the header row,
/// joined).
pub struct CmsPprrvu {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl CmsPprrvu {
    pub fn read(relative: &str) -> CmsPprrvu {
        let bytes = std::fs::read(samples().join(relative)).unwrap();
        let text = encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned();
        let lines: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(|c| c.trim().to_string()).collect())
            .collect();
        let header = lines
            .iter()
            .position(|l| l.first().is_some_and(|c| c == "HCPCS"))
            .expect("a header row starting HCPCS");
        let width = lines[header].len();
        let columns = (0..width)
            .map(|i| {
                lines[header - 4..=header]
                    .iter()
                    .filter_map(|l| l.get(i).filter(|c| !c.is_empty()).cloned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let rows = lines[header + 1..]
            .iter()
            .filter(|l| {
                l.first()
                    .is_some_and(|c| c.len() == 5 && c.chars().all(|ch| ch.is_ascii_alphanumeric()))
            })
            .cloned()
            .collect();
        CmsPprrvu { columns, rows }
    }

    pub fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {:?}", self.columns))
    }

    /// (HCPCS, MOD) -> row.
    pub fn by_key(&self) -> std::collections::BTreeMap<(String, String), &Vec<String>> {
        self.rows
            .iter()
            .map(|r| ((r[0].clone(), r[1].clone()), r))
            .collect()
    }
}

/// Two cells as CMS means them: numbers by value, text as written.
pub fn same_cell(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// These real sample releases published (csv only, oldest first as listed) into a temporary
/// output folder, once per test binary and list; the folder lives until the binary ends.
pub fn published_samples(releases: &[&str]) -> &'static Path {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Path>>> = OnceLock::new();
    let key = releases.join(",");
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = cache.get(&key) {
        return dir;
    }
    let dir: &'static tempfile::TempDir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    for release in releases {
        let path = samples().join(release).display().to_string();
        let (code, stdout, stderr) =
            rvu_with_output(&["ingest", &path, "--formats", "csv"], dir.path());
        assert_eq!(code, Some(0), "{release}: {stdout}{stderr}");
    }
    cache.insert(key, dir.path());
    dir.path()
}

/// A Parquet file read whole.
pub fn read_parquet(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::SerReader;
    polars::prelude::ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}
