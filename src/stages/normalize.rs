//! Normalize: every member of a release becomes its canonical table, every format CMS shipped
//! of a table is parsed, and the formats are compared cell by cell.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;

use serde::Serialize;

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};
use crate::read::fixed_width::Layout;
use crate::read::{self, Format, Grid};
use crate::stages::extract::{Extracted, Member};
use crate::tables::{Kind, ParseContext, Table, TableKind, Value, compare_keys, pprrvu};

/// What the user chose for this run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Formats to parse; None parses every format present (so the cross-check runs).
    pub formats: Option<Vec<Format>>,
    /// Overrides the release id told from the contents.
    pub release: Option<ReleaseId>,
    pub allow_format_mismatch: bool,
}

/// A normalized release: its id and one canonical table per table it contains.
#[derive(Debug)]
pub struct Normalized {
    pub release_id: ReleaseId,
    /// The edition date from a `RELEASED mm/dd/yyyy` line, as written.
    pub released: Option<String>,
    pub tables: BTreeMap<TableKind, NormalizedTable>,
    pub missing: Vec<TableKind>,
    pub warnings: Vec<String>,
}

impl Normalized {
    /// Each table of the release, by kind.
    pub fn table_refs(&self) -> BTreeMap<TableKind, &Table> {
        self.tables.iter().map(|(k, t)| (*k, &t.table)).collect()
    }
}

#[derive(Debug)]
pub struct NormalizedTable {
    /// The table from the preferred format (csv, then xlsx, then txt).
    pub table: Table,
    pub primary: Format,
    pub parsed: Vec<FormatSummary>,
    pub cross_checks: Vec<CrossCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FormatSummary {
    pub format: Format,
    pub files: Vec<String>,
    pub rows: usize,
    pub skipped_rows: usize,
}

/// The comparison of one format's table against the primary format's. Numbers, codes, flags
/// and keys must agree (`mismatches`); prose columns may differ between CMS's own formats
/// (`text_differences`, a warning). Text that a fixed-width field cut short is not a difference.
#[derive(Debug, Clone, Serialize)]
pub struct CrossCheck {
    pub table: TableKind,
    pub primary: Format,
    pub other: Format,
    pub mismatches: usize,
    pub examples: Vec<Mismatch>,
    pub text_differences: usize,
    pub text_examples: Vec<Mismatch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub key: String,
    pub column: String,
    pub primary_value: String,
    pub other_value: String,
}

const MAX_EXAMPLES: usize = 10;

/// Normalizes an extracted release. `hint_path` is the path the user gave (its file and
/// folder names hint at the release id).
pub fn normalize(extracted: &Extracted, hint_path: &Path, options: &Options) -> Result<Normalized> {
    let mut warnings = Vec::new();
    let selected: Vec<&Member> = extracted
        .members
        .iter()
        .filter(|m| {
            options
                .formats
                .as_ref()
                .is_none_or(|f| f.contains(&m.format))
        })
        .collect();
    if selected.is_empty() {
        return Err(Error::Release(format!(
            "{}: no table files in the selected formats",
            extracted.source
        )));
    }
    let grids = read_tabular(&selected)?;
    let (title_id, released) = edition_from_grids(&grids);
    let release_id = resolve_release_id(title_id, hint_path, options.release, &mut warnings)?;
    let txt_grids = read_fixed_width(&selected, release_id.year, &mut warnings)?;

    let mut by_table: BTreeMap<TableKind, FormatGrids> = BTreeMap::new();
    for (member, grid) in grids.iter().chain(txt_grids.iter()) {
        by_table
            .entry(member.table)
            .or_default()
            .entry(member.format)
            .or_default()
            .push((member, grid));
    }

    let mut tables = BTreeMap::new();
    for (kind, formats) in by_table {
        // GPCI sorts before LOCCO, so LOCCO's blank states can be told from it.
        let gpci = tables
            .get(&TableKind::Gpci)
            .map(|t: &NormalizedTable| &t.table);
        let normalized = normalize_table(kind, &formats, release_id, options, gpci, &mut warnings)?;
        warnings.extend(normalized.cross_checks.iter().filter_map(text_warning));
        tables.insert(kind, normalized);
    }
    let missing = TableKind::ALL
        .into_iter()
        .filter(|k| !tables.contains_key(k))
        .collect();
    Ok(Normalized {
        release_id,
        released,
        tables,
        missing,
        warnings,
    })
}

/// One table's grids, by format (a format may hold two files: the 2026 QPP pair).
type FormatGrids<'a> = BTreeMap<Format, Vec<(&'a Member, &'a Grid)>>;

/// Reads the csv and xlsx members, in parallel (xlsx is the slow one).
fn read_tabular<'a>(members: &[&'a Member]) -> Result<Vec<(&'a Member, Grid)>> {
    let tabular: Vec<&Member> = members
        .iter()
        .copied()
        .filter(|m| m.format != Format::Txt)
        .collect();
    on_threads(&tabular, |&member| read_grid(member).map(|g| (member, g)))
        .into_iter()
        .collect()
}

/// `work` on each item, a thread each, results in the items' order.
fn on_threads<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn read_grid(member: &Member) -> Result<Grid> {
    match member.format {
        Format::Csv => read::csv::read(&member.name, &member.bytes),
        Format::Xlsx => {
            let (spec, name) = (member.table.file_columns(), member.table.name());
            read::xlsx::read(&member.name, &member.bytes, |grid| {
                crate::tables::find_header(grid, spec, name).is_ok()
            })
            .or_else(|_| read::xlsx::read(&member.name, &member.bytes, |_| true))
        }
        Format::Txt => unreachable!("fixed-width members are read once the year is known"),
    }
}

fn read_fixed_width<'a>(
    members: &[&'a Member],
    year: u16,
    warnings: &mut Vec<String>,
) -> Result<Vec<(&'a Member, Grid)>> {
    let mut known = Vec::new();
    for member in members.iter().filter(|m| m.format == Format::Txt) {
        match member.table.txt_layout(year) {
            Some(layout) => known.push((*member, layout)),
            None => warnings.push(format!(
                "{}: no fixed-width layout is known for {} in {year}; the file was not parsed \
                 (its csv/xlsx twins were)",
                member.name, member.table
            )),
        }
    }
    on_threads(&known, |(member, layout)| {
        read::fixed_width::read(&member.name, &member.bytes, layout).map(|g| (*member, g))
    })
    .into_iter()
    .collect()
}

/// The release told by an edition title ("2025 ... Relative Value File January Release") and
/// the `RELEASED mm/dd/yyyy` date, from the first rows of any grid.
fn edition_from_grids(grids: &[(&Member, Grid)]) -> (Option<ReleaseId>, Option<String>) {
    let mut id = None;
    let mut released = None;
    for (_, grid) in grids {
        for cell in grid.rows.iter().take(12).flat_map(|r| r.cells.iter()) {
            let text = cell.trim();
            if id.is_none() {
                id = ReleaseId::from_edition_title(text);
            }
            if released.is_none() {
                released = text
                    .strip_prefix("RELEASED")
                    .map(|date| date.trim().to_string());
            }
        }
    }
    (id, released)
}

/// Decides the release id from contents, path hint and override; disagreements are warnings.
fn resolve_release_id(
    from_title: Option<ReleaseId>,
    path: &Path,
    from_user: Option<ReleaseId>,
    warnings: &mut Vec<String>,
) -> Result<ReleaseId> {
    let hint = hint_from_path(path);
    if let Some(user) = from_user {
        if let Some(title) = from_title.filter(|t| !t.same_quarter(&user)) {
            warnings.push(format!(
                "--release {user} overrides the contents, which say {title}"
            ));
        }
        return Ok(user);
    }
    match (from_title, hint) {
        (Some(title), Some(hint)) if title.same_quarter(&hint) => Ok(hint),
        (Some(title), Some(hint)) => {
            warnings.push(format!(
                "the name '{}' says {hint} but the contents say {title}; using {title}",
                path.display()
            ));
            Ok(title)
        }
        (Some(title), None) => Ok(title),
        (None, Some(hint)) => Ok(hint),
        (None, None) => Err(Error::Release(format!(
            "{}: cannot tell which release this is (no edition title with a month in the \
             files, no RVUyyQ in the name); pass --release, e.g. --release RVU20A",
            path.display()
        ))),
    }
}

/// `RVUyyQ` in the file name, else in its folder's name.
pub fn hint_from_path(path: &Path) -> Option<ReleaseId> {
    path.components()
        .rev()
        .take(2)
        .find_map(|c| ReleaseId::find_in(&c.as_os_str().to_string_lossy()))
}

/// Types every member's grid into the table, on a thread each (PPRRVU's files are most of a
/// release, and from 2026 there are two per format), in `formats` order.
fn parse_members(
    kind: TableKind,
    formats: &FormatGrids,
    release_id: ReleaseId,
) -> Vec<Result<Table>> {
    let members: Vec<(&Member, &Grid)> = formats.values().flatten().copied().collect();
    on_threads(&members, |&(member, grid)| {
        let ctx = ParseContext {
            release_id: release_id.to_string(),
            year: release_id.year,
            variant: match kind {
                TableKind::Pprrvu => pprrvu::variant_of(&member.name).to_string(),
                _ => "standard".to_string(),
            },
        };
        kind.parse(grid, &ctx)
    })
}

fn normalize_table(
    kind: TableKind,
    formats: &FormatGrids,
    release_id: ReleaseId,
    options: &Options,
    gpci: Option<&Table>,
    warnings: &mut Vec<String>,
) -> Result<NormalizedTable> {
    let mut parsed: Vec<(Format, Table, Vec<String>)> = Vec::new();
    let mut typed = parse_members(kind, formats, release_id).into_iter();
    for (format, members) in formats {
        let mut combined: Option<Table> = None;
        let mut files = Vec::new();
        for (member, _) in members {
            let table = typed.next().ok_or_else(|| {
                Error::Release(format!("{kind}: {} was not parsed", member.name))
            })??;
            files.push(member.name.clone());
            match combined.as_mut() {
                Some(c) => c.append(table),
                None => combined = Some(table),
            }
        }
        if let Some(mut table) = combined {
            if kind == TableKind::Locco {
                let missing = crate::tables::locco::fill_states_from_gpci(&mut table, gpci);
                if !missing.is_empty() {
                    warnings.push(format!(
                        "{}: no state for {} (blank in the file, and the release's GPCI does \
                         not name one); left empty",
                        files.join(", "),
                        missing.join(", ")
                    ));
                }
            }
            parsed.push((*format, table, files));
        }
    }
    let summaries = parsed
        .iter()
        .map(|(format, table, files)| FormatSummary {
            format: *format,
            files: files.clone(),
            rows: table.rows.len(),
            skipped_rows: table.skipped_rows,
        })
        .collect();
    let mut iter = parsed.into_iter();
    let (primary, table, _) = iter
        .next()
        .ok_or_else(|| Error::Release(format!("{kind}: no file could be parsed")))?;
    let cross_checks: Vec<CrossCheck> = iter
        .map(|(format, other, _)| {
            let layout = (format == Format::Txt)
                .then(|| kind.txt_layout(release_id.year))
                .flatten();
            cross_check(&table, primary, &other, format, layout.as_ref())
        })
        .collect();
    if !options.allow_format_mismatch {
        let failed: Vec<&CrossCheck> = cross_checks.iter().filter(|c| c.mismatches > 0).collect();
        if let Some(first) = failed.first() {
            return Err(Error::FormatMismatch {
                table: kind.name(),
                count: failed.iter().map(|c| c.mismatches).sum(),
                examples: render_examples(first),
            });
        }
    }
    Ok(NormalizedTable {
        table,
        primary,
        parsed: summaries,
        cross_checks,
    })
}

fn text_warning(check: &CrossCheck) -> Option<String> {
    let first = check.text_examples.first()?;
    Some(format!(
        "{}: {} differs from {} in {} text cell(s), e.g. {} {}: {:?} vs {:?}",
        check.table,
        check.other,
        check.primary,
        check.text_differences,
        first.key,
        first.column,
        first.primary_value,
        first.other_value
    ))
}

fn render_examples(check: &CrossCheck) -> String {
    check
        .examples
        .iter()
        .map(|m| {
            format!(
                "  {} {}: {} {:?} vs {} {:?}",
                m.key, m.column, check.primary, m.primary_value, check.other, m.other_value
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares two parses of one table cell by cell, matching rows by natural key (and by order
/// of appearance for keys CMS lists twice). `other_layout` is the fixed-width layout the other
/// table was read with, if any: its field widths tell which text was cut short. Both tables
/// are in key order, as every parse leaves them ([`Table::sort`]).
pub fn cross_check(
    primary: &Table,
    primary_format: Format,
    other: &Table,
    other_format: Format,
    other_layout: Option<&Layout>,
) -> CrossCheck {
    let mut check = CrossCheck {
        table: primary.kind,
        primary: primary_format,
        other: other_format,
        mismatches: 0,
        examples: Vec::new(),
        text_differences: 0,
        text_examples: Vec::new(),
    };
    // Both tables are sorted by key (then by the file's row order), so one walk through both
    // pairs each row with the same occurrence of its key on the other side. The primary's
    // rows are walked in order so the examples are the same on every run.
    let key = primary.key_indexes();
    let columns = primary.columns();
    let (rows, others) = (&primary.rows, &other.rows);
    debug_assert!(
        [rows, others]
            .iter()
            .all(|t| t.is_sorted_by(|a, b| compare_keys(&key, a, b).is_le()))
    );
    let mut other_only = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < rows.len() {
        let order = match others.get(j) {
            Some(b) => compare_keys(&key, &rows[i], b),
            None => std::cmp::Ordering::Less,
        };
        if order.is_gt() {
            other_only.push(j);
            j += 1;
            continue;
        }
        let at = i;
        i += 1;
        // The label is written only for a difference (almost every row has none).
        let label = || row_label(primary, &key, at);
        let a = &rows[at];
        if order.is_lt() {
            check.note(false, &label(), "(row)", "present".into(), "missing".into());
            continue;
        }
        let b = &others[j];
        j += 1;
        for (c, column) in columns.iter().enumerate() {
            let (x, y) = (&a.values[c], &b.values[c]);
            if column.name == "release_id" || x == y {
                continue;
            }
            let width = other_layout
                .and_then(|l| l.fields.iter().find(|f| f.name == column.name))
                .map(|f| f.end + 1 - f.start);
            if column.kind == Kind::FreeText && width.is_some_and(|w| cut_short(x, y, w)) {
                continue;
            }
            check.note(
                column.kind == Kind::FreeText,
                &label(),
                column.name,
                x.render(column.kind),
                y.render(column.kind),
            );
        }
    }
    other_only.extend(j..others.len());
    for j in other_only {
        check.note(
            false,
            &row_label(other, &key, j),
            "(row)",
            "missing".into(),
            "present".into(),
        );
    }
    check
}

impl CrossCheck {
    fn note(
        &mut self,
        prose: bool,
        key: &str,
        column: &str,
        primary_value: String,
        other_value: String,
    ) {
        let (count, examples) = if prose {
            (&mut self.text_differences, &mut self.text_examples)
        } else {
            (&mut self.mismatches, &mut self.examples)
        };
        *count += 1;
        if examples.len() < MAX_EXAMPLES {
            examples.push(Mismatch {
                key: key.to_string(),
                column: column.to_string(),
                primary_value,
                other_value,
            });
        }
    }
}

/// True when `short` is `full` cut to a fixed-width field of `width` characters.
fn cut_short(full: &Value, short: &Value, width: usize) -> bool {
    match (full, short) {
        (Value::Text(full), Value::Text(short)) => {
            let cut: String = full.chars().take(width).collect();
            full.chars().count() > width && cut.trim_end() == short
        }
        _ => false,
    }
}

/// `[hcpcs=99213 modifier=]` for a table's row `at`, with `#2` for a key's second occurrence.
fn row_label(table: &Table, key: &[usize], at: usize) -> String {
    let rows = &table.rows;
    let occurrence = 1 + rows[..at]
        .iter()
        .rev()
        .take_while(|r| compare_keys(key, r, &rows[at]).is_eq())
        .count();
    let text = table.key_text(&table.key_of(&rows[at]));
    if occurrence > 1 {
        format!("[{text} #{occurrence}]")
    } else {
        format!("[{text}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{Record, index_of};

    /// A GPCI table of (mac, locality, state) rows, in key order as a parse leaves it.
    fn gpci(rows: &[(&str, &str, &str)]) -> Table {
        let spec = TableKind::Gpci.columns();
        let records = rows
            .iter()
            .enumerate()
            .map(|(n, (mac, locality, state))| {
                let mut values = vec![Value::Null; spec.len()];
                for (name, text) in [("mac", mac), ("locality", locality), ("state", state)] {
                    if let Some(i) = index_of(spec, name) {
                        values[i] = Value::Text((*text).into());
                    }
                }
                Record {
                    values,
                    source_row: n + 2,
                }
            })
            .collect();
        let mut table = Table {
            kind: TableKind::Gpci,
            file: "GPCI.csv".into(),
            rows: records,
            skipped_rows: 0,
        };
        table.sort();
        table
    }

    #[test]
    fn cross_checks_pair_rows_by_key_and_occurrence() {
        // 01112-05 listed twice in the primary, once in the other; 01112-06 differs;
        // 01112-07 only in the other; 01112-08 the same in both.
        let primary = gpci(&[
            ("01112", "08", "CA"),
            ("01112", "05", "CA"),
            ("01112", "06", "CA"),
            ("01112", "05", "CA"),
        ]);
        let other = gpci(&[
            ("01112", "07", "CA"),
            ("01112", "05", "CA"),
            ("01112", "06", "NV"),
            ("01112", "08", "CA"),
        ]);
        let check = cross_check(&primary, Format::Csv, &other, Format::Xlsx, None);
        assert_eq!(check.mismatches, 3);
        let found: Vec<(&str, &str, &str, &str)> = check
            .examples
            .iter()
            .map(|m| {
                (
                    m.key.as_str(),
                    m.column.as_str(),
                    m.primary_value.as_str(),
                    m.other_value.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("[mac=01112 locality=05 #2]", "(row)", "present", "missing"),
                ("[mac=01112 locality=06]", "state", "CA", "NV"),
                ("[mac=01112 locality=07]", "(row)", "missing", "present"),
            ]
        );
    }
}
