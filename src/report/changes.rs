//! The change report of a diff: `changes.csv` / `changes.parquet` (one row per changed field,
//! added or deleted key), `summary.json`, and `report.md` / `report.html` for analysts.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{escape_md, escape_xml};
use crate::codes::is_licensed;
use crate::error::{Error, Result};
use crate::stages::diff::{Change, ChangeKind, Diff, GONE, NEW, Side, TableSummary};
use crate::tables::pprrvu::PAYABLE;
use crate::tables::{Kind, Record, Table, TableKind, Value, format_decimal};

#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Show CPT (AMA) and CDT (ADA) descriptions; public HCPCS Level II ones always show.
    pub cpt_descriptions: bool,
    /// Which reports for people to write beside the change data (`report.md`, `report.html`).
    pub markdown: bool,
    pub html: bool,
    /// `comparison.xlsx`, the workbook analysts review changes in.
    pub xlsx: bool,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            cpt_descriptions: true,
            markdown: true,
            html: true,
            xlsx: true,
        }
    }
}

const TOP: usize = 20;
const LIST: usize = 50;

/// Writes DIR/changes/<A>..<B>/ atomically (staging, then rename); returns the folder.
pub fn write(
    output: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<PathBuf> {
    stage(output, diff, from, to, options)?.commit()
}

/// A change report written to `.staging/`, waiting to be moved into `changes/`.
#[derive(Debug)]
pub struct Staged {
    staging: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Moves the report into place (replacing an older one for the same pair).
    pub fn commit(self) -> Result<PathBuf> {
        crate::published::replace_dir(&self.staging, &self.target)?;
        Ok(self.target)
    }
}

/// Writes the change report of `diff` into a staging folder; [`Staged::commit`] publishes it.
pub fn stage(
    output: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<Staged> {
    // Named from the typed ids (never from free text), so the folder cannot escape `changes/`.
    let name = format!("{}..{}", from.id, to.id);
    let root = output.join("changes");
    let staging = output
        .join(".staging")
        .join(format!("changes-{name}.{}", std::process::id()));
    for dir in [&root, &staging] {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let result = (|| {
        write_csv(&staging.join("changes.csv"), diff)?;
        write_parquet(&staging.join("changes.parquet"), diff)?;
        let summary = serde_json::to_string_pretty(diff).map_err(|e| Error::Output {
            what: "summary.json".into(),
            message: e.to_string(),
        })?;
        let facts = Facts::gather(diff, from, to, options);
        let mut files = vec![("summary.json", summary + "\n")];
        if options.markdown {
            files.push(("report.md", markdown(&facts)));
        }
        if options.html {
            files.push(("report.html", html(&facts)));
        }
        for (file, text) in files {
            let path = staging.join(file);
            fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        }
        if options.xlsx {
            let clock = std::time::Instant::now();
            super::workbook::write_comparison(
                &staging.join("comparison.xlsx"),
                diff,
                from,
                to,
                options,
            )?;
            tracing::info!(
                ms = clock.elapsed().as_millis() as u64,
                "wrote comparison.xlsx for {}..{}",
                from.id,
                to.id
            );
        }
        Ok(())
    })();
    if let Err(err) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    Ok(Staged {
        staging,
        target: root.join(&name),
    })
}

const CHANGE_COLUMNS: [&str; 15] = [
    "from_release",
    "to_release",
    "table",
    "change",
    "key",
    "variant",
    "hcpcs",
    "modifier",
    "mac",
    "locality",
    "field",
    "old_value",
    "new_value",
    "delta",
    "pct_delta",
];

fn change_cells(diff: &Diff, c: &Change) -> [String; 15] {
    let key = |name| c.key_value(name).unwrap_or("").to_string();
    [
        diff.from.release_id.clone(),
        diff.to.release_id.clone(),
        c.table.name().to_string(),
        c.change.name().to_string(),
        c.key.clone(),
        key("variant"),
        key("hcpcs"),
        key("modifier"),
        key("mac"),
        key("locality"),
        c.field.clone(),
        c.old_value.clone(),
        c.new_value.clone(),
        c.delta.clone().unwrap_or_default(),
        c.pct_delta.map(|p| format!("{p:.2}")).unwrap_or_default(),
    ]
}

fn write_csv(path: &Path, diff: &Diff) -> Result<()> {
    let fail = |e: csv::Error| Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_path(path).map_err(fail)?;
    writer.write_record(CHANGE_COLUMNS).map_err(fail)?;
    for change in &diff.changes {
        writer
            .write_record(change_cells(diff, change))
            .map_err(fail)?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}

fn write_parquet(path: &Path, diff: &Diff) -> Result<()> {
    let fail = |message: String| Error::Output {
        what: path.display().to_string(),
        message,
    };
    let rows: Vec<[String; 15]> = diff.changes.iter().map(|c| change_cells(diff, c)).collect();
    let mut columns: Vec<Column> = CHANGE_COLUMNS[..13]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values: StringChunked = rows
                .iter()
                .map(|r| (!r[i].is_empty() || i == 7).then_some(r[i].as_str()))
                .collect();
            values.into_series().with_name((*name).into()).into_column()
        })
        .collect();
    for (i, name) in [(13, "delta"), (14, "pct_delta")] {
        let values: Float64Chunked = rows.iter().map(|r| r[i].parse::<f64>().ok()).collect();
        columns.push(values.into_series().with_name(name.into()).into_column());
    }
    let mut df = DataFrame::new(rows.len(), columns).map_err(|e| fail(e.to_string()))?;
    crate::published::write_frame(path, &mut df)
}

/// A PPRRVU row's fields the report shows.
#[derive(Debug, Clone, Default)]
struct Code {
    hcpcs: String,
    modifier: String,
    variant: String,
    description: String,
    status: String,
    nf_total: i64,
    f_total: i64,
    cf: i64,
}

impl Code {
    fn from(table: &Table, record: &Record) -> Code {
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

    fn label(&self) -> String {
        if self.modifier.is_empty() {
            self.hcpcs.clone()
        } else {
            format!("{}-{}", self.hcpcs, self.modifier)
        }
    }
}

/// One per-locality section of the report.
struct LocalitySection {
    title: String,
    note: Option<&'static str>,
    rows: Vec<[String; 4]>,
    more: usize,
}

/// A payment move split into its parts, in millionths of a dollar.
#[derive(Debug, Clone)]
struct Mover {
    code: Code,
    old_rvu: i64,
    new_rvu: i64,
    old_pay: i64,
    new_pay: i64,
    cf_effect: i64,
    rvu_effect: i64,
}

fn dollars(micro: i64) -> String {
    let cents = (micro as f64 / 10_000.0).round() as i64;
    format_decimal(cents, 2)
}

/// Everything the report says, computed once for both renderings.
struct Facts<'a> {
    diff: &'a Diff,
    options: &'a ReportOptions,
    added: Vec<Code>,
    deleted: Vec<Code>,
    status_moves: Vec<(Code, String, String)>,
    work_changes: Vec<(Code, &'a Change)>,
    pe_mp_only: usize,
    rvu_movers: Vec<Mover>,
    nf_pay_movers: Vec<Mover>,
    f_pay_movers: Vec<Mover>,
    indicators: BTreeMap<&'static str, Vec<&'a Change>>,
    descriptions: Vec<&'a Change>,
    locality_changes: BTreeMap<TableKind, Vec<&'a Change>>,
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
    fn gather(diff: &'a Diff, from: &Side, to: &Side, options: &'a ReportOptions) -> Facts<'a> {
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

    fn description(&self, code: &Code) -> String {
        if !self.options.cpt_descriptions && is_licensed(&code.hcpcs) {
            "(CPT/CDT description withheld)".to_string()
        } else {
            code.description.clone()
        }
    }

    /// A description change's old and new text; None when the code's text is withheld.
    fn description_change<'c>(&self, c: &'c Change) -> Option<(&'c str, &'c str)> {
        let withheld =
            !self.options.cpt_descriptions && is_licensed(c.key_value("hcpcs").unwrap_or(""));
        (!withheld).then_some((c.old_value.as_str(), c.new_value.as_str()))
    }

    /// The GPCI, ANES, LOCCO and OPPSCAP sections: a note when there is nothing to list, else
    /// the first rows (key, field, before, after) and how many more there are.
    fn locality_sections(&self) -> Vec<LocalitySection> {
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
                more: changes.len().saturating_sub(LIST),
            }
        })
        .collect()
    }

    fn licence_note(&self) -> &'static str {
        if self.options.cpt_descriptions {
            "CPT descriptions (codes starting with a digit) are copyright American Medical \
             Association and D-code descriptions copyright American Dental Association; they are \
             marked ‡ and can be left out with --no-cpt-descriptions."
        } else {
            "CPT (AMA) and CDT (ADA) descriptions are left out of this report."
        }
    }

    fn mark(&self, code: &Code) -> &'static str {
        if is_licensed(&code.hcpcs) && self.options.cpt_descriptions {
            " ‡"
        } else {
            ""
        }
    }

    fn payable_moves(&self) -> Vec<&(Code, String, String)> {
        self.status_moves
            .iter()
            .filter(|(_, a, b)| PAYABLE.contains(&a.as_str()) != PAYABLE.contains(&b.as_str()))
            .collect()
    }

    fn by_status(codes: &[Code]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in codes {
            *counts.entry(c.status.clone()).or_default() += 1;
        }
        counts
    }

    /// Work RVU percent changes in bins, for the histogram.
    fn work_histogram(&self) -> Vec<(&'static str, usize)> {
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
fn default_variant(diff: &Diff) -> Option<&str> {
    diff.tables.get(&TableKind::Pprrvu)?.variant.as_deref()
}

/// Plain sentences on what the PPRRVU headline counts mean: which variant, what only the
/// conversion factor moved, columns that appeared, and each other variant's own counts.
fn variant_notes(d: &Diff) -> Vec<String> {
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

fn header_rows(f: &Facts) -> Vec<(String, String, String)> {
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

fn markdown(f: &Facts) -> String {
    let d = f.diff;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Changes from {} to {}\n",
        d.from.release_id, d.to.release_id
    );
    o.push_str("| | before | after |\n|---|---|---|\n");
    for (label, a, b) in header_rows(f) {
        let _ = writeln!(o, "| {label} | {} | {} |", escape_md(&a), escape_md(&b));
    }
    let _ = writeln!(o, "\n_{}_\n", f.licence_note());

    o.push_str("## Headline numbers\n\n| table | rows before | rows after | added | deleted | changed |\n|---|---:|---:|---:|---:|---:|\n");
    for (kind, s) in &d.tables {
        let _ = writeln!(
            o,
            "| {kind} | {} | {} | {} | {} | {} |",
            s.rows_before, s.rows_after, s.added, s.deleted, s.changed
        );
    }
    for note in variant_notes(d) {
        let _ = writeln!(o, "\n{}", escape_md(&note));
    }
    if let Some(s) = d.tables.get(&TableKind::Pprrvu) {
        o.push_str("\nPPRRVU fields changed (keys):");
        for (field, n) in &s.changed_by_field {
            let _ = write!(o, " {field} {n};");
        }
        o.push('\n');
    }

    for (title, codes) in [("Added codes", &f.added), ("Deleted codes", &f.deleted)] {
        let _ = writeln!(o, "\n## {title} ({})\n", codes.len());
        if codes.is_empty() {
            o.push_str("None.\n");
            continue;
        }
        let counts: Vec<String> = Facts::by_status(codes)
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let _ = writeln!(o, "By status: {}\n", counts.join(", "));
        o.push_str("| code | status | description |\n|---|---|---|\n");
        for c in codes.iter().take(LIST) {
            let _ = writeln!(
                o,
                "| {}{} | {} | {} |",
                c.label(),
                f.mark(c),
                c.status,
                escape_md(&f.description(c))
            );
        }
        if codes.len() > LIST {
            let _ = writeln!(o, "\n… and {} more (see changes.csv).", codes.len() - LIST);
        }
    }

    let _ = writeln!(o, "\n## Status transitions\n");
    let payable = f.payable_moves();
    let _ = writeln!(
        o,
        "{} changed status; {} moved between payable (A, R, T) and not payable.\n",
        codes(f.status_moves.len()),
        payable.len()
    );
    if !f.status_moves.is_empty() {
        o.push_str("| code | from | to | payable change |\n|---|---|---|---|\n");
        for (c, a, b) in f.status_moves.iter().take(LIST) {
            let flag = match (PAYABLE.contains(&a.as_str()), PAYABLE.contains(&b.as_str())) {
                (true, false) => "**no longer payable**",
                (false, true) => "**now payable**",
                _ => "",
            };
            let _ = writeln!(o, "| {} | {a} | {b} | {flag} |", c.label());
        }
    }

    let _ = writeln!(o, "\n## Work RVU changes ({})\n", f.work_changes.len());
    let _ = writeln!(
        o,
        "{} changed only in practice expense or malpractice RVUs (work unchanged).\n",
        codes(f.pe_mp_only)
    );
    if !f.work_changes.is_empty() {
        o.push_str("| code | description | work before | work after | change | % |\n|---|---|---:|---:|---:|---:|\n");
        for (c, ch) in f.work_changes.iter().take(LIST) {
            let _ = writeln!(
                o,
                "| {}{} | {} | {} | {} | {} | {} |",
                c.label(),
                f.mark(c),
                escape_md(&f.description(c)),
                ch.old_value,
                ch.new_value,
                ch.delta.clone().unwrap_or_default(),
                ch.pct_delta
                    .map(|p| format!("{p:+.2}"))
                    .unwrap_or_else(|| "new".into())
            );
        }
    }

    for (title, movers, unit) in [
        (
            "Biggest movers: non-facility total RVUs",
            &f.rvu_movers,
            "rvu",
        ),
        (
            "Biggest movers: national non-facility payment",
            &f.nf_pay_movers,
            "pay",
        ),
        (
            "Biggest movers: national facility payment",
            &f.f_pay_movers,
            "pay",
        ),
    ] {
        let _ = writeln!(o, "\n## {title}\n");
        if movers.is_empty() {
            o.push_str("None.\n");
            continue;
        }
        if unit == "rvu" {
            o.push_str("| code | status | before | after | change |\n|---|---|---:|---:|---:|\n");
            for m in movers {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    m.code.label(),
                    m.code.status,
                    format_decimal(m.old_rvu, 2),
                    format_decimal(m.new_rvu, 2),
                    format_decimal(m.new_rvu - m.old_rvu, 2)
                );
            }
        } else {
            o.push_str("| code | before $ | after $ | change $ | CF effect $ | RVU effect $ |\n|---|---:|---:|---:|---:|---:|\n");
            for m in movers {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    m.code.label(),
                    dollars(m.old_pay),
                    dollars(m.new_pay),
                    dollars(m.new_pay - m.old_pay),
                    dollars(m.cf_effect),
                    dollars(m.rvu_effect)
                );
            }
        }
    }

    let _ = writeln!(o, "\n## Indicator changes\n");
    if f.indicators.is_empty() {
        o.push_str("None.\n");
    }
    for (field, changes) in &f.indicators {
        let _ = writeln!(
            o,
            "- **{field}**: {} codes ({})",
            changes.len(),
            indicator_examples(changes)
        );
    }

    let _ = writeln!(o, "\n## Description changes ({})\n", f.descriptions.len());
    if f.descriptions.is_empty() {
        o.push_str("None.\n");
    }
    for c in f.descriptions.iter().take(LIST) {
        match f.description_change(c) {
            None => {
                let _ = writeln!(o, "- {} (CPT/CDT, withheld)", short_key(c));
            }
            Some((old, new)) => {
                let _ = writeln!(
                    o,
                    "- {}: \"{}\" → \"{}\"",
                    short_key(c),
                    escape_md(old),
                    escape_md(new)
                );
            }
        }
    }

    for section in f.locality_sections() {
        let _ = writeln!(o, "\n## {}\n", section.title);
        if let Some(note) = section.note {
            let _ = writeln!(o, "{note}");
            continue;
        }
        o.push_str("| key | field | before | after |\n|---|---|---|---|\n");
        for row in &section.rows {
            let cells: Vec<String> = row.iter().map(|c| escape_md(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        if section.more > 0 {
            let _ = writeln!(o, "\n… and {} more (see changes.csv).", section.more);
        }
    }
    o
}

fn codes(n: usize) -> String {
    if n == 1 {
        "1 code".to_string()
    } else {
        format!("{n} codes")
    }
}

/// The first ten changes of an indicator, as `99213 0→1` (both reports list them).
fn indicator_examples(changes: &[&Change]) -> String {
    let examples: Vec<String> = changes
        .iter()
        .take(10)
        .map(|c| format!("{} {}→{}", short_key(c), c.old_value, c.new_value))
        .collect();
    examples.join(", ")
}

fn short_key(c: &Change) -> String {
    match (c.key_value("hcpcs"), c.key_value("modifier")) {
        (Some(h), Some("")) | (Some(h), None) => h.to_string(),
        (Some(h), Some(m)) => format!("{h}-{m}"),
        _ => c.key.clone(),
    }
}

const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:2px solid #e3e3e3;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f6f8}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem}.card b{display:block;font-size:1.4rem}
.up{color:#0a6b2d}.down{color:#a4161a}.lost{background:#fde2e2}.gained{background:#def7e5}.note{color:#555;font-size:.85rem}
svg text{font:11px system-ui,sans-serif}
@media print{body{max-width:none;font-size:11px}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}}
@media (max-width:600px){body{padding:.5rem;font-size:14px}}";

fn html(f: &Facts) -> String {
    let d = f.diff;
    let e = |s: &str| escape_xml(s);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Changes {} → {}</title><style>{CSS}</style></head><body>\n",
        e(&d.from.release_id),
        e(&d.to.release_id)
    );
    let _ = writeln!(
        o,
        "<h1>Changes from {} to {}</h1>",
        e(&d.from.release_id),
        e(&d.to.release_id)
    );
    o.push_str("<table><tr><th></th><th>before</th><th>after</th></tr>");
    for (label, a, b) in header_rows(f) {
        let _ = write!(
            o,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            e(&label),
            e(&a),
            e(&b)
        );
    }
    let _ = writeln!(o, "</table><p class=\"note\">{}</p>", e(f.licence_note()));

    o.push_str("<h2>Headline numbers</h2><div class=\"cards\">");
    if let Some(s) = d.tables.get(&TableKind::Pprrvu) {
        for (label, n) in [
            ("codes added", s.added),
            ("codes deleted", s.deleted),
            ("codes changed", s.changed),
            ("RVU, status or indicator changes", s.changed_values()),
            ("conversion factor only", s.changed_cf_only),
            ("work RVU changes", f.work_changes.len()),
            ("status changes", f.status_moves.len()),
        ] {
            let _ = write!(o, "<div class=\"card\"><b>{n}</b>{label}</div>");
        }
    }
    o.push_str("</div><table><tr><th>table</th><th class=n>rows before</th><th class=n>rows after</th><th class=n>added</th><th class=n>deleted</th><th class=n>changed</th></tr>");
    for (kind, s) in &d.tables {
        let _ = write!(
            o,
            "<tr><td>{kind}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            s.rows_before, s.rows_after, s.added, s.deleted, s.changed
        );
    }
    o.push_str("</table>\n");
    for note in variant_notes(d) {
        let _ = writeln!(o, "<p>{}</p>", e(&note));
    }

    for (title, codes) in [("Added codes", &f.added), ("Deleted codes", &f.deleted)] {
        let _ = write!(o, "<h2>{title} ({})</h2>", codes.len());
        let counts: Vec<String> = Facts::by_status(codes)
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        if !counts.is_empty() {
            let _ = write!(o, "<p>By status: {}</p>", e(&counts.join(", ")));
            o.push_str("<table><tr><th>code</th><th>status</th><th>description</th></tr>");
            for c in codes.iter().take(LIST) {
                let _ = write!(
                    o,
                    "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                    e(&c.label()),
                    f.mark(c),
                    e(&c.status),
                    e(&f.description(c))
                );
            }
            o.push_str("</table>");
        }
        o.push('\n');
    }

    let _ = write!(
        o,
        "<h2>Status transitions</h2><p>{} changed status; {} moved between payable (A, R, T) and not payable.</p>",
        codes(f.status_moves.len()),
        f.payable_moves().len()
    );
    o.push_str(&status_matrix_html(d));
    if !f.status_moves.is_empty() {
        o.push_str("<table><tr><th>code</th><th>from</th><th>to</th></tr>");
        for (c, a, b) in f.status_moves.iter().take(LIST) {
            let class = match (PAYABLE.contains(&a.as_str()), PAYABLE.contains(&b.as_str())) {
                (true, false) => " class=\"lost\"",
                (false, true) => " class=\"gained\"",
                _ => "",
            };
            let _ = write!(
                o,
                "<tr{class}><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&c.label()),
                e(a),
                e(b)
            );
        }
        o.push_str("</table>");
    }

    let _ = write!(
        o,
        "\n<h2>Work RVU changes ({})</h2><p>{} changed only in practice expense or malpractice RVUs (work unchanged).</p>",
        f.work_changes.len(),
        codes(f.pe_mp_only)
    );
    o.push_str(&histogram_svg(&f.work_histogram()));
    if !f.work_changes.is_empty() {
        o.push_str("<table><tr><th>code</th><th>description</th><th class=n>before</th><th class=n>after</th><th class=n>change</th><th class=n>%</th></tr>");
        for (c, ch) in f.work_changes.iter().take(LIST) {
            let class = if ch.delta.as_deref().is_some_and(|d| d.starts_with('-')) {
                "down"
            } else {
                "up"
            };
            let _ = write!(
                o,
                "<tr><td>{}{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=\"n {class}\">{}</td><td class=\"n {class}\">{}</td></tr>",
                e(&c.label()),
                f.mark(c),
                e(&f.description(c)),
                e(&ch.old_value),
                e(&ch.new_value),
                e(ch.delta.as_deref().unwrap_or("")),
                ch.pct_delta
                    .map(|p| format!("{p:+.2}"))
                    .unwrap_or_else(|| "new".into())
            );
        }
        o.push_str("</table>");
    }

    for (title, movers, rvu) in [
        (
            "Biggest movers: non-facility total RVUs",
            &f.rvu_movers,
            true,
        ),
        (
            "Biggest movers: national non-facility payment",
            &f.nf_pay_movers,
            false,
        ),
        (
            "Biggest movers: national facility payment",
            &f.f_pay_movers,
            false,
        ),
    ] {
        let _ = write!(o, "\n<h2>{title}</h2>");
        if movers.is_empty() {
            o.push_str("<p>None.</p>");
            continue;
        }
        if rvu {
            o.push_str("<table><tr><th>code</th><th>status</th><th class=n>before</th><th class=n>after</th><th class=n>change</th></tr>");
            for m in movers {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                    e(&m.code.label()),
                    e(&m.code.status),
                    format_decimal(m.old_rvu, 2),
                    format_decimal(m.new_rvu, 2),
                    format_decimal(m.new_rvu - m.old_rvu, 2)
                );
            }
        } else {
            o.push_str("<table><tr><th>code</th><th class=n>before $</th><th class=n>after $</th><th class=n>change $</th><th class=n>CF effect $</th><th class=n>RVU effect $</th></tr>");
            for m in movers {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                    e(&m.code.label()),
                    dollars(m.old_pay),
                    dollars(m.new_pay),
                    dollars(m.new_pay - m.old_pay),
                    dollars(m.cf_effect),
                    dollars(m.rvu_effect)
                );
            }
        }
        o.push_str("</table>");
    }

    o.push_str("\n<h2>Indicator changes</h2>");
    if f.indicators.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        o.push_str("<table><tr><th>indicator</th><th class=n>codes</th><th>examples</th></tr>");
        for (field, changes) in &f.indicators {
            let _ = write!(
                o,
                "<tr><td>{field}</td><td class=n>{}</td><td>{}</td></tr>",
                changes.len(),
                e(&indicator_examples(changes))
            );
        }
        o.push_str("</table>");
    }

    let _ = write!(
        o,
        "\n<h2>Description changes ({})</h2><table><tr><th>code</th><th>before</th><th>after</th></tr>",
        f.descriptions.len()
    );
    for c in f.descriptions.iter().take(LIST) {
        let (a, b) = f
            .description_change(c)
            .unwrap_or(("(withheld)", "(withheld)"));
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&short_key(c)),
            e(a),
            e(b)
        );
    }
    o.push_str("</table>");

    for section in f.locality_sections() {
        let _ = write!(o, "\n<h2>{}</h2>", e(&section.title));
        if let Some(note) = section.note {
            let _ = write!(o, "<p>{note}</p>");
            continue;
        }
        o.push_str("<table><tr><th>key</th><th>field</th><th>before</th><th>after</th></tr>");
        for row in &section.rows {
            let cells: String = row.iter().map(|c| format!("<td>{}</td>", e(c))).collect();
            let _ = write!(o, "<tr>{cells}</tr>");
        }
        o.push_str("</table>");
        if section.more > 0 {
            let _ = write!(
                o,
                "<p class=\"note\">… and {} more in changes.csv.</p>",
                section.more
            );
        }
    }
    o.push_str("\n<p class=\"note\">Generated by rvu-pipeline from the CMS PFS Relative Value Files.</p></body></html>\n");
    o
}

/// The status transition matrix as a heat-mapped table (rows: before, columns: after).
fn status_matrix_html(d: &Diff) -> String {
    let m = &d.status_transitions;
    if m.is_empty() {
        return String::new();
    }
    let mut columns: Vec<&String> = m.values().flat_map(|row| row.keys()).collect();
    columns.sort();
    columns.dedup();
    let max = m
        .values()
        .flat_map(|r| r.values())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let mut o = String::from("<table class=\"matrix\"><tr><th>before \\ after</th>");
    for c in &columns {
        let _ = write!(o, "<th class=n>{}</th>", escape_xml(c));
    }
    o.push_str("</tr>");
    for (from, row) in m {
        let _ = write!(o, "<tr><th>{}</th>", escape_xml(from));
        for c in &columns {
            let n = row.get(*c).copied().unwrap_or(0);
            let strength = if n == 0 {
                0.0
            } else {
                0.15 + 0.85 * (n as f64).ln_1p() / (max as f64).ln_1p()
            };
            let changed = from != *c && from != NEW && *c != GONE;
            let (r, g, b) = if changed {
                (214, 40, 40)
            } else {
                (40, 110, 214)
            };
            let _ = write!(
                o,
                "<td class=n style=\"background:rgba({r},{g},{b},{strength:.2})\">{}</td>",
                if n == 0 { String::new() } else { n.to_string() }
            );
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    o
}

/// An inline SVG bar chart of the work RVU percent-change bins.
fn histogram_svg(bins: &[(&str, usize)]) -> String {
    let (width, height, left, bottom) = (640.0, 220.0, 40.0, 50.0);
    let max = bins.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let bar = (width - left) / bins.len() as f64;
    let mut o = format!(
        "<svg role=\"img\" aria-label=\"Histogram of work RVU percent changes\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width:{width}px\"><title>Work RVU percent changes</title>"
    );
    for (i, (label, n)) in bins.iter().enumerate() {
        let h = (height - bottom - 10.0) * (*n as f64) / max;
        let x = left + i as f64 * bar;
        let y = height - bottom - h;
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2f6fd6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{n}</text><text transform=\"translate({:.1},{:.1}) rotate(35)\">{}</text>",
            x + 2.0,
            bar - 4.0,
            x + bar / 2.0,
            y - 2.0,
            x + bar / 2.0 - 10.0,
            height - bottom + 12.0,
            escape_xml(label)
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{left}\" y1=\"{0}\" x2=\"{width}\" y2=\"{0}\" stroke=\"#999\"/></svg>",
        height - bottom
    );
    o
}
