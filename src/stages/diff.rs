//! Diff: what changed between two releases, table by table, key by key, field by field.
//! Numbers are compared as exact decimals at file precision, so float noise is never a change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::catalog::ReleaseId;
use crate::tables::{Kind, Record, Table, TableKind, Value, format_decimal};

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableSummary {
    pub added: usize,
    pub deleted: usize,
    /// Keys in both releases with at least one changed field.
    pub changed: usize,
    pub changed_by_field: BTreeMap<String, usize>,
    pub rows_before: usize,
    pub rows_after: usize,
}

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
    /// PPRRVU status code transitions, old -> new -> count; `(new)` and `(gone)` for added
    /// and deleted keys.
    pub status_transitions: BTreeMap<String, BTreeMap<String, usize>>,
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
        let summary = diff_table(kind, old, new, &mut changes);
        tables.insert(kind, summary);
    }
    let info = |side: &Side| ReleaseInfo {
        release_id: side.id.to_string(),
        ..side.info.clone()
    };
    Diff {
        from: info(from),
        to: info(to),
        tables,
        conversion_factors: conversion_factors(from, to),
        status_transitions: status_transitions(from, to),
        changes,
    }
}

/// A row's identity for matching: its key, with the variant folded when the two releases
/// carry different variant sets (2025's `standard` against 2026's `non_qpp`).
type MatchKey = (Vec<Value>, usize);

struct Keyed<'a> {
    rows: Vec<(MatchKey, &'a Record)>,
}

fn variants(table: &Table) -> BTreeSet<String> {
    table
        .rows
        .iter()
        .filter_map(|r| {
            table
                .value(r, "variant")
                .and_then(Value::as_text)
                .map(str::to_string)
        })
        .collect()
}

/// Keys rows; `variant_map` renames variants so the two sides line up.
fn keyed<'a>(table: &'a Table, variant_map: &dyn Fn(&str) -> Vec<String>) -> Keyed<'a> {
    let key_columns = table.key_indexes();
    let variant_index = table.column_index("variant");
    let mut seen: HashMap<Vec<Value>, usize> = HashMap::new();
    let mut rows = Vec::new();
    for record in &table.rows {
        let base: Vec<Value> = key_columns
            .iter()
            .map(|&i| record.values[i].clone())
            .collect();
        let mapped: Vec<Vec<Value>> = match variant_index {
            Some(vi) => {
                let variant = record.values[vi].as_text().unwrap_or("");
                let position = key_columns.iter().position(|&k| k == vi);
                variant_map(variant)
                    .into_iter()
                    .map(|v| {
                        let mut key = base.clone();
                        if let Some(p) = position {
                            key[p] = Value::Text(v);
                        }
                        key
                    })
                    .collect()
            }
            None => vec![base],
        };
        for key in mapped {
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            rows.push(((key, *n), record));
        }
    }
    Keyed { rows }
}

fn diff_table(
    kind: TableKind,
    old: Option<&Table>,
    new: Option<&Table>,
    out: &mut Vec<Change>,
) -> TableSummary {
    let mut summary = TableSummary {
        rows_before: old.map_or(0, |t| t.rows.len()),
        rows_after: new.map_or(0, |t| t.rows.len()),
        ..TableSummary::default()
    };
    let (old_variants, new_variants) = (
        old.map(variants).unwrap_or_default(),
        new.map(variants).unwrap_or_default(),
    );
    // With different variant sets (2025's `standard`, 2026's `non_qpp` and `qpp`), a lone
    // variant on one side stands for each variant of the other.
    let spread = |lone: &BTreeSet<String>, other: &BTreeSet<String>| -> Option<Vec<String>> {
        (lone != other && lone.len() == 1 && !other.is_empty())
            .then(|| other.iter().cloned().collect())
    };
    let old_spread = spread(&old_variants, &new_variants);
    let new_spread = if old_spread.is_none() {
        spread(&new_variants, &old_variants)
    } else {
        None
    };
    let mapper = |spread: Option<Vec<String>>| {
        move |v: &str| spread.clone().unwrap_or_else(|| vec![v.to_string()])
    };
    let (old_map, new_map) = (mapper(old_spread), mapper(new_spread));
    let old_keyed = old.map(|t| keyed(t, &old_map));
    let new_keyed = new.map(|t| keyed(t, &new_map));
    let spec = kind.columns();
    let table_for_labels = new.or(old);
    let Some(label_table) = table_for_labels else {
        return summary;
    };
    let label = |key: &MatchKey| key_label(label_table, &key.0);

    let old_index: HashMap<&MatchKey, &Record> = old_keyed
        .as_ref()
        .map(|k| k.rows.iter().map(|(key, r)| (key, *r)).collect())
        .unwrap_or_default();
    let new_index: HashMap<&MatchKey, &Record> = new_keyed
        .as_ref()
        .map(|k| k.rows.iter().map(|(key, r)| (key, *r)).collect())
        .unwrap_or_default();

    let key_columns: BTreeSet<&str> = kind.key().iter().copied().collect();
    let mut per_key: Vec<Change> = Vec::new();
    if let Some(new_keyed) = &new_keyed {
        for (key, after) in &new_keyed.rows {
            let (text, values) = label(key);
            match old_index.get(key) {
                None => {
                    summary.added += 1;
                    per_key.push(row_change(kind, ChangeKind::Added, text, values));
                }
                Some(before) => {
                    let mut any = false;
                    for (i, column) in spec.iter().enumerate() {
                        if column.name == "release_id" || key_columns.contains(column.name) {
                            continue;
                        }
                        let (a, b) = (&before.values[i], &after.values[i]);
                        if a != b {
                            any = true;
                            *summary
                                .changed_by_field
                                .entry(column.name.to_string())
                                .or_default() += 1;
                            per_key.push(field_change(
                                kind,
                                text.clone(),
                                values.clone(),
                                column.name,
                                column.kind,
                                a,
                                b,
                            ));
                        }
                    }
                    if any {
                        summary.changed += 1;
                    }
                }
            }
        }
    }
    if let Some(old_keyed) = &old_keyed {
        for (key, _) in &old_keyed.rows {
            if !new_index.contains_key(key) {
                summary.deleted += 1;
                let (text, values) = label(key);
                per_key.push(row_change(kind, ChangeKind::Deleted, text, values));
            }
        }
    }
    per_key.sort_by(|a, b| (&a.key, a.change, &a.field).cmp(&(&b.key, b.change, &b.field)));
    out.extend(per_key);
    summary
}

fn key_label(table: &Table, key: &[Value]) -> (String, Vec<(&'static str, String)>) {
    let values: Vec<(&'static str, String)> = table
        .kind
        .key()
        .iter()
        .zip(key)
        .map(|(name, v)| (*name, v.render(Kind::Text)))
        .collect();
    let text = values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    (text, values)
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

fn cf_by_variant(side: &Side) -> BTreeMap<String, String> {
    let Some(table) = side.tables.get(&TableKind::Pprrvu) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for record in &table.rows {
        let variant = table
            .value(record, "variant")
            .and_then(Value::as_text)
            .unwrap_or("");
        if let Some(Value::Dec(cf)) = table.value(record, "conversion_factor") {
            out.entry(variant.to_string())
                .or_insert_with(|| format_decimal(*cf, 4));
        }
    }
    out
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

/// The status transitions from the PPRRVU changes: unchanged statuses count on the diagonal.
fn status_transitions(from: &Side, to: &Side) -> BTreeMap<String, BTreeMap<String, usize>> {
    let (Some(old), Some(new)) = (
        from.tables.get(&TableKind::Pprrvu),
        to.tables.get(&TableKind::Pprrvu),
    ) else {
        return BTreeMap::new();
    };
    let status = |t: &Table| -> HashMap<(String, String), String> {
        t.rows
            .iter()
            .map(|r| {
                let text = |c: &str| {
                    t.value(r, c)
                        .map(|v| v.render(Kind::Text))
                        .unwrap_or_default()
                };
                ((text("hcpcs"), text("modifier")), text("status_code"))
            })
            .collect()
    };
    let (before, after) = (status(old), status(new));
    let mut matrix: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
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
