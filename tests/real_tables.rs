//! GPCI, LOCCO, ANES and OPPSCAP on the real CMS files. Expected values are cells looked up in
//! ../shared/cms-samples.

mod common;

use common::{assert_cells, cell, normalized, one, rows, table};
use rvu_pipeline::read::Format;
use rvu_pipeline::tables::TableKind;

#[test]
fn row_counts_match_the_files() {
    let expected: &[(&str, TableKind, usize)] = &[
        ("UNKNOWN-1", TableKind::Gpci, 112),
        ("RVU22A", TableKind::Gpci, 112),
        ("RVU24B", TableKind::Gpci, 109),
        ("RVU25A", TableKind::Gpci, 109),
        ("RVU25B", TableKind::Gpci, 109),
        ("RVU25D", TableKind::Gpci, 109),
        ("RVU26A", TableKind::Gpci, 109),
        ("RVU24B", TableKind::Locco, 110),
        ("RVU25A", TableKind::Locco, 110),
        ("RVU25B", TableKind::Locco, 110),
        ("RVU25D", TableKind::Locco, 110),
        ("RVU26A", TableKind::Locco, 110),
        ("RVU24B", TableKind::Anes, 109),
        ("RVU25A", TableKind::Anes, 109),
        ("RVU25B", TableKind::Anes, 109),
        ("RVU25D", TableKind::Anes, 109),
        ("RVU26A", TableKind::Anes, 218),
        ("RVU24B", TableKind::Oppscap, 17710),
        ("RVU25A", TableKind::Oppscap, 16100),
        ("RVU25B", TableKind::Oppscap, 16100),
        ("RVU25D", TableKind::Oppscap, 16100),
        ("RVU26A", TableKind::Oppscap, 15260),
    ];
    for (release, kind, count) in expected {
        let n = normalized(release);
        assert_eq!(table(&n, *kind).rows.len(), *count, "{release} {kind}");
    }
}

#[test]
fn gpci_alaska_2025_carries_its_floor_marker() {
    // GPCI2025.csv: 02102,AK,01,ALASKA*,1.5,1.081,0.592
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Gpci);
    let r = one(t, &[("mac", "02102"), ("locality", "01")]);
    assert_cells(
        t,
        r,
        &[
            ("state", "AK"),
            ("locality_name", "ALASKA"),
            ("floor_marker", "*"),
            ("pw_gpci", "1.500"),
            ("pw_gpci_no_floor", ""),
            ("pe_gpci", "1.081"),
            ("mp_gpci", "0.592"),
        ],
    );
}

#[test]
fn gpci_2026_has_work_gpci_with_and_without_the_floor() {
    // GPCI2026.csv: 10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566 (without floor first)
    let n = normalized("RVU26A");
    let t = table(&n, TableKind::Gpci);
    let r = one(t, &[("mac", "10112"), ("locality", "00")]);
    assert_cells(
        t,
        r,
        &[
            ("pw_gpci_no_floor", "0.988"),
            ("pw_gpci", "1.000"),
            ("pe_gpci", "0.875"),
            ("mp_gpci", "0.566"),
            ("floor_marker", ""),
        ],
    );
}

#[test]
fn gpci_2020_has_no_state_and_three_star_markers() {
    // GPCI2020.csv: 02102,01,ALASKA**,1.500,1.118,0.661 and 03602,21,WYOMING***,...
    let n = normalized("UNKNOWN-1");
    assert_eq!(n.release_id.to_string(), "RVU20A");
    let t = table(&n, TableKind::Gpci);
    let alaska = one(t, &[("mac", "02102"), ("locality", "01")]);
    assert_cells(
        t,
        alaska,
        &[
            ("state", ""),
            ("locality_name", "ALASKA"),
            ("floor_marker", "**"),
            ("pw_gpci", "1.500"),
            ("pe_gpci", "1.118"),
        ],
    );
    let wyoming = one(t, &[("mac", "03602"), ("locality", "21")]);
    assert_eq!(cell(t, wyoming, "floor_marker"), "***");
}

#[test]
fn gpci_2022_restores_lost_zeros() {
    // GPCI2022.csv: 2102,AK,1,ALASKA*,1.5,1.118,0.614
    let n = normalized("RVU22A");
    let t = table(&n, TableKind::Gpci);
    let r = one(t, &[("mac", "02102"), ("locality", "01")]);
    assert_cells(t, r, &[("pw_gpci", "1.500"), ("mp_gpci", "0.614")]);
}

#[test]
fn locco_fills_state_down_pads_zeros_and_keeps_the_double_listing() {
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Locco);
    // 25LOCCO.csv: 1112,5,,SAN FRANCISCO-OAKLAND-BERKELEY (...),SAN FRANCISCO/ALAMEDA/...
    // under "1182,18,CALIFORNIA,..." (the state is written once per state).
    let sf = one(t, &[("mac", "01112"), ("locality", "05")]);
    assert_cells(
        t,
        sf,
        &[
            ("state", "CALIFORNIA"),
            ("counties", "SAN FRANCISCO/ALAMEDA/CONTRA COSTA/SAN MATEO"),
        ],
    );
    // 5302,99,,REST OF STATE* ,ALL OTHER COUNTIES (listed twice)
    let missouri = rows(t, &[("mac", "05302"), ("locality", "99")]);
    assert_eq!(missouri.len(), 2);
    for r in missouri {
        assert_cells(
            t,
            r,
            &[
                ("state", "MISSOURI"),
                ("fee_schedule_area", "REST OF STATE*"),
            ],
        );
    }
    // 9102,3,FLORIDA ,FORT LAUDERDALE,"BROWARD, COLLIER, ... AND ST. LUCIE"
    let florida = one(t, &[("mac", "09102"), ("locality", "03")]);
    assert_eq!(
        cell(t, florida, "counties"),
        "BROWARD, COLLIER, INDIAN RIVER, LEE, MARTIN, PALM BEACH, AND ST. LUCIE"
    );
}

#[test]
fn locco_txt_never_copies_a_state_across_a_blank_row() {
    use rvu_pipeline::read::Format;
    use rvu_pipeline::stages::{extract, normalize};
    // 25LOCCO.txt leaves the state blank on every California row, the first included, after
    // a blank line that ends ARKANSAS's block. GPCI2025.txt names them CA (01112 / 01182).
    let path = common::samples().join("RVU25A");
    let extracted = extract::extract(&path, &extract::Limits::default()).unwrap();
    let options = normalize::Options {
        formats: Some(vec![Format::Txt]),
        ..normalize::Options::default()
    };
    let n = normalize::normalize(&extracted, &path, &options).unwrap();
    let t = table(&n, TableKind::Locco);
    let california: Vec<_> = t
        .rows
        .iter()
        .filter(|r| ["01112", "01182"].contains(&cell(t, r, "mac").as_str()))
        .collect();
    assert_eq!(california.len(), 29);
    for r in california {
        assert_eq!(
            cell(t, r, "state"),
            "CALIFORNIA",
            "{}",
            cell(t, r, "locality")
        );
    }
    assert_eq!(rows(t, &[("state", "ARKANSAS")]).len(), 1);
    assert!(
        t.rows.iter().all(|r| !cell(t, r, "state").is_empty()),
        "every locality has a state"
    );
}

#[test]
fn anes_conversion_factors() {
    // ANES2025.csv: "10112 ,00 ,ALABAMA,19.31 "
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Anes);
    let r = one(t, &[("mac", "10112"), ("locality", "00")]);
    assert_cells(t, r, &[("variant", "standard"), ("anes_cf", "19.31")]);
    // ANES2026.csv: 10112 ,00 ,ALABAMA,19.63,19.53 (qualifying APM, then non-qualifying)
    let n = normalized("RVU26A");
    let t = table(&n, TableKind::Anes);
    let qpp = one(t, &[("mac", "10112"), ("variant", "qpp")]);
    assert_eq!(cell(t, qpp, "anes_cf"), "19.63");
    let non_qpp = one(t, &[("mac", "10112"), ("variant", "non_qpp")]);
    assert_eq!(cell(t, non_qpp, "anes_cf"), "19.53");
    // 02102 ,01 ,ALASKA*,28.29,28.15: the marker is stripped from the name.
    let alaska = one(t, &[("mac", "02102"), ("variant", "qpp")]);
    assert_cells(
        t,
        alaska,
        &[("locality_name", "ALASKA"), ("anes_cf", "28.29")],
    );
}

#[test]
fn oppscap_values() {
    // OPPSCAP_JAN.csv: 0633T,TC,C,01112,05,150.69,150.69 and 93990,TC,A,15202,00,97.07,97.07
    let n = normalized("RVU25A");
    let t = table(&n, TableKind::Oppscap);
    let r = one(
        t,
        &[("hcpcs", "0633T"), ("mac", "01112"), ("locality", "05")],
    );
    assert_cells(
        t,
        r,
        &[
            ("modifier", "TC"),
            ("proc_status", "C"),
            ("facility_price", "150.69"),
            ("nonfacility_price", "150.69"),
        ],
    );
    let last = one(
        t,
        &[
            ("hcpcs", "93990"),
            ("modifier", "TC"),
            ("mac", "15202"),
            ("locality", "00"),
        ],
    );
    assert_eq!(cell(t, last, "nonfacility_price"), "97.07");
}

#[test]
fn every_table_agrees_across_csv_xlsx_and_txt() {
    for release in ["RVU24B", "RVU25A", "RVU25B", "RVU25D"] {
        let n = normalized(release);
        for kind in [
            TableKind::Gpci,
            TableKind::Locco,
            TableKind::Anes,
            TableKind::Oppscap,
        ] {
            let t = &n.tables[&kind];
            let formats: Vec<Format> = t.parsed.iter().map(|p| p.format).collect();
            assert_eq!(
                formats,
                vec![Format::Csv, Format::Xlsx, Format::Txt],
                "{release} {kind}"
            );
            for check in &t.cross_checks {
                assert_eq!(check.mismatches, 0, "{release} {kind} {check:?}");
                // CMS's LOCCO txt is a different extract of the prose: 3 cells differ (two
                // areas and a county list retyped). Its California rows have no state; told
                // from the GPCI, they agree with the csv. Names cut by the txt's field widths
                // are not differences.
                let expected_text = if kind == TableKind::Locco && check.other == Format::Txt {
                    3
                } else {
                    0
                };
                assert_eq!(
                    check.text_differences, expected_text,
                    "{release} {kind} {check:?}"
                );
            }
        }
    }
}

#[test]
fn a_lone_2020_gpci_needs_a_release_id() {
    use rvu_pipeline::stages::{extract, normalize};
    let path = common::samples().join("UNKNOWN-1");
    let extracted = extract::extract(&path, &extract::Limits::default()).unwrap();
    let err = normalize::normalize(&extracted, &path, &normalize::Options::default()).unwrap_err();
    assert!(err.to_string().contains("pass --release"), "{err}");
}
