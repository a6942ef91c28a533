//! A validation report as text (terminal), Markdown (CI job summary), JUnit XML (one test case
//! per rule) and JSON.

use std::fmt::Write;

use super::{escape_md, escape_xml};
use crate::stages::validate::{Finding, Outcome, Report, RuleResult, Severity};

fn headline(report: &Report) -> String {
    let passed = report
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    let skipped = report
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .count();
    format!(
        "{}{}: {} rules, {} failed with errors, {} with warnings, {passed} passed, {skipped} skipped",
        report.release_id,
        report
            .prior_release_id
            .as_ref()
            .map(|p| format!(" (against {p})"))
            .unwrap_or_default(),
        report.rules.len(),
        report.errors,
        report.warnings,
    )
}

fn finding_line(f: &Finding) -> String {
    format!(
        "{} [{}] {}: {}, expected {}",
        f.table, f.key, f.column, f.value, f.expected
    )
}

fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARN",
    }
}

/// One line per failed rule, its first findings under it.
pub fn text(report: &Report) -> String {
    let mut out = headline(report);
    out.push('\n');
    for result in report.failed() {
        let _ = writeln!(
            out,
            "{:<5} {} ({} finding{}): {}",
            label(result.rule.severity),
            result.rule.id,
            result.findings,
            if result.findings == 1 { "" } else { "s" },
            result.rule.description
        );
        for f in &result.examples {
            let _ = writeln!(out, "        {}", finding_line(f));
        }
        if result.findings > result.examples.len() {
            let _ = writeln!(
                out,
                "        ... and {} more",
                result.findings - result.examples.len()
            );
        }
    }
    out
}

/// A summary for a CI job page: the verdict, a table of failed rules, then their examples.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let verdict = if report.valid { "valid" } else { "INVALID" };
    let _ = writeln!(out, "## Validation of {}: {verdict}\n", report.release_id);
    let _ = writeln!(out, "{}\n", headline(report));
    let failed: Vec<&RuleResult> = report.failed().collect();
    if failed.is_empty() {
        out.push_str("Every rule passed.\n");
    } else {
        out.push_str(
            "| severity | rule | table | findings | rule says |\n|---|---|---|---:|---|\n",
        );
        for r in &failed {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                label(r.rule.severity),
                r.rule.id,
                r.rule.table,
                r.findings,
                escape_md(r.rule.description)
            );
        }
        for r in &failed {
            let _ = writeln!(out, "\n### `{}` ({} findings)\n", r.rule.id, r.findings);
            out.push_str("| table | key | column | value | expected |\n|---|---|---|---|---|\n");
            for f in &r.examples {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.table,
                    escape_md(&f.key),
                    escape_md(&f.column),
                    escape_md(&f.value),
                    escape_md(&f.expected)
                );
            }
        }
    }
    let skipped: Vec<&RuleResult> = report
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .collect();
    if !skipped.is_empty() {
        out.push_str("\nSkipped: ");
        let names: Vec<String> = skipped
            .iter()
            .map(|r| format!("`{}` ({})", r.rule.id, r.note.as_deref().unwrap_or("")))
            .collect();
        out.push_str(&names.join(", "));
        out.push('\n');
    }
    out
}

/// JUnit XML: one test case per rule; errors fail, warnings pass with their findings in
/// system-out, skipped rules are skipped.
pub fn junit(report: &Report) -> String {
    let failures = report.errors;
    let skipped = report
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rvu validate\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        report.rules.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        escape_xml(&report.release_id),
        report.rules.len()
    );
    for r in &report.rules {
        let _ = write!(
            out,
            "    <testcase classname=\"{}.{}\" name=\"{}\">",
            escape_xml(&report.release_id),
            r.rule.table,
            r.rule.id
        );
        let details: String = r.examples.iter().map(|f| finding_line(f) + "\n").collect();
        match (r.outcome, r.rule.severity) {
            (Outcome::Fail, Severity::Error) => {
                let _ = write!(
                    out,
                    "<failure message=\"{} finding(s): {}\">{}</failure>",
                    r.findings,
                    escape_xml(r.rule.description),
                    escape_xml(&details)
                );
            }
            (Outcome::Fail, Severity::Warning) => {
                let _ = write!(
                    out,
                    "<system-out>WARNING, {} finding(s): {}\n{}</system-out>",
                    r.findings,
                    escape_xml(r.rule.description),
                    escape_xml(&details)
                );
            }
            (Outcome::Skipped, _) => {
                let _ = write!(
                    out,
                    "<skipped message=\"{}\"/>",
                    escape_xml(r.note.as_deref().unwrap_or(""))
                );
            }
            (Outcome::Pass, _) => {}
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}
