//! The change report as one list of sections, shared by `report.md` and `report.html`: each
//! section is text, notes and tables, plus figures that only the HTML report draws (they show
//! what the tables already say). The templates in `templates/` render this list; the facts
//! come from `facts.rs`.

use super::facts::{
    Code, Facts, LIST, Mover, codes, dollars, header_rows, short_key, variant_notes,
};
use super::figures::{Histogram, Matrix};
use crate::stages::diff::Change;
use crate::tables::pprrvu::PAYABLE;
use crate::tables::{TableKind, format_decimal};

/// A whole change report, ready for a template.
pub struct Report {
    pub from: String,
    pub to: String,
    /// Releases, dates, sources, checksums and conversion factors, before and after.
    pub header: Table,
    /// Whose descriptions the report shows (CPT/CDT licence terms).
    pub licence: &'static str,
    pub sections: Vec<Section>,
}

pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

pub enum Block {
    Text(String),
    Table(Table),
    /// "… and N more (see changes.csv)."
    More(usize),
    /// Headline numbers as cards (HTML only; the table below them has the same counts).
    Cards(Vec<(usize, &'static str)>),
    /// The status transition matrix as a heat map (HTML only).
    Matrix(Matrix),
    /// The work RVU change histogram (HTML only).
    Histogram(Histogram),
}

pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// The first cell of each row labels it (`<th>` in HTML).
    pub row_headers: bool,
}

pub struct Column {
    pub label: &'static str,
    /// Right-aligned, tabular figures.
    pub numeric: bool,
}

#[derive(Default)]
pub struct Row {
    /// A CSS class for the whole row (`lost`, `gained`).
    pub class: Option<&'static str>,
    pub cells: Vec<Cell>,
}

#[derive(Default)]
pub struct Cell {
    pub text: String,
    /// Emphasised (bold) in both reports.
    pub strong: bool,
    /// A CSS class for the cell (`up`, `down`).
    pub class: Option<&'static str>,
}

impl Table {
    fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|&(label, numeric)| Column { label, numeric })
                .collect(),
            rows: Vec::new(),
            row_headers: false,
        }
    }

    fn push<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Row {
        self.rows.push(Row {
            class: None,
            cells: cells.into_iter().map(|c| Cell::from(c.into())).collect(),
        });
        self.rows.last_mut().expect("a row was just pushed")
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            ..Cell::default()
        }
    }
}

impl Section {
    fn new(title: impl Into<String>) -> Section {
        Section {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    fn with(mut self, block: Block) -> Section {
        self.blocks.push(block);
        self
    }

    /// "None." for an empty list; otherwise its table.
    fn list(self, total: usize, table: Table) -> Section {
        if total == 0 {
            return self.with(Block::Text("None.".into()));
        }
        self.table(total, table)
    }

    /// The table of a non-empty list (whose count the section already gave), and "… and N
    /// more" past `LIST` rows.
    fn table(mut self, total: usize, table: Table) -> Section {
        if total > 0 {
            self.blocks.push(Block::Table(table));
        }
        if total > LIST {
            self.blocks.push(Block::More(total - LIST));
        }
        self
    }
}

/// Arranges the facts into the report's sections, in reading order.
pub fn report(f: &Facts) -> Report {
    let mut header = Table::new(&[("", false), ("before", false), ("after", false)]);
    header.row_headers = true;
    for (label, a, b) in header_rows(f) {
        header.push([label, a, b]);
    }
    let mut sections = vec![headline(f)];
    sections.push(code_list("Added codes", f, &f.added));
    sections.push(code_list("Deleted codes", f, &f.deleted));
    sections.push(status_transitions(f));
    sections.push(work_changes(f));
    sections.extend(movers(f));
    sections.push(indicators(f));
    sections.push(descriptions(f));
    sections.extend(locality(f));
    Report {
        from: f.diff.from.release_id.clone(),
        to: f.diff.to.release_id.clone(),
        header,
        licence: f.licence_note(),
        sections,
    }
}

fn headline(f: &Facts) -> Section {
    let d = f.diff;
    let mut section = Section::new("Headline numbers");
    if let Some(s) = d.tables.get(&TableKind::Pprrvu) {
        section.blocks.push(Block::Cards(vec![
            (s.added, "codes added"),
            (s.deleted, "codes deleted"),
            (s.changed, "codes changed"),
            (s.changed_values(), "RVU, status or indicator changes"),
            (s.changed_cf_only, "conversion factor only"),
            (f.work_changes.len(), "work RVU changes"),
            (f.status_moves.len(), "status changes"),
        ]));
    }
    let mut table = Table::new(&[
        ("table", false),
        ("rows before", true),
        ("rows after", true),
        ("added", true),
        ("deleted", true),
        ("changed", true),
    ]);
    for (kind, s) in &d.tables {
        table.push([
            kind.to_string(),
            s.rows_before.to_string(),
            s.rows_after.to_string(),
            s.added.to_string(),
            s.deleted.to_string(),
            s.changed.to_string(),
        ]);
    }
    section.blocks.push(Block::Table(table));
    for note in variant_notes(d) {
        section.blocks.push(Block::Text(note));
    }
    if let Some(s) = d.tables.get(&TableKind::Pprrvu) {
        let fields: String = s
            .changed_by_field
            .iter()
            .map(|(field, n)| format!(" {field} {n};"))
            .collect();
        section.blocks.push(Block::Text(format!(
            "PPRRVU fields changed (keys):{fields}"
        )));
    }
    section
}

/// A code as the lists show it: `99213`, `27447-26`, with ‡ on a licensed description.
fn code_cell(f: &Facts, c: &Code) -> String {
    format!("{}{}", c.label(), f.mark(c))
}

fn code_list(title: &str, f: &Facts, codes: &[Code]) -> Section {
    let mut section = Section::new(format!("{title} ({})", codes.len()));
    if !codes.is_empty() {
        let counts: Vec<String> = Facts::by_status(codes)
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        section
            .blocks
            .push(Block::Text(format!("By status: {}", counts.join(", "))));
    }
    let mut table = Table::new(&[("code", false), ("status", false), ("description", false)]);
    for c in codes.iter().take(LIST) {
        table.push([code_cell(f, c), c.status.clone(), f.description(c)]);
    }
    section.list(codes.len(), table)
}

fn status_transitions(f: &Facts) -> Section {
    let mut section = Section::new("Status transitions").with(Block::Text(format!(
        "{} changed status; {} moved between payable (A, R, T) and not payable.",
        codes(f.status_moves.len()),
        f.payable_moves().len()
    )));
    if !f.diff.status_transitions.is_empty() {
        section
            .blocks
            .push(Block::Matrix(Matrix::new(&f.diff.status_transitions)));
    }
    let mut table = Table::new(&[
        ("code", false),
        ("from", false),
        ("to", false),
        ("payable change", false),
    ]);
    for (c, a, b) in f.status_moves.iter().take(LIST) {
        let (flag, class) = match (PAYABLE.contains(&a.as_str()), PAYABLE.contains(&b.as_str())) {
            (true, false) => ("no longer payable", Some("lost")),
            (false, true) => ("now payable", Some("gained")),
            _ => ("", None),
        };
        let row = table.push([c.label(), a.clone(), b.clone(), flag.to_string()]);
        row.class = class;
        row.cells[3].strong = class.is_some();
    }
    section.table(f.status_moves.len(), table)
}

fn work_changes(f: &Facts) -> Section {
    let section = Section::new(format!("Work RVU changes ({})", f.work_changes.len()))
        .with(Block::Text(format!(
            "{} changed only in practice expense or malpractice RVUs (work unchanged).",
            codes(f.pe_mp_only)
        )))
        .with(Block::Histogram(Histogram::new(&f.work_histogram())));
    let mut table = Table::new(&[
        ("code", false),
        ("description", false),
        ("work before", true),
        ("work after", true),
        ("change", true),
        ("%", true),
    ]);
    for (c, ch) in f.work_changes.iter().take(LIST) {
        let delta = ch.delta.clone().unwrap_or_default();
        let class = if delta.starts_with('-') { "down" } else { "up" };
        let pct = ch
            .pct_delta
            .map(|p| format!("{p:+.2}"))
            .unwrap_or_else(|| "new".into());
        let row = table.push([
            code_cell(f, c),
            f.description(c),
            ch.old_value.clone(),
            ch.new_value.clone(),
            delta,
            pct,
        ]);
        for cell in &mut row.cells[4..] {
            cell.class = Some(class);
        }
    }
    section.table(f.work_changes.len(), table)
}

fn movers(f: &Facts) -> [Section; 3] {
    [
        rvu_movers("Biggest movers: non-facility total RVUs", &f.rvu_movers),
        pay_movers(
            "Biggest movers: national non-facility payment",
            &f.nf_pay_movers,
        ),
        pay_movers("Biggest movers: national facility payment", &f.f_pay_movers),
    ]
}

fn rvu_movers(title: &str, movers: &[Mover]) -> Section {
    let mut table = Table::new(&[
        ("code", false),
        ("status", false),
        ("before", true),
        ("after", true),
        ("change", true),
    ]);
    for m in movers {
        table.push([
            m.code.label(),
            m.code.status.clone(),
            format_decimal(m.old_rvu, 2),
            format_decimal(m.new_rvu, 2),
            format_decimal(m.new_rvu - m.old_rvu, 2),
        ]);
    }
    Section::new(title).list(movers.len(), table)
}

fn pay_movers(title: &str, movers: &[Mover]) -> Section {
    let mut table = Table::new(&[
        ("code", false),
        ("before $", true),
        ("after $", true),
        ("change $", true),
        ("CF effect $", true),
        ("RVU effect $", true),
    ]);
    for m in movers {
        table.push([
            m.code.label(),
            dollars(m.old_pay),
            dollars(m.new_pay),
            dollars(m.new_pay - m.old_pay),
            dollars(m.cf_effect),
            dollars(m.rvu_effect),
        ]);
    }
    Section::new(title).list(movers.len(), table)
}

fn indicators(f: &Facts) -> Section {
    let mut table = Table::new(&[("indicator", false), ("codes", true), ("examples", false)]);
    for (field, changes) in &f.indicators {
        table.push([
            field.to_string(),
            changes.len().to_string(),
            indicator_examples(changes),
        ]);
    }
    Section::new("Indicator changes").list(f.indicators.len(), table)
}

fn descriptions(f: &Facts) -> Section {
    let mut table = Table::new(&[("code", false), ("before", false), ("after", false)]);
    for c in f.descriptions.iter().take(LIST) {
        let (before, after) = f
            .description_change(c)
            .unwrap_or(("(CPT/CDT, withheld)", "(CPT/CDT, withheld)"));
        table.push([short_key(c), before.to_string(), after.to_string()]);
    }
    Section::new(format!("Description changes ({})", f.descriptions.len()))
        .list(f.descriptions.len(), table)
}

/// The GPCI, ANES, LOCCO and OPPSCAP sections.
fn locality(f: &Facts) -> Vec<Section> {
    f.locality_sections()
        .into_iter()
        .map(|s| {
            let section = Section::new(s.title);
            if let Some(note) = s.note {
                return section.with(Block::Text(note.to_string()));
            }
            let mut table = Table::new(&[
                ("key", false),
                ("field", false),
                ("before", false),
                ("after", false),
            ]);
            for row in s.rows {
                table.push(row);
            }
            section.list(s.total, table)
        })
        .collect()
}

/// The first ten changes of an indicator, as `99213 0→1`.
fn indicator_examples(changes: &[&Change]) -> String {
    let examples: Vec<String> = changes
        .iter()
        .take(10)
        .map(|c| format!("{} {}→{}", short_key(c), c.old_value, c.new_value))
        .collect();
    examples.join(", ")
}
