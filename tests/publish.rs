//! Versioned, atomic publishing: revisions, interrupted runs, and self-describing releases.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join(name)
}

fn ingest(
    path: &Path,
    out: &Path,
    extra: &[&str],
    env: Option<(&str, &str)>,
) -> std::process::Output {
    let mut cmd = Command::cargo_bin("rvu").unwrap();
    cmd.arg("ingest")
        .arg(path)
        .args(extra)
        .arg("--output")
        .arg(out);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Every file below `dir` except the staging area, relative path -> bytes.
fn published_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if rel.starts_with(".staging") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_re_post_is_a_new_revision_beside_the_first() {
    let out = tempfile::tempdir().unwrap();
    assert!(
        ingest(&fixture("rvu99a.zip"), out.path(), &[], None)
            .status
            .success()
    );
    let first = fs::read(out.path().join("releases/RVU99A/pprrvu.csv")).unwrap();
    // New content under the same id (RVU99B's files, published as RVU99A).
    let output = ingest(
        &fixture("rvu99b.zip"),
        out.path(),
        &["--release", "RVU99A"],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let release = out.path().join("releases/RVU99A");
    assert_eq!(json(&release.join("manifest.json"))["revision"], 2);
    assert_eq!(
        json(&release.join("revisions/r1/manifest.json"))["revision"],
        1
    );
    assert_eq!(
        fs::read(release.join("revisions/r1/pprrvu.csv")).unwrap(),
        first,
        "r1 is kept as it was"
    );
    assert_ne!(fs::read(release.join("pprrvu.csv")).unwrap(), first);
    let latest = json(&out.path().join("latest.json"));
    assert_eq!(
        (latest["release_id"].as_str(), latest["revision"].as_u64()),
        (Some("RVU99A"), Some(2))
    );
}

#[test]
fn a_run_killed_before_the_rename_leaves_the_tree_and_the_next_run_completes() {
    let out = tempfile::tempdir().unwrap();
    assert!(
        ingest(&fixture("rvu99a.zip"), out.path(), &[], None)
            .status
            .success()
    );
    let before = published_tree(out.path());
    let killed = ingest(
        &fixture("rvu99b.zip"),
        out.path(),
        &[],
        Some(("RVU_FAILPOINT", "publish-before-rename")),
    );
    assert_eq!(
        killed.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert!(
        published_tree(out.path()) == before,
        "a killed run changed the published tree"
    );
    assert!(
        fs::read_dir(out.path().join(".staging"))
            .unwrap()
            .next()
            .is_some(),
        "the kill left its staging behind"
    );
    let rerun = ingest(&fixture("rvu99b.zip"), out.path(), &[], None);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(out.path().join("releases/RVU99B/manifest.json").is_file());
    let leftovers: Vec<_> = fs::read_dir(out.path().join(".staging")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_manifest_and_datapackage_describe_the_files() {
    let out = tempfile::tempdir().unwrap();
    assert!(
        ingest(&fixture("rvu99a.zip"), out.path(), &[], None)
            .status
            .success()
    );
    let release = out.path().join("releases/RVU99A");
    let manifest = json(&release.join("manifest.json"));
    assert_eq!(manifest["schema_version"], "1");
    assert_eq!(manifest["validation"]["valid"], true);
    assert_eq!(manifest["members"].as_array().unwrap().len(), 11);
    let package = json(&release.join("datapackage.json"));
    for resource in package["resources"].as_array().unwrap() {
        let path = release.join(resource["path"].as_str().unwrap());
        let bytes = fs::read(&path).unwrap();
        let hash = format!(
            "sha256:{}",
            rvu_pipeline::stages::extract::sha256_hex(&bytes)
        );
        assert_eq!(
            resource["hash"].as_str(),
            Some(hash.as_str()),
            "{}",
            path.display()
        );
        assert_eq!(resource["bytes"].as_u64(), Some(bytes.len() as u64));
    }
    let pprrvu = &package["resources"][0];
    assert_eq!(
        pprrvu["schema"]["primaryKey"],
        serde_json::json!(["release_id", "variant", "hcpcs", "modifier"])
    );
}

#[test]
fn the_datapackage_passes_frictionless() {
    let out = tempfile::tempdir().unwrap();
    assert!(
        ingest(&fixture("rvu99a.zip"), out.path(), &[], None)
            .status
            .success()
    );
    let release = out.path().join("releases/RVU99A");
    let result = std::process::Command::new("frictionless")
        .args(["validate", "--json", "datapackage.json"])
        .current_dir(&release)
        .output()
        .expect("the `frictionless` Python package is needed (.ci/run installs it with pip)");
    let report: serde_json::Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&result.stdout)));
    assert_eq!(
        report["valid"],
        true,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}
