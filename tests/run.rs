//! `rvu run`: the staged pipeline over the fixture releases: only new work, resumable after
//! a SIGKILL at any stage, one run per output folder, bad releases quarantined.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/demo.toml")
}

fn run(definition: &Path, out: &Path, extra: &[&str]) -> Output {
    common::rvu_command()
        .arg("run")
        .arg(definition)
        .arg("--output")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn names(tree: &[(String, Vec<u8>)]) -> Vec<&str> {
    tree.iter().map(|(n, _)| n.as_str()).collect()
}

/// The tree an uninterrupted demo run publishes.
fn reference_tree() -> Vec<(String, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    assert_code(&run(&demo(), out.path(), &[]), 0);
    common::published_tree(out.path())
}

#[test]
fn the_demo_publishes_every_fixture_release_then_has_nothing_to_do() {
    let out = tempfile::tempdir().unwrap();
    let first = run(&demo(), out.path(), &[]);
    assert_code(&first, 0);
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains("3 found, 3 selected, 3 new, 3 published, 0 skipped, 0 quarantined"),
        "{stdout}"
    );
    for id in ["RVU99A", "RVU99B", "RVU99C"] {
        let manifest = out.path().join("releases").join(id).join("manifest.json");
        assert!(manifest.is_file(), "{id}: {stdout}");
    }
    for pair in ["RVU99A..RVU99B", "RVU99B..RVU99C"] {
        let report = out.path().join("changes").join(pair).join("report.html");
        assert!(report.is_file(), "{pair}");
    }
    assert!(stdout.contains("change report: "), "{stdout}");
    assert!(stdout.contains("RVU99B..RVU99C/report.html"), "{stdout}");
    let history = out.path().join("history/pprrvu.parquet");
    assert!(history.is_file());
    let before = common::published_tree(out.path());

    let second = run(&demo(), out.path(), &[]);
    assert_code(&second, 0);
    let stdout = text(&second.stdout);
    assert!(stdout.contains("0 new, 0 published, 3 skipped"), "{stdout}");
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert!(
        stdout.contains("RVU99B: already published as RVU99B"),
        "{stdout}"
    );
    assert!(
        common::published_tree(out.path()) == before,
        "a run with nothing to do changed files"
    );
}

#[test]
fn a_dry_run_prints_the_plan_and_touches_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("output");
    let output = run(&demo(), &out, &["--dry-run"]);
    assert_code(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("dry run"), "{stdout}");
    assert_eq!(
        stdout.matches("would process and publish").count(),
        3,
        "{stdout}"
    );
    assert!(!out.exists(), "a dry run created {}", out.display());
}

#[test]
fn since_and_only_select_releases() {
    let out = tempfile::tempdir().unwrap();
    let output = run(&demo(), out.path(), &["--only", "RVU99B"]);
    assert_code(&output, 0);
    assert!(out.path().join("releases/RVU99B").is_dir());
    assert!(!out.path().join("releases/RVU99A").exists());
    let output = run(&demo(), out.path(), &["--since", "RVU99B"]);
    assert_code(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("3 found, 2 selected, 1 new"), "{stdout}");
    assert!(!out.path().join("releases/RVU99A").exists());
    assert!(out.path().join("releases/RVU99C").is_dir());
}

/// Where a test arms each failpoint: every stage, on RVU99B (RVU99A is published by then,
/// and must come through untouched), plus the points inside publishing.
const FAILPOINTS: &[&str] = &[
    "discover",
    "fetch:RVU99B",
    "extract:RVU99B",
    "normalize:RVU99B",
    "validate:RVU99B",
    "diff:RVU99B",
    "publish-before-rename:RVU99B",
    "publish-before-changes:RVU99B",
    "publish:RVU99B",
    "history:RVU99B",
];

#[test]
fn a_run_killed_at_any_stage_is_finished_by_the_next_run() {
    let reference = reference_tree();
    for point in FAILPOINTS {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = common::rvu_command();
        cmd.arg("run").arg(demo()).arg("--output").arg(out.path());
        common::kill_at_failpoint(cmd, point);
        if *point != "discover" {
            assert!(
                out.path().join("releases/RVU99A/manifest.json").is_file(),
                "{point}: RVU99A was published before the kill"
            );
        }
        let next = run(&demo(), out.path(), &[]);
        assert_code(&next, 0);
        let stderr = text(&next.stderr);
        assert!(
            *point == "discover" || stderr.contains("taking over the lock"),
            "{point}: {stderr}"
        );
        let finished = common::published_tree(out.path());
        assert_eq!(names(&finished), names(&reference), "{point}");
        for ((name, bytes), (_, expected)) in finished.iter().zip(&reference) {
            assert!(
                bytes == expected,
                "{point}: {name} differs from an uninterrupted run"
            );
        }
    }
}

#[test]
fn a_second_run_on_the_same_output_fails_clearly_while_the_first_works() {
    let reference = reference_tree();
    let out = tempfile::tempdir().unwrap();
    let mut first = common::rvu_command()
        .arg("run")
        .arg(demo())
        .arg("--output")
        .arg(out.path())
        .env(rvu_pipeline::failpoint::VAR, "normalize:RVU99B")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let reached = lines.find(|l| {
        l.as_ref()
            .is_ok_and(|l| l.contains(rvu_pipeline::failpoint::REACHED))
    });
    assert!(
        reached.is_some(),
        "the first run never reached its failpoint"
    );
    // The first run is alive and holds the lock.
    let second = run(&demo(), out.path(), &[]);
    assert_code(&second, 2);
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains(&format!("another rvu run (pid {}", first.id())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    first.kill().unwrap();
    first.wait().unwrap();
    let third = run(&demo(), out.path(), &[]);
    assert_code(&third, 0);
    assert!(
        common::published_tree(out.path()) == reference,
        "the runs corrupted the output"
    );
}

/// A release with new bytes under the same id: RVU99A with one description changed.
fn re_posted_rvu99a(dir: &Path) -> PathBuf {
    let bytes = fs::read(common::fixtures().join("rvu99a.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let path = dir.join("rvu99a.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&path).unwrap());
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member.name().unwrap().to_string();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut content).unwrap();
        if name.ends_with(".csv") && name.starts_with("PPRRVU") {
            let text = encoding_rs::WINDOWS_1252.decode(&content).0.into_owned();
            let changed = text.replacen("Office o/p est", "Office outpatient est", 1);
            assert_ne!(changed, text, "the fixture has an office visit description");
            content = encoding_rs::WINDOWS_1252.encode(&changed).0.into_owned();
        }
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut writer, &content).unwrap();
    }
    writer.finish().unwrap();
    path
}

fn local_definition(dir: &Path, paths: &[PathBuf]) -> PathBuf {
    let list: Vec<String> = paths
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let definition = dir.join("test.toml");
    fs::write(
        &definition,
        format!(
            "name = \"test\"\noutput = \"out\"\n[source]\nkind = \"local\"\npaths = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    definition
}

#[test]
fn a_re_post_is_processed_as_a_new_version() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    fs::create_dir_all(&source).unwrap();
    let original = source.join("rvu99a.zip");
    fs::copy(common::fixtures().join("rvu99a.zip"), &original).unwrap();
    let definition = local_definition(work.path(), std::slice::from_ref(&original));
    let out = work.path().join("out");
    assert_code(&run(&definition, &out, &[]), 0);
    assert_code(&run(&definition, &out, &[]), 0);
    // CMS re-posts the release: same name, new bytes.
    let elsewhere = tempfile::tempdir().unwrap();
    fs::copy(re_posted_rvu99a(elsewhere.path()), &original).unwrap();
    let output = run(&definition, &out, &[]);
    assert_code(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("published   RVU99A r2"), "{stdout}");
    assert!(
        out.join("releases/RVU99A/revisions/r1/manifest.json")
            .is_file()
    );
}

#[test]
fn bad_releases_are_quarantined_and_the_others_publish() {
    let work = tempfile::tempdir().unwrap();
    let corrupt = work.path().join("corrupt.zip");
    let mut bytes = fs::read(common::fixtures().join("rvu99b.zip")).unwrap();
    bytes.truncate(bytes.len() / 2);
    fs::write(&corrupt, bytes).unwrap();
    let invalid = PathBuf::from(common::broken_release(work.path()));
    let definition = local_definition(
        work.path(),
        &[
            common::fixtures().join("rvu99a.zip"),
            invalid,
            corrupt,
            common::fixtures().join("rvu99c.zip"),
        ],
    );
    let out = work.path().join("out");
    let output = run(&definition, &out, &[]);
    assert_code(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("2 published, 0 skipped, 2 quarantined"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QUARANTINED RVU99B at validate")
            && stdout.contains("pprrvu.total.nonfacility"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QUARANTINED corrupt.zip at extract"),
        "{stdout}"
    );
    for id in ["RVU99A", "RVU99C"] {
        assert!(
            out.join("releases")
                .join(id)
                .join("manifest.json")
                .is_file(),
            "{id}"
        );
    }
    assert!(!out.join("releases/RVU99B").exists());
    // RVU99C is compared with the last good release.
    assert!(out.join("changes/RVU99A..RVU99C/report.html").is_file());
    let quarantine: Vec<PathBuf> = fs::read_dir(out.join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(quarantine.len(), 2, "{quarantine:?}");
    let reasons: Vec<serde_json::Value> = quarantine
        .iter()
        .map(|q| serde_json::from_slice(&fs::read(q.join("reason.json")).unwrap()).unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r["stage"] == "validate"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r["stage"] == "extract"),
        "{reasons:?}"
    );
    assert!(quarantine.iter().any(|q| q.join("validation.md").is_file()));

    // The next run does not redo them, and still says so (and still exits 1).
    let again = run(&definition, &out, &["--json"]);
    assert_code(&again, 1);
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["new"], 0, "{summary}");
    assert_eq!(summary["quarantined"].as_array().unwrap().len(), 2);
    assert!(
        summary["quarantined"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["earlier"] == true)
    );
}

#[test]
fn json_gives_one_document_and_json_log_lines() {
    let out = tempfile::tempdir().unwrap();
    let output = run(&demo(), out.path(), &["--json"]);
    assert_code(&output, 0);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["published"].as_array().unwrap().len(), 3);
    assert_eq!(summary["exit_code"], 0);
    assert!(
        summary["stage_ms"]["normalize"].as_f64().is_some(),
        "{summary}"
    );
    let stderr = text(&output.stderr);
    assert!(!stderr.trim().is_empty());
    for line in stderr.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
}

#[test]
fn an_output_folder_that_cannot_be_written_is_one_error_line_and_exit_2() {
    let work = tempfile::tempdir().unwrap();
    // A folder below a plain file cannot be created by anyone, root included.
    let file = work.path().join("a-file");
    fs::write(&file, "not a folder").unwrap();
    let out = file.join("output");
    let output = run(&demo(), &out, &[]);
    assert_code(&output, 2);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("not writable"),
        "{stderr}"
    );
    assert!(stderr.contains(&out.display().to_string()), "{stderr}");
}

/// Whether this process can write through permission bits (root can, as CI runs).
fn writes_through_permissions() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let probe = work.path().join("probe");
    fs::create_dir(&probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o555)).unwrap();
    let writes = fs::write(probe.join("x"), "x").is_ok();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    writes
}

fn assert_refused_as_not_writable(output: &Output) {
    assert_code(output, 2);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
}

#[test]
fn a_read_only_output_folder_is_refused_with_exit_2() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("read-only");
    fs::create_dir_all(&out).unwrap();
    if !writes_through_permissions() {
        fs::set_permissions(&out, fs::Permissions::from_mode(0o555)).unwrap();
        let output = run(&demo(), &out, &[]);
        fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
        assert_refused_as_not_writable(&output);
        return;
    }
    // Root writes through permission bits, so the folder is made read-only for real: a
    // read-only bind mount of it, in a mount namespace of the run's own.
    let rvu = common::rvu_binary();
    let output = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind -o ro "$1" "$1" && shift && exec "$@""#,
            "sh",
        ])
        .arg(&out)
        .arg(&rvu)
        .arg("run")
        .arg(demo())
        .arg("--output")
        .arg(&out)
        .output()
        .expect("unshare (util-linux) runs");
    assert_refused_as_not_writable(&output);
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[test]
fn an_output_folder_under_a_regular_file_is_refused_with_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("a-file");
    fs::write(&file, "not a folder").unwrap();
    let output = run(&demo(), &file.join("out"), &[]);
    assert_refused_as_not_writable(&output);
    assert_eq!(fs::read(&file).unwrap(), b"not a folder");
}

#[test]
fn a_definition_with_an_unknown_key_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let definition = work.path().join("typo.toml");
    fs::write(
        &definition,
        "name = \"t\"\noutput = \"out\"\n[source]\nkind = \"local\"\npaths = [\"x.zip\"]\n[reports]\nchange = true\n",
    )
    .unwrap();
    let output = run(&definition, &work.path().join("out"), &[]);
    assert_code(&output, 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("typo.toml") && stderr.contains("change"),
        "{stderr}"
    );
}

/// Spawns `rvu run` on the demo with stderr piped.
fn spawn_demo(out: &Path, extra: &[&str], failpoint: Option<&str>) -> std::process::Child {
    let mut cmd = common::rvu_command();
    cmd.arg("run")
        .arg(demo())
        .arg("--output")
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(point) = failpoint {
        cmd.env(rvu_pipeline::failpoint::VAR, point);
    }
    cmd.spawn().unwrap()
}

/// Reads a child's stderr until a line contains `needle`, then keeps draining it on a
/// thread (a closed pipe would make the child's next log line fail).
fn wait_for_line(child: &mut std::process::Child, needle: &str) {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let found = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains(needle)));
    assert!(found.is_some(), "never said {needle:?}");
    std::thread::spawn(move || lines.for_each(drop));
}

#[test]
fn with_wait_a_second_run_waits_for_the_first_then_finishes_its_work() {
    let out = tempfile::tempdir().unwrap();
    let mut first = spawn_demo(out.path(), &[], Some("validate:RVU99C"));
    wait_for_line(&mut first, rvu_pipeline::failpoint::REACHED);
    let mut second = spawn_demo(out.path(), &["--wait"], None);
    wait_for_line(&mut second, "waiting for it");
    first.kill().unwrap();
    first.wait().unwrap();
    let status = second.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut second.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("published   RVU99C r1"), "{stdout}");
    assert!(common::published_tree(out.path()) == reference_tree());
}

/// Two real sample releases through every stage: RVU25A, then RVU25B diffed against it.
#[test]
fn real_sample_releases_run_through_every_stage() {
    let work = tempfile::tempdir().unwrap();
    let samples = common::samples();
    let definition = local_definition(
        work.path(),
        &[samples.join("RVU25B"), samples.join("RVU25A")],
    );
    let out = work.path().join("out");
    let output = run(&definition, &out, &[]);
    assert_code(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("2 published"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("changes/RVU25A..RVU25B/summary.json")).unwrap())
            .unwrap();
    // RVU25A -> RVU25B: 59 codes added, 1 deleted, as counted in the files themselves.
    assert_eq!(summary["tables"]["pprrvu"]["added"], 59, "{summary}");
    assert_eq!(summary["tables"]["pprrvu"]["deleted"], 1, "{summary}");
    assert!(out.join("history/codes.jsonl").is_file());
    let again = run(&definition, &out, &[]);
    assert_code(&again, 0);
    assert!(
        text(&again.stdout).contains("0 new"),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn a_definition_chooses_the_change_reports() {
    let work = tempfile::tempdir().unwrap();
    let definition = work.path().join("md.toml");
    let fixtures = common::fixtures();
    fs::write(
        &definition,
        format!(
            "name = \"md\"\noutput = \"out\"\n[source]\nkind = \"local\"\npaths = [{:?}, {:?}]\n\
             [reports]\nformats = [\"markdown\"]\n",
            fixtures.join("rvu99a.zip").display().to_string(),
            fixtures.join("rvu99b.zip").display().to_string()
        ),
    )
    .unwrap();
    let out = work.path().join("out");
    let output = run(&definition, &out, &[]);
    assert_code(&output, 0);
    let folder = out.join("changes/RVU99A..RVU99B");
    assert!(folder.join("report.md").is_file() && folder.join("changes.csv").is_file());
    assert!(!folder.join("report.html").exists());
    assert!(
        text(&output.stdout).contains("RVU99A..RVU99B/report.md"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_log_reader_that_goes_away_does_not_stop_the_run() {
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn_demo(out.path(), &[], None);
    // Close the reading end of stderr: every log line now meets a broken pipe.
    drop(child.stderr.take());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("3 published"), "{stdout}");
}
