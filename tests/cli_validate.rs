//! `rvu validate`, `rvu rules` and validation inside `rvu ingest`, through the binary.

mod common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn rvu() -> Command {
    Command::cargo_bin("rvu").unwrap()
}

fn run(args: &[&str], out: &Path) -> (Option<i32>, String, String) {
    let output = rvu().args(args).arg("--output").arg(out).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    common::fixtures().join(name).display().to_string()
}

/// A copy of a fixture release folder whose PPRRVU csv has one wrong total.

#[test]
fn rules_lists_the_catalog() {
    let output = rvu().arg("rules").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("pprrvu.total.nonfacility"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("pprrvu.global.split") && l.contains("warning"))
    );
    assert_eq!(
        stdout.lines().count(),
        rvu_pipeline::stages::validate::RULES.len()
    );
}

#[test]
fn validate_exit_codes_and_formats() {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(&["validate", &fixture("rvu99a.zip")], out.path());
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.starts_with("RVU99A: 32 rules, 0 failed with errors"),
        "{stdout}"
    );

    let work = tempfile::tempdir().unwrap();
    let broken = common::broken_release(work.path());
    let (code, stdout, _) = run(&["validate", &broken, "--format", "junit"], out.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("<failure message=\"1 finding(s)"),
        "{stdout}"
    );
    let (_, markdown, _) = run(&["validate", &broken, "--format", "markdown"], out.path());
    assert!(
        markdown.contains("| ERROR | `pprrvu.total.nonfacility` | pprrvu | 1 |"),
        "{markdown}"
    );

    let (code, _, stderr) = run(&["validate", "/nonexistent/rvu99a.zip"], out.path());
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn ingest_validates_against_the_prior_release_and_refuses_errors() {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(&["ingest", &fixture("rvu99a.zip")], out.path());
    assert_eq!(code, Some(0), "{stdout}");
    let release = out.path().join("releases/RVU99A");
    assert!(release.join("validation.json").is_file() && release.join("validation.md").is_file());
    let (code, stdout, _) = run(&["ingest", &fixture("rvu99b.zip")], out.path());
    assert_eq!(code, Some(0), "{stdout}");
    let report = fs::read_to_string(out.path().join("releases/RVU99B/validation.json")).unwrap();
    assert!(
        report.contains("\"prior_release_id\": \"RVU99A\""),
        "{report}"
    );

    // A broken re-issue of RVU99B is refused, and the published RVU99B stays as it was.
    let before = fs::read(out.path().join("releases/RVU99B/pprrvu.csv")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let broken = common::broken_release(work.path());
    let (code, _, stderr) = run(&["ingest", &broken], out.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("ERROR pprrvu.total.nonfacility (1 finding)"),
        "{stderr}"
    );
    assert!(stderr.contains("error: RVU99B is not valid"), "{stderr}");
    assert_eq!(
        fs::read(out.path().join("releases/RVU99B/pprrvu.csv")).unwrap(),
        before
    );

    // --allow-invalid publishes it, marked.
    let (code, stdout, _) = run(&["ingest", &broken, "--allow-invalid"], out.path());
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("PUBLISHED INVALID"), "{stdout}");
    let ingest = fs::read_to_string(out.path().join("releases/RVU99B/ingest.json")).unwrap();
    assert!(ingest.contains("\"valid\": false"), "{ingest}");
}

#[test]
fn diff_writes_change_data_and_reports() {
    let out = tempfile::tempdir().unwrap();
    for name in ["rvu99a.zip", "rvu99b.zip"] {
        let (code, stdout, _) = run(&["ingest", &fixture(name)], out.path());
        assert_eq!(code, Some(0), "{stdout}");
    }
    // ingest diffed RVU99B against RVU99A already; `rvu diff` writes the same files.
    let folder = out.path().join("changes/RVU99A..RVU99B");
    let before: Vec<Vec<u8>> = ["changes.csv", "summary.json"]
        .iter()
        .map(|f| fs::read(folder.join(f)).unwrap())
        .collect();
    let (code, stdout, _) = run(&["diff", "RVU99A", "RVU99B"], out.path());
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("pprrvu        1 added       1 deleted       2 changed"),
        "{stdout}"
    );
    for (file, old) in ["changes.csv", "summary.json"].iter().zip(before) {
        assert!(
            fs::read(folder.join(file)).unwrap() == old,
            "{file} differs"
        );
    }
    for file in ["changes.parquet", "report.md", "report.html"] {
        assert!(folder.join(file).is_file(), "{file}");
    }
    let csv = fs::read_to_string(folder.join("changes.csv")).unwrap();
    assert!(csv.contains(
        "RVU99A,RVU99B,pprrvu,changed,variant=standard hcpcs=99214 modifier=,standard,99214,,,,work_rvu,1.92,1.99,0.07,3.65"
    ), "{csv}");
}
