//! `rvu validate`, `rvu rules` and validation inside `rvu ingest`, through the binary.

mod common;

use std::fs;

use common::{rvu, rvu_with_output as run};

/// A fixture's path as an argument.
fn fixture(name: &str) -> String {
    common::fixture(name).display().to_string()
}

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

/// Serves `body` once on 127.0.0.1 (a plain HTTP/1.1 answer); returns the URL of `path`.
fn serve_once(path: &str, body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(answer.as_bytes()).unwrap();
        socket.write_all(&body).unwrap();
    });
    url
}

/// What `just validate-release URL_OR_ZIP` runs: a new release against the latest published
/// one, Markdown and JUnit written, exit 1 on errors, nothing published.
#[test]
fn validate_release_checks_against_the_latest_published_and_writes_ci_reports() {
    let out = tempfile::tempdir().unwrap();
    for name in ["rvu99a.zip", "rvu99b.zip"] {
        assert_eq!(run(&["ingest", &fixture(name)], out.path()).0, Some(0));
    }
    let reports = tempfile::tempdir().unwrap();
    let (md, xml) = (reports.path().join("v.md"), reports.path().join("v.xml"));
    let check = |release: &str| {
        run(
            &[
                "validate",
                release,
                "--against-latest",
                "--markdown",
                &md.display().to_string(),
                "--junit",
                &xml.display().to_string(),
            ],
            out.path(),
        )
    };
    // RVU99C, served over HTTP, against RVU99B.
    let url = serve_once(
        "/files/zip/rvu99c.zip",
        fs::read(fixture("rvu99c.zip")).unwrap(),
    );
    let (code, stdout, stderr) = check(&url);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let markdown = fs::read_to_string(&md).unwrap();
    assert!(
        markdown.contains("RVU99C") && markdown.contains("RVU99B"),
        "{markdown}"
    );
    assert!(fs::read_to_string(&xml).unwrap().contains("<testsuite"));
    assert!(
        !out.path().join("releases/RVU99C").exists(),
        "validation published it"
    );

    // A broken re-issue of RVU99B is checked against RVU99A and fails.
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, _) = check(&common::broken_release(work.path()));
    assert_eq!(code, Some(1), "{stdout}");
    let markdown = fs::read_to_string(&md).unwrap();
    assert!(markdown.contains("pprrvu.total.nonfacility"), "{markdown}");
    assert!(markdown.contains("RVU99A"), "{markdown}");
    let junit = fs::read_to_string(&xml).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}
