//! `comparison.xlsx`: the change report as the workbook analysts already use (the HFMA's
//! yearly PFS comparison): a summary, payments and RVUs side by side, the largest changes,
//! added and deleted codes, status changes, the status table and a geographic read.
//!
//! Numbers are written as numbers (RVUs at 2 decimals, dollars as currency, percents as
//! percents), every table has a frozen header row and an autofilter, and the bytes depend only
//! on the inputs (the document's creation date is fixed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError,
};

use super::changes::ReportOptions;
use crate::codes::is_licensed;
use crate::error::{Error, Result};
use crate::payment::{self, CodeRvus, GpciColumns, Gpcis, PAYABLE, PprrvuColumns};
use crate::stages::diff::{Diff, Side, default_variant};
use crate::tables::{Cells, Table, TableKind};

/// Rows per "largest changes" list.
const TOP: usize = 25;

use crate::tables::pprrvu::STATUS_CODES;

/// One code (and modifier) in one release, as the workbook shows it.
#[derive(Debug, Clone)]
struct CodeSide {
    status: String,
    description: String,
    /// work, PE NF, PE F, MP, total NF, total F, in hundredths (None when blank).
    rvus: [Option<i64>; 6],
    global_days: String,
    /// National participating amounts (NF, F) in cents, for a payable status.
    pay: [Option<i64>; 2],
    /// The full payment inputs, for amounts at a locality.
    inputs: Option<CodeRvus>,
}

type Key = (String, String);

/// A release's codes of one variant.
struct Codes {
    variant: String,
    cf: Option<i64>,
    by_key: BTreeMap<Key, CodeSide>,
}

/// A workbook titled `title`, dated 2000-01-01 so that the same data gives the same bytes,
/// and deflated at level 3: the RVU25A..RVU25D comparison is written in 445 ms instead of
/// 650 ms at the default level 6, for a file of 2.6 MB instead of 2.2 MB.
fn new_workbook(title: String, path: &Path) -> Result<Workbook> {
    let mut workbook = Workbook::new();
    workbook.set_zip_compression_level(3);
    let created = ExcelDateTime::from_ymd(2000, 1, 1).map_err(xlsx_error(path))?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(title)
            .set_creation_datetime(&created),
    );
    Ok(workbook)
}

fn xlsx_error(path: &Path) -> impl Fn(XlsxError) -> Error + '_ {
    move |e| Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The codes of `table`'s variant `variant` (its default variant when None).
fn codes(table: &Table, variant: Option<&str>) -> Codes {
    let cells = Cells::new(table, crate::tables::pprrvu::CODE_VIEW);
    let variants: BTreeSet<String> = table
        .rows
        .iter()
        .map(|r| cells.text(r, "variant"))
        .collect();
    let chosen = variant
        .filter(|v| variants.contains(*v))
        .map(str::to_string)
        .or_else(|| default_variant(variants.iter().map(String::as_str)).map(str::to_string))
        .unwrap_or_default();
    let columns = PprrvuColumns::of(table).ok();
    let mut by_key = BTreeMap::new();
    let mut cf = None;
    for r in table
        .rows
        .iter()
        .filter(|r| cells.is(r, "variant", &chosen))
    {
        let status = cells.text(r, "status_code");
        let inputs = columns.as_ref().and_then(|c| c.rvus(table, r).ok());
        let pay = match inputs {
            Some(code) if PAYABLE.contains(&status.as_str()) => {
                let (nf, f) = payment::settings(&code, payment::NATIONAL);
                [Some(nf.par), Some(f.par)]
            }
            _ => [None, None],
        };
        cf = cf.or_else(|| cells.dec(r, "conversion_factor"));
        let side = CodeSide {
            description: cells.text(r, "description"),
            rvus: [
                cells.dec(r, "work_rvu"),
                cells.dec(r, "nonfacility_pe_rvu"),
                cells.dec(r, "facility_pe_rvu"),
                cells.dec(r, "mp_rvu"),
                cells.dec(r, "nonfacility_total"),
                cells.dec(r, "facility_total"),
            ],
            global_days: cells.text(r, "global_days"),
            status,
            pay,
            inputs,
        };
        by_key
            .entry((cells.text(r, "hcpcs"), cells.text(r, "modifier")))
            .or_insert(side);
    }
    Codes {
        variant: chosen,
        cf,
        by_key,
    }
}

/// The formats the sheets share.
struct Formats {
    header: Format,
    title: Format,
    wrap: Format,
    rvu: Format,
    rvu_changed: Format,
    gpci: Format,
    cf: Format,
    dollars: Format,
    percent: Format,
    integer: Format,
}

impl Formats {
    fn new() -> Formats {
        let changed = Color::RGB(0xFFF2CC);
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            title: Format::new().set_bold().set_font_size(13),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            rvu: Format::new().set_num_format("0.00"),
            rvu_changed: Format::new()
                .set_num_format("0.00")
                .set_background_color(changed),
            gpci: Format::new().set_num_format("0.000"),
            cf: Format::new().set_num_format("0.0000"),
            dollars: Format::new().set_num_format("$#,##0.00;-$#,##0.00"),
            percent: Format::new().set_num_format("0.00%"),
            integer: Format::new().set_num_format("#,##0"),
        }
    }
}

/// A cell to write: text, a number with a format, or nothing.
enum Cell<'f> {
    Text(String),
    Number(f64, &'f Format),
    Empty,
}

fn hundredths(v: Option<i64>, format: &Format) -> Cell<'_> {
    v.map_or(Cell::Empty, |v| Cell::Number(v as f64 / 100.0, format))
}

/// A percent change as a fraction (Excel's percent format multiplies by 100).
fn fraction(before: Option<i64>, after: Option<i64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b != 0 => Some((a - b) as f64 / b as f64),
        _ => None,
    }
}

fn difference(before: Option<i64>, after: Option<i64>) -> Option<i64> {
    Some(after? - before?)
}

/// Writes a table: its header row at `top`, rows below, a frozen header (when it is the
/// sheet's first table), an autofilter and widths that fit.
fn write_table(
    sheet: &mut Worksheet,
    formats: &Formats,
    top: u32,
    header: &[&str],
    rows: &[Vec<Cell>],
    path: &Path,
) -> Result<()> {
    let fail = xlsx_error(path);
    for (c, name) in header.iter().enumerate() {
        sheet
            .write_string_with_format(top, c as u16, *name, &formats.header)
            .map_err(&fail)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = top + 1 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) if !t.is_empty() => {
                    sheet.write_string(r, c, t).map_err(&fail)?;
                }
                Cell::Number(n, format) => {
                    sheet
                        .write_number_with_format(r, c, *n, format)
                        .map_err(&fail)?;
                }
                _ => {}
            }
        }
    }
    let last_row = top + rows.len() as u32;
    sheet
        .autofilter(top, 0, last_row, header.len().saturating_sub(1) as u16)
        .map_err(&fail)?;
    sheet.set_freeze_panes(top + 1, 0).map_err(&fail)?;
    Ok(())
}

/// Column widths that fit: the header's words or the longest value, within bounds.
fn fit_columns(
    sheet: &mut Worksheet,
    header: &[&str],
    rows: &[Vec<Cell>],
    path: &Path,
) -> Result<()> {
    let fail = xlsx_error(path);
    for (c, name) in header.iter().enumerate() {
        let longest_word = name.split(' ').map(str::len).max().unwrap_or(4);
        let longest_value = rows
            .iter()
            .filter_map(|r| match r.get(c) {
                Some(Cell::Text(t)) => Some(t.chars().count()),
                Some(Cell::Number(..)) => Some(10),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let width = longest_word.max(longest_value).clamp(6, 60) as f64 + 1.5;
        sheet.set_column_width(c as u16, width).map_err(&fail)?;
    }
    Ok(())
}

struct Comparison<'a> {
    diff: &'a Diff,
    before: Codes,
    after: Codes,
    options: &'a ReportOptions,
    gpci_before: Option<&'a Table>,
    gpci_after: Option<&'a Table>,
}

impl Comparison<'_> {
    fn description(&self, key: &Key) -> String {
        let side = self
            .after
            .by_key
            .get(key)
            .or_else(|| self.before.by_key.get(key));
        let text = side.map(|s| s.description.clone()).unwrap_or_default();
        if !is_licensed(&key.0) {
            text
        } else if self.options.cpt_descriptions {
            format!("{text} ‡")
        } else {
            "(CPT/CDT description withheld)".into()
        }
    }

    fn keys(&self) -> BTreeSet<&Key> {
        self.before
            .by_key
            .keys()
            .chain(self.after.by_key.keys())
            .collect()
    }

    /// The status a row sorts by: the new one, or the old one for a deleted code.
    fn status(&self, key: &Key) -> &str {
        self.after
            .by_key
            .get(key)
            .or_else(|| self.before.by_key.get(key))
            .map_or("", |s| s.status.as_str())
    }
}

/// Active (payable) statuses first, in A, R, T order; then the others alphabetically.
fn status_rank(status: &str) -> (usize, String) {
    match PAYABLE.iter().position(|p| *p == status) {
        Some(i) => (i, String::new()),
        None => (PAYABLE.len(), status.to_string()),
    }
}

/// Writes `comparison.xlsx` for a diff into `path`.
pub fn write_comparison(
    path: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<()> {
    let (Some(old), Some(new)) = (
        from.tables.get(&TableKind::Pprrvu),
        to.tables.get(&TableKind::Pprrvu),
    ) else {
        return Err(Error::Output {
            what: path.display().to_string(),
            message: "the comparison workbook needs PPRRVU in both releases".into(),
        });
    };
    let after = codes(new, None);
    let before = codes(old, Some(&after.variant));
    let comparison = Comparison {
        diff,
        before,
        after,
        options,
        gpci_before: from.tables.get(&TableKind::Gpci).copied(),
        gpci_after: to.tables.get(&TableKind::Gpci).copied(),
    };
    let fail = xlsx_error(path);
    let formats = Formats::new();
    let mut workbook = new_workbook(format!("PFS RVU comparison {}..{}", from.id, to.id), path)?;
    summary_sheet(workbook.add_worksheet(), &comparison, &formats, path)?;
    // The payment and RVU sheets list the same rows in the same order.
    let order = sorted_keys(&comparison);
    // The two sheets of every code are written a row at a time ("low memory": a row of
    // cells in memory, not the whole sheet; 60 to 90 MB less at the peak of the samples
    // run). Such a sheet must be written top to bottom: a cell above the current row is lost.
    payment_sheet(
        workbook.add_worksheet_with_low_memory().map_err(&fail)?,
        &comparison,
        &order,
        &formats,
        path,
    )?;
    rvu_sheet(
        workbook.add_worksheet_with_low_memory().map_err(&fail)?,
        &comparison,
        &order,
        &formats,
        path,
    )?;
    largest_sheet(workbook.add_worksheet(), &comparison, &formats, path)?;
    added_deleted_sheet(workbook.add_worksheet(), &comparison, &formats, path)?;
    status_changes_sheet(workbook.add_worksheet(), &comparison, &formats, path)?;
    status_table_sheet(workbook.add_worksheet(), &formats, path)?;
    locality_sheet(workbook.add_worksheet(), &comparison, &formats, path)?;
    workbook.save(path).map_err(&fail)
}

fn summary_sheet(sheet: &mut Worksheet, c: &Comparison, f: &Formats, path: &Path) -> Result<()> {
    let fail = xlsx_error(path);
    sheet.set_name("Summary").map_err(&fail)?;
    let d = c.diff;
    let pprrvu = d.tables.get(&TableKind::Pprrvu);
    let count = |n: usize| Cell::Number(n as f64, &f.integer);
    let mut rows: Vec<Vec<Cell>> = vec![
        vec![
            Cell::Text("From release".into()),
            Cell::Text(d.from.release_id.clone()),
        ],
        vec![
            Cell::Text("From: released".into()),
            Cell::Text(d.from.released.clone().unwrap_or_default()),
        ],
        vec![
            Cell::Text("From: source".into()),
            Cell::Text(d.from.source.clone().unwrap_or_default()),
        ],
        vec![
            Cell::Text("To release".into()),
            Cell::Text(d.to.release_id.clone()),
        ],
        vec![
            Cell::Text("To: released".into()),
            Cell::Text(d.to.released.clone().unwrap_or_default()),
        ],
        vec![
            Cell::Text("To: source".into()),
            Cell::Text(d.to.source.clone().unwrap_or_default()),
        ],
        vec![
            Cell::Text("Variant compared".into()),
            Cell::Text(format!("{} -> {}", c.before.variant, c.after.variant)),
        ],
    ];
    for cf in &d.conversion_factors {
        let value = |v: &Option<String>| {
            v.as_deref()
                .and_then(|t| t.parse::<f64>().ok())
                .map_or(Cell::Empty, |n| Cell::Number(n, &f.cf))
        };
        rows.push(vec![
            Cell::Text(format!("Conversion factor ({}) before", cf.variant)),
            value(&cf.before),
        ]);
        rows.push(vec![
            Cell::Text(format!("Conversion factor ({}) after", cf.variant)),
            value(&cf.after),
        ]);
    }
    if let Some(t) = pprrvu {
        rows.push(vec![Cell::Text("Codes added".into()), count(t.added)]);
        rows.push(vec![Cell::Text("Codes deleted".into()), count(t.deleted)]);
        rows.push(vec![
            Cell::Text("Codes changed: RVU, status, indicator or description".into()),
            count(t.changed_values()),
        ]);
        rows.push(vec![
            Cell::Text("Codes changed: conversion factor only".into()),
            count(t.changed_cf_only),
        ]);
        rows.push(vec![Cell::Text("Rows before".into()), count(t.rows_before)]);
        rows.push(vec![Cell::Text("Rows after".into()), count(t.rows_after)]);
    }
    rows.push(vec![
        Cell::Text("Payments".into()),
        Cell::Text(
            "National participating amounts (GPCIs 1.000), the lower of the fee schedule \
             amount and the OPPS cap, for payable statuses (A, R, T)"
                .into(),
        ),
    ]);
    rows.push(vec![
        Cell::Text("Descriptions".into()),
        Cell::Text(if c.options.cpt_descriptions {
            "CPT descriptions are copyright American Medical Association and D-code \
             descriptions copyright American Dental Association; they are marked ‡."
                .into()
        } else {
            "CPT (AMA) and CDT (ADA) descriptions are left out.".into()
        }),
    ]);
    write_table(sheet, f, 0, &["Item", "Value"], &rows, path)?;
    sheet.set_column_width(0, 52).map_err(&fail)?;
    sheet.set_column_width(1, 70).map_err(&fail)?;
    sheet.set_column_format(1, &f.wrap).map_err(&fail)?;
    Ok(())
}

fn sorted_keys<'c>(c: &'c Comparison) -> Vec<&'c Key> {
    let mut keys: Vec<&Key> = c.keys().into_iter().collect();
    keys.sort_by_cached_key(|k| (status_rank(c.status(k)), *k));
    keys
}

fn payment_sheet(
    sheet: &mut Worksheet,
    c: &Comparison,
    order: &[&Key],
    f: &Formats,
    path: &Path,
) -> Result<()> {
    sheet
        .set_name("Payment comparison")
        .map_err(xlsx_error(path))?;
    let header = [
        "HCPCS",
        "Mod",
        "Description",
        "Status before",
        "Status after",
        "Total RVU NF before",
        "Total RVU NF after",
        "Total RVU F before",
        "Total RVU F after",
        "NF pay before",
        "NF pay after",
        "NF pay change",
        "NF pay change %",
        "F pay before",
        "F pay after",
        "F pay change",
        "F pay change %",
    ];
    let rows: Vec<Vec<Cell>> = order
        .iter()
        .map(|key| {
            let b = c.before.by_key.get(key);
            let a = c.after.by_key.get(key);
            let rvu =
                |s: Option<&CodeSide>, i: usize| hundredths(s.and_then(|s| s.rvus[i]), &f.rvu);
            let pay = |s: Option<&CodeSide>, i: usize| s.and_then(|s| s.pay[i]);
            let mut row = vec![
                Cell::Text(key.0.clone()),
                Cell::Text(key.1.clone()),
                Cell::Text(c.description(key)),
                Cell::Text(b.map(|s| s.status.clone()).unwrap_or_default()),
                Cell::Text(a.map(|s| s.status.clone()).unwrap_or_default()),
                rvu(b, 4),
                rvu(a, 4),
                rvu(b, 5),
                rvu(a, 5),
            ];
            for setting in 0..2 {
                let (before, after) = (pay(b, setting), pay(a, setting));
                row.push(hundredths(before, &f.dollars));
                row.push(hundredths(after, &f.dollars));
                row.push(hundredths(difference(before, after), &f.dollars));
                row.push(
                    fraction(before, after).map_or(Cell::Empty, |p| Cell::Number(p, &f.percent)),
                );
            }
            row
        })
        .collect();
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

fn rvu_sheet(
    sheet: &mut Worksheet,
    c: &Comparison,
    order: &[&Key],
    f: &Formats,
    path: &Path,
) -> Result<()> {
    sheet.set_name("All RVUs").map_err(xlsx_error(path))?;
    let names = ["Work", "PE NF", "PE F", "MP", "Total NF", "Total F"];
    let mut header: Vec<String> = vec![
        "HCPCS".into(),
        "Mod".into(),
        "Description".into(),
        "Status".into(),
    ];
    for name in names {
        header.push(format!("{name} before"));
        header.push(format!("{name} after"));
    }
    header.push("Global days before".into());
    header.push("Global days after".into());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<Cell>> = order
        .iter()
        .map(|key| {
            let b = c.before.by_key.get(key);
            let a = c.after.by_key.get(key);
            let mut row = vec![
                Cell::Text(key.0.clone()),
                Cell::Text(key.1.clone()),
                Cell::Text(c.description(key)),
                Cell::Text(c.status(key).to_string()),
            ];
            for i in 0..names.len() {
                let (before, after) = (b.and_then(|s| s.rvus[i]), a.and_then(|s| s.rvus[i]));
                // A value that changed is shaded where both releases list the code.
                let changed = b.is_some() && a.is_some() && before != after;
                row.push(hundredths(before, &f.rvu));
                row.push(hundredths(
                    after,
                    if changed { &f.rvu_changed } else { &f.rvu },
                ));
            }
            row.push(Cell::Text(
                b.map(|s| s.global_days.clone()).unwrap_or_default(),
            ));
            row.push(Cell::Text(
                a.map(|s| s.global_days.clone()).unwrap_or_default(),
            ));
            row
        })
        .collect();
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

/// One "largest changes" measure: its name, how to read it off a code, and the setting whose
/// payment a code needs in both releases (None: either setting).
struct Measure {
    name: &'static str,
    value: fn(&CodeSide) -> Option<i64>,
    dollars: bool,
    setting: Option<usize>,
}

const MEASURES: &[Measure] = &[
    Measure {
        name: "Non-facility payment",
        value: |s| s.pay[0],
        dollars: true,
        setting: Some(0),
    },
    Measure {
        name: "Facility payment",
        value: |s| s.pay[1],
        dollars: true,
        setting: Some(1),
    },
    Measure {
        name: "Work RVU",
        value: |s| s.rvus[0],
        dollars: false,
        setting: None,
    },
    Measure {
        name: "PE RVU non-facility",
        value: |s| s.rvus[1],
        dollars: false,
        setting: Some(0),
    },
    Measure {
        name: "PE RVU facility",
        value: |s| s.rvus[2],
        dollars: false,
        setting: Some(1),
    },
    Measure {
        name: "MP RVU",
        value: |s| s.rvus[3],
        dollars: false,
        setting: None,
    },
    Measure {
        name: "Total RVU non-facility",
        value: |s| s.rvus[4],
        dollars: false,
        setting: Some(0),
    },
    Measure {
        name: "Total RVU facility",
        value: |s| s.rvus[5],
        dollars: false,
        setting: Some(1),
    },
];

/// A payable status and a national payment above zero in the measure's setting.
fn paid(s: &CodeSide, setting: Option<usize>) -> bool {
    let positive = |i: usize| s.pay[i].is_some_and(|p| p > 0);
    PAYABLE.contains(&s.status.as_str())
        && match setting {
            Some(i) => positive(i),
            None => positive(0) || positive(1),
        }
}

fn largest_sheet(sheet: &mut Worksheet, c: &Comparison, f: &Formats, path: &Path) -> Result<()> {
    let fail = xlsx_error(path);
    sheet.set_name("Largest changes").map_err(&fail)?;
    sheet
        .write_string_with_format(0, 0, "How the lists are chosen", &f.title)
        .map_err(&fail)?;
    let rule = "Each list: codes with a payable status (A, R, T) in both releases and a \
                national participating payment above zero in both releases, whose value before \
                is not zero; ranked by percent change (then code), 25 increases and 25 \
                decreases.";
    sheet.write_string(1, 0, rule).map_err(&fail)?;
    for (i, measure) in MEASURES.iter().enumerate() {
        let paid_in = match measure.setting {
            Some(0) => "a non-facility payment in both releases",
            Some(_) => "a facility payment in both releases",
            None => "a payment in either setting in both releases",
        };
        let what = if measure.dollars {
            "the national participating amount (after the OPPS cap)"
        } else {
            "the RVU as CMS prints it"
        };
        let line = format!("{}: {what}; codes with {paid_in}.", measure.name);
        sheet.write_string(2 + i as u32, 0, line).map_err(&fail)?;
    }
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for measure in MEASURES {
        let mut moves: Vec<(f64, &Key, i64, i64)> = Vec::new();
        for (key, a) in &c.after.by_key {
            let Some(b) = c.before.by_key.get(key) else {
                continue;
            };
            if !(paid(a, measure.setting) && paid(b, measure.setting)) {
                continue;
            }
            let (Some(before), Some(after)) = ((measure.value)(b), (measure.value)(a)) else {
                continue;
            };
            if let Some(p) = fraction(Some(before), Some(after)) {
                moves.push((p, key, before, after));
            }
        }
        for (direction, up) in [("largest increases", true), ("largest decreases", false)] {
            let mut list: Vec<&(f64, &Key, i64, i64)> = moves
                .iter()
                .filter(|m| if up { m.0 > 0.0 } else { m.0 < 0.0 })
                .collect();
            list.sort_by(|x, y| {
                let order = x.0.total_cmp(&y.0);
                (if up { order.reverse() } else { order }).then_with(|| x.1.cmp(y.1))
            });
            let format = if measure.dollars { &f.dollars } else { &f.rvu };
            for (rank, (p, key, before, after)) in list.into_iter().take(TOP).enumerate() {
                rows.push(vec![
                    Cell::Text(format!("{}: {direction}", measure.name)),
                    Cell::Number(rank as f64 + 1.0, &f.integer),
                    Cell::Text(key.0.clone()),
                    Cell::Text(key.1.clone()),
                    Cell::Text(c.description(key)),
                    Cell::Number(*before as f64 / 100.0, format),
                    Cell::Number(*after as f64 / 100.0, format),
                    Cell::Number((after - before) as f64 / 100.0, format),
                    Cell::Number(*p, &f.percent),
                ]);
            }
        }
    }
    let header = [
        "List",
        "Rank",
        "HCPCS",
        "Mod",
        "Description",
        "Before",
        "After",
        "Change",
        "Change %",
    ];
    write_table(sheet, f, 3 + MEASURES.len() as u32, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)?;
    sheet.set_column_width(0, 40).map_err(&fail)?;
    Ok(())
}

fn added_deleted_sheet(
    sheet: &mut Worksheet,
    c: &Comparison,
    f: &Formats,
    path: &Path,
) -> Result<()> {
    sheet
        .set_name("Added and deleted")
        .map_err(xlsx_error(path))?;
    let mut rows = Vec::new();
    for (change, side, other) in [
        ("added", &c.after, &c.before),
        ("deleted", &c.before, &c.after),
    ] {
        for (key, s) in &side.by_key {
            if other.by_key.contains_key(key) {
                continue;
            }
            rows.push(vec![
                Cell::Text(change.into()),
                Cell::Text(key.0.clone()),
                Cell::Text(key.1.clone()),
                Cell::Text(c.description(key)),
                Cell::Text(s.status.clone()),
                Cell::Text(payment::status_meaning(&s.status).into()),
                hundredths(s.rvus[0], &f.rvu),
                hundredths(s.rvus[4], &f.rvu),
                hundredths(s.rvus[5], &f.rvu),
            ]);
        }
    }
    let header = [
        "Change",
        "HCPCS",
        "Mod",
        "Description",
        "Status",
        "Status meaning",
        "Work RVU",
        "Total RVU NF",
        "Total RVU F",
    ];
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

fn status_changes_sheet(
    sheet: &mut Worksheet,
    c: &Comparison,
    f: &Formats,
    path: &Path,
) -> Result<()> {
    sheet.set_name("Status changes").map_err(xlsx_error(path))?;
    let rows: Vec<Vec<Cell>> = c
        .after
        .by_key
        .iter()
        .filter_map(|(key, a)| {
            let b = c.before.by_key.get(key)?;
            (b.status != a.status).then(|| {
                vec![
                    Cell::Text(key.0.clone()),
                    Cell::Text(key.1.clone()),
                    Cell::Text(c.description(key)),
                    Cell::Text(b.status.clone()),
                    Cell::Text(payment::status_meaning(&b.status).into()),
                    Cell::Text(a.status.clone()),
                    Cell::Text(payment::status_meaning(&a.status).into()),
                ]
            })
        })
        .collect();
    let header = [
        "HCPCS",
        "Mod",
        "Description",
        "Status before",
        "Meaning before",
        "Status after",
        "Meaning after",
    ];
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

fn status_table_sheet(sheet: &mut Worksheet, f: &Formats, path: &Path) -> Result<()> {
    sheet
        .set_name("Status indicators")
        .map_err(xlsx_error(path))?;
    let rows: Vec<Vec<Cell>> = STATUS_CODES
        .iter()
        .map(|code| {
            vec![
                Cell::Text((*code).into()),
                Cell::Text(payment::status_meaning(code).into()),
                Cell::Text(if PAYABLE.contains(code) { "yes" } else { "no" }.into()),
            ]
        })
        .collect();
    let header = ["Status", "Meaning", "Paid under the fee schedule"];
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

/// A release's GPCIs by (MAC, locality), with the locality's name.
fn gpcis(table: Option<&Table>) -> BTreeMap<Key, (String, Gpcis)> {
    let Some(table) = table else {
        return BTreeMap::new();
    };
    let Ok(columns) = GpciColumns::of(table) else {
        return BTreeMap::new();
    };
    let cells = Cells::new(table, &["mac", "locality", "locality_name"]);
    table
        .rows
        .iter()
        .filter_map(|r| {
            let g = columns.gpcis(table, r).ok()?;
            Some((
                (cells.text(r, "mac"), cells.text(r, "locality")),
                (cells.text(r, "locality_name"), g),
            ))
        })
        .collect()
}

fn locality_sheet(sheet: &mut Worksheet, c: &Comparison, f: &Formats, path: &Path) -> Result<()> {
    sheet.set_name("Locality").map_err(xlsx_error(path))?;
    let (before, after) = (gpcis(c.gpci_before), gpcis(c.gpci_after));
    let keys: BTreeSet<&Key> = before.keys().chain(after.keys()).collect();
    let code = |codes: &Codes, hcpcs: &str| {
        codes
            .by_key
            .get(&(hcpcs.to_string(), String::new()))
            .filter(|s| PAYABLE.contains(&s.status.as_str()))
            .and_then(|s| s.inputs)
    };
    let nf_pay = |inputs: Option<CodeRvus>, g: Option<&(String, Gpcis)>| -> Option<i64> {
        Some(payment::settings(&inputs?, g?.1).0.par)
    };
    let gpci = |v: Option<i64>| v.map_or(Cell::Empty, |v| Cell::Number(v as f64 / 1000.0, &f.gpci));
    let rows: Vec<Vec<Cell>> = keys
        .into_iter()
        .map(|key| {
            let (b, a) = (before.get(key), after.get(key));
            let name = a.or(b).map(|x| x.0.clone()).unwrap_or_default();
            let mut row = vec![
                Cell::Text(key.0.clone()),
                Cell::Text(key.1.clone()),
                Cell::Text(name),
            ];
            for pick in [|g: &Gpcis| g.pw, |g: &Gpcis| g.pe, |g: &Gpcis| g.mp] {
                row.push(gpci(b.map(|x| pick(&x.1))));
                row.push(gpci(a.map(|x| pick(&x.1))));
            }
            for hcpcs in ["99213", "99214"] {
                let (pb, pa) = (
                    nf_pay(code(&c.before, hcpcs), b),
                    nf_pay(code(&c.after, hcpcs), a),
                );
                row.push(hundredths(pb, &f.dollars));
                row.push(hundredths(pa, &f.dollars));
                row.push(fraction(pb, pa).map_or(Cell::Empty, |p| Cell::Number(p, &f.percent)));
            }
            row
        })
        .collect();
    let header = [
        "MAC",
        "Locality",
        "Name",
        "PW GPCI before",
        "PW GPCI after",
        "PE GPCI before",
        "PE GPCI after",
        "MP GPCI before",
        "MP GPCI after",
        "99213 NF pay before",
        "99213 NF pay after",
        "99213 change %",
        "99214 NF pay before",
        "99214 NF pay after",
        "99214 change %",
    ];
    write_table(sheet, f, 0, &header, &rows, path)?;
    fit_columns(sheet, &header, &rows, path)
}

/// `rvu export xlsx`: one release's RVUs, and its payments at a locality (national without
/// one), as a workbook.
pub fn write_release(
    path: &Path,
    release_id: &str,
    pprrvu: &Table,
    locality: Option<(Gpcis, String)>,
    options: &ReportOptions,
) -> Result<()> {
    let fail = xlsx_error(path);
    let formats = Formats::new();
    let f = &formats;
    let mut workbook = new_workbook(format!("PFS RVUs {release_id}"), path)?;
    let cells = Cells::new(pprrvu, &["variant"]);
    let variants: BTreeSet<String> = pprrvu
        .rows
        .iter()
        .map(|r| cells.text(r, "variant"))
        .collect();
    let (gpci, place) =
        locality.unwrap_or_else(|| (payment::NATIONAL, "national (GPCIs 1.000)".to_string()));
    for variant in &variants {
        let codes = codes(pprrvu, Some(variant));
        let sheet = workbook.add_worksheet();
        let name = if variants.len() > 1 {
            format!("RVUs {variant}")
        } else {
            "RVUs".into()
        };
        sheet.set_name(&name).map_err(&fail)?;
        let header = [
            "HCPCS",
            "Mod",
            "Description",
            "Status",
            "Work RVU",
            "PE RVU NF",
            "PE RVU F",
            "MP RVU",
            "Total RVU NF",
            "Total RVU F",
            "Global days",
            "NF pay",
            "F pay",
        ];
        let mut keys: Vec<&Key> = codes.by_key.keys().collect();
        keys.sort_by_cached_key(|k| (status_rank(&codes.by_key[*k].status), *k));
        let rows: Vec<Vec<Cell>> = keys
            .into_iter()
            .map(|key| {
                let s = &codes.by_key[key];
                let description = if !is_licensed(&key.0) {
                    s.description.clone()
                } else if options.cpt_descriptions {
                    format!("{} ‡", s.description)
                } else {
                    "(CPT/CDT description withheld)".into()
                };
                let pay = s
                    .inputs
                    .filter(|_| PAYABLE.contains(&s.status.as_str()))
                    .map(|inputs| payment::settings(&inputs, gpci));
                let mut row = vec![
                    Cell::Text(key.0.clone()),
                    Cell::Text(key.1.clone()),
                    Cell::Text(description),
                    Cell::Text(s.status.clone()),
                ];
                row.extend(s.rvus.iter().map(|v| hundredths(*v, &f.rvu)));
                row.push(Cell::Text(s.global_days.clone()));
                row.push(hundredths(pay.map(|p| p.0.par), &f.dollars));
                row.push(hundredths(pay.map(|p| p.1.par), &f.dollars));
                row
            })
            .collect();
        write_table(sheet, f, 1, &header, &rows, path)?;
        fit_columns(sheet, &header, &rows, path)?;
        let cf = codes
            .cf
            .map(|cf| crate::tables::format_decimal(cf, 4))
            .unwrap_or_default();
        sheet
            .write_string_with_format(
                0,
                0,
                format!("{release_id} {variant}: conversion factor {cf}; payments {place}"),
                &f.title,
            )
            .map_err(&fail)?;
    }
    workbook.save(path).map_err(&fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payable_statuses_sort_first() {
        let mut statuses = vec!["X", "T", "B", "A", "R", "C"];
        statuses.sort_by_key(|s| status_rank(s));
        assert_eq!(statuses, ["A", "R", "T", "B", "C", "X"]);
    }

    #[test]
    fn percent_changes_are_fractions_of_the_value_before() {
        assert_eq!(fraction(Some(200), Some(250)), Some(0.25));
        assert_eq!(fraction(Some(0), Some(250)), None);
        assert_eq!(fraction(None, Some(250)), None);
    }

    #[test]
    fn every_status_code_has_a_meaning() {
        for code in STATUS_CODES {
            assert_ne!(payment::status_meaning(code), "unknown status", "{code}");
        }
    }
}
