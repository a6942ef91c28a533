//! `rvu lookup` on published releases: values from the file, payment by the formula.

mod common;

use std::path::Path;

use common::rvu_with_output as rvu;

/// RVU24B and RVU25A published (csv only, for speed) once for this test binary.
fn published() -> &'static Path {
    common::published_samples(&["RVU24B", "RVU25A"])
}

/// A cell of a real CMS csv: the first row whose first cells are `key`, column `index`.
fn cms_cell(file: &str, key: &[&str], index: usize) -> f64 {
    let text = std::fs::read(common::samples().join(file)).unwrap();
    let text = String::from_utf8_lossy(&text);
    let line = text
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l.split(',').map(str::trim).collect();
            key.iter().enumerate().all(|(i, k)| cells.get(i) == Some(k))
        })
        .unwrap_or_else(|| panic!("{key:?} not in {file}"));
    line.split(',').nth(index).unwrap().trim().parse().unwrap()
}

#[test]
fn payment_at_a_locality_follows_the_formula_on_the_files_cells() {
    let (code, stdout, stderr) = rvu(
        &[
            "lookup",
            "99213",
            "--release",
            "RVU25A",
            "--locality",
            "01112-54",
        ],
        published(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    // PPRRVU25_JAN.csv columns: 5 work, 6 NF PE, 8 F PE, 10 MP, 24 CF; GPCI2025.csv: 4 PW, 5 PE, 6 MP.
    let rvu_cell = |i| cms_cell("RVU25A/PPRRVU25_JAN.csv", &["99213", ""], i);
    let (work, nf_pe, f_pe, mp, cf) = (
        rvu_cell(5),
        rvu_cell(6),
        rvu_cell(8),
        rvu_cell(10),
        rvu_cell(24),
    );
    let gpci_cell = |i| cms_cell("RVU25A/GPCI2025.csv", &["01112", "CA", "54"], i);
    let (pw, pe, mpg) = (gpci_cell(4), gpci_cell(5), gpci_cell(6));
    let nf = (work * pw + nf_pe * pe + mp * mpg) * cf;
    let f = (work * pw + f_pe * pe + mp * mpg) * cf;
    let cents = |x: f64| format!("{:.2}", (x * 100.0).round() / 100.0);
    // CMS's rule (PF25PC.pdf): non-par = 95% and limiting charge = 109.25% of the rounded
    // fee schedule amount, each rounded to cents.
    let par = (nf * 100.0).round() / 100.0;
    assert!(stdout.contains(&format!("work RVU {work:.2}")), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "non-facility  ${}  non-participating ${}  limiting charge ${}",
            cents(par),
            cents(par * 0.95),
            cents(par * 1.0925)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("facility      ${}", cents(f))),
        "{stdout}"
    );
    assert!(stdout.contains("BAKERSFIELD"), "{stdout}");
}

#[test]
fn as_of_answers_from_the_release_in_force() {
    let (code, stdout, stderr) = rvu(
        &["lookup", "99213", "--as-of", "2024-05-15", "--json"],
        published(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["release_id"], "RVU24B");
    let (_, latest, _) = rvu(
        &["lookup", "99213", "--as-of", "2025-02-01", "--json"],
        published(),
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&latest).unwrap()["release_id"],
        "RVU25A"
    );
    let (code, _, stderr) = rvu(&["lookup", "99213", "--as-of", "2023-12-31"], published());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no published release was in force on 2023-12-31"),
        "{stderr}"
    );
}

#[test]
fn national_amounts_and_not_payable_settings() {
    // 27447 is NA in the non-facility setting (PPRRVU25_JAN.csv: ...,15.30,NA,15.30,...).
    let (_, stdout, _) = rvu(&["lookup", "27447", "--release", "RVU25A"], published());
    assert!(stdout.contains("national (GPCI 1.000)"), "{stdout}");
    // CMS's payment file prints the NA setting's amount from its PE RVU: shown beside NA.
    let nf_total = cms_cell("RVU25A/PPRRVU25_JAN.csv", &["27447", ""], 11);
    let total = cms_cell("RVU25A/PPRRVU25_JAN.csv", &["27447", ""], 12);
    let cf = cms_cell("RVU25A/PPRRVU25_JAN.csv", &["27447", ""], 24);
    assert!(
        stdout.contains(&format!(
            "non-facility  NA: not paid in this setting (CMS's file prints ${:.2} from the PE RVU)",
            (nf_total * cf * 100.0).round() / 100.0
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "facility      ${:.2}",
            (total * cf * 100.0).round() / 100.0
        )),
        "{stdout}"
    );
    // A status other than A, R, T is not payable.
    let (_, stdout, _) = rvu(&["lookup", "A0021", "--release", "RVU25A"], published());
    assert!(
        stdout.contains("not paid under the fee schedule: status I"),
        "{stdout}"
    );
}

#[test]
fn the_opps_cap_is_shown_where_it_applies() {
    // OPPSCAP_JAN.csv: 93990,TC,A,15202,00,97.07,97.07
    let (_, stdout, stderr) = rvu(
        &[
            "lookup",
            "93990",
            "--modifier",
            "TC",
            "--release",
            "RVU25A",
            "--locality",
            "15202-00",
        ],
        published(),
    );
    assert!(stdout.contains("OPPS cap $97.07"), "{stdout}{stderr}");
}
