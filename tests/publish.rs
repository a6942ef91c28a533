//! Versioned, atomic publishing: revisions, interrupted runs, and self-describing releases.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::fixture;

fn ingest(path: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    common::rvu()
        .arg("ingest")
        .arg(path)
        .args(extra)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap()
}

/// An output folder with the RVU99A fixture published.
fn with_rvu99a() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = ingest(&fixture("rvu99a.zip"), out.path(), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_re_post_is_a_new_revision_beside_the_first() {
    let out = with_rvu99a();
    let first = fs::read(out.path().join("releases/RVU99A/pprrvu.csv")).unwrap();
    // New content under the same id (RVU99B's files, published as RVU99A).
    let output = ingest(&fixture("rvu99b.zip"), out.path(), &["--release", "RVU99A"]);
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
    let out = with_rvu99a();
    let before = common::published_tree(out.path());
    let mut cmd = common::rvu_command();
    cmd.arg("ingest")
        .arg(fixture("rvu99b.zip"))
        .arg("--output")
        .arg(out.path());
    common::kill_at_failpoint(cmd, "publish-before-rename");
    assert!(
        common::published_tree(out.path()) == before,
        "a killed run changed the published tree"
    );
    assert!(
        fs::read_dir(out.path().join(".staging"))
            .unwrap()
            .next()
            .is_some(),
        "the kill left its staging behind"
    );
    let rerun = ingest(&fixture("rvu99b.zip"), out.path(), &[]);
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
    let out = with_rvu99a();
    let release = out.path().join("releases/RVU99A");
    let manifest = json(&release.join("manifest.json"));
    assert_eq!(manifest["schema_version"], "2");
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
    let out = with_rvu99a();
    let release = out.path().join("releases/RVU99A");
    let result = std::process::Command::new("frictionless")
        .args(["validate", "--json", "datapackage.json"])
        .current_dir(&release)
        .output()
        .expect("the Frictionless validator is needed: `python3 -m pip install frictionless` (scripts/test installs it)");
    let report: serde_json::Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&result.stdout)));
    assert_eq!(
        report["valid"],
        true,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}

/// The three fixture releases published in order into a fresh folder.
fn all_fixtures(extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in ["rvu99a.zip", "rvu99b.zip", "rvu99c.zip"] {
        let output = ingest(&fixture(name), out.path(), extra);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    out
}

fn frame(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::SerReader;
    polars::prelude::ParquetReader::new(fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

fn strings(df: &polars::prelude::DataFrame, column: &str) -> Vec<Option<String>> {
    let values = df.column(column).unwrap().str().unwrap();
    (0..values.len())
        .map(|i| values.get(i).map(str::to_string))
        .collect()
}

#[test]
fn history_has_every_version_with_its_dates() {
    let out = all_fixtures(&[]);
    let df = frame(&out.path().join("history/pprrvu.parquet"));
    let hcpcs = strings(&df, "hcpcs");
    let (from, to, first) = (
        strings(&df, "effective_from"),
        strings(&df, "effective_to"),
        strings(&df, "release_id"),
    );
    let versions: Vec<(Option<String>, Option<String>, Option<String>)> = (0..df.height())
        .filter(|&i| hcpcs[i].as_deref() == Some("99214"))
        .map(|i| (first[i].clone(), from[i].clone(), to[i].clone()))
        .collect();
    // 99214's work RVU changed in RVU99B (1.92 -> 1.99) and not after.
    assert_eq!(
        versions,
        vec![
            (
                Some("RVU99A".into()),
                Some("2099-01-01".into()),
                Some("2099-03-31".into())
            ),
            (Some("RVU99B".into()), Some("2099-04-01".into()), None),
        ]
    );
    let last = strings(&df, "last_release_id");
    let last_of_99214: Vec<Option<String>> = (0..df.height())
        .filter(|&i| hcpcs[i].as_deref() == Some("99214"))
        .map(|i| last[i].clone())
        .collect();
    assert_eq!(
        last_of_99214,
        vec![Some("RVU99A".into()), Some("RVU99C".into())]
    );
    // A0021 was deleted in RVU99B: its one version ends the day before.
    let a0021: Vec<Option<String>> = (0..df.height())
        .filter(|&i| hcpcs[i].as_deref() == Some("A0021"))
        .map(|i| to[i].clone())
        .collect();
    assert_eq!(a0021, vec![Some("2099-03-31".to_string())]);
    let cf = frame(&out.path().join("history/conversion_factors.parquet"));
    assert_eq!(cf.height(), 1);
    assert_eq!(
        strings(&cf, "conversion_factor"),
        vec![Some("33.4009".to_string())]
    );
}

#[test]
fn the_codes_dataset_labels_codes_for_the_reference_site() {
    let out = all_fixtures(&[]);
    let lines = fs::read_to_string(out.path().join("history/codes.jsonl")).unwrap();
    let codes: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |code: &str| {
        codes
            .iter()
            .find(|c| c["hcpcs"] == code && c["modifier"] == "")
            .unwrap()
            .clone()
    };
    let drug = find("J3398");
    assert_eq!(drug["category"], "J Codes (Drugs)");
    assert_eq!(drug["has_work_rvu"], false);
    assert_eq!(drug["description_source"], "hcpcs");
    assert_eq!(
        (
            drug["first_release_id"].as_str(),
            drug["last_changed_release_id"].as_str()
        ),
        (Some("RVU99A"), Some("RVU99B"))
    );
    let visit = find("99213");
    assert_eq!(visit["category"], "Evaluation and Management");
    assert_eq!(visit["has_work_rvu"], true);
    assert_eq!(visit["description_source"], "cpt");
    assert_eq!(
        frame(&out.path().join("history/codes.parquet")).height(),
        codes.len()
    );
}

#[test]
fn payments_follow_the_formula() {
    let out = all_fixtures(&[]);
    let release = out.path().join("releases/RVU99A");
    let df = frame(&release.join("payments.parquet"));
    let (hcpcs, modifier, mac, loc) = (
        strings(&df, "hcpcs"),
        strings(&df, "modifier"),
        strings(&df, "mac"),
        strings(&df, "locality"),
    );
    let i = (0..df.height())
        .find(|&i| {
            hcpcs[i].as_deref() == Some("99213")
                && modifier[i].as_deref() == Some("")
                && mac[i].as_deref() == Some("02102")
                && loc[i].as_deref() == Some("01")
        })
        .expect("99213 at 02102-01");
    let amount = df
        .column("nonfacility_amount")
        .unwrap()
        .get(i)
        .unwrap()
        .to_string();
    // From the published CSV cells: 99213 work 1.30, NF PE 1.35, MP 0.10, CF 33.4009; GPCI 02102/01.
    let gpci = fs::read_to_string(release.join("gpci.csv")).unwrap();
    let cells: Vec<f64> = gpci
        .lines()
        .find(|l| l.contains(",02102,"))
        .unwrap()
        .split(',')
        .skip(6)
        .take(4)
        .filter_map(|c| c.parse().ok())
        .collect();
    let (pw, pe, mp) = (cells[0], cells[1], cells[2]);
    let expected = ((1.30 * pw + 1.35 * pe + 0.10 * mp) * 33.4009 * 100.0).round() / 100.0;
    assert_eq!(
        amount.parse::<f64>().unwrap(),
        expected,
        "{amount} vs {expected}"
    );
    // Non-payable statuses have no rows.
    assert!(!hcpcs.iter().any(|h| h.as_deref() == Some("A0021")));
}

#[test]
fn cpt_descriptions_can_be_withheld_at_publishing() {
    let out = all_fixtures(&["--no-cpt-descriptions"]);
    let csv = fs::read_to_string(out.path().join("releases/RVU99C/pprrvu.csv")).unwrap();
    assert!(!csv.contains("Office o/p est"), "CPT text was published");
    assert!(
        csv.contains("Inj, gene therapy, 1 billion vec"),
        "HCPCS Level II text must stay"
    );
    let codes = fs::read_to_string(out.path().join("history/codes.jsonl")).unwrap();
    let visit = codes
        .lines()
        .find(|l| l.contains("\"hcpcs\":\"99213\""))
        .unwrap();
    assert!(visit.contains("\"description\":null"), "{visit}");
}

/// The files of `dir/history`, relative path -> bytes.
fn history_tree(out: &Path) -> Vec<(String, Vec<u8>)> {
    common::published_tree(&out.join("history"))
}

/// Ingests each path in order (csv only, to keep the real-sample runs short), checking how
/// the history was brought up to date each time.
fn ingest_in_order(out: &Path, paths: &[PathBuf], expect: &[&str]) {
    for (path, expected) in paths.iter().zip(expect) {
        let output = ingest(path, out, &["--formats", "csv"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{}: {stderr}", path.display());
    }
}

fn assert_history_equals_a_rebuild(out: &Path) {
    let stepped = history_tree(out);
    assert!(stepped.iter().any(|(name, _)| name == "state.json"));
    rvu_pipeline::history::rebuild(out, true).unwrap();
    let rebuilt = history_tree(out);
    assert_eq!(stepped.len(), rebuilt.len());
    for ((name, a), (other, b)) in stepped.iter().zip(&rebuilt) {
        assert_eq!(name, other);
        assert!(a == b, "history/{name} differs from a full rebuild");
    }
}

#[test]
fn a_newer_release_extends_the_stored_history_to_what_a_rebuild_gives() {
    let out = tempfile::tempdir().unwrap();
    let paths = ["rvu99a.zip", "rvu99b.zip", "rvu99c.zip"].map(fixture);
    ingest_in_order(
        out.path(),
        &paths,
        &[
            "history: started with RVU99A",
            "history: RVU99B appended",
            "history: RVU99C appended",
        ],
    );
    assert_history_equals_a_rebuild(out.path());
}

#[test]
fn the_first_release_starts_the_history_as_a_rebuild_would() {
    let out = tempfile::tempdir().unwrap();
    ingest_in_order(
        out.path(),
        &[fixture("rvu99a.zip")],
        &["history: started with RVU99A"],
    );
    assert_history_equals_a_rebuild(out.path());
}

#[test]
fn a_back_filled_release_rebuilds_the_history_as_if_published_in_order() {
    let in_order = tempfile::tempdir().unwrap();
    let paths = ["rvu99a.zip", "rvu99b.zip", "rvu99c.zip"].map(fixture);
    ingest_in_order(in_order.path(), &paths, &["", "appended", "appended"]);
    let back_filled = tempfile::tempdir().unwrap();
    let (a, b, c) = (paths[0].clone(), paths[1].clone(), paths[2].clone());
    ingest_in_order(
        back_filled.path(),
        &[a, c, b],
        &["started with", "RVU99C appended", "history: rebuilt"],
    );
    // state.json names the manifests, which differ (the diffs differ); the data must not.
    let data = |out: &Path| -> Vec<(String, Vec<u8>)> {
        history_tree(out)
            .into_iter()
            .filter(|(name, _)| name != "state.json")
            .collect()
    };
    assert_eq!(data(in_order.path()), data(back_filled.path()));
}

#[test]
fn real_releases_extend_the_history_to_what_a_rebuild_gives() {
    let out = tempfile::tempdir().unwrap();
    let paths = ["RVU24B", "RVU25A", "RVU25B"].map(|r| common::samples().join(r));
    ingest_in_order(
        out.path(),
        &paths,
        &["started with RVU24B", "RVU25A appended", "RVU25B appended"],
    );
    assert_history_equals_a_rebuild(out.path());
}

#[test]
fn history_and_codes_run_on_across_the_2026_split() {
    let out = tempfile::tempdir().unwrap();
    let paths = ["RVU25D", "RVU26A"].map(|r| common::samples().join(r));
    ingest_in_order(out.path(), &paths, &["started with", "RVU26A appended"]);
    assert_history_equals_a_rebuild(out.path());

    // When a code last changed, told from the two files: any cell other than the
    // conversion factor (and 2026's new pricing indicator column) that differs.
    let (before, after) = (
        common::CmsPprrvu::read("RVU25D/PPRRVU2025_Oct.csv"),
        common::CmsPprrvu::read("RVU26A/PPRRVU2026_Jan_nonQPP.csv"),
    );
    let changed_in_2026 = |code: &str| {
        let (a, b) = (
            &before.by_key()[&(code.into(), String::new())].clone(),
            &after.by_key()[&(code.into(), String::new())].clone(),
        );
        before.columns.iter().enumerate().any(|(i, name)| {
            name != "CONV FACTOR" && !common::same_cell(&a[i], &b[after.column(name)])
        })
    };
    let lines = fs::read_to_string(out.path().join("history/codes.jsonl")).unwrap();
    let codes: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for code in ["99213", "J3398"] {
        let row = codes
            .iter()
            .find(|c| c["hcpcs"] == code && c["modifier"] == "")
            .unwrap();
        let expected = if changed_in_2026(code) {
            "RVU26A"
        } else {
            "RVU25D"
        };
        assert_eq!(row["last_changed_release_id"], expected, "{code}");
        assert_eq!(row["first_release_id"], "RVU25D", "{code}");
        assert_eq!(row["conversion_factor"], "33.4009", "{code}");
    }
    // 99213 is in the QPP file; J3398 (status E) is not.
    let find = |code: &str| {
        codes
            .iter()
            .find(|c| c["hcpcs"] == code && c["modifier"] == "")
            .unwrap()
    };
    assert_eq!(find("99213")["qpp_conversion_factor"], "33.5675");
    assert!(find("J3398")["qpp_conversion_factor"].is_null());
    // Files: 99213's RVUs moved in 2026 (1.35 -> 1.46 NF PE); J3398's did not.
    assert!(changed_in_2026("99213") && !changed_in_2026("J3398"));

    // A code whose values did not change keeps one open version across the split.
    let df = frame(&out.path().join("history/pprrvu.parquet"));
    let (hcpcs, lineage, to) = (
        strings(&df, "hcpcs"),
        strings(&df, "lineage"),
        strings(&df, "effective_to"),
    );
    let j3398: Vec<(Option<String>, Option<String>)> = (0..df.height())
        .filter(|&i| hcpcs[i].as_deref() == Some("J3398"))
        .map(|i| (lineage[i].clone(), to[i].clone()))
        .collect();
    assert_eq!(j3398, vec![(Some("non_qpp".to_string()), None)]);
    assert!(
        df.column("conversion_factor").is_err(),
        "CFs have their own history"
    );
    let cf = frame(&out.path().join("history/conversion_factors.parquet"));
    assert_eq!(
        strings(&cf, "conversion_factor"),
        vec![
            Some("33.4009".to_string()),
            Some("33.5675".to_string()),
            Some("32.3465".to_string())
        ]
    );
}
