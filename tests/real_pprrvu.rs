//! PPRRVU on the real CMS files in ../shared/cms-samples. Expected values are cells looked up
//! in those files.

mod common;

use common::{assert_cells, cell, normalized, one, table};
use rvu_pipeline::read::Format;
use rvu_pipeline::tables::TableKind;

#[test]
fn every_release_ingests_with_the_row_count_cms_published() {
    let expected = [
        ("RVU22A", 17600),
        ("RVU22B", 17630),
        ("RVU23A", 18010),
        ("RVU23D", 18168),
        ("RVU24B", 18534),
        ("RVU24C", 18664),
        ("RVU25A", 18865),
        ("RVU25B", 18923),
        ("RVU25D", 19090),
    ];
    for (release, rows) in expected {
        let n = normalized(release);
        assert_eq!(n.release_id.to_string(), release);
        let t = table(&n, TableKind::Pprrvu);
        assert_eq!(t.rows.len(), rows, "{release}");
        assert_eq!(common::rows(t, &[("variant", "standard")]).len(), rows);
        // Every format present was parsed, and each found the same rows.
        for parsed in &n.tables[&TableKind::Pprrvu].parsed {
            assert_eq!(parsed.rows, rows, "{release} {}", parsed.format);
        }
    }
}

#[test]
fn rvu26a_holds_both_variants_each_equal_to_its_file() {
    let n = normalized("RVU26A");
    let t = table(&n, TableKind::Pprrvu);
    let columns = [
        ("HCPCS", "hcpcs"),
        ("MOD", "modifier"),
        ("DESCRIPTION", "description"),
        ("STATUS CODE", "status_code"),
        ("WORK RVU", "work_rvu"),
        ("NON-FAC PE RVU", "nonfacility_pe_rvu"),
        ("FACILITY PE RVU", "facility_pe_rvu"),
        ("MP RVU", "mp_rvu"),
        ("NON-FACILITY TOTAL", "nonfacility_total"),
        ("FACILITY TOTAL", "facility_total"),
        ("GLOB DAYS", "global_days"),
        ("PRIC IND", "pricing_indicator"),
        ("CONV FACTOR", "conversion_factor"),
        (
            "NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT",
            "opps_nonfacility_pe_rvu",
        ),
        (
            "FACILITY PE USED FOR OPPS PAYMENT AMOUNT",
            "opps_facility_pe_rvu",
        ),
        ("MP USED FOR OPPS PAYMENT AMOUNT", "opps_mp_rvu"),
    ];
    for (file, variant, count) in [
        ("RVU26A/PPRRVU2026_Jan_nonQPP.csv", "non_qpp", 19226),
        ("RVU26A/PPRRVU2026_Jan_QPP.csv", "qpp", 11811),
    ] {
        let cms = common::CmsPprrvu::read(file);
        assert_eq!(cms.rows.len(), count, "{file}");
        let ours = common::rows(t, &[("variant", variant)]);
        assert_eq!(ours.len(), count, "{variant}");
        // Row for row, in file order, every checked cell as the file writes it.
        for (row, record) in cms.rows.iter().zip(&ours) {
            for (caption, column) in columns {
                let want = &row[cms.column(caption)];
                assert!(
                    common::same_cell(want, &cell(t, record, column)),
                    "{file} {} {column}: file {want:?}, ours {:?}",
                    row[0],
                    cell(t, record, column)
                );
            }
        }
    }
    // The per-variant parse counts that ingest.json reports.
    let parsed = &n.tables[&TableKind::Pprrvu].parsed;
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].rows, 19226 + 11811);
    assert_eq!(
        parsed[0].files,
        vec!["PPRRVU2026_Jan_QPP.csv", "PPRRVU2026_Jan_nonQPP.csv"]
    );
}

#[test]
fn office_visit_99213_in_rvu25a() {
    // PPRRVU25_JAN.csv: 99213,,Office o/p est low 20 min,A,,1.30,1.35,,0.57,,0.10,2.75,1.97,0,XXX
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Pprrvu);
    let r = one(t, &[("hcpcs", "99213"), ("modifier", "")]);
    assert_cells(
        t,
        r,
        &[
            ("release_id", "RVU25A"),
            ("variant", "standard"),
            ("description", "Office o/p est low 20 min"),
            ("status_code", "A"),
            ("not_used_for_medicare", "false"),
            ("work_rvu", "1.30"),
            ("nonfacility_pe_rvu", "1.35"),
            ("nonfacility_na", "false"),
            ("facility_pe_rvu", "0.57"),
            ("mp_rvu", "0.10"),
            ("nonfacility_total", "2.75"),
            ("facility_total", "1.97"),
            ("pctc_indicator", "0"),
            ("global_days", "XXX"),
            ("conversion_factor", "32.3465"),
            ("physician_supervision", "09"),
            ("imaging_family", "99"),
            ("pricing_indicator", ""),
        ],
    );
}

#[test]
fn office_visit_99213_in_rvu22a() {
    // PPRRVU22_JAN.csv: 99213,,Office o/p est low 20-29 min,A,,1.30,1.26,,0.55,,0.10,2.66,...,34.6062
    let n = normalized("RVU22A");
    let t = table(&n, TableKind::Pprrvu);
    let r = one(t, &[("hcpcs", "99213"), ("modifier", "")]);
    assert_cells(
        t,
        r,
        &[
            ("nonfacility_total", "2.66"),
            ("facility_total", "1.95"),
            ("conversion_factor", "34.6062"),
        ],
    );
}

#[test]
fn indicators_flags_and_modifiers_in_rvu25a() {
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Pprrvu);
    // 27447,,Total knee arthroplasty,A,,19.60,15.30,NA,15.30,,3.98,38.88,38.88,0,090,0.10,0.69,0.21,2,1,2,1,0
    let knee = one(t, &[("hcpcs", "27447"), ("modifier", "")]);
    assert_cells(
        t,
        knee,
        &[
            ("nonfacility_na", "true"),
            ("facility_na", "false"),
            ("global_days", "090"),
            ("preop_pct", "0.10"),
            ("intraop_pct", "0.69"),
            ("postop_pct", "0.21"),
            ("mult_proc", "2"),
            ("bilateral", "1"),
            ("assistant_surgery", "2"),
            ("co_surgery", "1"),
            ("team_surgery", "0"),
        ],
    );
    // 71046,TC,...,A,,0.00,0.69,,0.69,NA,0.01,0.70,0.70,1,XXX,...,01,0,99,2.68,2.68,0.04
    let tc = one(t, &[("hcpcs", "71046"), ("modifier", "TC")]);
    assert_cells(
        t,
        tc,
        &[
            ("facility_na", "true"),
            ("pctc_indicator", "1"),
            ("physician_supervision", "01"),
            ("opps_nonfacility_pe_rvu", "2.68"),
            ("opps_mp_rvu", "0.04"),
        ],
    );
    // G0071,,Comm svcs by rhc/fqhc 5 min,X,+,...
    let plus = one(t, &[("hcpcs", "G0071"), ("modifier", "")]);
    assert_eq!(cell(t, plus, "not_used_for_medicare"), "true");
    // G0121 has a 53 (discontinued) row: HCPCS alone is not a key.
    let g0121 = common::rows(t, &[("hcpcs", "G0121")]);
    assert_eq!(g0121.len(), 2);
    assert_eq!(cell(t, g0121[1], "modifier"), "53");
    assert_eq!(cell(t, g0121[1], "work_rvu"), "1.63");
}

#[test]
fn rvu26a_has_the_pricing_indicator_and_the_non_qpp_variant() {
    // PPRRVU2026_Jan_nonQPP.csv: J3398,,Inj luxturna 1 billion vec g,E,,0.00,...,9,9,9,9,9,9,,33.4009
    let n = normalized("RVU26A");
    let t = table(&n, TableKind::Pprrvu);
    let drug = one(t, &[("hcpcs", "J3398"), ("variant", "non_qpp")]);
    assert_cells(
        t,
        drug,
        &[
            ("variant", "non_qpp"),
            ("status_code", "E"),
            ("work_rvu", "0.00"),
            ("team_surgery", "9"),
            ("pricing_indicator", "9"),
            ("endo_base", ""),
            ("conversion_factor", "33.4009"),
        ],
    );
}

#[test]
fn windows_1252_descriptions_decode() {
    // RVU25B's csv has a raw 0xE1 byte after "2 mg" in Q5152's description.
    let n = normalized("RVU25B");
    let t = table(&n, TableKind::Pprrvu);
    let q = one(t, &[("hcpcs", "Q5152")]);
    assert_eq!(cell(t, q, "description"), "Inj, eculizumab-aeeb, 2 mgá");
}

#[test]
fn csv_xlsx_and_txt_agree_cell_for_cell() {
    for release in ["RVU24B", "RVU25A", "RVU25B", "RVU25D"] {
        let n = normalized(release);
        let normalized_table = &n.tables[&TableKind::Pprrvu];
        let formats: Vec<Format> = normalized_table.parsed.iter().map(|p| p.format).collect();
        assert_eq!(
            formats,
            vec![Format::Csv, Format::Xlsx, Format::Txt],
            "{release}"
        );
        for check in &normalized_table.cross_checks {
            assert_eq!(check.mismatches, 0, "{release} {check:?}");
            // The one prose difference in these releases: CMS's txt drops the stray 0xE1
            // byte the csv has after Q5152's description (RVU25B).
            let expected_text = usize::from(release == "RVU25B" && check.other == Format::Txt);
            assert_eq!(check.text_differences, expected_text, "{release} {check:?}");
        }
    }
}

#[test]
fn the_real_zips_ingest_directly() {
    for (zip, release, rows) in [
        ("RVU24B/2024.zip", "RVU24B", 18534),
        ("RVU25A/rvu25a-updated-01_10_2025.zip", "RVU25A", 18865),
    ] {
        let n = normalized(zip);
        assert_eq!(n.release_id.to_string(), release);
        assert_eq!(table(&n, TableKind::Pprrvu).rows.len(), rows);
        assert!(n.missing.is_empty(), "{zip}: {:?}", n.missing);
    }
}

#[test]
fn the_zip_and_its_loose_members_give_the_same_table() {
    let from_zip = normalized("RVU25A/rvu25a-updated-01_10_2025.zip");
    let from_folder = normalized("RVU25A");
    assert_eq!(
        table(&from_zip, TableKind::Pprrvu).rows,
        table(&from_folder, TableKind::Pprrvu).rows
    );
}
