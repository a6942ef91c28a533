//! What a change report says, computed once from a diff and the two releases' PPRRVU rows:
//! the code lists, status moves, work RVU changes, biggest movers and locality changes.
//! `sections.rs` arranges these facts into the report's sections; nothing here renders.

use std::collections::BTreeMap;

use foldhash::HashMap;

use super::changes::ReportOptions;
use crate::codes::is_licensed;
use crate::stages::diff::{Change, ChangeKind, Diff, Side, TableSummary};
use crate::tables::pprrvu::PAYABLE;
use crate::tables::{Kind, Record, Table, TableKind, Value, format_decimal};

/// How many rows the "biggest movers" tables show.
const TOP: usize = 20;
/// How many rows a code or change list shows before "… and N more".
pub(super) const LIST: usize = 50;

/// A PPRRVU row's fields the report shows.
#[derive(Debug, Clone, Default)]
pub(super) struct Code {
    pub(super) hcpcs: String,
    pub(super) modifier: String,
    pub(super) variant: String,
    pub(super) description: String,
    pub(super) status: String,
    pub(super) nf_total: i64,
    pub(super) f_total: i64,
    pub(super) cf: i64,
}

impl Code {
    pub(super) fn from(table: &Table, record: &Record) -> Code {
        let text = |c: &str| {
            table
                .value(record, c)
                .map(|v| v.render(Kind::Text))
                .unwrap_or_default()
        };
        let dec = |c: &str| match table.value(record, c) {
            Some(Value::Dec(m)) => *m,
            _ => 0,
        };
        Code {
            hcpcs: text("hcpcs"),
            modifier: text("modifier"),
            variant: text("variant"),
            description: text("description"),
            status: text("status_code"),
            nf_total: dec("nonfacility_total"),
            f_total: dec("facility_total"),
            cf: dec("conversion_factor"),
        }
    }

    pub(super) fn label(&self) -> String {
        if self.modifier.is_empty() {
            self.hcpcs.clone()
        } else {
            format!("{}-{}", self.hcpcs, self.modifier)
        }
    }
}

/// One per-locality section of the report.
pub(super) struct LocalitySection {
    pub(super) title: String,
    pub(super) note: Option<&'static str>,
    pub(super) rows: Vec<[String; 4]>,
    pub(super) total: usize,
}

/// A payment move split into its parts, in millionths of a dollar.
#[derive(Debug, Clone)]
pub(super) struct Mover {
    pub(super) code: Code,
    pub(super) old_rvu: i64,
    pub(super) new_rvu: i64,
    pub(super) old_pay: i64,
    pub(super) new_pay: i64,
    pub(super) cf_effect: i64,
    pub(super) rvu_effect: i64,
}

pub(super) fn dollars(micro: i64) -> String {
    let cents = (micro as f64 / 10_000.0).round() as i64;
    format_decimal(cents, 2)
}

/// Everything the report says, computed once for both renderings.
pub(super) struct Facts<'a> {
    pub(super) diff: &'a Diff,
    pub(super) options: &'a ReportOptions,
    pub(super) added: Vec<Code>,
    pub(super) deleted: Vec<Code>,
    pub(super) status_moves: Vec<(Code, String, String)>,
    pub(super) work_changes: Vec<(Code, &'a Change)>,
    pub(super) pe_mp_only: usize,
    pub(super) rvu_movers: Vec<Mover>,
    pub(super) nf_pay_movers: Vec<Mover>,
    pub(super) f_pay_movers: Vec<Mover>,
    pub(super) indicators: BTreeMap<&'static str, Vec<&'a Change>>,
    pub(super) descriptions: Vec<&'a Change>,
    pub(super) locality_changes: BTreeMap<TableKind, Vec<&'a Change>>,
}

/// PPRRVU rows by (variant, hcpcs, modifier), and by (hcpcs, modifier) where one variant
/// stands for all (a release with a single variant compared with one with two).
#[derive(Default)]
struct CodeIndex {
    by_key: HashMap<CodeKey, Code>,
    lone: HashMap<(String, String), Option<CodeKey>>,
}

/// (variant, hcpcs, modifier).
type CodeKey = (String, String, String);

impl CodeIndex {
    fn find(&self, variant: &str, hcpcs: &str, modifier: &str) -> Option<&Code> {
        let key = (variant.to_string(), hcpcs.to_string(), modifier.to_string());
        self.by_key.get(&key).or_else(|| {
            let only = self
                .lone
                .get(&(hcpcs.to_string(), modifier.to_string()))?
                .as_ref()?;
            self.by_key.get(only)
        })
    }

    fn values(&self) -> impl Iterator<Item = &Code> {
        self.by_key.values()
    }
}

fn index(side: &Side) -> CodeIndex {
    let mut index = CodeIndex::default();
    let Some(t) = side.tables.get(&TableKind::Pprrvu) else {
        return index;
    };
    for r in &t.rows {
        let c = Code::from(t, r);
        let key = (c.variant.clone(), c.hcpcs.clone(), c.modifier.clone());
        index
            .lone
            .entry((c.hcpcs.clone(), c.modifier.clone()))
            .and_modify(|only| *only = None)
            .or_insert_with(|| Some(key.clone()));
        index.by_key.insert(key, c);
    }
    index
}

/// The row of a side for a change key; a side with one variant answers for every variant.
fn lookup<'i>(index: &'i CodeIndex, c: &Change) -> Option<&'i Code> {
    index.find(
        c.key_value("variant").unwrap_or(""),
        c.key_value("hcpcs").unwrap_or(""),
        c.key_value("modifier").unwrap_or(""),
    )
}

const INDICATORS: [&str; 6] = [
    "global_days",
    "pctc_indicator",
    "mult_proc",
    "nonfacility_na",
    "facility_na",
    "physician_supervision",
];

impl<'a> Facts<'a> {
    pub(super) fn gather(
        diff: &'a Diff,
        from: &Side,
        to: &Side,
        options: &'a ReportOptions,
    ) -> Facts<'a> {
        let (old, new) = (index(from), index(to));
        let variant = default_variant(diff);
        // The code lists follow the default payment variant; the others have their counts.
        let pprrvu: Vec<&Change> = diff
            .changes
            .iter()
            .filter(|c| c.table == TableKind::Pprrvu)
            .filter(|c| variant.is_none_or(|v| c.key_value("variant") == Some(v)))
            .collect();
        let pick = |kind: ChangeKind, idx: &CodeIndex| -> Vec<Code> {
            pprrvu
                .iter()
                .filter(|c| c.change == kind)
                .filter_map(|c| lookup(idx, c).cloned())
                .collect()
        };
        let mut facts = Facts {
            diff,
            options,
            added: pick(ChangeKind::Added, &new),
            deleted: pick(ChangeKind::Deleted, &old),
            status_moves: Vec::new(),
            work_changes: Vec::new(),
            pe_mp_only: 0,
            rvu_movers: Vec::new(),
            nf_pay_movers: Vec::new(),
            f_pay_movers: Vec::new(),
            indicators: BTreeMap::new(),
            descriptions: Vec::new(),
            locality_changes: BTreeMap::new(),
        };
        let mut fields_by_key: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
        for c in pprrvu.iter().filter(|c| c.change == ChangeKind::Changed) {
            fields_by_key.entry(c.key.as_str()).or_default().push(c);
            let code = || lookup(&new, c).cloned().unwrap_or_default();
            match c.field.as_str() {
                "status_code" => {
                    facts
                        .status_moves
                        .push((code(), c.old_value.clone(), c.new_value.clone()))
                }
                "work_rvu" => facts.work_changes.push((code(), c)),
                "description" => facts.descriptions.push(c),
                f => {
                    if let Some(name) = INDICATORS.iter().find(|i| **i == f) {
                        facts.indicators.entry(name).or_default().push(c);
                    }
                }
            }
        }
        facts.pe_mp_only = fields_by_key
            .values()
            .filter(|fields| {
                let has = |f: &str| fields.iter().any(|c| c.field == f);
                !has("work_rvu")
                    && (has("nonfacility_pe_rvu") || has("facility_pe_rvu") || has("mp_rvu"))
            })
            .count();
        facts.work_changes.sort_by(|a, b| {
            let size = |c: &Change| c.pct_delta.map_or(f64::INFINITY, f64::abs);
            size(b.1)
                .total_cmp(&size(a.1))
                .then_with(|| a.0.label().cmp(&b.0.label()))
        });
        facts.movers(&old, &new);
        for c in diff.changes.iter().filter(|c| c.table != TableKind::Pprrvu) {
            facts.locality_changes.entry(c.table).or_default().push(c);
        }
        facts
    }

    /// Payable codes in both releases, by the size of their move.
    fn movers(&mut self, old: &CodeIndex, new: &CodeIndex) {
        let variant = default_variant(self.diff);
        let mut both: Vec<(&Code, &Code)> = new
            .values()
            .filter(|n| PAYABLE.contains(&n.status.as_str()))
            .filter(|n| variant.is_none_or(|v| n.variant == v))
            .filter_map(|n| {
                let o = old.find(&n.variant, &n.hcpcs, &n.modifier)?;
                Some((o, n))
            })
            .collect();
        both.sort_by(|a, b| {
            (&a.1.hcpcs, &a.1.modifier, &a.1.variant).cmp(&(
                &b.1.hcpcs,
                &b.1.modifier,
                &b.1.variant,
            ))
        });
        let mover = |o: &Code, n: &Code, rvu: fn(&Code) -> i64| Mover {
            code: n.clone(),
            old_rvu: rvu(o),
            new_rvu: rvu(n),
            old_pay: rvu(o) * o.cf,
            new_pay: rvu(n) * n.cf,
            cf_effect: rvu(n) * (n.cf - o.cf),
            rvu_effect: (rvu(n) - rvu(o)) * o.cf,
        };
        let top = |mut list: Vec<Mover>, size: fn(&Mover) -> i64| {
            list.retain(|m| size(m) != 0);
            list.sort_by_key(|m| std::cmp::Reverse(size(m).abs()));
            list.truncate(TOP);
            list
        };
        let nf: Vec<Mover> = both
            .iter()
            .map(|(o, n)| mover(o, n, |c| c.nf_total))
            .collect();
        let f: Vec<Mover> = both
            .iter()
            .map(|(o, n)| mover(o, n, |c| c.f_total))
            .collect();
        self.rvu_movers = top(nf.clone(), |m| m.new_rvu - m.old_rvu);
        self.nf_pay_movers = top(nf, |m| m.new_pay - m.old_pay);
        self.f_pay_movers = top(f, |m| m.new_pay - m.old_pay);
    }

    pub(super) fn description(&self, code: &Code) -> String {
        if !self.options.cpt_descriptions && is_licensed(&code.hcpcs) {
            "(CPT/CDT description withheld)".to_string()
        } else {
            code.description.clone()
        }
    }

    /// A description change's old and new text; None when the code's text is withheld.
    pub(super) fn description_change<'c>(&self, c: &'c Change) -> Option<(&'c str, &'c str)> {
        let withheld =
            !self.options.cpt_descriptions && is_licensed(c.key_value("hcpcs").unwrap_or(""));
        (!withheld).then_some((c.old_value.as_str(), c.new_value.as_str()))
    }

    /// The GPCI, ANES, LOCCO and OPPSCAP sections: a note when there is nothing to list, else
    /// the first rows (key, field, before, after) and how many more there are.
    pub(super) fn locality_sections(&self) -> Vec<LocalitySection> {
        [
            TableKind::Gpci,
            TableKind::Anes,
            TableKind::Locco,
            TableKind::Oppscap,
        ]
        .into_iter()
        .map(|kind| {
            let changes = self
                .locality_changes
                .get(&kind)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let note = match (changes.is_empty(), self.diff.tables.contains_key(&kind)) {
                (false, _) => None,
                (true, true) => Some("No changes."),
                (true, false) => Some("Not in these releases."),
            };
            let rows = changes
                .iter()
                .take(LIST)
                .map(|c| {
                    let (before, after) = match c.change {
                        ChangeKind::Changed => (c.old_value.clone(), c.new_value.clone()),
                        ChangeKind::Added => ("—".into(), "added".into()),
                        ChangeKind::Deleted => ("deleted".into(), "—".into()),
                    };
                    [c.key.clone(), c.field.clone(), before, after]
                })
                .collect();
            LocalitySection {
                title: format!("{} changes ({})", kind.name().to_uppercase(), changes.len()),
                note,
                rows,
                total: changes.len(),
            }
        })
        .collect()
    }

    pub(super) fn licence_note(&self) -> &'static str {
        if self.options.cpt_descriptions {
            "CPT descriptions (codes starting with a digit) are copyright American Medical \
             Association and D-code descriptions copyright American Dental Association; they are \
             marked ‡ and can be left out with --no-cpt-descriptions."
        } else {
            "CPT (AMA) and CDT (ADA) descriptions are left out of this report."
        }
    }

    pub(super) fn mark(&self, code: &Code) -> &'static str {
        if is_licensed(&code.hcpcs) && self.options.cpt_descriptions {
            " ‡"
        } else {
            ""
        }
    }

    pub(super) fn payable_moves(&self) -> Vec<&(Code, String, String)> {
        self.status_moves
            .iter()
            .filter(|(_, a, b)| PAYABLE.contains(&a.as_str()) != PAYABLE.contains(&b.as_str()))
            .collect()
    }

    pub(super) fn by_status(codes: &[Code]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in codes {
            *counts.entry(c.status.clone()).or_default() += 1;
        }
        counts
    }

    /// Work RVU percent changes in bins, for the histogram.
    pub(super) fn work_histogram(&self) -> Vec<(&'static str, usize)> {
        const BINS: [(&str, f64); 10] = [
            ("≤ -50%", -50.0),
            ("-50 to -25%", -25.0),
            ("-25 to -10%", -10.0),
            ("-10 to -5%", -5.0),
            ("-5 to 0%", 0.0),
            ("0 to 5%", 5.0),
            ("5 to 10%", 10.0),
            ("10 to 25%", 25.0),
            ("25 to 50%", 50.0),
            ("> 50%", f64::INFINITY),
        ];
        let mut counts = [0usize; 10];
        let mut from_zero = 0;
        for (_, c) in &self.work_changes {
            match c.pct_delta {
                None => from_zero += 1,
                Some(p) => {
                    let bin = BINS.iter().position(|(_, upper)| p <= *upper).unwrap_or(9);
                    counts[bin] += 1;
                }
            }
        }
        let mut out: Vec<(&str, usize)> =
            BINS.iter().zip(counts).map(|((l, _), n)| (*l, n)).collect();
        out.push(("from 0.00", from_zero));
        out
    }
}

/// The PPRRVU variant the code lists and headline counts are for (None without PPRRVU).
pub(super) fn default_variant(diff: &Diff) -> Option<&str> {
    diff.tables.get(&TableKind::Pprrvu)?.variant.as_deref()
}

/// Plain sentences on what the PPRRVU headline counts mean: which variant, what only the
/// conversion factor moved, columns that appeared, and each other variant's own counts.
pub(super) fn variant_notes(d: &Diff) -> Vec<String> {
    let Some(p) = d.tables.get(&TableKind::Pprrvu) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let variant = |s: &TableSummary| match (&s.variant, &s.compared_with) {
        (Some(v), Some(w)) if v != w => format!("PPRRVU {v} (compared with {w})"),
        (Some(v), _) => format!("PPRRVU {v}"),
        _ => "PPRRVU".to_string(),
    };
    notes.push(format!(
        "{}: {} with RVU, status, indicator or description changes; {} with a conversion factor change only.",
        variant(p),
        codes(p.changed_values()),
        codes(p.changed_cf_only)
    ));
    for column in &p.new_columns {
        notes.push(format!(
            "New column: {column} (a layout change: empty in every {} row, so not counted as a change of each code).",
            d.from.release_id
        ));
    }
    for column in &p.dropped_columns {
        notes.push(format!("Column no longer filled: {column}."));
    }
    for (name, s) in p
        .variants
        .iter()
        .filter(|(n, _)| Some(*n) != p.variant.as_ref())
    {
        notes.push(format!(
            "{}: {} added, {} deleted, {} changed ({} beyond the conversion factor); {} rows before, {} after.",
            variant(s),
            s.added,
            s.deleted,
            s.changed,
            s.changed_values(),
            s.rows_before,
            s.rows_after
        ));
        if name == "qpp" {
            notes.push(
                "The QPP file lists only the priced statuses (A, C, R, T): a code of another status is absent from it, not deleted from Medicare."
                    .to_string(),
            );
        }
    }
    notes
}

pub(super) fn header_rows(f: &Facts) -> Vec<(String, String, String)> {
    let d = f.diff;
    let row = |label: &str, a: &Option<String>, b: &Option<String>| {
        (
            label.to_string(),
            a.clone().unwrap_or_else(|| "—".into()),
            b.clone().unwrap_or_else(|| "—".into()),
        )
    };
    let mut rows = vec![
        (
            "release".to_string(),
            d.from.release_id.clone(),
            d.to.release_id.clone(),
        ),
        row("released", &d.from.released, &d.to.released),
        row("source", &d.from.source, &d.to.source),
        row("sha256", &d.from.sha256, &d.to.sha256),
    ];
    for cf in &d.conversion_factors {
        rows.push(row(
            &format!("conversion factor ({})", cf.variant),
            &cf.before,
            &cf.after,
        ));
    }
    rows
}

pub(super) fn codes(n: usize) -> String {
    if n == 1 {
        "1 code".to_string()
    } else {
        format!("{n} codes")
    }
}

pub(super) fn short_key(c: &Change) -> String {
    match (c.key_value("hcpcs"), c.key_value("modifier")) {
        (Some(h), Some("")) | (Some(h), None) => h.to_string(),
        (Some(h), Some(m)) => format!("{h}-{m}"),
        _ => c.key.clone(),
    }
}
