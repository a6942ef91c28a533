//! Synthetic releases in CMS's real layouts, for the demo and the tests: PPRRVU in csv, xlsx
//! and txt (preamble, stacked captions, quoted commas, Windows-1252 bytes, footer and Ctrl-Z
//! rows), and GPCI, LOCCO, ANES and OPPSCAP in csv and xlsx. The data are invented: year 2099,
//! releases RVU99A, RVU99B and RVU99C, with codes added, deleted and changed between them.

use std::io::{Cursor, Write};
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};

use crate::error::{Error, Result};
use crate::read::fixed_width::Field;
use crate::tables::{format_decimal, pprrvu};

const YEAR: u16 = 2099;
const CF: i64 = 334009; // 33.4009, scale 4

/// One synthetic PPRRVU row; RVUs in hundredths.
#[derive(Debug, Clone)]
struct Code {
    hcpcs: &'static str,
    modifier: &'static str,
    description: &'static str,
    status: &'static str,
    not_used: bool,
    work: i64,
    nf_pe: i64,
    f_pe: i64,
    mp: i64,
    nf_na: bool,
    f_na: bool,
    pctc: &'static str,
    global: &'static str,
    split: (i64, i64, i64),
    indicators: &'static str,
    supervision: &'static str,
    family: &'static str,
}

const fn code(
    hcpcs: &'static str,
    modifier: &'static str,
    description: &'static str,
    status: &'static str,
    rvus: (i64, i64, i64, i64),
    global: &'static str,
) -> Code {
    Code {
        hcpcs,
        modifier,
        description,
        status,
        not_used: false,
        work: rvus.0,
        nf_pe: rvus.1,
        f_pe: rvus.2,
        mp: rvus.3,
        nf_na: false,
        f_na: false,
        pctc: "0",
        global,
        split: (0, 0, 0),
        indicators: "00000",
        supervision: "09",
        family: "99",
    }
}

/// The first release's codes; later releases edit this list.
fn base_codes() -> Vec<Code> {
    let mut knee = code(
        "27447",
        "",
        "Total knee arthroplasty",
        "A",
        (1960, 1530, 1530, 398),
        "090",
    );
    knee.split = (10, 69, 21);
    knee.indicators = "21210";
    knee.nf_na = true;
    let mut xray = code(
        "71046",
        "",
        "X-ray exam chest 2 views",
        "A",
        (22, 77, 77, 2),
        "XXX",
    );
    xray.pctc = "1";
    xray.f_na = true;
    let mut xray_26 = xray.clone();
    xray_26.modifier = "26";
    (xray_26.nf_pe, xray_26.f_pe, xray_26.mp, xray_26.f_na) = (8, 8, 1, false);
    let mut xray_tc = xray.clone();
    xray_tc.modifier = "TC";
    (
        xray_tc.work,
        xray_tc.nf_pe,
        xray_tc.f_pe,
        xray_tc.supervision,
    ) = (0, 69, 69, "01");
    let mut drug = code(
        "J3398",
        "",
        "Inj, gene therapy, 1 billion vec",
        "E",
        (0, 0, 0, 0),
        "XXX",
    );
    drug.indicators = "99999";
    drug.pctc = "9";
    let mut measure = code(
        "0001F",
        "",
        "Heart failure composite",
        "M",
        (0, 0, 0, 0),
        "XXX",
    );
    measure.indicators = "99999";
    measure.pctc = "9";
    let mut plus = code(
        "G0999",
        "",
        "Synthetic service, not for Medicare",
        "I",
        (0, 0, 0, 0),
        "XXX",
    );
    plus.not_used = true;
    plus.indicators = "99999";
    plus.pctc = "9";
    let mut scope = code(
        "45378",
        "53",
        "Diagnostic colonoscopy",
        "A",
        (96, 391, 47, 17),
        "000",
    );
    scope.indicators = "20000";
    vec![
        code(
            "99202",
            "",
            "Office o/p new sf 15 min",
            "A",
            (93, 123, 41, 8),
            "XXX",
        ),
        code(
            "99213",
            "",
            "Office o/p est low 20 min",
            "A",
            (130, 135, 57, 10),
            "XXX",
        ),
        code(
            "99214",
            "",
            "Office o/p est mod 30 min",
            "A",
            (192, 189, 83, 13),
            "XXX",
        ),
        code(
            "11042",
            "",
            "Débridement, skin, first 20 sq cm",
            "A",
            (101, 287, 59, 14),
            "000",
        ),
        knee,
        xray,
        xray_26,
        xray_tc,
        drug,
        measure,
        plus,
        scope,
        code(
            "A0021",
            "",
            "Outside state ambulance serv",
            "I",
            (0, 0, 0, 0),
            "XXX",
        ),
    ]
}

/// Three consecutive releases: B adds, deletes and changes codes; C does it again.
fn releases() -> Vec<(&'static str, &'static str, Vec<Code>)> {
    let a = base_codes();
    let mut b = a.clone();
    b.retain(|c| c.hcpcs != "A0021");
    b.push(code(
        "99215",
        "",
        "Office o/p est hi 40 min",
        "A",
        (280, 243, 117, 18),
        "XXX",
    ));
    set_work(&mut b, "99214", 199);
    set_status(&mut b, "J3398", "X");
    let mut c = b.clone();
    c.retain(|c| c.hcpcs != "99202");
    c.push(code(
        "0999T",
        "",
        "Synthetic category iii code",
        "C",
        (0, 0, 0, 0),
        "YYY",
    ));
    set_work(&mut c, "27447", 1905);
    vec![
        ("RVU99A", "January", a),
        ("RVU99B", "April", b),
        ("RVU99C", "July", c),
    ]
}

fn set_work(codes: &mut [Code], hcpcs: &str, work: i64) {
    for c in codes.iter_mut().filter(|c| c.hcpcs == hcpcs) {
        c.work = work;
    }
}

fn set_status(codes: &mut [Code], hcpcs: &str, status: &'static str) {
    for c in codes.iter_mut().filter(|c| c.hcpcs == hcpcs) {
        c.status = status;
    }
}

/// The 32 PPRRVU columns (2026 layout) as CMS captions them, fragments top to bottom.
const CAPTIONS: &[&[&str]] = &[
    &["HCPCS"],
    &["MOD"],
    &["DESCRIPTION"],
    &["STATUS", "CODE"],
    &["NOT USED", "FOR", "MEDICARE ", "PAYMENT"],
    &["WORK", "RVU"],
    &["NON-FAC", "PE RVU"],
    &["NON-FAC", "NA", "INDICATOR"],
    &["FACILITY", "PE RVU"],
    &["FACILITY ", "NA", "INDICATOR"],
    &["MP", "RVU"],
    &["NON-FACILITY", "TOTAL"],
    &["FACILITY", "TOTAL"],
    &["PCTC", "IND"],
    &["GLOB", "DAYS"],
    &["PRE", "OP"],
    &["INTRA", "OP"],
    &["POST", "OP"],
    &["MULT", "PROC"],
    &["BILAT", "SURG"],
    &["ASST", "SURG"],
    &["CO-", "SURG"],
    &["TEAM", "SURG"],
    &["PRIC", "IND"],
    &["ENDO", "BASE"],
    &["CONV", "FACTOR"],
    &["PHYSICIAN", "SUPERVISION OF", "DIAGNOSTIC", "PROCEDURES"],
    &["CALCULATION", "FLAG"],
    &["DIAGNOSTIC", "IMAGING", "FAMILY", "INDICATOR"],
    &["NON-FACILITY", "PE USED", "FOR OPPS", "PAYMENT", "AMOUNT"],
    &["FACILITY", "PE USED", "FOR OPPS", "PAYMENT", "AMOUNT"],
    &["MP USED", "FOR OPPS", "PAYMENT", "AMOUNT"],
];
const CAPTION_ROWS: usize = 5;

/// One release's PPRRVU as text cells (the preamble, captions and records), before encoding.
fn pprrvu_rows(month: &str, codes: &[Code]) -> Vec<Vec<String>> {
    let width = CAPTIONS.len();
    let line = |cells: &[(usize, &str)]| {
        let mut row = vec![String::new(); width];
        for (i, text) in cells {
            row[*i] = text.to_string();
        }
        row
    };
    let mut rows = vec![
        line(&[(
            2,
            &format!("{YEAR} National Physician Fee Schedule Relative Value File {month} Release"),
        )]),
        line(&[(
            2,
            "CPT codes and descriptions only are copyright 2098 American Medical Association.  All Rights Reserved.",
        )]),
        line(&[(
            2,
            "Synthetic fixture data generated by rvu-pipeline; not CMS data.",
        )]),
        line(&[(2, " ")]),
        line(&[(2, &format!("RELEASED 12/01/{}", YEAR - 1))]),
    ];
    for r in 0..CAPTION_ROWS {
        rows.push(
            CAPTIONS
                .iter()
                .map(|fragments| {
                    let offset = CAPTION_ROWS - fragments.len();
                    r.checked_sub(offset)
                        .map(|i| fragments[i].to_string())
                        .unwrap_or_default()
                })
                .collect(),
        );
    }
    let mut sorted = codes.to_vec();
    sorted.sort_by(|a, b| (a.hcpcs, a.modifier).cmp(&(b.hcpcs, b.modifier)));
    rows.extend(sorted.iter().map(record_cells));
    rows
}

fn rvu(v: i64) -> String {
    format_decimal(v, 2)
}

fn record_cells(c: &Code) -> Vec<String> {
    let na = |b: bool| if b { "NA" } else { "" }.to_string();
    let ind: Vec<String> = c.indicators.chars().map(String::from).collect();
    let opps = if c.pctc == "1" && c.modifier != "26" {
        (c.nf_pe + 199, c.f_pe + 199, c.mp + 3)
    } else {
        (0, 0, 0)
    };
    vec![
        c.hcpcs.to_string(),
        c.modifier.to_string(),
        c.description.to_string(),
        c.status.to_string(),
        if c.not_used { "+" } else { "" }.to_string(),
        rvu(c.work),
        rvu(c.nf_pe),
        na(c.nf_na),
        rvu(c.f_pe),
        na(c.f_na),
        rvu(c.mp),
        rvu(c.work + c.nf_pe + c.mp),
        rvu(c.work + c.f_pe + c.mp),
        c.pctc.to_string(),
        c.global.to_string(),
        rvu(c.split.0),
        rvu(c.split.1),
        rvu(c.split.2),
        ind[0].clone(),
        ind[1].clone(),
        ind[2].clone(),
        ind[3].clone(),
        ind[4].clone(),
        "9".to_string(),
        if c.hcpcs == "45378" { "45378" } else { "" }.to_string(),
        format_decimal(CF, 4),
        c.supervision.to_string(),
        "0".to_string(),
        c.family.to_string(),
        rvu(opps.0),
        rvu(opps.1),
        rvu(opps.2),
    ]
}

/// CSV bytes in Windows-1252, CRLF, quoting only what needs it, with CMS's trailing all-comma
/// row and Ctrl-Z.
fn csv_bytes(rows: &[Vec<String>], ctrl_z_row: bool) -> Vec<u8> {
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    if ctrl_z_row {
        let width = rows.first().map_or(1, Vec::len);
        text.push('\u{1a}');
        text.push_str(&",".repeat(width - 1));
        text.push_str("\r\n");
    }
    encode_1252(&text)
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

fn encode_1252(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
}

/// The txt: HDR lines, then records cut to the release year's layout, then Ctrl-Z.
fn pprrvu_txt(codes: &[Code]) -> Vec<u8> {
    let layout = pprrvu::txt_layout(YEAR).unwrap_or_else(|| unreachable!("2026+ layout"));
    let mut text = String::new();
    for line in [
        "HDR SYNTHETIC FIXTURE DATA, NOT CMS DATA.",
        "HDR GENERATED BY RVU-PIPELINE.",
    ] {
        text.push_str(line);
        text.push_str("\r\n");
    }
    let mut sorted = codes.to_vec();
    sorted.sort_by(|a, b| (a.hcpcs, a.modifier).cmp(&(b.hcpcs, b.modifier)));
    for c in &sorted {
        let cells = record_cells(c);
        let mut line = vec![' '; 171];
        for field in &layout.fields {
            let column = pprrvu::COLUMNS
                .iter()
                .position(|col| col.name == field.name)
                .unwrap_or_else(|| unreachable!("layout fields are canonical columns"));
            // The record cells start at hcpcs, the third canonical column.
            place(&mut line, field, &txt_cell(field, &cells[column - 2]));
        }
        text.extend(line.iter());
        text.push_str("\r\n");
    }
    text.push('\u{1a}');
    encode_1252(&text)
}

/// Right-aligns numbers, left-aligns text; `.99` fields drop the leading zero as CMS does.
fn txt_cell(field: &Field, value: &str) -> String {
    let width = field.end + 1 - field.start;
    let numeric = value.contains('.') && value.chars().all(|c| c.is_ascii_digit() || c == '.');
    if numeric && width == 3 {
        value.trim_start_matches('0').to_string()
    } else if numeric {
        format!("{value:>width$}")
    } else {
        value.chars().take(width).collect()
    }
}

fn place(line: &mut [char], field: &Field, text: &str) {
    for (i, ch) in text.chars().enumerate() {
        if let Some(slot) = line.get_mut(field.start - 1 + i) {
            *slot = ch;
        }
    }
}

/// An xlsx of the same rows: numbers as numbers, text as text, a sheet name CMS might use.
fn xlsx_bytes(sheet: &str, rows: &[Vec<String>], numeric_columns: &[usize]) -> Result<Vec<u8>> {
    let fail = |e: rust_xlsxwriter::XlsxError| Error::Output {
        what: format!("fixture workbook {sheet}"),
        message: e.to_string(),
    };
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2000, 1, 1).map_err(fail)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet).map_err(fail)?;
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let (r, c) = (r as u32, c as u16);
            match cell.parse::<f64>() {
                Ok(number) if numeric_columns.contains(&(c as usize)) => {
                    worksheet.write_number(r, c, number).map_err(fail)?;
                }
                _ => {
                    worksheet.write_string(r, c, cell).map_err(fail)?;
                }
            }
        }
    }
    workbook.save_to_buffer().map_err(fail)
}

/// Localities shared by GPCI, LOCCO, ANES and OPPSCAP: (MAC, locality, state, name, marker).
const LOCALITIES: &[(&str, &str, &str, &str, &str)] = &[
    ("10112", "00", "AL", "ALABAMA", ""),
    ("02102", "01", "AK", "ALASKA", "*"),
    ("01112", "05", "CA", "SAN FRANCISCO, OAKLAND", ""),
    ("05302", "99", "MO", "REST OF STATE", "*"),
    ("03602", "21", "WY", "WYOMING", "**"),
];

fn gpci_rows(step: i64) -> Vec<Vec<String>> {
    let mut rows = vec![
        vec![format!(
            "ADDENDUM E. SYNTHETIC CY {YEAR} GEOGRAPHIC PRACTICE COST INDICES (GPCIs)"
        )],
        vec![],
        [
            "Medicare Administrative Contractor (MAC)",
            "State",
            "Locality Number",
            "Locality Name",
            &format!("{YEAR} PW GPCI (with 1.0 Floor)"),
            &format!("{YEAR} PE GPCI"),
            &format!("{YEAR} MP GPCI"),
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (i, (mac, loc, state, name, marker)) in LOCALITIES.iter().enumerate() {
        let i = i as i64;
        rows.push(vec![
            mac.to_string(),
            state.to_string(),
            loc.to_string(),
            format!("{name}{marker}"),
            format_decimal(1000 + 25 * i, 3),
            format_decimal(880 + 30 * i + step, 3),
            format_decimal(570 + 40 * i, 3),
        ]);
    }
    rows.push(vec![]);
    rows.push(vec!["*Synthetic floor marker.".to_string()]);
    rows
}

fn locco_rows() -> Vec<Vec<String>> {
    let mut rows = vec![
        vec![format!(
            "COUNTIES INCLUDED IN {YEAR} LOCALITIES (SYNTHETIC)"
        )],
        vec![],
        [
            "Medicare Adminstrative Contractor",
            "Locality Number",
            "State ",
            "Fee Schedule Area ",
            "Counties",
        ]
        .map(String::from)
        .to_vec(),
        vec![],
    ];
    for (mac, loc, state, name, marker) in LOCALITIES {
        // CMS drops leading zeros here, and lists the MO rest-of-state locality twice.
        let copies = if *mac == "05302" { 2 } else { 1 };
        for _ in 0..copies {
            rows.push(vec![
                drop_leading_zeros(mac),
                drop_leading_zeros(loc),
                format!("{state} "),
                format!("{name}{marker} "),
                "NORTH, SOUTH AND EAST COUNTIES".to_string(),
            ]);
        }
        rows.push(vec![]);
    }
    rows.push(vec![
        "*  Payment locality is serviced by two carriers.".to_string(),
    ]);
    rows
}

/// `02102` as CMS's LOCCO csv writes it: `2102` (and `00` as `0`).
fn drop_leading_zeros(code: &str) -> String {
    let trimmed = code.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }.to_string()
}

fn anes_rows(step: i64) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "Contractor",
            "Locality",
            "Locality Name",
            "National Anes CF of 20.4975",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (i, (mac, loc, _, name, marker)) in LOCALITIES.iter().enumerate() {
        rows.push(vec![
            format!("{mac} "),
            format!("{loc} "),
            format!("{name}{marker}"),
            format!("{} ", format_decimal(1950 + 37 * i as i64 + step, 2)),
        ]);
    }
    rows
}

fn oppscap_rows(codes: &[Code]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "HCPCS",
            "MOD",
            "PROCSTAT",
            "CARRIER",
            "LOCALITY",
            "FACILITY PRICE",
            "NON-FACILTY PRICE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in codes.iter().filter(|c| c.modifier == "TC") {
        for (i, (mac, loc, ..)) in LOCALITIES.iter().enumerate() {
            let price = format_decimal(9000 + 113 * i as i64 + c.nf_pe, 2);
            rows.push(vec![
                c.hcpcs.to_string(),
                c.modifier.to_string(),
                c.status.to_string(),
                mac.to_string(),
                loc.to_string(),
                price.clone(),
                price,
            ]);
        }
    }
    rows
}

/// Writes every fixture release zip into `dir`; returns the paths written.
pub fn generate(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = Vec::new();
    for (step, (id, month, codes)) in releases().into_iter().enumerate() {
        let bytes = release_zip(id, month, &codes, step as i64)?;
        let path = dir.join(format!("{}.zip", id.to_ascii_lowercase()));
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// The bytes of one release zip (deterministic: fixed member order and timestamps).
fn release_zip(id: &str, month: &str, codes: &[Code], step: i64) -> Result<Vec<u8>> {
    let short = &month[..3];
    let pprrvu = pprrvu_rows(month, codes);
    let numeric_pprrvu: Vec<usize> = vec![5, 6, 8, 10, 11, 12, 15, 16, 17, 25, 29, 30, 31];
    let mut members: Vec<(String, Vec<u8>)> = vec![
        (
            format!("PPRRVU{YEAR}_{short}.csv"),
            csv_bytes(&pprrvu, true),
        ),
        (format!("PPRRVU{YEAR}_{short}.txt"), pprrvu_txt(codes)),
        (
            format!("PPRRVU{YEAR}_{short}.xlsx"),
            xlsx_bytes(&format!("PPRVU{YEAR}_{short}"), &pprrvu, &numeric_pprrvu)?,
        ),
    ];
    let others = [
        (format!("GPCI{YEAR}"), gpci_rows(step), vec![4, 5, 6], false),
        (format!("{}LOCCO", YEAR % 100), locco_rows(), vec![], false),
        (format!("ANES{YEAR}"), anes_rows(step), vec![3], false),
        (
            format!("OPPSCAP_{short}"),
            oppscap_rows(codes),
            vec![5, 6],
            true,
        ),
    ];
    for (stem, rows, numeric, ctrl_z) in others {
        let padded = pad_rows(&rows);
        members.push((format!("{stem}.csv"), csv_bytes(&padded, ctrl_z)));
        members.push((
            format!("{stem}.xlsx"),
            xlsx_bytes("Sheet1", &rows, &numeric)?,
        ));
    }
    members.push((
        format!("{id}.txt"),
        b"Synthetic fixture release generated by rvu-pipeline (not CMS data).\r\n".to_vec(),
    ));
    zip_members(id, &members)
}

/// Pads ragged rows to the widest, as CMS's csv files are.
fn pad_rows(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            r.resize(width, String::new());
            r
        })
        .collect()
}

fn zip_members(id: &str, members: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Output {
        what: format!("fixture zip {id}"),
        message,
    };
    let mut writer = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated)
        .last_modified_time(::zip::DateTime::default());
    for (name, bytes) in members {
        writer
            .start_file(name.as_str(), options)
            .map_err(|e| fail(e.to_string()))?;
        writer.write_all(bytes).map_err(|e| fail(e.to_string()))?;
    }
    let cursor = writer.finish().map_err(|e| fail(e.to_string()))?;
    Ok(cursor.into_inner())
}
