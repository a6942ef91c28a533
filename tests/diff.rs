//! Diffs between releases: the real 2025 quarters (expected counts from the files), the
//! fixtures (a snapshot of the report), determinism, licensing and the HTML in Chromium.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use rvu_pipeline::report::changes::{self, ReportOptions};
use rvu_pipeline::stages::diff::{self, ChangeKind, Diff, ReleaseInfo, Side};
use rvu_pipeline::stages::extract::{self, Limits};
use rvu_pipeline::stages::normalize::{self, Normalized};
use rvu_pipeline::tables::TableKind;

fn side<'a>(n: &'a Normalized, source: &str) -> Side<'a> {
    Side {
        id: n.release_id,
        info: ReleaseInfo {
            release_id: n.release_id.to_string(),
            released: n.released.clone(),
            source: Some(source.to_string()),
            sha256: None,
        },
        tables: n.tables.iter().map(|(k, t)| (*k, &t.table)).collect(),
    }
}

fn real_diff(from: &str, to: &str) -> Diff {
    let (a, b) = (common::normalized(from), common::normalized(to));
    diff::diff(&side(&a, from), &side(&b, to))
}

fn fixture(name: &str) -> Normalized {
    let path = common::fixtures().join(name);
    let extracted = extract::extract(&path, &Limits::default()).unwrap();
    normalize::normalize(&extracted, &path, &normalize::Options::default()).unwrap()
}

#[test]
fn rvu25a_to_rvu25d() {
    let d = real_diff("RVU25A", "RVU25D");
    let p = &d.tables[&TableKind::Pprrvu];
    assert_eq!((p.added, p.deleted, p.changed), (226, 1, 118));
    let expected: BTreeMap<String, usize> = [
        ("status_code", 45),
        ("pctc_indicator", 31),
        ("facility_na", 20),
        ("description", 15),
        ("physician_supervision", 4),
        ("global_days", 3),
        ("nonfacility_pe_rvu", 3),
        ("nonfacility_total", 3),
        ("not_used_for_medicare", 2),
        ("work_rvu", 1),
        ("facility_pe_rvu", 1),
        ("facility_total", 1),
        ("mp_rvu", 1),
        ("nonfacility_na", 1),
        ("bilateral", 1),
        ("assistant_surgery", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(p.changed_by_field, expected);
    let deleted: Vec<&str> = d
        .changes
        .iter()
        .filter(|c| c.change == ChangeKind::Deleted)
        .filter_map(|c| c.key_value("hcpcs"))
        .collect();
    assert_eq!(deleted, vec!["M1389"]);
    let work: Vec<&str> = d
        .changes
        .iter()
        .filter(|c| c.field == "work_rvu")
        .filter_map(|c| c.key_value("hcpcs"))
        .collect();
    assert_eq!(work, vec!["61715"]);
    let g = &d.tables[&TableKind::Gpci];
    assert_eq!(
        (g.added, g.deleted, g.changed, g.rows_after),
        (0, 0, 0, 109)
    );
    assert_eq!(d.conversion_factors[0].before.as_deref(), Some("32.3465"));
    assert_eq!(d.conversion_factors[0].after.as_deref(), Some("32.3465"));
}

#[test]
fn rvu25a_to_rvu25b() {
    let d = real_diff("RVU25A", "RVU25B");
    let p = &d.tables[&TableKind::Pprrvu];
    assert_eq!((p.added, p.deleted, p.changed), (59, 1, 42));
    assert_eq!(p.changed_by_field["status_code"], 32);
    // The status matrix counts the same 32 moves off its diagonal (new and gone aside).
    let moved: usize = d
        .status_transitions
        .iter()
        .flat_map(|(from, row)| row.iter().map(move |(to, n)| (from, to, n)))
        .filter(|(from, to, _)| {
            from != to && from.as_str() != diff::NEW && to.as_str() != diff::GONE
        })
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(moved, 32);
}

#[test]
fn a_release_against_itself_is_empty() {
    let d = real_diff("RVU25A", "RVU25A");
    assert!(d.changes.is_empty());
    assert!(
        d.tables
            .values()
            .all(|t| t.added + t.deleted + t.changed == 0)
    );
}

/// What the files say of one 2025 -> 2026 comparison: keys only before, keys only after,
/// keys whose cells differ in a column both files have (the conversion factor included), and
/// of those, keys whose only difference is the conversion factor.
fn file_counts(before: &str, after: &str) -> (usize, usize, usize, usize) {
    let (old, new) = (
        common::CmsPprrvu::read(before),
        common::CmsPprrvu::read(after),
    );
    let (old_rows, new_rows) = (old.by_key(), new.by_key());
    let shared: Vec<(usize, usize, bool)> = old
        .columns
        .iter()
        .enumerate()
        .filter(|(_, name)| !matches!(name.as_str(), "HCPCS" | "MOD"))
        .filter_map(|(i, name)| {
            let j = new.columns.iter().position(|n| n == name)?;
            Some((i, j, name == "CONV FACTOR"))
        })
        .collect();
    assert!(
        shared.iter().any(|(_, _, cf)| *cf),
        "both files name CONV FACTOR"
    );
    let added = new_rows
        .keys()
        .filter(|k| !old_rows.contains_key(*k))
        .count();
    let deleted = old_rows
        .keys()
        .filter(|k| !new_rows.contains_key(*k))
        .count();
    let (mut changed, mut cf_only) = (0, 0);
    for (key, a) in &old_rows {
        let Some(b) = new_rows.get(key) else { continue };
        let differing: Vec<bool> = shared
            .iter()
            .filter(|(i, j, _)| !common::same_cell(&a[*i], &b[*j]))
            .map(|(_, _, cf)| *cf)
            .collect();
        changed += usize::from(!differing.is_empty());
        cf_only += usize::from(!differing.is_empty() && differing.iter().all(|cf| *cf));
    }
    (added, deleted, changed, cf_only)
}

#[test]
fn a_new_year_compares_standard_with_each_2026_variant() {
    let d = real_diff("RVU25D", "RVU26A");
    let cf: Vec<(&str, Option<&str>, Option<&str>)> = d
        .conversion_factors
        .iter()
        .map(|c| (c.variant.as_str(), c.before.as_deref(), c.after.as_deref()))
        .collect();
    assert_eq!(
        cf,
        vec![
            ("non_qpp", Some("32.3465"), Some("33.4009")),
            ("qpp", Some("32.3465"), Some("33.5675")),
        ]
    );
    let p = &d.tables[&TableKind::Pprrvu];
    // The top level is the default payment variant, non-QPP, never a sum of the two.
    assert_eq!(p.variant.as_deref(), Some("non_qpp"));
    let non_qpp = file_counts(
        "RVU25D/PPRRVU2025_Oct.csv",
        "RVU26A/PPRRVU2026_Jan_nonQPP.csv",
    );
    assert_eq!((non_qpp.0, non_qpp.1), (367, 231), "the issue's counts");
    assert_eq!((p.added, p.deleted, p.changed, p.changed_cf_only), non_qpp);
    assert_eq!((p.rows_before, p.rows_after), (19090, 19226));
    // 2026's new column is a layout change, never a change of every row.
    assert_eq!(p.new_columns, vec!["pricing_indicator".to_string()]);
    assert!(!p.changed_by_field.contains_key("pricing_indicator"));
    assert_eq!(p.changed_by_field["conversion_factor"], 19226 - p.added);

    let q = &p.variants["qpp"];
    assert_eq!(q.compared_with.as_deref(), Some("standard"));
    let qpp = file_counts("RVU25D/PPRRVU2025_Oct.csv", "RVU26A/PPRRVU2026_Jan_QPP.csv");
    assert_eq!((q.added, q.deleted, q.changed, q.changed_cf_only), qpp);
    assert_eq!((q.rows_before, q.rows_after), (19090, 11811));
    assert_eq!(p.variants["non_qpp"].added, p.added);

    // Each variant's status matrix adds up to its own counts.
    for s in p.variants.values() {
        let total = |pick: &dyn Fn(&str, &str) -> bool| -> usize {
            s.status_transitions
                .iter()
                .flat_map(|(a, row)| row.iter().map(move |(b, n)| (a, b, n)))
                .filter(|(a, b, _)| pick(a, b))
                .map(|(_, _, n)| n)
                .sum()
        };
        assert_eq!(total(&|a, _| a == diff::NEW), s.added);
        assert_eq!(total(&|_, b| b == diff::GONE), s.deleted);
        assert_eq!(total(&|_, b| b != diff::GONE), s.rows_after);
    }
    // The change list holds both variants' changes, each keyed by its variant.
    let deleted = |v: &str| {
        d.changes
            .iter()
            .filter(|c| c.table == TableKind::Pprrvu && c.change == ChangeKind::Deleted)
            .filter(|c| c.key_value("variant") == Some(v))
            .count()
    };
    assert_eq!((deleted("non_qpp"), deleted("qpp")), (non_qpp.1, qpp.1));
    // ANES too is compared per variant.
    let anes = &d.tables[&TableKind::Anes];
    assert_eq!(
        anes.variants.keys().collect::<Vec<_>>(),
        vec!["non_qpp", "qpp"]
    );
}

#[test]
fn the_new_year_report_separates_conversion_factor_changes_and_explains_qpp() {
    let (a, b) = (common::normalized("RVU25D"), common::normalized("RVU26A"));
    let (from, to) = (side(&a, "RVU25D"), side(&b, "RVU26A"));
    let d = diff::diff(&from, &to);
    let out = tempfile::tempdir().unwrap();
    let folder = changes::write(out.path(), &d, &from, &to, &ReportOptions::default()).unwrap();
    let report = std::fs::read_to_string(folder.join("report.md")).unwrap();
    let p = &d.tables[&TableKind::Pprrvu];
    for line in [
        format!(
            "PPRRVU non_qpp (compared with standard): {} codes with RVU, status, indicator or description changes; {} codes with a conversion factor change only.",
            p.changed - p.changed_cf_only,
            p.changed_cf_only
        ),
        "New column: pricing_indicator (a layout change".to_string(),
        "absent from it, not deleted from Medicare".to_string(),
        format!("## Added codes ({})", p.added),
        format!("## Deleted codes ({})", p.deleted),
    ] {
        assert!(report.contains(&line), "{line}\n{report}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap())
            .unwrap();
    let pprrvu = &summary["tables"]["pprrvu"];
    assert_eq!(pprrvu["added"], p.added);
    assert_eq!(
        pprrvu["variants"]["qpp"]["deleted"],
        p.variants["qpp"].deleted
    );
    assert_eq!(pprrvu["variants"]["qpp"]["rows_after"], 11811);
}

fn write_report(dir: &Path, cpt: bool) -> std::path::PathBuf {
    let (a, b) = (fixture("rvu99a.zip"), fixture("rvu99b.zip"));
    let (from, to) = (side(&a, "rvu99a.zip"), side(&b, "rvu99b.zip"));
    let d = diff::diff(&from, &to);
    changes::write(
        dir,
        &d,
        &from,
        &to,
        &ReportOptions {
            cpt_descriptions: cpt,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn the_fixture_report_reads_as_reviewed() {
    let out = tempfile::tempdir().unwrap();
    let folder = write_report(out.path(), true);
    let report = std::fs::read_to_string(folder.join("report.md")).unwrap();
    insta::assert_snapshot!("fixture_report_md", report);
}

#[test]
fn reports_are_deterministic() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        write_report(one.path(), true),
        write_report(two.path(), true),
    );
    for file in [
        "changes.csv",
        "changes.parquet",
        "summary.json",
        "report.md",
        "report.html",
    ] {
        assert!(
            std::fs::read(a.join(file)).unwrap() == std::fs::read(b.join(file)).unwrap(),
            "{file} differs"
        );
    }
}

#[test]
fn cpt_descriptions_can_be_left_out() {
    let out = tempfile::tempdir().unwrap();
    let folder = write_report(out.path(), false);
    for file in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(folder.join(file)).unwrap();
        assert!(
            !text.contains("Office o/p est hi 40 min"),
            "{file} shows a CPT description"
        );
        assert!(text.contains("(CPT/CDT description withheld)"), "{file}");
        assert!(
            text.contains("CPT (AMA) and CDT (ADA) descriptions are left out"),
            "{file}"
        );
    }
}

#[test]
fn the_html_report_opens_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "headless Chromium is needed: `apt-get install chromium` (scripts/test installs it)",
        );
    let d = real_diff("RVU25A", "RVU25D");
    let (a, b) = (common::normalized("RVU25A"), common::normalized("RVU25D"));
    let out = tempfile::tempdir().unwrap();
    let folder = changes::write(
        out.path(),
        &d,
        &side(&a, "RVU25A"),
        &side(&b, "RVU25D"),
        &ReportOptions {
            cpt_descriptions: true,
            ..Default::default()
        },
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", folder.join("report.html").display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    for headline in [
        "Changes from RVU25A to RVU25D",
        "<b>226</b>codes added",
        "<b>1</b>codes deleted",
        "<b>118</b>codes changed",
        "<svg",
    ] {
        assert!(
            dom.contains(headline),
            "{headline} missing from the rendered page"
        );
    }
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:?}");
}
