//! Helpers shared by the integration tests.
#![allow(dead_code)]

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

/// The `rvu` binary as a plain command (for spawning and killing).
pub fn rvu_command() -> std::process::Command {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("rvu"))
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
