//! The rule catalog: real releases pass, and each rule catches the one fault made for it.

mod common;

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

use rvu_pipeline::catalog::ReleaseId;
use rvu_pipeline::report;
use rvu_pipeline::stages::extract::{self, Limits};
use rvu_pipeline::stages::normalize::{self, Normalized, Options};
use rvu_pipeline::stages::validate::{Outcome, RULES, Report, Severity, Subject, validate};
use rvu_pipeline::tables::{Table, TableKind, Value};

fn fixture(name: &str) -> Normalized {
    let path = common::fixtures().join(name);
    let extracted = extract::extract(&path, &Limits::default()).unwrap();
    normalize::normalize(&extracted, &path, &Options::default()).unwrap()
}

fn failed(report: &Report) -> BTreeSet<&'static str> {
    report.failed().map(|r| r.rule.id).collect()
}

fn check(n: &Normalized, prior: Option<&Normalized>) -> Report {
    let prior = prior.map(Subject::from_normalized);
    validate(&Subject::from_normalized(n), prior.as_ref())
}

fn table_mut(n: &mut Normalized, kind: TableKind) -> &mut Table {
    &mut n.tables.get_mut(&kind).unwrap().table
}

fn set(table: &mut Table, filter: &[(&str, &str)], column: &str, value: Value) {
    let i = table.column_index(column).unwrap();
    let matching: Vec<usize> = table
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| filter.iter().all(|(c, v)| common::cell(table, r, c) == *v))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(matching.len(), 1, "{filter:?}");
    table.rows[matching[0]].values[i] = value;
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Applies a fault to a fresh RVU99B (validated against RVU99A) and checks that exactly
/// `rule` starts failing, with its first finding at `key` and `column`.
fn only_rule_fails(rule: &str, key: &str, column: &str, fault: impl FnOnce(&mut Normalized)) {
    let prior = fixture("rvu99a.zip");
    let mut current = fixture("rvu99b.zip");
    let before = failed(&check(&current, Some(&prior)));
    fault(&mut current);
    let report = check(&current, Some(&prior));
    let after = failed(&report);
    let new: Vec<&str> = after.difference(&before).copied().collect();
    assert_eq!(
        new,
        vec![rule],
        "the fault for {rule} made these fail: {new:?}"
    );
    let result = report.rules.iter().find(|r| r.rule.id == rule).unwrap();
    let first = &result.examples[0];
    assert_eq!(
        (first.key.as_str(), first.column.as_str()),
        (key, column),
        "{first:?}"
    );
}

const K99213: &str = "variant=standard hcpcs=99213 modifier=";

#[test]
fn the_fixtures_pass_every_error_rule() {
    let a = fixture("rvu99a.zip");
    let b = fixture("rvu99b.zip");
    let report = check(&b, Some(&a));
    assert!(report.valid, "{}", report::validation::text(&report));
    // The one warning is LOCCO's double listing, which the fixtures copy from CMS.
    assert_eq!(failed(&report), BTreeSet::from(["locco.key.unique"]));
}

#[test]
fn every_rule_has_a_fault_test() {
    // Keep this list in step with RULES: each id below has a test in this file.
    let tested = [
        "schema.types",
        "schema.precision",
        "pprrvu.domain.status_code",
        "pprrvu.domain.modifier",
        "pprrvu.domain.pctc_indicator",
        "pprrvu.domain.global_days",
        "pprrvu.domain.mult_proc",
        "pprrvu.domain.bilateral",
        "pprrvu.domain.assistant_surgery",
        "pprrvu.domain.co_surgery",
        "pprrvu.domain.team_surgery",
        "pprrvu.domain.physician_supervision",
        "pprrvu.domain.imaging_family",
        "pprrvu.total.nonfacility",
        "pprrvu.total.facility",
        "pprrvu.global.split",
        "pprrvu.key.unique",
        "gpci.key.unique",
        "locco.key.unique",
        "anes.key.unique",
        "oppscap.key.unique",
        "pprrvu.cf.single",
        "pprrvu.cf.known",
        "release.localities.match",
        "oppscap.code.in_pprrvu",
        "oppscap.locality.in_gpci",
        "oppscap.locality.sibling_mac",
        "format.agree",
        "format.text",
        "history.row_count",
        "history.canary.missing",
        "history.canary.work",
    ];
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids, tested);
}

#[test]
fn schema_types() {
    only_rule_fails("schema.types", K99213, "work_rvu", |n| {
        set(
            table_mut(n, TableKind::Pprrvu),
            &[("hcpcs", "99213")],
            "work_rvu",
            text("1.30"),
        );
    });
}

#[test]
fn schema_precision() {
    only_rule_fails("schema.precision", K99213, "opps_mp_rvu", |n| {
        set(
            table_mut(n, TableKind::Pprrvu),
            &[("hcpcs", "99213")],
            "opps_mp_rvu",
            Value::Dec(100_000_000),
        );
    });
}

#[test]
fn every_domain_rule() {
    let faults = [
        ("pprrvu.domain.status_code", "status_code", "Z"),
        ("pprrvu.domain.pctc_indicator", "pctc_indicator", "X"),
        ("pprrvu.domain.global_days", "global_days", "999"),
        ("pprrvu.domain.mult_proc", "mult_proc", "8"),
        ("pprrvu.domain.bilateral", "bilateral", "4"),
        ("pprrvu.domain.assistant_surgery", "assistant_surgery", "3"),
        ("pprrvu.domain.co_surgery", "co_surgery", "3"),
        ("pprrvu.domain.team_surgery", "team_surgery", "3"),
        (
            "pprrvu.domain.physician_supervision",
            "physician_supervision",
            "10",
        ),
        ("pprrvu.domain.imaging_family", "imaging_family", "12"),
    ];
    for (rule, column, bad) in faults {
        only_rule_fails(rule, K99213, column, |n| {
            set(
                table_mut(n, TableKind::Pprrvu),
                &[("hcpcs", "99213")],
                column,
                text(bad),
            );
        });
    }
    // Not on a canary code: a changed modifier makes the canary 99213 vanish.
    only_rule_fails(
        "pprrvu.domain.modifier",
        "variant=standard hcpcs=11042 modifier=XX",
        "modifier",
        |n| {
            set(
                table_mut(n, TableKind::Pprrvu),
                &[("hcpcs", "11042")],
                "modifier",
                text("XX"),
            );
        },
    );
}

#[test]
fn totals() {
    only_rule_fails(
        "pprrvu.total.nonfacility",
        K99213,
        "nonfacility_total",
        |n| {
            set(
                table_mut(n, TableKind::Pprrvu),
                &[("hcpcs", "99213")],
                "nonfacility_total",
                Value::Dec(280),
            );
        },
    );
    only_rule_fails("pprrvu.total.facility", K99213, "facility_total", |n| {
        set(
            table_mut(n, TableKind::Pprrvu),
            &[("hcpcs", "99213")],
            "facility_total",
            Value::Dec(150),
        );
    });
}

#[test]
fn global_split() {
    only_rule_fails(
        "pprrvu.global.split",
        "variant=standard hcpcs=27447 modifier=",
        "preop_pct+intraop_pct+postop_pct",
        |n| {
            set(
                table_mut(n, TableKind::Pprrvu),
                &[("hcpcs", "27447")],
                "preop_pct",
                Value::Dec(20),
            )
        },
    );
}

fn duplicate_first(n: &mut Normalized, kind: TableKind) {
    let table = table_mut(n, kind);
    let copy = table.rows[0].clone();
    table.rows.push(copy);
}

#[test]
fn unique_keys() {
    only_rule_fails(
        "pprrvu.key.unique",
        "variant=standard hcpcs=0001F modifier=",
        "(key)",
        |n| duplicate_first(n, TableKind::Pprrvu),
    );
    only_rule_fails("gpci.key.unique", "mac=01112 locality=05", "(key)", |n| {
        duplicate_first(n, TableKind::Gpci)
    });
    only_rule_fails(
        "anes.key.unique",
        "variant=standard mac=01112 locality=05",
        "(key)",
        |n| duplicate_first(n, TableKind::Anes),
    );
    only_rule_fails(
        "oppscap.key.unique",
        "hcpcs=71046 modifier=TC mac=01112 locality=05",
        "(key)",
        |n| duplicate_first(n, TableKind::Oppscap),
    );
}

#[test]
fn locco_double_listing_is_the_only_locco_key_warning() {
    let mut n = fixture("rvu99b.zip");
    let report = check(&n, None);
    let result = report
        .rules
        .iter()
        .find(|r| r.rule.id == "locco.key.unique")
        .unwrap();
    assert_eq!(result.rule.severity, Severity::Warning);
    assert_eq!(result.findings, 1);
    assert_eq!(result.examples[0].key, "mac=05302 locality=99");
    // Without the second listing, the rule passes.
    let table = table_mut(&mut n, TableKind::Locco);
    let first = table
        .rows
        .iter()
        .position(|r| common::cell(table, r, "mac") == "05302")
        .unwrap();
    table.rows.remove(first);
    assert!(!failed(&check(&n, None)).contains("locco.key.unique"));
}

#[test]
fn conversion_factors() {
    only_rule_fails("pprrvu.cf.single", K99213, "conversion_factor", |n| {
        set(
            table_mut(n, TableKind::Pprrvu),
            &[("hcpcs", "99213")],
            "conversion_factor",
            Value::Dec(334010),
        );
    });
    // A file that calls itself RVU25A but carries another CF than 32.3465.
    let mut n = fixture("rvu99b.zip");
    n.release_id = "RVU25A".parse::<ReleaseId>().unwrap();
    let report = check(&n, None);
    let known = report
        .rules
        .iter()
        .find(|r| r.rule.id == "pprrvu.cf.known")
        .unwrap();
    assert_eq!(known.outcome, Outcome::Fail);
    assert_eq!(
        (
            known.examples[0].value.as_str(),
            known.examples[0].expected.as_str()
        ),
        ("33.4009", "32.3465")
    );
    assert_eq!(known.examples[0].column, "conversion_factor");
    assert_eq!(
        failed(&report),
        BTreeSet::from(["locco.key.unique", "pprrvu.cf.known"])
    );
}

#[test]
fn cross_table_rules() {
    only_rule_fails(
        "release.localities.match",
        "mac=01112 locality=05",
        "(key)",
        |n| {
            set(
                table_mut(n, TableKind::Anes),
                &[("locality", "05")],
                "locality",
                text("98"),
            );
        },
    );
    only_rule_fails(
        "oppscap.code.in_pprrvu",
        "hcpcs=99999 modifier=TC mac=01112 locality=05",
        "hcpcs",
        |n| {
            set(
                table_mut(n, TableKind::Oppscap),
                &[("locality", "05")],
                "hcpcs",
                text("99999"),
            );
        },
    );
    only_rule_fails(
        "oppscap.locality.in_gpci",
        "hcpcs=71046 modifier=TC mac=99999 locality=05",
        "mac",
        |n| {
            set(
                table_mut(n, TableKind::Oppscap),
                &[("locality", "05")],
                "mac",
                text("99999"),
            );
        },
    );
    // 10112/00 is in GPCI; 10199 is a sibling MAC of the same contractor (101).
    only_rule_fails(
        "oppscap.locality.sibling_mac",
        "hcpcs=71046 modifier=TC mac=10199 locality=00",
        "mac",
        |n| {
            set(
                table_mut(n, TableKind::Oppscap),
                &[("mac", "10112")],
                "mac",
                text("10199"),
            );
        },
    );
}

/// RVU99B with its PPRRVU txt edited, normalized with mismatches allowed.
fn with_edited_txt(edit: impl Fn(String) -> String) -> Normalized {
    let bytes = std::fs::read(common::fixtures().join("rvu99b.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member.name().unwrap().to_string();
        let mut content = Vec::new();
        member.read_to_end(&mut content).unwrap();
        if name.ends_with(".txt") && name.starts_with("PPRRVU") {
            let text = encoding_rs::WINDOWS_1252.decode(&content).0.into_owned();
            content = encoding_rs::WINDOWS_1252.encode(&edit(text)).0.into_owned();
        }
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&content).unwrap();
    }
    let zipped = writer.finish().unwrap().into_inner();
    let extracted = extract::extract_zip("rvu99b.zip", &zipped, &Limits::default()).unwrap();
    let options = Options {
        allow_format_mismatch: true,
        ..Options::default()
    };
    normalize::normalize(&extracted, std::path::Path::new("rvu99b.zip"), &options).unwrap()
}

#[test]
fn formats_agree() {
    let prior = fixture("rvu99a.zip");
    let before = failed(&check(&fixture("rvu99b.zip"), Some(&prior)));
    let numbers = with_edited_txt(|t| t.replacen("  1.30   1.35", "  1.31   1.35", 1));
    let report = check(&numbers, Some(&prior));
    let new: Vec<&str> = failed(&report).difference(&before).copied().collect();
    assert_eq!(new, vec!["format.agree"]);
    let finding = &report
        .rules
        .iter()
        .find(|r| r.rule.id == "format.agree")
        .unwrap()
        .examples[0];
    assert_eq!(
        (finding.key.as_str(), finding.column.as_str()),
        (K99213, "work_rvu")
    );

    let prose = with_edited_txt(|t| {
        t.replacen("Office o/p est low 20 min", "Office o/p est LOW 20 min", 1)
    });
    let report = check(&prose, Some(&prior));
    let new: Vec<&str> = failed(&report).difference(&before).copied().collect();
    assert_eq!(new, vec!["format.text"]);
    let finding = &report
        .rules
        .iter()
        .find(|r| r.rule.id == "format.text")
        .unwrap()
        .examples[0];
    assert_eq!(
        (finding.key.as_str(), finding.column.as_str()),
        (K99213, "description")
    );
}

#[test]
fn history_rules() {
    only_rule_fails("history.row_count", "(table)", "(distinct keys)", |n| {
        let t = table_mut(n, TableKind::Pprrvu);
        let keep = |r: &rvu_pipeline::tables::Record| {
            !matches!(
                common::cell(t, r, "hcpcs").as_str(),
                "0001F" | "G0999" | "11042"
            )
        };
        let rows: Vec<_> = t.rows.iter().filter(|r| keep(r)).cloned().collect();
        t.rows = rows;
    });
    only_rule_fails(
        "history.canary.missing",
        "hcpcs=99213 modifier=",
        "(row)",
        |n| {
            let t = table_mut(n, TableKind::Pprrvu);
            let i = t
                .rows
                .iter()
                .position(|r| common::cell(t, r, "hcpcs") == "99213")
                .unwrap();
            t.rows.remove(i);
        },
    );
    only_rule_fails(
        "history.canary.work",
        "hcpcs=99214 modifier=",
        "work_rvu",
        |n| {
            let t = table_mut(n, TableKind::Pprrvu);
            let k = [("hcpcs", "99214")];
            set(t, &k, "work_rvu", Value::Dec(250));
            // Keep the totals adding up, so only the history rule sees the jump.
            set(t, &k, "nonfacility_total", Value::Dec(250 + 189 + 13));
            set(t, &k, "facility_total", Value::Dec(250 + 83 + 13));
        },
    );
}

#[test]
fn every_real_release_has_no_errors() {
    let releases = [
        "UNKNOWN-1",
        "RVU22A",
        "RVU22B",
        "RVU23A",
        "RVU23D",
        "RVU24B",
        "RVU24C",
        "RVU25A",
        "RVU25B",
        "RVU25D",
        "RVU26A",
    ];
    let mut prior: Option<std::sync::Arc<Normalized>> = None;
    for release in releases {
        let n = common::normalized(release);
        let prior_subject = prior.as_deref().map(Subject::from_normalized);
        let report = validate(&Subject::from_normalized(&n), prior_subject.as_ref());
        assert!(report.valid, "{}", report::validation::text(&report));
        let warnings = failed(&report);
        // Each warning here is a known trait of CMS's files (see the README).
        let known = BTreeSet::from([
            "pprrvu.global.split",
            "locco.key.unique",
            "oppscap.locality.sibling_mac",
            "format.text",
        ]);
        assert!(warnings.is_subset(&known), "{release}: {warnings:?}");
        prior = Some(n);
    }
}

#[test]
fn a_shifted_column_is_a_few_grouped_findings() {
    let n = common::normalized("RVU25A");
    let mut tables: std::collections::BTreeMap<TableKind, Table> = n
        .tables
        .iter()
        .map(|(k, t)| (*k, t.table.clone()))
        .collect();
    let pprrvu = tables.get_mut(&TableKind::Pprrvu).unwrap();
    let from = pprrvu.column_index("work_rvu").unwrap();
    for row in &mut pprrvu.rows {
        row.values[from..].rotate_right(1);
        row.values[from] = Value::Null;
    }
    let report = validate(&Subject::from_tables(n.release_id, &tables), None);
    let findings: usize = report.failed().map(|r| r.findings).sum();
    let text = report::validation::text(&report);
    assert!(findings > 18_000, "{findings}");
    assert!(report.failed().count() <= 16, "{text}");
    assert!(
        text.lines().count() < 120,
        "{} lines:\n{text}",
        text.lines().count()
    );
}

#[test]
fn reports_render_for_ci() {
    let mut n = fixture("rvu99b.zip");
    set(
        table_mut(&mut n, TableKind::Pprrvu),
        &[("hcpcs", "99213")],
        "nonfacility_total",
        Value::Dec(280),
    );
    let report = check(&n, None);
    let junit = report::validation::junit(&report);
    assert_eq!(junit.matches("<testcase ").count(), RULES.len());
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(
        junit.contains("name=\"pprrvu.total.nonfacility\"><failure message=\"1 finding(s)"),
        "{junit}"
    );
    let md = report::validation::markdown(&report);
    assert!(md.starts_with("## Validation of RVU99B: INVALID"), "{md}");
    assert!(
        md.contains("| ERROR | `pprrvu.total.nonfacility` | pprrvu | 1 |"),
        "{md}"
    );
    let json: serde_json::Value = serde_json::from_str(&report::validation::json(&report)).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"], 1);
}
