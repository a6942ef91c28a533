//! Diff: what changed between two releases, table by table, key by key, field by field.
//! Numbers are compared as exact decimals at file precision, so float noise is never a change.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;
use serde::Serialize;

use crate::catalog::ReleaseId;
use crate::tables::{Kind, Record, Table, TableKind, Value, compare_keys, format_decimal, pprrvu};

/// Where a release came from, for the report header.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleaseInfo {
    pub release_id: String,
    pub released: Option<String>,
    pub source: Option<String>,
    pub sha256: Option<String>,
}

/// A release to compare: its info and its canonical tables.
#[derive(Debug, Clone)]
pub struct Side<'a> {
    pub id: ReleaseId,
    pub info: ReleaseInfo,
    pub tables: BTreeMap<TableKind, &'a Table>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Deleted,
    Changed,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One changed field, or one added or deleted key (field `(row)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub table: TableKind,
    pub change: ChangeKind,
    /// The natural key as `name=value` pairs (`variant=standard hcpcs=99213 modifier=`).
    pub key: String,
    pub key_values: Vec<(&'static str, String)>,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
    /// new - old, exact, for decimal fields.
    pub delta: Option<String>,
    /// 100 * (new - old) / old, to two decimals, when old is a non-zero decimal.
    pub pct_delta: Option<f64>,
}

impl Change {
    pub fn key_value(&self, name: &str) -> Option<&str> {
        self.key_values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Counts of one table's (or one variant's) comparison.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableSummary {
    /// For tables with variants: the variant these counts are for (the default payment
    /// variant: `non_qpp` from 2026, `standard` before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The earlier release's variant this one is compared with (`standard` for both 2026
    /// variants across the split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<String>,
    pub added: usize,
    pub deleted: usize,
    /// Keys in both releases with at least one changed field.
    pub changed: usize,
    /// Of `changed`, keys whose only change is the conversion factor.
    pub changed_cf_only: usize,
    pub changed_by_field: BTreeMap<String, usize>,
    pub rows_before: usize,
    pub rows_after: usize,
    /// Columns empty in every earlier row and filled in the later release (2026's
    /// `pricing_indicator`): a layout change, reported once and not compared row by row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_columns: Vec<String>,
    /// Columns filled before and empty in every later row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_columns: Vec<String>,
    /// PPRRVU status transitions of this variant (see [`Diff::status_transitions`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub status_transitions: StatusMatrix,
    /// Each variant's own comparison, for tables with variants (PPRRVU, ANES).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<String, TableSummary>,
}

impl TableSummary {
    /// Keys whose RVUs, status, indicators or description changed (not the CF alone).
    pub fn changed_values(&self) -> usize {
        self.changed - self.changed_cf_only
    }
}

/// old status -> new status -> count; `(new)` and `(gone)` for added and deleted keys.
pub type StatusMatrix = BTreeMap<String, BTreeMap<String, usize>>;

#[derive(Debug, Clone, Serialize)]
pub struct CfChange {
    pub variant: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The diff of two releases.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: ReleaseInfo,
    pub to: ReleaseInfo,
    pub tables: BTreeMap<TableKind, TableSummary>,
    pub conversion_factors: Vec<CfChange>,
    /// PPRRVU status code transitions of the default variant, old -> new -> count; `(new)`
    /// and `(gone)` for added and deleted keys (each variant's are in its summary).
    pub status_transitions: StatusMatrix,
    #[serde(skip)]
    pub changes: Vec<Change>,
}

pub const NEW: &str = "(new)";
pub const GONE: &str = "(gone)";

/// Compares every table the two releases share; a table only one side has counts as all
/// added or all deleted.
pub fn diff(from: &Side, to: &Side) -> Diff {
    let mut changes = Vec::new();
    let mut tables = BTreeMap::new();
    let kinds: BTreeSet<TableKind> = from
        .tables
        .keys()
        .chain(to.tables.keys())
        .copied()
        .collect();
    for kind in kinds {
        let (old, new) = (
            from.tables.get(&kind).copied(),
            to.tables.get(&kind).copied(),
        );
        let mut table_changes = Vec::new();
        let summary = diff_table(kind, old, new, &mut table_changes);
        changes.extend(table_changes);
        tables.insert(kind, summary);
    }
    let status_transitions = tables
        .get(&TableKind::Pprrvu)
        .map(|s| s.status_transitions.clone())
        .unwrap_or_default();
    let info = |side: &Side| ReleaseInfo {
        release_id: side.id.to_string(),
        ..side.info.clone()
    };
    Diff {
        from: info(from),
        to: info(to),
        tables,
        conversion_factors: conversion_factors(from, to),
        status_transitions,
        changes,
    }
}

/// The variant a table's counts are told by: the default payment variant.
pub fn default_variant<'v>(variants: impl IntoIterator<Item = &'v str>) -> Option<&'v str> {
    let all: Vec<&str> = variants.into_iter().collect();
    ["non_qpp", "standard"]
        .into_iter()
        .find_map(|v| all.iter().copied().find(|a| *a == v))
        .or_else(|| all.first().copied())
}

/// A table's rows by variant ("" for a table without variants).
fn by_variant(table: &Table) -> BTreeMap<&str, Vec<&Record>> {
    let index = table.column_index("variant");
    let mut out: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for record in &table.rows {
        let variant = index.and_then(|i| record.values[i].as_text()).unwrap_or("");
        out.entry(variant).or_default().push(record);
    }
    out
}

/// Which earlier variant each later variant is compared with: itself where both releases
/// have it, else the earlier release's only variant (2025's `standard` for each of 2026's
/// `non_qpp` and `qpp`), else the earlier default variant for the later default. Earlier
/// variants left unpaired are compared with nothing (all deleted).
fn pairs<'v>(old: &[&'v str], new: &[&'v str]) -> Vec<(Option<&'v str>, Option<&'v str>)> {
    let lone = (old.len() == 1).then(|| old[0]);
    let new_default = default_variant(new.iter().copied());
    let mut out: Vec<(Option<&str>, Option<&str>)> = new
        .iter()
        .map(|&n| {
            let o = old.iter().copied().find(|&o| o == n).or(lone).or_else(|| {
                (Some(n) == new_default)
                    .then(|| default_variant(old.iter().copied()))
                    .flatten()
            });
            (o, Some(n))
        })
        .collect();
    for &o in old {
        if !out.iter().any(|(p, _)| *p == Some(o)) {
            out.push((Some(o), None));
        }
    }
    out
}

fn diff_table(
    kind: TableKind,
    old: Option<&Table>,
    new: Option<&Table>,
    out: &mut Vec<Change>,
) -> TableSummary {
    let Some(label_table) = new.or(old) else {
        return TableSummary::default();
    };
    let (old_rows, new_rows) = (
        old.map(by_variant).unwrap_or_default(),
        new.map(by_variant).unwrap_or_default(),
    );
    let has_variants = label_table.column_index("variant").is_some();
    let old_names: Vec<&str> = old_rows.keys().copied().collect();
    let new_names: Vec<&str> = new_rows.keys().copied().collect();
    let mut variants: BTreeMap<String, TableSummary> = BTreeMap::new();
    for (o, n) in pairs(&old_names, &new_names) {
        let empty = Vec::new();
        let before = o.and_then(|o| old_rows.get(o)).unwrap_or(&empty);
        let after = n.and_then(|n| new_rows.get(n)).unwrap_or(&empty);
        let label = n.or(o).unwrap_or("");
        let mut summary = compare(kind, label_table, label, before, after, out);
        if kind == TableKind::Pprrvu {
            summary.status_transitions = status_transitions(label_table, before, after);
        }
        if has_variants {
            summary.variant = Some(label.to_string());
            summary.compared_with = o.map(str::to_string);
        }
        variants.insert(label.to_string(), summary);
    }
    out.sort_by(|a, b| {
        (a.table, &a.key, a.change, &a.field).cmp(&(b.table, &b.key, b.change, &b.field))
    });
    let chosen = default_variant(variants.keys().map(String::as_str)).map(str::to_string);
    let mut top = chosen
        .and_then(|v| variants.get(&v).cloned())
        .unwrap_or_default();
    if has_variants {
        top.variants = variants;
    }
    top
}

/// Compares one variant's rows (or a whole table's) key by key. Keys are the table's natural
/// key without the variant, with an occurrence number for keys CMS lists twice.
fn compare(
    kind: TableKind,
    label_table: &Table,
    variant: &str,
    old: &[&Record],
    new: &[&Record],
    out: &mut Vec<Change>,
) -> TableSummary {
    let spec = kind.columns();
    let key_columns: Vec<usize> = label_table.key_indexes();
    let variant_column = label_table.column_index("variant");
    // The key a change is told by: the variant column holds this comparison's variant.
    let key_of = |record: &Record| -> Vec<Value> {
        key_columns
            .iter()
            .map(|&i| match Some(i) == variant_column {
                true => Value::Text(variant.into()),
                false => record.values[i].clone(),
            })
            .collect()
    };
    // Rows are matched by key without the variant: both sides in that order (stable, so a
    // key CMS lists twice keeps its occurrences in file order), then walked once together.
    let matching: Vec<usize> = key_columns
        .iter()
        .copied()
        .filter(|&i| Some(i) != variant_column)
        .collect();
    let order = |a: &&Record, b: &&Record| compare_keys(&matching, a, b);
    let (mut old, mut new) = (old.to_vec(), new.to_vec());
    old.sort_by(order);
    new.sort_by(order);
    let (new_columns, dropped_columns) = layout_changes(spec, &old, &new);
    let mut skipped = vec![false; spec.len()];
    for (i, c) in spec.iter().enumerate() {
        skipped[i] = c.name == "release_id"
            || key_columns.contains(&i)
            || new_columns
                .iter()
                .chain(&dropped_columns)
                .any(|n| n == c.name);
    }
    let mut summary = TableSummary {
        rows_before: old.len(),
        rows_after: new.len(),
        new_columns,
        dropped_columns,
        ..TableSummary::default()
    };
    let label = |record: &Record| {
        let key = key_of(record);
        (label_table.key_text(&key), label_table.key_pairs(&key))
    };
    let deleted = |record: &Record, summary: &mut TableSummary, out: &mut Vec<Change>| {
        summary.deleted += 1;
        let (text, values) = label(record);
        out.push(row_change(kind, ChangeKind::Deleted, text, values));
    };
    let (mut i, mut j) = (0, 0);
    while i < new.len() {
        let after = new[i];
        let ordering = match old.get(j) {
            Some(before) => order(&after, before),
            None => std::cmp::Ordering::Less,
        };
        if ordering.is_gt() {
            deleted(old[j], &mut summary, out);
            j += 1;
            continue;
        }
        i += 1;
        if ordering.is_lt() {
            summary.added += 1;
            let (text, values) = label(after);
            out.push(row_change(kind, ChangeKind::Added, text, values));
            continue;
        }
        let before = old[j];
        j += 1;
        let differing: Vec<usize> = (0..spec.len())
            .filter(|&c| !skipped[c] && before.values[c] != after.values[c])
            .collect();
        if differing.is_empty() {
            continue;
        }
        summary.changed += 1;
        if differing
            .iter()
            .all(|&c| spec[c].name == "conversion_factor")
        {
            summary.changed_cf_only += 1;
        }
        let (text, values) = label(after);
        for c in differing {
            let column = &spec[c];
            *summary
                .changed_by_field
                .entry(column.name.to_string())
                .or_default() += 1;
            out.push(field_change(
                kind,
                text.clone(),
                values.clone(),
                column.name,
                column.kind,
                &before.values[c],
                &after.values[c],
            ));
        }
    }
    for before in &old[j..] {
        deleted(before, &mut summary, out);
    }
    summary
}

/// Columns empty in every row of one side and filled on the other: a file layout change
/// (a column CMS added or dropped), not a change of every row. Only when both sides have rows.
fn layout_changes(
    spec: &[crate::tables::ColumnSpec],
    old: &[&Record],
    new: &[&Record],
) -> (Vec<String>, Vec<String>) {
    if old.is_empty() || new.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let empty = |rows: &[&Record], i: usize| rows.iter().all(|r| r.values[i] == Value::Null);
    let (mut appeared, mut dropped) = (Vec::new(), Vec::new());
    for (i, column) in spec.iter().enumerate() {
        match (empty(old, i), empty(new, i)) {
            (true, false) => appeared.push(column.name.to_string()),
            (false, true) => dropped.push(column.name.to_string()),
            _ => {}
        }
    }
    (appeared, dropped)
}

fn row_change(
    table: TableKind,
    change: ChangeKind,
    key: String,
    key_values: Vec<(&'static str, String)>,
) -> Change {
    Change {
        table,
        change,
        key,
        key_values,
        field: "(row)".to_string(),
        old_value: String::new(),
        new_value: String::new(),
        delta: None,
        pct_delta: None,
    }
}

fn field_change(
    table: TableKind,
    key: String,
    key_values: Vec<(&'static str, String)>,
    field: &str,
    kind: Kind,
    old: &Value,
    new: &Value,
) -> Change {
    let (delta, pct_delta) = match (old, new, kind) {
        (Value::Dec(a), Value::Dec(b), Kind::Decimal { scale, .. }) => (
            Some(format_decimal(b - a, scale)),
            (*a != 0).then(|| ((b - a) as f64 * 10_000.0 / *a as f64).round() / 100.0),
        ),
        _ => (None, None),
    };
    Change {
        table,
        change: ChangeKind::Changed,
        key,
        key_values,
        field: field.to_string(),
        old_value: old.render(kind),
        new_value: new.render(kind),
        delta,
        pct_delta,
    }
}

/// The conversion factor of each PPRRVU variant of a release (none without PPRRVU).
fn cf_by_variant(side: &Side) -> BTreeMap<String, String> {
    side.tables
        .get(&TableKind::Pprrvu)
        .map(|table| pprrvu::conversion_factors(table))
        .unwrap_or_default()
}

fn conversion_factors(from: &Side, to: &Side) -> Vec<CfChange> {
    let (before, after) = (cf_by_variant(from), cf_by_variant(to));
    // A release with one variant stands for each variant of the other (2025 -> 2026).
    let variants: BTreeSet<&String> = if before.len() == 1 && !after.is_empty() {
        after.keys().collect()
    } else if after.len() == 1 {
        before.keys().collect()
    } else {
        before.keys().chain(after.keys()).collect()
    };
    variants
        .into_iter()
        .map(|v| CfChange {
            variant: v.clone(),
            // A release with one variant stands for every variant of the other.
            before: before.get(v).or_else(|| lone(&before)).cloned(),
            after: after.get(v).or_else(|| lone(&after)).cloned(),
        })
        .collect()
}

fn lone(map: &BTreeMap<String, String>) -> Option<&String> {
    (map.len() == 1).then(|| map.values().next()).flatten()
}

/// The status transitions of one PPRRVU comparison: unchanged statuses count on the diagonal.
fn status_transitions(table: &Table, old: &[&Record], new: &[&Record]) -> StatusMatrix {
    let (Some(h), Some(m), Some(s)) = (
        table.column_index("hcpcs"),
        table.column_index("modifier"),
        table.column_index("status_code"),
    ) else {
        return StatusMatrix::new();
    };
    let status = |rows: &[&Record]| -> HashMap<(String, String), String> {
        rows.iter()
            .map(|r| {
                let text = |i: usize| r.values[i].render(Kind::Text);
                ((text(h), text(m)), text(s))
            })
            .collect()
    };
    let (before, after) = (status(old), status(new));
    let mut matrix = StatusMatrix::new();
    let mut bump = |a: &str, b: &str| {
        *matrix
            .entry(a.to_string())
            .or_default()
            .entry(b.to_string())
            .or_default() += 1
    };
    for (key, new_status) in &after {
        bump(before.get(key).map_or(NEW, String::as_str), new_status);
    }
    for (key, old_status) in &before {
        if !after.contains_key(key) {
            bump(old_status, GONE);
        }
    }
    matrix
}

/// A release read back for diffing and validating against (a published one, usually).
pub struct Loaded {
    pub id: ReleaseId,
    pub info: ReleaseInfo,
    pub tables: BTreeMap<TableKind, Table>,
}

impl Loaded {
    pub fn side(&self) -> Side<'_> {
        Side {
            id: self.id,
            info: self.info.clone(),
            tables: self.tables.iter().map(|(k, t)| (*k, t)).collect(),
        }
    }
}
