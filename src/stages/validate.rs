//! Validate: the rules a release must pass before any product sees it. Each rule has a stable
//! id, a severity, a table and a one-line description (`rvu rules`); findings of one rule are
//! grouped and counted, so one systematic fault is one readable line.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet};
use rayon::prelude::*;

use serde::Serialize;

use crate::catalog::{ReleaseId, known_conversion_factor};
use crate::stages::normalize::{CrossCheck, Normalized};
use crate::tables::{Kind, Record, Table, TableKind, Value, format_decimal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A rule of the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// The table it reads first (`release` for rules across tables).
    pub table: &'static str,
    pub description: &'static str,
}

const fn rule(
    id: &'static str,
    severity: Severity,
    table: &'static str,
    description: &'static str,
) -> Rule {
    Rule {
        id,
        severity,
        table,
        description,
    }
}

use Severity::{Error as E, Warning as W};

/// Indicator columns of PPRRVU and the values CMS defines for them (DOMAIN.md section 3).
const DOMAINS: &[(&str, &str, &[&str])] = &[
    (
        "pprrvu.domain.status_code",
        "status_code",
        crate::tables::pprrvu::STATUS_CODES,
    ),
    (
        "pprrvu.domain.modifier",
        "modifier",
        &["", "26", "TC", "53"],
    ),
    (
        "pprrvu.domain.pctc_indicator",
        "pctc_indicator",
        &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    ),
    (
        "pprrvu.domain.global_days",
        "global_days",
        &["000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"],
    ),
    (
        "pprrvu.domain.mult_proc",
        "mult_proc",
        &["0", "1", "2", "3", "4", "5", "6", "7", "9"],
    ),
    (
        "pprrvu.domain.bilateral",
        "bilateral",
        &["0", "1", "2", "3", "9"],
    ),
    (
        "pprrvu.domain.assistant_surgery",
        "assistant_surgery",
        &["0", "1", "2", "9"],
    ),
    (
        "pprrvu.domain.co_surgery",
        "co_surgery",
        &["0", "1", "2", "9"],
    ),
    (
        "pprrvu.domain.team_surgery",
        "team_surgery",
        &["0", "1", "2", "9"],
    ),
    (
        "pprrvu.domain.physician_supervision",
        "physician_supervision",
        &[
            "01", "02", "03", "04", "05", "06", "07", "08", "09", "21", "22", "66", "6A", "77",
            "7A",
        ],
    ),
    (
        "pprrvu.domain.imaging_family",
        "imaging_family",
        &[
            "88", "99", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
        ],
    ),
];

/// Codes every release has carried; one vanishing, or its work RVU jumping, is worth a look.
const CANARIES: &[(&str, &str)] = &[
    ("99213", ""),
    ("99214", ""),
    ("99215", ""),
    ("99203", ""),
    ("27447", ""),
    ("71046", "26"),
    ("93000", ""),
    ("20610", ""),
    ("45378", ""),
    ("66984", ""),
];

/// The catalog, in the order reports list it.
pub const RULES: &[Rule] = &[
    rule(
        "schema.types",
        E,
        "release",
        "every canonical column holds values of its type; keys and RVUs are never empty",
    ),
    rule(
        "schema.precision",
        E,
        "release",
        "every decimal fits its column's precision (RVUs 999999.99, GPCIs 999.999, CFs 999999.9999)",
    ),
    rule(
        "pprrvu.domain.status_code",
        E,
        "pprrvu",
        "status code is one CMS defines (A B C D E F G H I J M N P R T X)",
    ),
    rule(
        "pprrvu.domain.modifier",
        E,
        "pprrvu",
        "modifier is blank, 26, TC or 53",
    ),
    rule(
        "pprrvu.domain.pctc_indicator",
        E,
        "pprrvu",
        "PC/TC indicator is 0-9",
    ),
    rule(
        "pprrvu.domain.global_days",
        E,
        "pprrvu",
        "global days is 000, 010, 090, MMM, XXX, YYY or ZZZ",
    ),
    rule(
        "pprrvu.domain.mult_proc",
        E,
        "pprrvu",
        "multiple procedure indicator is 0-7 or 9",
    ),
    rule(
        "pprrvu.domain.bilateral",
        E,
        "pprrvu",
        "bilateral surgery indicator is 0-3 or 9",
    ),
    rule(
        "pprrvu.domain.assistant_surgery",
        E,
        "pprrvu",
        "assistant at surgery indicator is 0-2 or 9",
    ),
    rule(
        "pprrvu.domain.co_surgery",
        E,
        "pprrvu",
        "co-surgeon indicator is 0-2 or 9",
    ),
    rule(
        "pprrvu.domain.team_surgery",
        E,
        "pprrvu",
        "team surgery indicator is 0-2 or 9",
    ),
    rule(
        "pprrvu.domain.physician_supervision",
        E,
        "pprrvu",
        "physician supervision is 01-09, 21, 22, 66, 6A, 77 or 7A",
    ),
    rule(
        "pprrvu.domain.imaging_family",
        E,
        "pprrvu",
        "diagnostic imaging family is 88, 99 or 01-11",
    ),
    rule(
        "pprrvu.total.nonfacility",
        E,
        "pprrvu",
        "non-facility total = work + non-facility PE + MP, within 0.01",
    ),
    rule(
        "pprrvu.total.facility",
        E,
        "pprrvu",
        "facility total = work + facility PE + MP, within 0.01",
    ),
    rule(
        "pprrvu.global.split",
        W,
        "pprrvu",
        "pre + intra + post op shares = 1.00 where global days is 010 or 090",
    ),
    rule(
        "pprrvu.key.unique",
        E,
        "pprrvu",
        "(variant, hcpcs, modifier) is unique",
    ),
    rule("gpci.key.unique", E, "gpci", "(mac, locality) is unique"),
    rule(
        "locco.key.unique",
        W,
        "locco",
        "(mac, locality) is unique (CMS lists MO 05302/99 twice)",
    ),
    rule(
        "anes.key.unique",
        E,
        "anes",
        "(variant, mac, locality) is unique",
    ),
    rule(
        "oppscap.key.unique",
        E,
        "oppscap",
        "(hcpcs, modifier, mac, locality) is unique",
    ),
    rule(
        "pprrvu.cf.single",
        E,
        "pprrvu",
        "one conversion factor per variant",
    ),
    rule(
        "pprrvu.cf.known",
        E,
        "pprrvu",
        "the conversion factor is the known one for the release (data/release_facts.csv)",
    ),
    rule(
        "release.localities.match",
        E,
        "release",
        "GPCI, LOCCO and ANES list the same (mac, locality) set",
    ),
    rule(
        "oppscap.code.in_pprrvu",
        E,
        "oppscap",
        "every OPPSCAP (hcpcs, modifier) is in PPRRVU",
    ),
    rule(
        "oppscap.locality.in_gpci",
        E,
        "oppscap",
        "every OPPSCAP (mac, locality) is in GPCI, or its locality is under a sibling MAC",
    ),
    rule(
        "oppscap.locality.sibling_mac",
        W,
        "oppscap",
        "OPPSCAP lists a GPCI locality under a sibling MAC of the same contractor (first 3 digits)",
    ),
    rule(
        "format.agree",
        E,
        "release",
        "csv, xlsx and txt of a table agree on every number, code, flag and key",
    ),
    rule(
        "format.text",
        W,
        "release",
        "csv, xlsx and txt of a table agree on prose (descriptions, names, counties)",
    ),
    rule(
        "history.row_count",
        W,
        "release",
        "no table's row count (distinct keys, all variants as one) moves by more than 10% from the prior release",
    ),
    rule(
        "history.canary.missing",
        E,
        "pprrvu",
        "canary codes of the prior release (99213, 99214, 27447, 71046-26, ...) are still there",
    ),
    rule(
        "history.canary.work",
        W,
        "pprrvu",
        "canary codes' work RVUs move by at most 10% from the prior release",
    ),
];

/// One thing a rule found: where, what and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub table: String,
    /// The natural key (`hcpcs=99213 modifier=`), or a row or a table-level label.
    pub key: String,
    pub column: String,
    pub value: String,
    pub expected: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

/// A rule's result: all its findings counted, the first shown.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    #[serde(flatten)]
    pub rule: Rule,
    pub outcome: Outcome,
    pub findings: usize,
    pub examples: Vec<Finding>,
    /// Why a rule was skipped (no prior release, a table missing, one format only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The validation of one release.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release_id: String,
    pub prior_release_id: Option<String>,
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub rules: Vec<RuleResult>,
}

impl Report {
    pub fn failed(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|r| r.outcome == Outcome::Fail)
    }

    /// Makes a rule a warning for this run (what `--allow-format-mismatch` does to
    /// `format.agree`): its findings stay in the report but no longer make it invalid.
    pub fn downgrade(&mut self, rule_id: &str) {
        self.set_severity(rule_id, Severity::Warning);
    }

    /// Changes a rule's severity for this run (a pipeline's `[validation]` lists), and
    /// recounts errors and warnings.
    pub fn set_severity(&mut self, rule_id: &str, severity: Severity) {
        for result in self.rules.iter_mut().filter(|r| r.rule.id == rule_id) {
            result.rule.severity = severity;
        }
        let count = |severity| {
            self.rules
                .iter()
                .filter(|r| r.outcome == Outcome::Fail && r.rule.severity == severity)
                .count()
        };
        self.errors = count(Severity::Error);
        self.warnings = count(Severity::Warning);
        self.valid = self.errors == 0;
    }
}

pub const MAX_EXAMPLES: usize = 5;

/// What a validation reads: a release's canonical tables, and its cross-format results when it
/// was just parsed from CMS files.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub release_id: ReleaseId,
    pub tables: BTreeMap<TableKind, &'a Table>,
    /// None when the formats were not compared (a published release read back).
    pub cross_checks: Option<Vec<&'a CrossCheck>>,
}

impl<'a> Subject<'a> {
    pub fn from_normalized(normalized: &'a Normalized) -> Self {
        Subject {
            release_id: normalized.release_id,
            tables: normalized
                .tables
                .iter()
                .map(|(k, t)| (*k, &t.table))
                .collect(),
            cross_checks: Some(
                normalized
                    .tables
                    .values()
                    .flat_map(|t| t.cross_checks.iter())
                    .collect(),
            ),
        }
    }

    pub fn from_tables(release_id: ReleaseId, tables: &'a BTreeMap<TableKind, Table>) -> Self {
        Subject {
            release_id,
            tables: tables.iter().map(|(k, t)| (*k, t)).collect(),
            cross_checks: None,
        }
    }
}

/// Collects one rule's findings, counting all and keeping the first few.
struct Collector {
    count: usize,
    examples: Vec<Finding>,
    skipped: Option<String>,
}

impl Collector {
    fn new() -> Self {
        Collector {
            count: 0,
            examples: Vec::new(),
            skipped: None,
        }
    }

    fn add(&mut self, table: &str, key: String, column: &str, value: String, expected: String) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Finding {
                table: table.to_string(),
                key,
                column: column.to_string(),
                value,
                expected,
            });
        }
    }

    fn skip(&mut self, why: impl Into<String>) {
        self.skipped = Some(why.into());
    }
}

/// Runs every rule of the catalog against a release (and its prior, for the history rules).
pub fn validate(subject: &Subject, prior: Option<&Subject>) -> Report {
    // The rules are independent reads of the same tables: on every core, in catalog order.
    let rules: Vec<RuleResult> = RULES
        .par_iter()
        .map(|rule| {
            let mut c = Collector::new();
            run_rule(rule.id, subject, prior, &mut c);
            let outcome = match (&c.skipped, c.count) {
                (Some(_), 0) => Outcome::Skipped,
                (_, 0) => Outcome::Pass,
                _ => Outcome::Fail,
            };
            RuleResult {
                rule: *rule,
                outcome,
                findings: c.count,
                examples: c.examples,
                note: c.skipped,
            }
        })
        .collect();
    let count = |severity| {
        rules
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && r.rule.severity == severity)
            .count()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    Report {
        release_id: subject.release_id.to_string(),
        prior_release_id: prior.map(|p| p.release_id.to_string()),
        valid: errors == 0,
        errors,
        warnings,
        rules,
    }
}

/// Runs one rule alone and returns its number of findings (for timing and tools).
pub fn validate_rule(id: &str, subject: &Subject, prior: Option<&Subject>) -> usize {
    let mut c = Collector::new();
    run_rule(id, subject, prior, &mut c);
    c.count
}

fn run_rule(id: &str, s: &Subject, prior: Option<&Subject>, c: &mut Collector) {
    if let Some((_, column, allowed)) = DOMAINS.iter().find(|(rule, ..)| *rule == id) {
        return with_table(s, TableKind::Pprrvu, c, |t, c| {
            domain(t, column, allowed, c)
        });
    }
    match id {
        "schema.types" => s.tables.values().for_each(|t| types(t, c)),
        "schema.precision" => s.tables.values().for_each(|t| precision(t, c)),
        "pprrvu.total.nonfacility" => with_table(s, TableKind::Pprrvu, c, |t, c| {
            total(t, "nonfacility_total", "nonfacility_pe_rvu", c)
        }),
        "pprrvu.total.facility" => with_table(s, TableKind::Pprrvu, c, |t, c| {
            total(t, "facility_total", "facility_pe_rvu", c)
        }),
        "pprrvu.global.split" => with_table(s, TableKind::Pprrvu, c, global_split),
        "pprrvu.key.unique" => with_table(s, TableKind::Pprrvu, c, unique_keys),
        "gpci.key.unique" => with_table(s, TableKind::Gpci, c, unique_keys),
        "locco.key.unique" => with_table(s, TableKind::Locco, c, unique_keys),
        "anes.key.unique" => with_table(s, TableKind::Anes, c, unique_keys),
        "oppscap.key.unique" => with_table(s, TableKind::Oppscap, c, unique_keys),
        "pprrvu.cf.single" => with_table(s, TableKind::Pprrvu, c, single_cf),
        "pprrvu.cf.known" => {
            with_table(s, TableKind::Pprrvu, c, |t, c| known_cf(s.release_id, t, c))
        }
        "release.localities.match" => localities_match(s, c),
        "oppscap.code.in_pprrvu" => oppscap_codes(s, c),
        "oppscap.locality.in_gpci" => oppscap_localities(s, false, c),
        "oppscap.locality.sibling_mac" => oppscap_localities(s, true, c),
        "format.agree" => formats(s, false, c),
        "format.text" => formats(s, true, c),
        "history.row_count" => with_prior(prior, c, |p, c| row_counts(s, p, c)),
        "history.canary.missing" => with_prior(prior, c, |p, c| canaries(s, p, false, c)),
        "history.canary.work" => with_prior(prior, c, |p, c| canaries(s, p, true, c)),
        other => c.skip(format!("no check is implemented for {other}")),
    }
}

fn with_table(
    s: &Subject,
    kind: TableKind,
    c: &mut Collector,
    check: impl FnOnce(&Table, &mut Collector),
) {
    match s.tables.get(&kind) {
        Some(table) => check(table, c),
        None => c.skip(format!("the release has no {kind} table")),
    }
}

fn with_prior(
    prior: Option<&Subject>,
    c: &mut Collector,
    check: impl FnOnce(&Subject, &mut Collector),
) {
    match prior {
        Some(p) => check(p, c),
        None => c.skip("no prior release to compare with"),
    }
}

/// `hcpcs=99213 modifier=` for a record, from the table's natural key.
fn key_label(table: &Table, record: &Record) -> String {
    table.key_text(&table.key_of(record))
}

fn text<'r>(table: &Table, record: &'r Record, column: &str) -> &'r str {
    table
        .value(record, column)
        .and_then(Value::as_text)
        .unwrap_or("")
}

fn dec(table: &Table, record: &Record, column: &str) -> Option<i64> {
    match table.value(record, column) {
        Some(Value::Dec(m)) => Some(*m),
        _ => None,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Decimal { .. } => "a decimal",
        Kind::Flag { .. } => "true or false",
        Kind::KeyText => "text (possibly empty)",
        _ => "text",
    }
}

fn types(table: &Table, c: &mut Collector) {
    let key_columns = table.kind.key();
    let required: Vec<bool> = table
        .columns()
        .iter()
        .map(|spec| {
            key_columns.contains(&spec.name)
                || spec.name == "release_id"
                || matches!(spec.kind, Kind::Decimal { .. } | Kind::Flag { .. })
                    && (spec.required || spec.aliases.is_empty())
        })
        .collect();
    for record in &table.rows {
        for ((spec, value), &required) in table.columns().iter().zip(&record.values).zip(&required)
        {
            let ok = match (value, spec.kind) {
                (Value::Null, Kind::KeyText) => false,
                (Value::Null, _) => !required,
                (Value::Dec(_), Kind::Decimal { .. }) => true,
                (Value::Bool(_), Kind::Flag { .. }) => true,
                (
                    Value::Text(_),
                    Kind::Text | Kind::FreeText | Kind::KeyText | Kind::Code { .. },
                ) => true,
                _ => false,
            };
            if !ok {
                let shown = match value {
                    Value::Null => "(empty)".to_string(),
                    other => format!("{other:?}"),
                };
                c.add(
                    table.kind.name(),
                    key_label(table, record),
                    spec.name,
                    shown,
                    kind_name(spec.kind).to_string(),
                );
            }
        }
    }
}

fn precision(table: &Table, c: &mut Collector) {
    for record in &table.rows {
        for (spec, value) in table.columns().iter().zip(&record.values) {
            if let (Value::Dec(m), Kind::Decimal { precision, scale }) = (value, spec.kind) {
                let limit = 10i64.checked_pow(precision as u32).unwrap_or(i64::MAX);
                if m.abs() >= limit {
                    c.add(
                        table.kind.name(),
                        key_label(table, record),
                        spec.name,
                        format_decimal(*m, scale),
                        format!(
                            "at most {} digits before the point",
                            precision as u32 - scale
                        ),
                    );
                }
            }
        }
    }
}

fn domain(table: &Table, column: &str, allowed: &[&str], c: &mut Collector) {
    let Some(i) = table.column_index(column) else {
        return c.skip(format!("no {column} column"));
    };
    for record in &table.rows {
        let value = record.values[i].as_text().unwrap_or("");
        if !allowed.contains(&value) {
            c.add(
                "pprrvu",
                key_label(table, record),
                column,
                value.to_string(),
                format!("one of {}", allowed.join(" ")),
            );
        }
    }
}

/// Column indexes looked up once per rule, not once per row.
fn indexes<const N: usize>(table: &Table, names: [&str; N]) -> Option<[usize; N]> {
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = table.column_index(name)?;
    }
    Some(out)
}

fn dec_at(record: &Record, i: usize) -> Option<i64> {
    match record.values[i] {
        Value::Dec(m) => Some(m),
        _ => None,
    }
}

fn total(table: &Table, total_column: &str, pe_column: &str, c: &mut Collector) {
    let Some([work, pe, mp, total]) =
        indexes(table, ["work_rvu", pe_column, "mp_rvu", total_column])
    else {
        return c.skip("the RVU columns are missing");
    };
    for record in &table.rows {
        let parts = [dec_at(record, work), dec_at(record, pe), dec_at(record, mp)];
        let (Some(stated), [Some(w), Some(p), Some(m)]) = (dec_at(record, total), parts) else {
            continue; // empty cells are schema.types findings
        };
        let sum = w + p + m;
        if (stated - sum).abs() > 1 {
            c.add(
                "pprrvu",
                key_label(table, record),
                total_column,
                format_decimal(stated, 2),
                format_decimal(sum, 2),
            );
        }
    }
}

fn global_split(table: &Table, c: &mut Collector) {
    let Some([global, pre, intra, post]) = indexes(
        table,
        ["global_days", "preop_pct", "intraop_pct", "postop_pct"],
    ) else {
        return c.skip("the global surgery columns are missing");
    };
    for record in &table.rows {
        if !matches!(record.values[global].as_text(), Some("010" | "090")) {
            continue;
        }
        let sum: i64 = [pre, intra, post]
            .map(|i| dec_at(record, i).unwrap_or(0))
            .iter()
            .sum();
        if sum != 100 {
            c.add(
                "pprrvu",
                key_label(table, record),
                "preop_pct+intraop_pct+postop_pct",
                format_decimal(sum, 2),
                "1.00".into(),
            );
        }
    }
}

fn unique_keys(table: &Table, c: &mut Collector) {
    let key = table.key_indexes();
    fn key_of<'r>(key: &[usize], r: &'r Record) -> Vec<&'r Value> {
        key.iter().map(|&i| &r.values[i]).collect()
    }
    let mut report = |record: &Record| {
        c.add(
            table.kind.name(),
            key_label(table, record),
            "(key)",
            "listed more than once".into(),
            "once".into(),
        );
    };
    // Tables are sorted by key, so duplicates sit side by side; an unsorted table is hashed.
    let sorted = table
        .rows
        .windows(2)
        .all(|w| key_of(&key, &w[0]) <= key_of(&key, &w[1]));
    if sorted {
        let mut previous: Option<Vec<&Value>> = None;
        let mut reported = false;
        for record in &table.rows {
            let current = key_of(&key, record);
            let same = previous.as_ref() == Some(&current);
            if same && !reported {
                report(record);
            }
            reported = same && (reported || previous.is_some());
            previous = Some(current);
        }
        return;
    }
    let mut seen: HashMap<Vec<&Value>, usize> = HashMap::new();
    for record in &table.rows {
        let count = seen.entry(key_of(&key, record)).or_default();
        *count += 1;
        if *count == 2 {
            report(record);
        }
    }
}

fn single_cf(table: &Table, c: &mut Collector) {
    let mut by_variant: BTreeMap<&str, BTreeMap<i64, usize>> = BTreeMap::new();
    for record in &table.rows {
        if let Some(cf) = dec(table, record, "conversion_factor") {
            *by_variant
                .entry(text(table, record, "variant"))
                .or_default()
                .entry(cf)
                .or_default() += 1;
        }
    }
    for (variant, counts) in by_variant.iter().filter(|(_, counts)| counts.len() > 1) {
        let (common, _) = counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(cf, n)| (*cf, *n))
            .unwrap_or_default();
        for record in &table.rows {
            let cf = dec(table, record, "conversion_factor");
            if text(table, record, "variant") == *variant && cf.is_some_and(|cf| cf != common) {
                c.add(
                    "pprrvu",
                    key_label(table, record),
                    "conversion_factor",
                    format_decimal(cf.unwrap_or(0), 4),
                    format_decimal(common, 4),
                );
            }
        }
    }
}

fn known_cf(release: ReleaseId, table: &Table, c: &mut Collector) {
    let variants: BTreeSet<&str> = table
        .rows
        .iter()
        .map(|r| text(table, r, "variant"))
        .collect();
    let mut any_known = false;
    for variant in variants {
        let Some(known) = known_conversion_factor(release, variant) else {
            continue;
        };
        any_known = true;
        let wrong: Vec<&Record> = table
            .rows
            .iter()
            .filter(|r| text(table, r, "variant") == variant)
            .filter(|r| dec(table, r, "conversion_factor").is_some_and(|cf| cf != known))
            .collect();
        for record in wrong {
            let cf = dec(table, record, "conversion_factor").unwrap_or(0);
            c.add(
                "pprrvu",
                key_label(table, record),
                "conversion_factor",
                format_decimal(cf, 4),
                format_decimal(known, 4),
            );
        }
    }
    if !any_known {
        c.skip(format!("no known conversion factor for {release}"));
    }
}

type Locality = (String, String);

fn localities(table: &Table) -> BTreeSet<Locality> {
    table
        .rows
        .iter()
        .map(|r| {
            (
                text(table, r, "mac").to_string(),
                text(table, r, "locality").to_string(),
            )
        })
        .collect()
}

fn localities_match(s: &Subject, c: &mut Collector) {
    let sets: Vec<(TableKind, BTreeSet<Locality>)> =
        [TableKind::Gpci, TableKind::Locco, TableKind::Anes]
            .into_iter()
            .filter_map(|k| s.tables.get(&k).map(|t| (k, localities(t))))
            .collect();
    if sets.len() < 2 {
        return c.skip("fewer than two of GPCI, LOCCO and ANES");
    }
    let (reference_kind, reference) = &sets[0];
    for (kind, set) in &sets[1..] {
        for (mac, locality) in reference.difference(set) {
            c.add(
                kind.name(),
                format!("mac={mac} locality={locality}"),
                "(key)",
                "missing".into(),
                format!("listed, as in {reference_kind}"),
            );
        }
        for (mac, locality) in set.difference(reference) {
            c.add(
                kind.name(),
                format!("mac={mac} locality={locality}"),
                "(key)",
                "listed".into(),
                format!("absent, as in {reference_kind}"),
            );
        }
    }
}

fn oppscap_codes(s: &Subject, c: &mut Collector) {
    let (Some(caps), Some(rvus)) = (
        s.tables.get(&TableKind::Oppscap),
        s.tables.get(&TableKind::Pprrvu),
    ) else {
        return c.skip("needs OPPSCAP and PPRRVU");
    };
    let known: HashSet<(&str, &str)> = rvus
        .rows
        .iter()
        .map(|r| (text(rvus, r, "hcpcs"), text(rvus, r, "modifier")))
        .collect();
    for record in &caps.rows {
        let code = (text(caps, record, "hcpcs"), text(caps, record, "modifier"));
        if !known.contains(&code) {
            c.add(
                "oppscap",
                key_label(caps, record),
                "hcpcs",
                format!("{}-{}", code.0, code.1),
                "a code in PPRRVU".into(),
            );
        }
    }
}

/// OPPSCAP (mac, locality) pairs against GPCI. CMS's 2024-2025 files list six Southern
/// California localities (GPCI: MAC 01182) under MAC 01112 as well: a sibling MAC of the same
/// contractor, reported apart (`sibling`) from pairs GPCI does not know at all.
fn oppscap_localities(s: &Subject, sibling: bool, c: &mut Collector) {
    let (Some(caps), Some(gpci)) = (
        s.tables.get(&TableKind::Oppscap),
        s.tables.get(&TableKind::Gpci),
    ) else {
        return c.skip("needs OPPSCAP and GPCI");
    };
    let known = localities(gpci);
    let contractor = |mac: &str| mac.get(..3).unwrap_or(mac).to_string();
    let siblings: HashSet<(String, String)> = known
        .iter()
        .map(|(mac, loc)| (contractor(mac), loc.clone()))
        .collect();
    for record in &caps.rows {
        let (mac, locality) = (text(caps, record, "mac"), text(caps, record, "locality"));
        if known.contains(&(mac.to_string(), locality.to_string())) {
            continue;
        }
        let under_sibling = siblings.contains(&(contractor(mac), locality.to_string()));
        if under_sibling == sibling {
            let expected = if sibling {
                "the MAC GPCI lists it under"
            } else {
                "a GPCI locality"
            };
            c.add(
                "oppscap",
                key_label(caps, record),
                "mac",
                format!("{mac}/{locality}"),
                expected.into(),
            );
        }
    }
}

fn formats(s: &Subject, prose: bool, c: &mut Collector) {
    let Some(checks) = &s.cross_checks else {
        return c.skip("formats are compared when a release is read from CMS files");
    };
    if checks.is_empty() {
        return c.skip("every table came in one format");
    }
    for check in checks {
        let (count, examples) = if prose {
            (check.text_differences, &check.text_examples)
        } else {
            (check.mismatches, &check.examples)
        };
        for m in examples.iter().take(count) {
            c.add(
                check.table.name(),
                m.key.trim_matches(['[', ']']).to_string(),
                &m.column,
                format!("{} {:?}", check.other, m.other_value),
                format!("{} {:?}", check.primary, m.primary_value),
            );
        }
        // The cross-check keeps only its first examples; count the rest too.
        c.count += count.saturating_sub(examples.len());
    }
}

/// Distinct natural keys; sorted tables (all of ours) are counted by comparing neighbours.
fn distinct_keys(table: &Table) -> usize {
    let key = table.key_indexes();
    let key_of = |r: &Record| -> Vec<Value> { key.iter().map(|&i| r.values[i].clone()).collect() };
    let same = |a: &Record, b: &Record| key.iter().all(|&i| a.values[i] == b.values[i]);
    let sorted = table.rows.windows(2).all(|w| {
        key.iter()
            .map(|&i| &w[0].values[i])
            .le(key.iter().map(|&i| &w[1].values[i]))
    });
    if sorted {
        1.min(table.rows.len())
            + table
                .rows
                .windows(2)
                .filter(|w| !same(&w[0], &w[1]))
                .count()
    } else {
        table.rows.iter().map(key_of).collect::<HashSet<_>>().len()
    }
}

fn variant_set(table: &Table) -> BTreeSet<&str> {
    match table.column_index("variant") {
        Some(i) => table
            .rows
            .iter()
            .filter_map(|r| r.values[i].as_text())
            .collect(),
        None => BTreeSet::new(),
    }
}

/// Distinct natural keys without the variant, so 2026's split of ANES and PPRRVU into QPP and
/// non-QPP rows is not a doubling of content.
fn content_rows(table: &Table) -> usize {
    let columns: Vec<usize> = table
        .kind
        .key()
        .iter()
        .filter(|k| **k != "variant")
        .filter_map(|k| table.column_index(k))
        .collect();
    let keys: HashSet<Vec<&Value>> = table
        .rows
        .iter()
        .map(|r| columns.iter().map(|&i| &r.values[i]).collect())
        .collect();
    keys.len()
}

fn row_counts(s: &Subject, prior: &Subject, c: &mut Collector) {
    for (kind, table) in &s.tables {
        let Some(before) = prior.tables.get(kind) else {
            continue;
        };
        // Same variants on both sides: distinct full keys, counted without hashing.
        let (old, new) = if variant_set(before) == variant_set(table) {
            (distinct_keys(before), distinct_keys(table))
        } else {
            (content_rows(before), content_rows(table))
        };
        if old > 0 && (new as f64 - old as f64).abs() / old as f64 > 0.10 {
            c.add(
                kind.name(),
                "(table)".into(),
                "(distinct keys)",
                new.to_string(),
                format!("within 10% of {old} in {}", prior.release_id),
            );
        }
    }
}

fn canaries(s: &Subject, prior: &Subject, work: bool, c: &mut Collector) {
    let (Some(now), Some(before)) = (
        s.tables.get(&TableKind::Pprrvu),
        prior.tables.get(&TableKind::Pprrvu),
    ) else {
        return c.skip("needs PPRRVU in both releases");
    };
    // One pass per table, keeping only the canary rows.
    let canary_work = |t: &'_ Table| -> HashMap<(String, String), Option<i64>> {
        let Some([h, m, w]) = indexes(t, ["hcpcs", "modifier", "work_rvu"]) else {
            return HashMap::new();
        };
        t.rows
            .iter()
            .filter_map(|r| {
                let code = (r.values[h].as_text()?, r.values[m].as_text().unwrap_or(""));
                CANARIES
                    .contains(&code)
                    .then(|| ((code.0.to_string(), code.1.to_string()), dec_at(r, w)))
            })
            .collect()
    };
    let (now_work, before_work) = (canary_work(now), canary_work(before));
    let find = |map: &HashMap<(String, String), Option<i64>>, hcpcs: &str, modifier: &str| {
        map.get(&(hcpcs.to_string(), modifier.to_string())).copied()
    };
    for (hcpcs, modifier) in CANARIES {
        let key = format!("hcpcs={hcpcs} modifier={modifier}");
        let Some(old) = find(&before_work, hcpcs, modifier) else {
            continue;
        };
        match (find(&now_work, hcpcs, modifier), work) {
            (None, false) => c.add(
                "pprrvu",
                key,
                "(row)",
                "missing".into(),
                format!("present, as in {}", prior.release_id),
            ),
            (Some(new), true) => {
                if let (Some(new), Some(old)) = (new, old)
                    && old != 0
                    && ((new - old) as f64 / old as f64).abs() > 0.10
                {
                    c.add(
                        "pprrvu",
                        key,
                        "work_rvu",
                        format_decimal(new, 2),
                        format!("within 10% of {}", format_decimal(old, 2)),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Validates a freshly normalized release against a prior one.
pub fn against_prior(
    normalized: &Normalized,
    prior: Option<&crate::stages::diff::Loaded>,
) -> Report {
    let prior_subject = prior.map(|p| Subject::from_tables(p.id, &p.tables));
    validate(
        &Subject::from_normalized(normalized),
        prior_subject.as_ref(),
    )
}
